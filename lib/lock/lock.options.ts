import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertLease, MAX_LEASE_MS, MIN_LEASE_MS } from '../common/lease.js';
import {
  assertMilliseconds,
  assertName,
  assertOneOf,
  assertKnownKeys,
  MAX_MILLISECONDS,
  optionNames,
} from '../common/validate.js';
import {
  DEFAULT_LOCK_OPTIONS,
  type LockMode,
  type LockOptions,
  type WithLockOptions,
} from './lock.interfaces.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import { assertBackend } from '../zookeeper/zookeeper.options.js';
import type { ResourceKeys } from './lock.keys.js';
import { resolveReplicaAcks, type ReplicaAckOptions } from '../connection/replica-acks.js';

/** Largest lease accepted, in milliseconds (24 h): longer work keeps a shorter lease renewed. */
export const MAX_LOCK_TTL_MS = MAX_LEASE_MS;
/** Smallest lease accepted: below it, one round trip could outlast the lease. */
export const MIN_LOCK_TTL_MS = MIN_LEASE_MS;

/** The options of `acquire()`, `tryAcquire()` and `using()`. */
export const LOCK_OPTION_NAMES = optionNames<LockOptions>({
  backend: true,
  mode: true,
  ttlMs: true,
  waitMs: true,
  fair: true,
  maxHoldMs: true,
  replicaAcks: true,
});
/** The options of `isLocked()`. */
export const IS_LOCKED_OPTION_NAMES = optionNames<Pick<LockOptions, 'backend'>>({ backend: true });
/** The options of `@WithLock()`: the lock's, and what to do when it is busy. */
export const WITH_LOCK_OPTION_NAMES = optionNames<WithLockOptions>({
  backend: true,
  mode: true,
  ttlMs: true,
  waitMs: true,
  fair: true,
  maxHoldMs: true,
  replicaAcks: true,
  onBusy: true,
});

/** Lock options after validation, defaults filled in. */
export interface ResolvedLockOptions {
  /** Unset: the module's default. */
  readonly backend: CoordinationBackend | undefined;
  readonly mode: LockMode;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly fair: boolean;
  readonly maxHoldMs: number | undefined;
  /** Its shape checked; the service checks it against the command timeout. */
  readonly replicaAcks: Readonly<ReplicaAckOptions> | false | undefined;
}

/**
 * Checks lock options (`names`: those the call takes) and fills in defaults; throws
 * InvalidArgumentError naming the option.
 */
export function resolveLockOptions(
  options: unknown,
  names: readonly string[] = LOCK_OPTION_NAMES,
): ResolvedLockOptions {
  assertKnownKeys('lock options', options, names);
  const given = options as WithLockOptions;
  // Only `undefined` means "the default": null and other junk reach the checks below.
  const ttlMs = given.ttlMs === undefined ? DEFAULT_LOCK_OPTIONS.ttlMs : given.ttlMs;
  const waitMs = given.waitMs === undefined ? DEFAULT_LOCK_OPTIONS.waitMs : given.waitMs;
  const fair = given.fair === undefined ? DEFAULT_LOCK_OPTIONS.fair : given.fair;
  const maxHoldMs = given.maxHoldMs;
  const mode = given.mode === undefined ? DEFAULT_LOCK_OPTIONS.mode : given.mode;
  assertOneOf('mode', mode, ['read', 'write']);
  const backend = given.backend;
  assertBackend(backend);
  assertLease('ttlMs', ttlMs);
  assertMilliseconds('waitMs', waitMs, { min: 0, max: MAX_MILLISECONDS });
  if (maxHoldMs !== undefined) {
    assertMilliseconds('maxHoldMs', maxHoldMs, { min: MIN_LOCK_TTL_MS, max: MAX_MILLISECONDS });
  }
  if (typeof fair !== 'boolean') throw new InvalidArgumentError('fair', fair, 'expected a boolean');
  if (given.onBusy !== undefined) assertOneOf('onBusy', given.onBusy, ['wait', 'throw', 'skip']);
  const replicaAcks = resolveReplicaAcks('replicaAcks', given.replicaAcks, undefined);
  return { backend, mode, ttlMs, waitMs, fair, maxHoldMs, replicaAcks };
}

/** Validated resource names, sorted and without duplicates (a fixed order prevents deadlocks). */
export function resourceNames(resource: unknown): string[] {
  if (!Array.isArray(resource)) {
    assertName('lock resource', resource);
    return [resource];
  }
  if (resource.length === 0) {
    throw new InvalidArgumentError('resources', resource, 'expected at least one resource name');
  }
  for (const name of resource) assertName('lock resource', name);
  return [...new Set(resource as string[])].sort();
}

/** A validated acquire request: the resources, sorted, with their keys and the options. */
export interface LockRequest extends Omit<ResolvedLockOptions, 'backend' | 'replicaAcks'> {
  readonly backend: CoordinationBackend;
  readonly resources: readonly string[];
  readonly keys: readonly ResourceKeys[];
  /** The replicas each acquire waits for (Redis backend), if any. */
  readonly acks: Readonly<ReplicaAckOptions> | undefined;
}
