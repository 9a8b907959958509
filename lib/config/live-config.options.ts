import { describeValue } from '../common/coordination.error.js';
import {
  assertInteger,
  assertKnownKeys,
  assertName,
  assertOneOf,
  collectProblems,
  optionNames,
} from '../common/validate.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import type {
  ConfigValidator,
  LiveConfigOptions,
  SetConfigOptions,
} from './live-config.interfaces.js';

/** Module option `liveConfig` after validation. */
export interface ResolvedLiveConfigOptions {
  readonly keys: readonly string[];
  readonly validate: ConfigValidator | undefined;
  readonly backend: CoordinationBackend;
}

const LIVE_CONFIG_OPTION_NAMES = optionNames<LiveConfigOptions>({
  keys: true,
  validate: true,
  backend: true,
});
const SET_OPTION_NAMES = optionNames<SetConfigOptions>({ expectVersion: true });
const NO_LIVE_CONFIG: ResolvedLiveConfigOptions = Object.freeze({
  keys: [],
  validate: undefined,
  backend: 'redis',
});

/** Checks the module option `liveConfig`, adding a line to `problems` for each fault. */
export function resolveLiveConfigOptions(
  input: unknown,
  problems: string[],
): ResolvedLiveConfigOptions {
  if (input === undefined) return NO_LIVE_CONFIG;
  const before = problems.length;
  const check = collectProblems('liveConfig', problems);
  check(() => assertKnownKeys('liveConfig', input, LIVE_CONFIG_OPTION_NAMES));
  if (problems.length > before) return NO_LIVE_CONFIG;
  const { keys = [], validate, backend = 'redis' } = input as LiveConfigOptions;
  if (!Array.isArray(keys)) {
    problems.push(`liveConfig.keys must be an array of key names, got ${describeValue(keys)}`);
  } else {
    const checkKey = collectProblems('liveConfig.keys', problems);
    for (const key of keys) checkKey(() => assertName('config key', key));
  }
  if (validate !== undefined && typeof validate !== 'function') {
    problems.push(
      `liveConfig.validate must be a function (key, value), got ${describeValue(validate)}`,
    );
  }
  check(() => assertOneOf('backend', backend, ['redis', 'zookeeper']));
  return { keys: Array.isArray(keys) ? [...new Set(keys)] : [], validate, backend };
}

/** Checks `set()` options; returns the expected version, if any. */
export function resolveExpectVersion(options: unknown): number | undefined {
  assertKnownKeys('set options', options, SET_OPTION_NAMES);
  const { expectVersion } = options as SetConfigOptions;
  if (expectVersion !== undefined) assertInteger('expectVersion', expectVersion, 0);
  return expectVersion;
}
