import { performance } from 'node:perf_hooks';
import { assertMilliseconds } from './validate.js';

/** Largest lease accepted, in milliseconds (24 h): longer work keeps a shorter lease renewed. */
export const MAX_LEASE_MS = 24 * 3600 * 1000;
/** Smallest lease accepted: below it, one round trip could outlast the lease. */
export const MIN_LEASE_MS = 10;

/** Checks a lease (`ttlMs` of an acquire or an `extend()`). */
export function assertLease(argument: string, ttlMs: unknown): asserts ttlMs is number {
  assertMilliseconds(argument, ttlMs, { min: MIN_LEASE_MS, max: MAX_LEASE_MS });
}

/**
 * When a lease of `leaseMs` that started at `startedAt` (`performance.now()`) is due for renewal:
 * a third into it, as the watchdog renews, so two thirds are left for the round trip and for
 * pauses of the event loop. Counted from the lease's start, not from when this process heard of
 * it: a late process must not spend the margin twice.
 */
export function renewalDueAt(startedAt: number, leaseMs: number): number {
  return startedAt + leaseMs / 3;
}

/** How a hold ended: lost (with the error its holder got), or released (the freeing call). */
export type HoldEnding = { readonly lost: Error } | { readonly released: Promise<void> };

/**
 * Tells one listener (telemetry) how a lease or hold ended, once; a listener that comes late
 * hears at once. A throwing listener cannot break the release or the loss it is told of.
 */
export class HoldEnd {
  private listener?: (ending: HoldEnding) => void;
  private ending?: HoldEnding;

  listen(listener: (ending: HoldEnding) => void): void {
    if (this.ending) notify(listener, this.ending);
    else this.listener = listener;
  }

  /** Records how it ended (the first call counts) and tells the listener. */
  end(ending: HoldEnding): void {
    if (this.ending) return;
    this.ending = ending;
    const listener = this.listener;
    this.listener = undefined;
    if (listener) notify(listener, ending);
  }
}

function notify(listener: (ending: HoldEnding) => void, ending: HoldEnding): void {
  try {
    listener(ending);
  } catch {
    // Dropped: see HoldEnd.
  }
}

/** Everything a {@link Lease} starts from. */
export interface LeaseInit<L> {
  /** The lease asked for, and renewed to. */
  readonly ttlMs: number;
  /** `performance.now()` at or before the moment the lease started in Redis. */
  readonly acquiredAt: number;
  /** The lease actually set in Redis, when shorter than `ttlMs` (a lock handed over). */
  readonly initialLeaseMs?: number;
  /**
   * The service's leases held right now: this one is in it until released or lost. Absent when
   * the owner keeps track itself (an election's leadership).
   */
  readonly tracker?: Set<L>;
}

/**
 * What a holder may believe about something it holds in Redis under a lease (a lock, a semaphore
 * permit), and the watchdog that renews it. Subclasses say how to renew and free it in Redis and
 * which error tells that it was lost.
 *
 * Times are on the monotonic clock (`performance.now()`), so a wall-clock jump neither shortens
 * nor stretches what the holder believes. The belief ends a bit before Redis would expire the
 * lease, and then `signal` aborts: a holder never believes it holds what Redis may have given away.
 */
export abstract class Lease<LostError extends Error> {
  readonly ttlMs: number;
  /** `performance.now()` taken before the acquire was sent. */
  readonly acquiredAt: number;
  private readonly tracker: Set<unknown> | undefined;
  /** When the lease ends as far as this process can prove; a bit before Redis expires it. */
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
  private lostWith?: LostError;
  private released = false;
  private readonly ending = new HoldEnd();

  protected constructor(init: LeaseInit<unknown>) {
    this.tracker = init.tracker;
    this.ttlMs = init.ttlMs;
    this.acquiredAt = init.acquiredAt;
    this.leaseUntil = leaseEnd(init.acquiredAt, init.initialLeaseMs ?? init.ttlMs);
    this.tracker?.add(this);
  }

  /** Sets the lease in Redis to `ttlMs` from now; false when it is no longer held. */
  protected abstract renewLease(ttlMs: number): Promise<boolean>;
  /** Frees what is still held in Redis (never another holder's). */
  protected abstract freeLease(): Promise<void>;
  /** The error that tells the holder it lost what it held, and why. */
  protected abstract lostError(reason: string, cause?: unknown): LostError;

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.lostWith) this.controller.abort(this.lostWith);
      else if (!this.released) this.armExpiry();
    }
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.lostWith !== undefined;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Renews about every ttl/3 (with jitter) until {@link stopWatchdog} or the lease is lost. */
  startWatchdog(maxHoldMs: number | undefined): void {
    if (this.watching || this.released || this.lostWith) return;
    this.watching = true;
    if (maxHoldMs !== undefined) this.holdUntil = this.acquiredAt + maxHoldMs;
    void this.signal; // the expiry timer must run while the watchdog does
    this.scheduleRenewal(this.renewalInterval());
  }

  /**
   * For a lease started short (a lock handed over): extends it to `ttlMs` at `at`
   * (`performance.now()` time, see {@link renewalDueAt}), unless it is released first (short
   * critical sections then cost no extra round trip).
   */
  scheduleTopUp(at: number): void {
    this.topUpTimer = setTimeout(
      () => {
        if (!this.released && !this.lostWith) void this.extend(this.ttlMs).catch(() => undefined);
      },
      Math.max(0, Math.ceil(at - performance.now())),
    ).unref();
  }

  stopWatchdog(): void {
    this.watching = false;
    clearTimeout(this.renewTimer);
  }

  async extend(ttlMs: number): Promise<void> {
    assertLease('ttlMs', ttlMs);
    if (this.lostWith) throw this.lostWith;
    if (this.released) throw this.lostError('it was already released');
    const sentAt = performance.now();
    if (!(await this.renewLease(ttlMs))) {
      throw this.lose('it is no longer held with this token (its lease ran out or Redis lost it)');
    }
    this.setLease(sentAt, ttlMs);
  }

  /** Calls `listener` once, when the lease is first released or lost (at once if it was). */
  onEnd(listener: (ending: HoldEnding) => void): void {
    this.ending.listen(listener);
  }

  release(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.released = true;
    this.stopWatchdog();
    clearTimeout(this.expiryTimer);
    clearTimeout(this.topUpTimer);
    this.tracker?.delete(this);
    const freeing = this.freeLease();
    this.ending.end({ released: freeing });
    return freeing;
  }

  /** Marks the lease lost and aborts its signal; returns the error (the first one if already lost). */
  lose(reason: string, cause?: unknown): LostError {
    if (this.lostWith) return this.lostWith;
    this.lostWith = this.lostError(reason, cause);
    this.tracker?.delete(this);
    this.stopWatchdog();
    clearTimeout(this.expiryTimer);
    clearTimeout(this.topUpTimer);
    this.controller?.abort(this.lostWith);
    this.ending.end({ lost: this.lostWith });
    return this.lostWith;
  }

  private setLease(sentAt: number, ttlMs: number): void {
    if (this.lostWith || this.released) return;
    this.leaseUntil = leaseEnd(sentAt, ttlMs);
    if (this.controller) this.armExpiry();
  }

  private armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const delay = Math.max(0, this.leaseUntil - performance.now());
    this.expiryTimer = setTimeout(() => this.onLeaseEnd(), Math.ceil(delay)).unref();
  }

  /**
   * True while the lease is held as far as this process can prove. Past the lease's end on the
   * monotonic clock it marks the lease lost first (aborting `signal`), even if the expiry timer
   * has not fired yet: a process resumed after a pause runs I/O callbacks before overdue timers.
   */
  confirmLease(): boolean {
    if (this.released || this.lostWith) return false;
    if (performance.now() < this.leaseUntil) return true;
    this.onLeaseEnd();
    return this.lostWith === undefined;
  }

  private onLeaseEnd(): void {
    if (this.released || this.lostWith) return;
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
    if (ttlMs < MIN_LEASE_MS) {
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
      this.scheduleRenewal(Math.max(MIN_LEASE_MS, Math.min(1000, this.ttlMs / 10)));
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
