import { ConflictError } from '../common/conflict.error.js';
import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * The resource is held by someone else. Thrown at once by `@WithLock(..., { onBusy: 'throw' })`;
 * its subclass {@link LockTimeoutError} after waiting. An HTTP request answers `409 Conflict`
 * and Nest does not log it as an error (see {@link ConflictError}).
 */
export class LockBusyError extends ConflictError {
  constructor(
    readonly resources: readonly string[],
    message = `Lock ${describeResources(resources)} is held by another owner; retry later or wait with waitMs`,
    code = 'LOCK_BUSY',
  ) {
    super(message, code);
  }
}

/** The resource stayed busy for the whole `waitMs`. Redis being down is a `RedisConnectionError`. */
export class LockTimeoutError extends LockBusyError {
  constructor(
    resources: readonly string[],
    readonly waitMs: number,
  ) {
    super(
      resources,
      `Lock ${describeResources(resources)} was still held by another owner after waiting ${waitMs} ms; raise waitMs or shorten the holder's work`,
      'LOCK_TIMEOUT',
    );
  }
}

/**
 * The lock is no longer held by this owner: its lease expired (the process paused or Redis was
 * unreachable for longer than the lease), Redis lost it (restart, failover), or it hit
 * `maxHoldMs`. Work guarded by it must stop; `lock.signal` is aborted with this error.
 */
export class LockLostError extends RedisCoordinationError {
  constructor(
    readonly resources: readonly string[],
    /** Why, in a few words (the message without the lock's name). */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('LOCK_LOST', `Lock ${describeResources(resources)} was lost: ${reason}`, options);
  }
}

/**
 * A write lock was asked for inside a `using()`/`@WithLock` chain that holds the same resources
 * for reading. A read hold never turns into a write hold (two readers upgrading at once would wait
 * for each other forever): release the read lock first, or take the write lock from the start.
 */
export class LockUpgradeError extends RedisCoordinationError {
  constructor(readonly resources: readonly string[]) {
    super(
      'LOCK_UPGRADE',
      `Lock ${describeResources(resources)} is held for reading by this call chain and cannot be upgraded to a write lock: take it with mode 'write' from the start, or release the read lock first`,
    );
  }
}

/** The resources of a lock for a message: quoted, the first five. */
export function describeResources(resources: readonly string[]): string {
  const shown = resources
    .slice(0, 5)
    .map((r) => JSON.stringify(r.length > 60 ? `${r.slice(0, 57)}...` : r));
  return resources.length > 5
    ? `${shown.join(', ')} and ${resources.length - 5} more`
    : shown.join(', ');
}
