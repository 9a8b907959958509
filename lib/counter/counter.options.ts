import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertInteger,
  assertKnownKeys,
  assertMilliseconds,
  assertOneOf,
  MAX_MILLISECONDS,
  optionNames,
} from '../common/validate.js';
import type {
  HitOptions,
  IncrementOptions,
  RedisThrottlerStorageOptions,
  ThrottlerHitOptions,
} from './counter.interfaces.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Largest `hit()` limit: each hit allowed in the window is one entry in Redis. */
export const MAX_HIT_LIMIT = 1_000_000;

/** Defaults of `hit()` options. */
export const DEFAULT_HIT_OPTIONS = Object.freeze({ blockMs: 0 });

/** Defaults of {@link RedisThrottlerStorageOptions}. */
export const DEFAULT_THROTTLER_STORAGE_OPTIONS: Readonly<Required<RedisThrottlerStorageOptions>> =
  Object.freeze({ whenRedisDown: 'allow' });

/**
 * How long the throttler storage waits for Redis before it applies `whenRedisDown`: a request
 * must not hang on a frozen Redis, nor on ioredis's offline queue while it reconnects.
 */
export const THROTTLER_TIMEOUT_MS = 1000;
/** After Redis failed, the throttler storage skips it this long (less once it is ready again). */
export const THROTTLER_RETRY_AFTER_MS = 1000;

/** Checks the names of `getMany()`: an array (each name is checked as its key is built). */
export function assertCounterNames(names: unknown): asserts names is readonly string[] {
  if (!Array.isArray(names)) {
    throw new InvalidArgumentError('names', names, 'expected an array of counter names');
  }
}

/** Checks an amount: a safe integer or a bigint in the signed 64-bit range. */
export function integerArgument(
  argument: string,
  value: unknown,
): asserts value is number | bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return;
  if (typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX) return;
  throw new InvalidArgumentError(
    argument,
    value,
    'expected a safe integer or a bigint within the signed 64-bit range',
  );
}

const INCREMENT_OPTION_NAMES = optionNames<IncrementOptions>({ ttlMs: true });
const HIT_OPTION_NAMES = optionNames<HitOptions>({ limit: true, windowMs: true, blockMs: true });

/** Refuses increment options with a key that is not one (e.g. `ttl` for `ttlMs`). */
export function assertIncrementOptions(options: unknown): asserts options is IncrementOptions {
  assertKnownKeys('increment options', options, INCREMENT_OPTION_NAMES);
}

/** Checks increment options; returns `ttlMs`, 0 meaning "leave expiry alone". */
export function resolveIncrementTtl(options: IncrementOptions): number {
  if (options.ttlMs === undefined) return 0;
  assertMilliseconds('ttlMs', options.ttlMs, { min: 1 });
  return options.ttlMs;
}

/** Checks `hit()` options and fills in defaults; bad input throws a typed error naming it. */
export function resolveHitOptions(options: HitOptions): Required<HitOptions> {
  assertKnownKeys('hit options', options, HIT_OPTION_NAMES);
  const { limit, windowMs, blockMs = DEFAULT_HIT_OPTIONS.blockMs } = options;
  // Every hit allowed in a window is kept in Redis until the window passes it.
  assertInteger('limit', limit, 1, MAX_HIT_LIMIT);
  assertMilliseconds('windowMs', windowMs, { min: 1 });
  assertMilliseconds('blockMs', blockMs);
  return { limit, windowMs, blockMs };
}

/**
 * Brings what `@nestjs/throttler` passes to its storage into the script's ranges without
 * refusing any number, as its in-memory storage accepts them all (a refusal would be a 500 on
 * every request): times become whole ms (the Redis clock's unit), a negative time acts as 0, a
 * limit <= 0 denies every request either way. Only a non-number is refused.
 */
export function resolveThrottlerHit(
  ttl: number,
  limit: number,
  blockDuration: number,
): ThrottlerHitOptions {
  for (const [argument, value] of [
    ['ttl', ttl],
    ['limit', limit],
    ['blockDuration', blockDuration],
  ] as const) {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new InvalidArgumentError(argument, value, 'expected a number');
    }
  }
  const ms = (value: number) => Math.min(Math.max(Math.ceil(value), 0), MAX_MILLISECONDS);
  return {
    ttlMs: ms(ttl),
    limit: Math.min(Math.max(limit, 0), Number.MAX_SAFE_INTEGER),
    blockMs: ms(blockDuration),
  };
}

/** Checks `RedisThrottlerStorage.withOptions()`'s options and fills in defaults. */
export function resolveThrottlerStorageOptions(
  options: RedisThrottlerStorageOptions,
): Required<RedisThrottlerStorageOptions> {
  assertKnownKeys('options', options, Object.keys(DEFAULT_THROTTLER_STORAGE_OPTIONS));
  const { whenRedisDown = DEFAULT_THROTTLER_STORAGE_OPTIONS.whenRedisDown } = options;
  assertOneOf('whenRedisDown', whenRedisDown, ['allow', 'reject']);
  return { whenRedisDown };
}
