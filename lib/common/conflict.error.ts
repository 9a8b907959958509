import { IntrinsicException } from '@nestjs/common';
import { markCoordinationError } from './coordination.error.js';

/**
 * Someone else holds what was asked for (a lock, every permit of a semaphore). Shaped like an
 * `http-errors` 409 error (`status`, `statusCode`, `expose`), so Nest's exception filter answers
 * an HTTP request with `409 Conflict` instead of `500`; and a Nest `IntrinsicException`, so that
 * filter does not log an expected conflict as an ERROR with a stack trace.
 * `instanceof RedisCoordinationError` holds.
 */
export abstract class ConflictError extends IntrinsicException {
  /** Stable machine-readable code, e.g. `'LOCK_BUSY'`. */
  readonly code: string;
  /** HTTP status for Nest's exception filter: 409 Conflict. */
  readonly status = 409;
  readonly statusCode = 409;
  /** Lets the HTTP response carry this message (it names only what was busy). */
  readonly expose = true;

  protected constructor(message: string, code: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    markCoordinationError(this);
  }
}
