import { performance } from 'node:perf_hooks';
import { LockLostError } from './lock.errors.js';
import type { ResourceKeys } from './lock.keys.js';
import { assertLease, MIN_LOCK_TTL_MS } from './lock.options.js';
import type { LockStore } from './lock.store.js';

/** Everything a {@link HeldLock} starts from. */
export type HeldLockInit = Pick<
  HeldLock,
  'resources' | 'keys' | 'token' | 'fencingTokens' | 'ttlMs' | 'acquiredAt'
> & {
  readonly store: LockStore;
  /** The service's locks held right now: the lock is in it until released or lost. */
  readonly tracker?: Set<HeldLock>;
  /** The lease actually set in Redis, when shorter than `ttlMs` (a lock handed over). */
  readonly initialLeaseMs?: number;
};

/**
 * The state of one acquisition, shared by its outermost {@link Lock} and any reentrant handles.
 * Times are on the monotonic clock (`performance.now()`), so a wall-clock jump neither shortens
 * nor stretches what the holder believes about its lease.
 */
export class HeldLock {
  readonly resources: readonly string[];
  /** Redis keys per resource, in the order of `resources`. */
  readonly keys: readonly ResourceKeys[];
  readonly token: string;
  readonly fencingTokens: readonly number[];
  readonly ttlMs: number;
  /** `performance.now()` taken before the acquire script was sent. */
  readonly acquiredAt: number;
  private readonly store: LockStore;
  private readonly tracker: Set<HeldLock> | undefined;
  /** When the lease ends as far as this process can prove; a bit before Redis expires the key. */
  private leaseUntil: number;
  private controller?: AbortController;
  private expiryTimer?: NodeJS.Timeout;
  private renewTimer?: NodeJS.Timeout;
  private topUpTimer?: NodeJS.Timeout;
  private watching = false;
  private holdUntil = Infinity;
  /** The watchdog stopped because the next renewal would pass `maxHoldMs`. */
  private capped = false;
  private lastRenewalError?: unknown;
  private lostError?: LockLostError;
  private released = false;

  constructor(init: HeldLockInit) {
    this.store = init.store;
    this.tracker = init.tracker;
    this.resources = init.resources;
    this.keys = init.keys;
    this.token = init.token;
    this.fencingTokens = init.fencingTokens;
    this.ttlMs = init.ttlMs;
    this.acquiredAt = init.acquiredAt;
    this.leaseUntil = leaseEnd(init.acquiredAt, init.initialLeaseMs ?? init.ttlMs);
    this.tracker?.add(this);
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.lostError) this.controller.abort(this.lostError);
      else if (!this.released) this.armExpiry();
    }
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.lostError !== undefined;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /**
   * True while the lease is held as far as this process can prove. Past the lease's end on the
   * monotonic clock it marks the lock lost first (aborting `signal`), even if the expiry timer
   * has not fired yet: a process resumed after a pause runs I/O callbacks before overdue timers.
   */
  confirmLease(): boolean {
    if (this.released || this.lostError) return false;
    if (performance.now() < this.leaseUntil) return true;
    this.onLeaseEnd();
    return this.lostError === undefined;
  }

  /** Renews about every ttl/3 (with jitter) until {@link stopWatchdog} or the lock is lost. */
  startWatchdog(maxHoldMs: number | undefined): void {
    if (this.watching || this.released || this.lostError) return;
    this.watching = true;
    if (maxHoldMs !== undefined) this.holdUntil = this.acquiredAt + maxHoldMs;
    void this.signal; // the expiry timer must run while the watchdog does
    this.scheduleRenewal(this.renewalInterval());
  }

  /**
   * For a lock handed over with a short lease: extends it to `ttlMs` after `delayMs`, unless it
   * is released first (short critical sections then cost no extra round trip).
   */
  scheduleTopUp(delayMs: number): void {
    this.topUpTimer = setTimeout(() => {
      if (!this.released && !this.lostError) void this.extend(this.ttlMs).catch(() => undefined);
    }, delayMs).unref();
  }

  stopWatchdog(): void {
    this.watching = false;
    clearTimeout(this.renewTimer);
  }

  async extend(ttlMs: number): Promise<void> {
    assertLease('ttlMs', ttlMs);
    if (this.lostError) throw this.lostError;
    if (this.released) throw new LockLostError(this.resources, 'it was already released');
    const sentAt = performance.now();
    if (!(await this.renewLease(ttlMs))) {
      throw this.lose('it is no longer held with this token (its lease ran out or Redis lost it)');
    }
    this.setLease(sentAt, ttlMs);
  }

  release(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.released = true;
    this.stopWatchdog();
    clearTimeout(this.expiryTimer);
    clearTimeout(this.topUpTimer);
    this.tracker?.delete(this);
    return this.store.release(this.resources, this.keys, this.token);
  }

  /** Marks the lock lost and aborts its signal; returns the error (the first one if already lost). */
  lose(reason: string, cause?: unknown): LockLostError {
    if (this.lostError) return this.lostError;
    this.lostError = new LockLostError(this.resources, reason, cause ? { cause } : undefined);
    this.tracker?.delete(this);
    this.stopWatchdog();
    clearTimeout(this.expiryTimer);
    clearTimeout(this.topUpTimer);
    this.controller?.abort(this.lostError);
    return this.lostError;
  }

  private renewLease(ttlMs: number): Promise<boolean> {
    return this.store.extend(this.resources, this.keys, this.token, ttlMs);
  }

  private setLease(sentAt: number, ttlMs: number): void {
    if (this.lostError || this.released) return;
    this.leaseUntil = leaseEnd(sentAt, ttlMs);
    if (this.controller) this.armExpiry();
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const delay = Math.max(0, this.leaseUntil - performance.now());
    this.expiryTimer = setTimeout(() => this.onLeaseEnd(), Math.ceil(delay)).unref();
  }

  private onLeaseEnd(): void {
    if (this.released || this.lostError) return;
    if (performance.now() < this.leaseUntil) {
      this.armExpiry();
      return;
    }
    const reason = this.capped
      ? `it reached maxHoldMs (${Math.round(this.holdUntil - this.acquiredAt)} ms)`
      : this.watching
        ? 'its lease ran out before a renewal was confirmed (Redis unreachable or the process paused)'
        : `its ${this.ttlMs} ms lease ran out`;
    this.lose(reason, this.lastRenewalError);
  }

  private scheduleRenewal(delayMs: number): void {
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.renew(), delayMs).unref();
  }

  private renewalInterval(): number {
    // ±10% jitter keeps many holders from renewing in lockstep.
    return Math.max(1, Math.round((this.ttlMs / 3) * (0.9 + Math.random() * 0.2)));
  }

  private async renew(): Promise<void> {
    if (!this.watching) return;
    const sentAt = performance.now();
    if (sentAt >= this.leaseUntil) {
      // Woken late (the process was paused): the lease may already belong to someone else.
      this.lose('its lease ran out while the process could not renew it (paused or blocked)');
      return;
    }
    const ttlMs = Math.min(this.ttlMs, Math.floor(this.holdUntil - sentAt));
    if (ttlMs < MIN_LOCK_TTL_MS) {
      this.capped = true; // maxHoldMs reached: let the lease run out
      this.stopWatchdog();
      return;
    }
    try {
      const renewed = await this.renewLease(ttlMs);
      if (!this.watching) return;
      if (!renewed) {
        this.lose('renewal found it gone (it expired, or Redis restarted or failed over)');
        return;
      }
      this.lastRenewalError = undefined;
      this.setLease(sentAt, ttlMs);
      if (ttlMs < this.ttlMs) {
        this.capped = true;
        this.stopWatchdog();
      } else this.scheduleRenewal(this.renewalInterval());
    } catch (error) {
      if (!this.watching) return;
      // Redis unreachable: try again soon; the expiry timer aborts if the lease runs out first.
      this.lastRenewalError = error;
      this.scheduleRenewal(Math.max(MIN_LOCK_TTL_MS, Math.min(1000, this.ttlMs / 10)));
    }
  }
}

/**
 * The end of a lease that started at `sentAt`, minus a drift allowance: Redis expires keys with
 * ~1 ms precision and clocks run at slightly different rates (the redlock drift term).
 */
function leaseEnd(sentAt: number, ttlMs: number): number {
  return sentAt + ttlMs - (Math.ceil(ttlMs * 0.01) + 2);
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
    /** @internal */ readonly held: HeldLock,
    /** False for a reentrant acquisition inside a `using()`/`@WithLock` chain. */
    readonly outermost: boolean,
  ) {}

  /** The locked resources, sorted. */
  get resources(): readonly string[] {
    return this.held.resources;
  }

  /**
   * Fencing token of the (first) resource: strictly increasing per resource across holders, made
   * by the acquire script itself. Pass it to storage that rejects writes with an older token.
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
