import { Lease, type HoldEnding } from '../common/lease.js';
import { LockLostError } from './lock.errors.js';
import type { LockMode } from './lock.interfaces.js';
import type { ResourceKeys } from './lock.keys.js';
import type { LockStore } from './lock.store.js';

/**
 * One acquisition as the service and its {@link Lock} handles see it, whichever backend holds
 * it: {@link HeldLock} on Redis (a renewed lease), a ZooKeeper hold (session-bound nodes).
 */
export interface LockHold {
  readonly resources: readonly string[];
  readonly mode: LockMode;
  readonly fencingTokens: readonly number[];
  /** The lease asked for (what `extend()` renews to by default). */
  readonly ttlMs: number;
  /** Aborted with a {@link LockLostError} once the hold is known to be lost. */
  readonly signal: AbortSignal;
  readonly lost: boolean;
  readonly isReleased: boolean;
  /** Keeps the hold while work runs (`using()`, `@WithLock`), at most `maxHoldMs`. */
  startWatchdog(maxHoldMs: number | undefined): void;
  stopWatchdog(): void;
  /** Throws {@link LockLostError} (and aborts `signal`) when no longer held. */
  extend(ttlMs: number): Promise<void>;
  /** Frees what is still held; idempotent. */
  release(): Promise<void>;
  /** Marks the hold lost and aborts `signal`; returns the error. */
  lose(reason: string): LockLostError;
  /** Calls `listener` once, when the hold is first released or lost (at once if it was). */
  onEnd(listener: (ending: HoldEnding) => void): void;
}

/** Everything a {@link HeldLock} starts from. */
export type HeldLockInit = Pick<
  HeldLock,
  'resources' | 'keys' | 'mode' | 'token' | 'fencingTokens' | 'ttlMs' | 'acquiredAt'
> & {
  readonly store: LockStore;
  /** The service's locks held right now (absent when the owner keeps track itself). */
  readonly tracker?: Set<LockHold>;
  /** The lease actually set in Redis, when shorter than `ttlMs` (a lock handed over). */
  readonly initialLeaseMs?: number;
};

/**
 * The state of one acquisition, shared by its outermost {@link Lock} and any reentrant handles:
 * its lease (renewal, expiry, `signal`) is kept by {@link Lease}.
 */
export class HeldLock extends Lease<LockLostError> implements LockHold {
  readonly resources: readonly string[];
  /** Redis keys per resource, in the order of `resources`. */
  readonly keys: readonly ResourceKeys[];
  readonly mode: LockMode;
  readonly token: string;
  readonly fencingTokens: readonly number[];
  private readonly store: LockStore;

  constructor(init: HeldLockInit) {
    super(init);
    this.store = init.store;
    this.resources = init.resources;
    this.keys = init.keys;
    this.mode = init.mode;
    this.token = init.token;
    this.fencingTokens = init.fencingTokens;
  }

  protected renewLease(ttlMs: number): Promise<boolean> {
    return this.store.extend(this.resources, this.keys, this.token, ttlMs, this.mode);
  }

  protected freeLease(): Promise<void> {
    return this.store.release(this.resources, this.keys, this.token, this.mode);
  }

  protected lostError(reason: string, cause?: unknown): LockLostError {
    return new LockLostError(this.resources, reason, cause ? { cause } : undefined);
  }
}

/**
 * A held lock on one or more resources. Release it (or let `await using` do it); work that must
 * not outlive the lock watches `signal`.
 *
 * @example
 * await using lock = await locks.acquire('orders:42', { ttlMs: 10_000 });
 * await store.write(order, { fencingToken: lock.fencingToken });
 */
export class Lock implements AsyncDisposable {
  /** @internal */
  constructor(
    /** @internal */ readonly held: LockHold,
    /** False for a reentrant acquisition inside a `using()`/`@WithLock` chain. */
    readonly outermost: boolean,
  ) {}

  /** The locked resources, sorted. */
  get resources(): readonly string[] {
    return this.held.resources;
  }

  /** `'write'` (exclusive) or `'read'` (shared with other readers). */
  get mode(): LockMode {
    return this.held.mode;
  }

  /**
   * Fencing token of the (first) resource: strictly increasing per resource across write holds,
   * made by the acquire script itself (Redis time in microseconds). Pass it to storage that
   * rejects writes with an older token. A read hold's token is greater than that of every write
   * hold before it and less than the next one's.
   */
  get fencingToken(): number {
    return this.held.fencingTokens[0]!;
  }

  /** Fencing token of each resource. */
  get fencingTokens(): ReadonlyMap<string, number> {
    return new Map(this.held.resources.map((r, i) => [r, this.held.fencingTokens[i]!]));
  }

  /** Aborted, with a {@link LockLostError} as reason, as soon as this process knows the lock is lost. */
  get signal(): AbortSignal {
    return this.held.signal;
  }

  /** True once the lock is known to be lost. */
  get lost(): boolean {
    return this.held.lost;
  }

  /**
   * Sets the lease to `ttlMs` from now. Throws {@link LockLostError} if the lock is no longer
   * held (and aborts `signal`).
   */
  extend(ttlMs: number = this.held.ttlMs): Promise<void> {
    return this.held.extend(ttlMs);
  }

  /**
   * Frees the lock, waking waiters. Idempotent, and never deletes another holder's lock. On a
   * reentrant handle it does nothing: the outermost acquisition frees the lock.
   */
  release(): Promise<void> {
    return this.outermost ? this.held.release() : Promise.resolve();
  }

  /** `await using lock = await locks.acquire(...)` releases at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
