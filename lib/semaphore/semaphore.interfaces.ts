import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';

/** Options of `SemaphoreService.acquire()`, `tryAcquire()`, `using()` and `available()`. */
export interface SemaphoreOptions {
  /**
   * Where the permits live: `'redis'`, or `'zookeeper'` (needs the module option `zookeeper`)
   * for permits that survive a Redis failover; there a permit lasts as long as its holder's
   * ZooKeeper session, and `ttlMs` plays no part. Do not switch a semaphore between backends
   * while it is in use: they do not see each other's permits.
   * @default the module option `semaphores.backend`, else 'redis'
   */
  backend?: CoordinationBackend;
  /**
   * How many permits the semaphore has: at most this many holders at once. Every caller of one
   * semaphore must give the same limit while it is in use (else `SemaphoreLimitMismatchError`).
   * From 1 to 1 000 000; required.
   */
  limit: number;
  /**
   * Lease of a permit in milliseconds: Redis frees it this long after the last acquire/renewal if
   * the holder does not release it (crash, pause, network loss). From 10 ms to 24 h. Unused on
   * ZooKeeper, where the session is the lease (module option `zookeeper.sessionTimeoutMs`).
   * @default 10_000
   */
  ttlMs?: number;
  /**
   * How long to wait for a free permit before `SemaphoreTimeoutError`; 0 fails at once.
   * @default 10_000
   */
  waitMs?: number;
  /**
   * `using()` and `@WithSemaphore` only: stop renewing after this many milliseconds of holding,
   * so the lease runs out and `signal` aborts with `PermitLostError` (on ZooKeeper the permit is
   * then given up). Unset: renew as long as the work runs.
   */
  maxHoldMs?: number;
}

/** The defaults of {@link SemaphoreOptions} (`limit` has none). */
export const DEFAULT_SEMAPHORE_OPTIONS = Object.freeze({
  ttlMs: 10_000,
  waitMs: 10_000,
});

/** What `@WithSemaphore` does when no permit is free. */
export type SemaphoreBusyPolicy = 'wait' | 'throw' | 'skip';

/** Options of `@WithSemaphore`. */
export interface WithSemaphoreOptions extends SemaphoreOptions {
  /**
   * - `'wait'`: wait up to `waitMs`, then throw `SemaphoreTimeoutError`;
   * - `'throw'`: throw `SemaphoreBusyError` at once;
   * - `'skip'`: resolve `undefined` without running the method.
   *
   * In an HTTP handler both errors become a `409 Conflict` response.
   * @default 'wait'
   */
  onBusy?: SemaphoreBusyPolicy;
}
