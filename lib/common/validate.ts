import { InvalidArgumentError, InvalidKeyError } from './coordination.error.js';

/** Longest name (resource, queue, channel, cache key) accepted, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 1024;

/** Throws {@link InvalidKeyError} unless `value` is a usable non-empty, well-formed name. */
export function assertName(kind: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidKeyError(kind, value, 'expected a string');
  if (value.length === 0) throw new InvalidKeyError(kind, value, 'must not be empty');
  if (value.length > MAX_NAME_LENGTH) {
    throw new InvalidKeyError(kind, value, `longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (!value.isWellFormed()) {
    // Encoded to UTF-8 a lone surrogate becomes U+FFFD: 'x\uD800' would be the key of 'x\uFFFD'.
    throw new InvalidKeyError(
      kind,
      value,
      'contains a lone UTF-16 surrogate (malformed text), which Redis would store as U+FFFD, colliding with other names',
    );
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

/** Throws {@link InvalidArgumentError} unless `value` is a safe integer within `[min, max]`. */
export function assertInteger(
  argument: string,
  value: unknown,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(argument, value, `expected an integer from ${min} to ${max}`);
  }
}

/** Throws {@link InvalidArgumentError} unless `value` is a positive safe integer (a count, a limit). */
export function assertCount(argument: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(argument, value, 'expected a positive integer');
  }
}

/** Throws {@link InvalidArgumentError} unless `value` is one of `allowed`. */
export function assertOneOf<T extends string | boolean>(
  argument: string,
  value: unknown,
  allowed: readonly T[],
): asserts value is T {
  if (!allowed.includes(value as T)) {
    const names = allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a)));
    throw new InvalidArgumentError(
      argument,
      value,
      `expected ${names.slice(0, -1).join(', ')}${names.length > 1 ? ' or ' : ''}${names.at(-1)}`,
    );
  }
}

/** Throws {@link InvalidArgumentError} unless `value` is a plain options object (not null or an array). */
export function assertOptionsObject(
  argument: string,
  value: unknown,
): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidArgumentError(argument, value, 'expected an object');
  }
}

/** Refuses anything but a plain object whose keys are all known, naming the first unknown one. */
export function assertKnownKeys(
  argument: string,
  value: unknown,
  known: readonly string[],
): asserts value is Record<string, unknown> {
  assertOptionsObject(argument, value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        `${argument}.${key}`,
        value[key],
        `unknown option (known: ${known.join(', ')})`,
      );
    }
  }
}

/** Upper bound for any duration option: one year, far beyond any sane lease, wait or TTL. */
export const MAX_MILLISECONDS = 365 * 24 * 3600 * 1000;
