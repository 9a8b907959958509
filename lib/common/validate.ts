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

/**
 * The option names of `T`, written once as `{ name: true, … }` so that the compiler checks the
 * list against the interface: a name missing or misspelt is a type error.
 */
export function optionNames<T extends object>(names: {
  readonly [K in keyof Required<T>]: true;
}): readonly string[] {
  return Object.freeze(Object.keys(names));
}

/**
 * Refuses anything but a plain object whose keys are all known, naming the first unknown one
 * and the known option it most likely means: `{ ttl: 1000 }` must not silently mean the default.
 */
export function assertKnownKeys(
  argument: string,
  value: unknown,
  known: readonly string[],
): asserts value is Record<string, unknown> {
  assertOptionsObject(argument, value);
  // for…in: this runs on every lock acquire and publish, most often over an empty object.
  for (const key in value) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(`${argument}.${key}`, value[key], unknownOption(key, known));
    }
  }
}

/** "unknown option (did you mean "ttlMs"? known: …)": the suggestion when one is close enough. */
export function unknownOption(key: string, known: readonly string[]): string {
  const likely = closestName(key, known);
  const hint = likely === undefined ? '' : `did you mean "${likely}"? `;
  return `unknown option (${hint}known: ${known.join(', ')})`;
}

/**
 * The known name `key` was most likely meant to be: the same but for case or a unit suffix
 * (`ttl`, `TTLms` for `ttlMs`), else the nearest within a few typos.
 */
function closestName(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const prefixed = known.find((name) => {
    const candidate = name.toLowerCase();
    return candidate.startsWith(lower) || lower.startsWith(candidate);
  });
  if (prefixed !== undefined && lower.length >= 3) return prefixed;
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1;
  for (const name of known) {
    const distance = editDistance(lower, name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }
  return rows[a.length]![b.length]!;
}

/** Upper bound for any duration option: one year, far beyond any sane lease, wait or TTL. */
export const MAX_MILLISECONDS = 365 * 24 * 3600 * 1000;

/**
 * For checking a module option with the assert functions above: runs a check, and when it throws
 * adds `<option>: <message>` to `problems` instead, so every fault is listed at once.
 */
export function collectProblems(option: string, problems: string[]): (check: () => void) => void {
  return (check) => {
    try {
      check();
    } catch (error) {
      problems.push(`${option}: ${(error as Error).message}`);
    }
  };
}
