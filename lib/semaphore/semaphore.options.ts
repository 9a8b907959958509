import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertLease, MIN_LEASE_MS } from '../common/lease.js';
import {
  assertInteger,
  assertKnownKeys,
  assertMilliseconds,
  assertOneOf,
  MAX_MILLISECONDS,
  optionNames,
} from '../common/validate.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import { assertBackend } from '../zookeeper/zookeeper.options.js';
import {
  DEFAULT_SEMAPHORE_OPTIONS,
  type SemaphoreOptions,
  type WithSemaphoreOptions,
} from './semaphore.interfaces.js';

/**
 * Largest `limit` accepted. The scripts pass counts to Redis as Lua numbers, which Redis prints
 * exactly only up to 14 digits; a million permits is far beyond any use.
 */
export const MAX_SEMAPHORE_LIMIT = 1_000_000;

/** The options of `acquire()` and `using()`. */
export const SEMAPHORE_OPTION_NAMES = optionNames<SemaphoreOptions>({
  backend: true,
  limit: true,
  ttlMs: true,
  waitMs: true,
  maxHoldMs: true,
});
/** The options of `@WithSemaphore()`: the semaphore's, and what to do when it is busy. */
export const WITH_SEMAPHORE_OPTION_NAMES = optionNames<WithSemaphoreOptions>({
  backend: true,
  limit: true,
  ttlMs: true,
  waitMs: true,
  maxHoldMs: true,
  onBusy: true,
});

/** Semaphore options after validation, defaults filled in. */
export interface ResolvedSemaphoreOptions {
  /** Unset: the module's default. */
  readonly backend: CoordinationBackend | undefined;
  readonly limit: number;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly maxHoldMs: number | undefined;
}

/**
 * Checks semaphore options (`names`: those the call takes) and fills in defaults; throws
 * InvalidArgumentError naming the option.
 */
export function resolveSemaphoreOptions(
  options: unknown,
  names: readonly string[] = SEMAPHORE_OPTION_NAMES,
): ResolvedSemaphoreOptions {
  assertKnownKeys('semaphore options', options, names);
  const given = options as Partial<WithSemaphoreOptions>;
  const limit = assertLimit(given.limit);
  // Only `undefined` means "the default": null and other junk reach the checks below.
  const ttlMs = given.ttlMs === undefined ? DEFAULT_SEMAPHORE_OPTIONS.ttlMs : given.ttlMs;
  const waitMs = given.waitMs === undefined ? DEFAULT_SEMAPHORE_OPTIONS.waitMs : given.waitMs;
  const maxHoldMs = given.maxHoldMs;
  const backend = given.backend;
  assertBackend(backend);
  assertLease('ttlMs', ttlMs);
  assertMilliseconds('waitMs', waitMs, { min: 0, max: MAX_MILLISECONDS });
  if (maxHoldMs !== undefined) {
    assertMilliseconds('maxHoldMs', maxHoldMs, { min: MIN_LEASE_MS, max: MAX_MILLISECONDS });
  }
  if (given.onBusy !== undefined) assertOneOf('onBusy', given.onBusy, ['wait', 'throw', 'skip']);
  return { backend, limit, ttlMs, waitMs, maxHoldMs };
}

function assertLimit(limit: unknown): number {
  if (limit === undefined) {
    throw new InvalidArgumentError(
      'limit',
      limit,
      `required: the number of permits, an integer from 1 to ${MAX_SEMAPHORE_LIMIT}`,
    );
  }
  assertInteger('limit', limit, 1, MAX_SEMAPHORE_LIMIT);
  return limit;
}
