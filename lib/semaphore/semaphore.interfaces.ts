/** Options of `SemaphoreService.acquire()` and `using()`. */
export interface SemaphoreOptions {
  /**
   * How many permits the semaphore has: at most this many holders at once. Every caller of one
   * semaphore must give the same limit while it is in use (else `SemaphoreLimitMismatchError`).
   * From 1 to 1 000 000; required.
   */
  limit: number;
  /**
   * Lease of a permit in milliseconds: Redis frees it this long after the last acquire/renewal if
   * the holder does not release it (crash, pause, network loss). From 10 ms to 24 h.
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
   * so the lease runs out and `signal` aborts with `PermitLostError`. Unset: renew as long as
   * the work runs.
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
