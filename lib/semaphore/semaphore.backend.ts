/** The outcome of one attempt to take a permit. */
export type PermitReply =
  | { readonly status: 'taken' }
  | {
      readonly status: 'busy';
      /** Until the first holder's lease ends; -1 unknown. */
      readonly waitHintMs: number;
      /** Waiters in line before this one. */
      readonly ahead: number;
    }
  /** The semaphore is in use with another limit; nothing changed. */
  | { readonly status: 'mismatch'; readonly limitInUse: number };

/** The permits held right now, or the limit the semaphore is in use with when it differs. */
export type CountReply =
  | { readonly status: 'counted'; readonly held: number }
  | { readonly status: 'mismatch'; readonly limitInUse: number };

/**
 * What `SemaphoreService` needs from where semaphores live, in backend-neutral terms: tokens are
 * strings, counts and durations numbers; `Where` is the backend's own handle on one semaphore
 * (its keys, its path), opaque to the service. Redis is the first implementation
 * (`SemaphoreStore`).
 */
export interface SemaphoreBackend<Where = unknown> {
  /** The handle of the semaphore `name`; throws InvalidKeyError for a name it cannot use. */
  locate(name: string): Where;
  /** A token no other acquisition of any instance uses. */
  newToken(): string;
  /**
   * Takes a permit with a lease of `ttlMs`, counting at most `limit` holders, unless earlier
   * waiters need every free one; with `join`, a busy attempt keeps (or takes) a place in line.
   */
  acquire(
    where: Where,
    token: string,
    limit: number,
    ttlMs: number,
    join: boolean,
  ): Promise<PermitReply>;
  /** Sets the permit's lease to `ttlMs` from now; false when it is no longer held. */
  extend(where: Where, token: string, ttlMs: number): Promise<boolean>;
  /** Frees the permit held with `token` (idempotent), letting the next waiters in. */
  release(where: Where, token: string): Promise<void>;
  /**
   * Gives up whatever `token` may hold or wait for (an attempt whose reply never came may still
   * have taken a permit), retrying in the background until `ttlMs` has passed. Resolves after
   * the first try, whatever its outcome.
   */
  abandon(where: Where, token: string, ttlMs: number): Promise<void>;
  /** Counts the permits held right now. */
  count(where: Where, limit: number): Promise<CountReply>;
  /**
   * Calls `wake` whenever a release lets the waiter holding `token` in, until the returned
   * function is called. Waiters also poll, so a lost wake-up only delays them.
   */
  onRelease(where: Where, token: string, wake: () => void): Promise<() => void>;
  /** Stops every wake-up subscription (at application shutdown). */
  close(): Promise<void>;
}
