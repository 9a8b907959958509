import type { ReplicaAckOptions } from '../connection/replica-acks.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';

/**
 * `'write'`: one holder, no readers (the default). `'read'`: shared with other readers, no
 * writer; a waiting writer keeps new readers out, so readers cannot starve it.
 */
export type LockMode = 'read' | 'write';

/** Options of `RedisLockService.acquire()`, `tryAcquire()` and `using()`. */
export interface LockOptions {
  /**
   * Where the lock lives: `'redis'`, or `'zookeeper'` (needs the module option `zookeeper`) for
   * a lock that survives a Redis failover. Do not switch a resource between backends while it is
   * in use: they do not see each other's holds, and their fencing tokens are not comparable.
   * @default the module option `locks.backend`, else 'redis'
   */
  backend?: CoordinationBackend;
  /**
   * Write (exclusive) or read (shared) hold. Each reader has its own lease: a crashed reader
   * frees only its share.
   * @default 'write'
   */
  mode?: LockMode;
  /**
   * Lease in milliseconds: Redis frees the lock this long after the last acquire/renewal if the
   * holder does not release it (crash, pause, network loss). From 10 ms to 24 h.
   * @default 10_000
   */
  ttlMs?: number;
  /**
   * How long to wait for a busy lock before `LockTimeoutError`; 0 fails at once. `tryAcquire()`
   * never waits.
   * @default 10_000
   */
  waitMs?: number;
  /**
   * Serve writers first-come first-served (a waiter queue in Redis). Without it, waiters that are
   * already queued still go before newcomers, so a holder looping straight back cannot starve them.
   * Readers always wait for the writers queued before them, and only for those.
   * @default false
   */
  fair?: boolean;
  /**
   * `using()` and `@WithLock` only: stop renewing after this many milliseconds of holding, so
   * the lease runs out and `signal` aborts with `LockLostError`. Unset: renew as long as the work runs.
   */
  maxHoldMs?: number;
  /**
   * Redis backend: wait for this many replicas to confirm the acquire (Redis `WAIT`) before the
   * lock is handed to the caller; `false`: not for this call. When fewer confirm within
   * `timeoutMs`, the lock is freed again and the call fails with `ReplicaAckError`, so nobody
   * works under a lock that a failover could grant a second time. Renewals are not waited for:
   * one lost in a failover leaves the lease it renewed, which the next renewal extends.
   * A waiter that asks for it is woken when the lock is free and takes it itself, rather than
   * being handed it by the releaser. See {@link ReplicaAckOptions}.
   * @default the module option `replicaAcks`, else off
   */
  replicaAcks?: ReplicaAckOptions | false;
}

/** The defaults of {@link LockOptions}. */
export const DEFAULT_LOCK_OPTIONS = Object.freeze({
  mode: 'write' as LockMode,
  ttlMs: 10_000,
  waitMs: 10_000,
  fair: false,
});

/** What `@WithLock` does when the lock is held by someone else. */
export type LockBusyPolicy = 'wait' | 'throw' | 'skip';

/** Options of `@WithLock`. */
export interface WithLockOptions extends LockOptions {
  /**
   * - `'wait'`: wait up to `waitMs`, then throw `LockTimeoutError`;
   * - `'throw'`: throw `LockBusyError` at once;
   * - `'skip'`: resolve `undefined` without running the method (a `@Cron` job that must run on
   *   one instance only).
   *
   * In an HTTP handler both errors become a `409 Conflict` response.
   * @default 'wait'
   */
  onBusy?: LockBusyPolicy;
}
