import { assertKnownKeys, assertMilliseconds, optionNames } from '../common/validate.js';
import { MAX_LOCK_TTL_MS } from '../lock/lock.options.js';
import { DEFAULT_ELECTION_OPTIONS, type JoinElectionOptions } from './election.interfaces.js';

/**
 * Shortest lease accepted: renewals come every third of it, and each must reach Redis and come
 * back well within the lease.
 */
export const MIN_ELECTION_LEASE_MS = 100;
/** Longest lease accepted (24 h), as for locks. */
export const MAX_ELECTION_LEASE_MS = MAX_LOCK_TTL_MS;

const JOIN_OPTION_NAMES = optionNames<JoinElectionOptions>({ leaseMs: true });

/** Join options after validation, defaults filled in. */
export interface ResolvedJoinOptions {
  readonly leaseMs: number;
}

/** Checks join options and fills in defaults; throws InvalidArgumentError naming the option. */
export function resolveJoinOptions(options: unknown): ResolvedJoinOptions {
  assertKnownKeys('election options', options, JOIN_OPTION_NAMES);
  const { leaseMs = DEFAULT_ELECTION_OPTIONS.leaseMs } = options as JoinElectionOptions;
  assertMilliseconds('leaseMs', leaseMs, {
    min: MIN_ELECTION_LEASE_MS,
    max: MAX_ELECTION_LEASE_MS,
  });
  return { leaseMs };
}
