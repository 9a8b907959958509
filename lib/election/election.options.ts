import { assertKnownKeys, assertMilliseconds, optionNames } from '../common/validate.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import { assertBackend } from '../zookeeper/zookeeper.options.js';
import { MAX_LOCK_TTL_MS } from '../lock/lock.options.js';
import { DEFAULT_ELECTION_OPTIONS, type JoinElectionOptions } from './election.interfaces.js';

/**
 * Shortest lease accepted: renewals come every third of it, and each must reach Redis and come
 * back well within the lease.
 */
export const MIN_ELECTION_LEASE_MS = 100;
/** Longest lease accepted (24 h), as for locks. */
export const MAX_ELECTION_LEASE_MS = MAX_LOCK_TTL_MS;

const JOIN_OPTION_NAMES = optionNames<JoinElectionOptions>({ backend: true, leaseMs: true });
/** The options of `observe()` and `@Leader()`. */
const BACKEND_OPTION_NAMES = optionNames<Pick<JoinElectionOptions, 'backend'>>({ backend: true });

/** Join options after validation, defaults filled in. */
export interface ResolvedJoinOptions {
  /** Unset: the module's default. */
  readonly backend: CoordinationBackend | undefined;
  readonly leaseMs: number;
}

/** Checks join options and fills in defaults; throws InvalidArgumentError naming the option. */
export function resolveJoinOptions(options: unknown): ResolvedJoinOptions {
  assertKnownKeys('election options', options, JOIN_OPTION_NAMES);
  const { backend, leaseMs = DEFAULT_ELECTION_OPTIONS.leaseMs } = options as JoinElectionOptions;
  assertBackend(backend);
  assertMilliseconds('leaseMs', leaseMs, {
    min: MIN_ELECTION_LEASE_MS,
    max: MAX_ELECTION_LEASE_MS,
  });
  return { backend, leaseMs };
}

/**
 * Checks the options of `observe()` or `@Leader()` (`what`); returns the backend asked for
 * (undefined: the module's default).
 */
export function resolveBackendOption(
  what: string,
  options: unknown,
): CoordinationBackend | undefined {
  assertKnownKeys(what, options, BACKEND_OPTION_NAMES);
  const { backend } = options as Pick<JoinElectionOptions, 'backend'>;
  assertBackend(backend);
  return backend;
}
