import { ConflictError } from '../common/conflict.error.js';
import { describeValue, RedisCoordinationError } from '../common/coordination.error.js';

/**
 * Every permit of the semaphore is held (or promised to earlier waiters). Thrown at once by
 * `@WithSemaphore(..., { onBusy: 'throw' })`; its subclass {@link SemaphoreTimeoutError} after
 * waiting. An HTTP request answers `409 Conflict` and Nest does not log it as an error (see
 * ConflictError). `instanceof RedisCoordinationError` holds.
 */
export class SemaphoreBusyError extends ConflictError {
  constructor(
    readonly semaphore: string,
    readonly limit: number,
    message = `Semaphore ${describeValue(semaphore)} has no free permit (limit ${limit}); retry later or wait with waitMs`,
    code = 'SEMAPHORE_BUSY',
  ) {
    super(message, code);
  }
}

/** No permit came free within `waitMs`. Redis being down is a `RedisConnectionError`. */
export class SemaphoreTimeoutError extends SemaphoreBusyError {
  constructor(
    semaphore: string,
    limit: number,
    readonly waitMs: number,
  ) {
    super(
      semaphore,
      limit,
      `Semaphore ${describeValue(semaphore)} had no free permit (limit ${limit}) after waiting ${waitMs} ms; raise waitMs or the limit, or shorten the holders' work`,
      'SEMAPHORE_TIMEOUT',
    );
  }
}

/**
 * The permit is no longer held: its lease expired (the process paused or Redis was unreachable
 * for longer than the lease), Redis lost it (restart, failover), or it hit `maxHoldMs`. Work
 * guarded by it must stop; `permit.signal` is aborted with this error.
 */
export class PermitLostError extends RedisCoordinationError {
  constructor(
    readonly semaphore: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      'PERMIT_LOST',
      `Permit of semaphore ${describeValue(semaphore)} was lost: ${reason}`,
      options,
    );
  }
}

/**
 * The semaphore is in use (it has live holders or waiters) with another limit. Callers that
 * disagree on the limit could together hold more permits than the smaller one allows, so the
 * call is refused rather than counted against either.
 */
export class SemaphoreLimitMismatchError extends RedisCoordinationError {
  constructor(
    readonly semaphore: string,
    /** The limit this call gave. */
    readonly limit: number,
    /** The limit the semaphore's holders and waiters use. */
    readonly limitInUse: number,
  ) {
    super(
      'SEMAPHORE_LIMIT_MISMATCH',
      `Semaphore ${describeValue(semaphore)} is in use with limit ${limitInUse}, not ${limit}: give every caller the same limit; to change it, let the semaphore drain (it forgets its limit once no permit is held or awaited) or use a new name`,
    );
  }
}
