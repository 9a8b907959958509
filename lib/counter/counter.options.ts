import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertInteger, assertMilliseconds } from '../common/validate.js';
import type { HitOptions, IncrementOptions } from './counter.interfaces.js';

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Largest `hit()` limit: each hit allowed in the window is one entry in Redis. */
export const MAX_HIT_LIMIT = 1_000_000;

/** Defaults of `hit()` options. */
export const DEFAULT_HIT_OPTIONS = Object.freeze({ blockMs: 0 });

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

/** Checks increment options; returns `ttlMs`, 0 meaning "leave expiry alone". */
export function resolveIncrementTtl(options: IncrementOptions): number {
  if (options.ttlMs === undefined) return 0;
  assertMilliseconds('ttlMs', options.ttlMs, { min: 1 });
  return options.ttlMs;
}

/** Checks `hit()` options and fills in defaults; bad input throws a typed error naming it. */
export function resolveHitOptions(options: HitOptions): Required<HitOptions> {
  const { limit, windowMs, blockMs = DEFAULT_HIT_OPTIONS.blockMs } = options;
  // Every hit allowed in a window is kept in Redis until the window passes it.
  assertInteger('limit', limit, 1, MAX_HIT_LIMIT);
  assertMilliseconds('windowMs', windowMs, { min: 1 });
  assertMilliseconds('blockMs', blockMs);
  return { limit, windowMs, blockMs };
}
