import { performance } from 'node:perf_hooks';
import { renewalDueAt } from '../common/lease.js';
import { PollingSleep, WAITER_LEASE_MS } from '../common/waiter-polling.js';
import type { ReleaseNotifier } from '../connection/release-notifier.js';
import { LockTimeoutError } from './lock.errors.js';
import type { LockRequest } from './lock.options.js';
import { LockStore, type AckedAcquire, type ReleaseNotice } from './lock.store.js';
import type { ReplicaConfirmation } from '../connection/replica-acks.js';

/**
 * Lease of a lock handed straight to a waiter; the waiter then extends it to its `ttlMs`. Kept
 * short so a waiter that died just before its turn holds the others up about as long as its
 * stale queue entry would.
 */
export const HANDOVER_LEASE_MS = WAITER_LEASE_MS;

/** A lock the waiter got: its fencing tokens and the lease Redis set, counted from `acquiredAt`. */
export interface GrantedLock {
  readonly fences: readonly number[];
  /** `performance.now()` at or before the moment the lease started. */
  readonly acquiredAt: number;
  readonly leaseMs: number;
  /** How many replicas confirmed the acquire, when it waited for them. */
  readonly confirmation?: ReplicaConfirmation;
}

/** What the first attempt, which found the lock busy, learned. */
export interface BusyHint {
  /** The longest remaining lease among busy resources; -1 unknown. */
  readonly waitHintMs: number;
  /** Waiters queued before this one. */
  readonly ahead: number;
}

/**
 * One acquisition waiting for a busy lock, from its first busy attempt until it holds the lock,
 * `waitMs` runs out, or Redis fails.
 *
 * The releaser names the first waiter in the queue on this instance's inbox: that waiter alone
 * retries at once or, waiting for one resource, is handed the lock with its fencing token. The
 * others keep their place in the queue and poll ({@link PollingSleep}).
 */
export class LockWaiter {
  private readonly deadline: number;
  /** The last inbox message that named this waiter. */
  private notice: ReleaseNotice | undefined;
  private readonly polling = new PollingSleep();
  private hintMs: number;
  /**
   * When the last attempt that found the lock busy was sent: a lock handed over later started
   * its lease after that, so counting the lease from here is on the safe side.
   */
  private lastBusyAt: number;
  /**
   * A release between the first attempt and subscribing went to the waiter first in line then;
   * if others were queued ahead of this one it was not ours, so only the first in line retries
   * before sleeping.
   */
  private retryNow: boolean;

  constructor(
    private readonly request: LockRequest,
    private readonly token: string,
    private readonly store: LockStore,
    private readonly notifier: ReleaseNotifier,
    firstAttemptAt: number,
    first: BusyHint,
    /** Set when each attempt waits for replicas; such a waiter is never handed the lock. */
    private readonly acked?: AckedAcquire,
  ) {
    this.deadline = firstAttemptAt + request.waitMs;
    this.lastBusyAt = firstAttemptAt;
    this.hintMs = first.waitHintMs;
    this.retryNow = first.ahead === 0;
  }

  /** Waits for the lock; throws LockTimeoutError after `waitMs`, or what Redis failed with. */
  async acquire(): Promise<GrantedLock> {
    const listener = (message: string) => this.onRelease(message);
    // Without a subscription (subscriber connection down) polling alone still gets the lock.
    const watches = await Promise.allSettled(
      this.request.keys.map((keys) => this.notifier.watch(this.store.inboxOf(keys), listener)),
    );
    try {
      for (;;) {
        if (this.notice?.retry !== false) {
          const granted = await this.retry();
          if (granted) return granted;
        }
        // Checked before the deadline: a lock handed over is ours, however late.
        if (this.notice?.retry === false) {
          const granted = this.handedOver(this.notice.fence);
          if (granted) return granted;
          // Heard of too late to rely on: retaking it with this token renews it (same fencing
          // token) if it is still ours, and otherwise waits like any retry.
          this.notice = { retry: true };
          continue;
        }
        if (performance.now() >= this.deadline) {
          throw new LockTimeoutError(this.request.resources, this.request.waitMs);
        }
        await this.sleep();
      }
    } catch (error) {
      await this.giveUp();
      throw error;
    } finally {
      for (const watch of watches) if (watch.status === 'fulfilled') watch.value();
    }
  }

  private onRelease(message: string): void {
    const notice = LockStore.readRelease(message, this.token);
    if (!notice) return;
    this.notice = notice;
    this.polling.wakeUp();
  }

  /** One more attempt, unless this waiter was told to wait its turn. */
  private async retry(): Promise<GrantedLock | undefined> {
    const due = this.retryNow || this.notice?.retry === true;
    this.retryNow = true;
    this.notice = undefined;
    if (!due) return undefined;
    const { resources, keys, ttlMs, mode, fair } = this.request;
    const sentAt = performance.now();
    const reply = await this.store.acquire(
      resources,
      keys,
      this.token,
      ttlMs,
      mode,
      { join: true, fair, queued: true },
      this.acked,
    );
    if (reply.taken) {
      return {
        fences: reply.fences,
        acquiredAt: sentAt,
        leaseMs: ttlMs,
        confirmation: reply.confirmation,
      };
    }
    this.lastBusyAt = sentAt;
    this.hintMs = reply.waitHintMs;
    return undefined;
  }

  /**
   * The releaser set this waiter as owner, with a short lease the holder then extends. Undefined
   * when this process heard of it so late (its event loop was blocked, or starved of CPU) that
   * the lease, counted from the last attempt that found the lock busy, is already due for
   * renewal: handed on, it could end before its first renewal, and `signal` would abort although
   * nobody else took the lock.
   */
  private handedOver(fence: number): GrantedLock | undefined {
    const leaseMs = Math.min(this.request.ttlMs, HANDOVER_LEASE_MS);
    if (performance.now() >= renewalDueAt(this.lastBusyAt, leaseMs)) return undefined;
    return { fences: [fence], acquiredAt: this.lastBusyAt, leaseMs };
  }

  /** Until a release names this waiter, the next poll, or the deadline. */
  private async sleep(): Promise<void> {
    if (this.notice) return;
    const remaining = this.deadline - performance.now();
    await this.polling.sleep(this.hintMs >= 0 ? Math.min(remaining, this.hintMs + 1) : remaining);
  }

  /**
   * Gives up this waiter's place at once, so the queue does not stall until the entry expires,
   * and passes on a lock that may have been handed to it meanwhile (or taken by a retry whose
   * reply was lost), on the connection of its retries, so that it follows them.
   */
  private async giveUp(): Promise<void> {
    const { resources, keys, ttlMs, mode } = this.request;
    await this.store.abandon(resources, keys, this.token, ttlMs, mode, this.acked?.client);
  }
}
