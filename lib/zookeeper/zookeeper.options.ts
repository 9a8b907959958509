import { describeValue } from '../common/coordination.error.js';
import {
  assertKnownKeys,
  collectProblems,
  assertMilliseconds,
  assertName,
  assertOneOf,
  optionNames,
} from '../common/validate.js';
import type { CoordinationBackend, ZooKeeperOptions } from './zookeeper.interfaces.js';

/** The defaults of {@link ZooKeeperOptions}. */
export const DEFAULT_ZOOKEEPER_OPTIONS = Object.freeze({
  sessionTimeoutMs: 10_000,
  root: '/coord',
  connectTimeoutMs: 10_000,
});

const ZOOKEEPER_OPTION_NAMES = optionNames<ZooKeeperOptions>({
  connectString: true,
  sessionTimeoutMs: true,
  root: true,
  digest: true,
  connectTimeoutMs: true,
});

/** Module option `zookeeper` after validation. */
export type ResolvedZooKeeperOptions = Required<Omit<ZooKeeperOptions, 'digest'>> &
  Pick<ZooKeeperOptions, 'digest'>;

/** `host:port` pairs, comma-separated; no chroot (the module's `root` option does that). */
const CONNECT_STRING = /^[^\s,/:]+:\d{1,5}(,[^\s,/:]+:\d{1,5})*$/;
/** An absolute ZooKeeper path of plain segments, not the root itself. */
const ROOT_PATH = /^(\/[A-Za-z0-9_.-]+)+$/;

/** Checks the module option `zookeeper`, adding a line to `problems` for each fault. */
export function resolveZooKeeperOptions(
  input: unknown,
  problems: string[],
): ResolvedZooKeeperOptions | undefined {
  if (input === undefined) return undefined;
  const before = problems.length;
  const check = collectProblems('zookeeper', problems);
  check(() => assertKnownKeys('zookeeper', input, ZOOKEEPER_OPTION_NAMES));
  if (problems.length > before) return undefined;
  const {
    connectString,
    sessionTimeoutMs = DEFAULT_ZOOKEEPER_OPTIONS.sessionTimeoutMs,
    root = DEFAULT_ZOOKEEPER_OPTIONS.root,
    digest,
    connectTimeoutMs = DEFAULT_ZOOKEEPER_OPTIONS.connectTimeoutMs,
  } = input as ZooKeeperOptions;
  check(() => assertName('connectString', connectString));
  if (typeof connectString === 'string' && !CONNECT_STRING.test(connectString)) {
    problems.push(
      `zookeeper.connectString must read host:port[,host:port…], got ${describeValue(connectString)}`,
    );
  }
  // ZooKeeper negotiates the session timeout within [2, 20] ticks; below 1 s nothing holds.
  check(() =>
    assertMilliseconds('sessionTimeoutMs', sessionTimeoutMs, { min: 1000, max: 600_000 }),
  );
  check(() => assertMilliseconds('connectTimeoutMs', connectTimeoutMs, { min: 1 }));
  if (typeof root !== 'string' || !ROOT_PATH.test(root)) {
    problems.push(
      `zookeeper.root must be an absolute path such as '/coord', got ${describeValue(root)}`,
    );
  }
  if (digest !== undefined && (typeof digest !== 'string' || !/^[^:]+:.+$/.test(digest))) {
    // The value is a secret: never echo it.
    problems.push(`zookeeper.digest must read 'user:password'`);
  }
  return problems.length > before
    ? undefined
    : { connectString, sessionTimeoutMs, root, digest, connectTimeoutMs };
}

/** Checks a call's `backend` option (undefined: the module's default). */
export function assertBackend(
  backend: unknown,
): asserts backend is CoordinationBackend | undefined {
  if (backend !== undefined) assertOneOf('backend', backend, ['redis', 'zookeeper']);
}
