const COORDINATION_ERROR = Symbol.for('nestjs-redis-coordination.error');

/**
 * Root of every error this library throws, so one `instanceof RedisCoordinationError` (or a
 * Nest exception filter on it) catches them all. Each subclass sets a stable `code` that callers
 * may switch on; messages are for people and may change.
 */
export class RedisCoordinationError extends Error {
  constructor(
    /** Stable machine-readable code, e.g. `'REDIS_CONNECTION'`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /**
   * `instanceof RedisCoordinationError` also holds for the few errors that must extend a Nest
   * class instead (see {@link markCoordinationError}); subclasses keep the usual check.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return (
      this === RedisCoordinationError &&
      typeof value === 'object' &&
      value !== null &&
      COORDINATION_ERROR in value
    );
  }
}

/**
 * Makes `error instanceof RedisCoordinationError` true for an error whose class extends a Nest
 * class rather than RedisCoordinationError (JavaScript has one parent class per class).
 */
export function markCoordinationError(error: Error): void {
  Object.defineProperty(error, COORDINATION_ERROR, { value: true });
}

/**
 * Options given to `RedisCoordinationModule.forRoot()`/`forRootAsync()` are invalid. Thrown at
 * application start, listing every problem at once so one restart fixes them all.
 */
export class InvalidOptionsError extends RedisCoordinationError {
  constructor(readonly problems: readonly string[]) {
    super(
      'INVALID_OPTIONS',
      `Invalid RedisCoordinationModule options:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/** A key, resource, queue or channel name the library cannot use (empty, not a string, too long). */
export class InvalidKeyError extends RedisCoordinationError {
  constructor(
    readonly kind: string,
    readonly value: unknown,
    reason: string,
  ) {
    super('INVALID_KEY', `Invalid ${kind} ${describeValue(value)}: ${reason}`);
  }
}

/** An argument of a library call is out of range or of the wrong type. */
export class InvalidArgumentError extends RedisCoordinationError {
  constructor(
    readonly argument: string,
    readonly value: unknown,
    expectation: string,
  ) {
    super('INVALID_ARGUMENT', `Invalid ${argument} ${describeValue(value)}: ${expectation}`);
  }
}

/** Short, safe rendering of a value for an error message (never dumps large payloads). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 60 ? `"${value.slice(0, 57)}..." (${value.length} chars)` : `"${value}"`;
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
}
