import { InvalidArgumentError, InvalidKeyError } from './coordination.error.js';

/** Longest name (resource, queue, channel, cache key) accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 1024;

/** Throws {@link InvalidKeyError} unless `value` is a usable non-empty name. */
export function assertName(kind: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidKeyError(kind, value, 'expected a string');
  if (value.length === 0) throw new InvalidKeyError(kind, value, 'must not be empty');
  if (value.length > MAX_NAME_LENGTH) {
    throw new InvalidKeyError(kind, value, `longer than ${MAX_NAME_LENGTH} characters`);
  }
}

/**
 * Throws {@link InvalidArgumentError} unless `value` is an integer number of milliseconds within
 * `[min, max]`. Redis timers are integers, so fractions are refused rather than rounded.
 */
export function assertMilliseconds(
  argument: string,
  value: unknown,
  { min = 0, max = MAX_MILLISECONDS }: { min?: number; max?: number } = {},
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      argument,
      value,
      `expected an integer number of milliseconds from ${min} to ${max}`,
    );
  }
}

/** Upper bound for any duration option: one year, far beyond any sane lease, wait or TTL. */
export const MAX_MILLISECONDS = 365 * 24 * 3600 * 1000;
