import { describeValue } from '../common/coordination.error.js';
import { assertInteger, assertKnownKeys, assertName, optionNames } from '../common/validate.js';
import type {
  ConfigValidator,
  LiveConfigOptions,
  SetConfigOptions,
} from './live-config.interfaces.js';

/** Module option `liveConfig` after validation. */
export interface ResolvedLiveConfigOptions {
  readonly keys: readonly string[];
  readonly validate: ConfigValidator | undefined;
}

const LIVE_CONFIG_OPTION_NAMES = optionNames<LiveConfigOptions>({ keys: true, validate: true });
const SET_OPTION_NAMES = optionNames<SetConfigOptions>({ expectVersion: true });

/** Checks the module option `liveConfig`, adding a line to `problems` for each fault. */
export function resolveLiveConfigOptions(
  input: unknown,
  problems: string[],
): ResolvedLiveConfigOptions {
  if (input === undefined) return { keys: [], validate: undefined };
  try {
    assertKnownKeys('liveConfig', input, LIVE_CONFIG_OPTION_NAMES);
  } catch (error) {
    problems.push((error as Error).message);
    return { keys: [], validate: undefined };
  }
  const { keys = [], validate } = input as LiveConfigOptions;
  if (!Array.isArray(keys)) {
    problems.push(`liveConfig.keys must be an array of key names, got ${describeValue(keys)}`);
  } else {
    for (const key of keys) {
      try {
        assertName('config key', key);
      } catch (error) {
        problems.push(`liveConfig.keys: ${(error as Error).message}`);
      }
    }
  }
  if (validate !== undefined && typeof validate !== 'function') {
    problems.push(
      `liveConfig.validate must be a function (key, value), got ${describeValue(validate)}`,
    );
  }
  return { keys: Array.isArray(keys) ? [...new Set(keys)] : [], validate };
}

/** Checks `set()` options; returns the expected version, if any. */
export function resolveExpectVersion(options: unknown): number | undefined {
  assertKnownKeys('set options', options, SET_OPTION_NAMES);
  const { expectVersion } = options as SetConfigOptions;
  if (expectVersion !== undefined) assertInteger('expectVersion', expectVersion, 0);
  return expectVersion;
}
