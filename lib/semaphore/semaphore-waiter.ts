import { performance } from 'node:perf_hooks';
import { PollingSleep } from '../common/waiter-polling.js';
import type { PermitReply, SemaphoreBackend } from './semaphore.backend.js';
import { SemaphoreLimitMismatchError, SemaphoreTimeoutError } from './semaphore.errors.js';
import type { ResolvedSemaphoreOptions } from './semaphore.options.js';

/** One acquisition waiting for a permit, after its first attempt found none free. */
export interface PermitRequest extends ResolvedSemaphoreOptions {
  readonly semaphore: string;
  /** The backend's handle on the semaphore. */
  readonly where: unknown;
  readonly token: string;
}

/**
 * One acquisition waiting in line for a permit, from its first busy attempt until it holds a
 * permit, `waitMs` runs out, or Redis fails.
 *
 * A release wakes as many waiters at the head of the line as it leaves permits free, each on its
 * own instance's inbox; the others keep their place and poll ({@link PollingSleep}), which also
 * keeps their entry in line alive.
 */
export class SemaphoreWaiter {
  private readonly deadline: number;
  private readonly polling = new PollingSleep();
  /** A release named this waiter since its last attempt. */
  private woken = false;
  private hintMs: number;
  /**
   * A release between the first attempt and subscribing went unheard; only a waiter it could
   * have named (fewer than `limit` ahead) retries before sleeping.
   */
  private retryNow: boolean;

  constructor(
    private readonly backend: SemaphoreBackend,
    private readonly request: PermitRequest,
    firstAttemptAt: number,
    first: Extract<PermitReply, { status: 'busy' }>,
  ) {
    this.deadline = firstAttemptAt + request.waitMs;
    this.hintMs = first.waitHintMs;
    this.retryNow = first.ahead < request.limit;
  }

  /**
   * Waits for a permit; resolves with when the successful attempt was sent (its lease started
   * after that). Throws SemaphoreTimeoutError after `waitMs`, SemaphoreLimitMismatchError, or
   * what Redis failed with; then gives up its place in line.
   */
  async acquire(): Promise<number> {
    const { where, token, semaphore, limit, ttlMs, waitMs } = this.request;
    // Without a subscription (subscriber connection down) polling alone still gets the permit.
    const stop = await this.backend
      .onRelease(where, token, () => {
        this.woken = true;
        this.polling.wakeUp();
      })
      .catch(() => undefined);
    try {
      for (;;) {
        if (this.retryNow || this.woken) {
          this.woken = false;
          const sentAt = performance.now();
          const reply = await this.backend.acquire(where, token, limit, ttlMs, true);
          if (reply.status === 'taken') return sentAt;
          if (reply.status === 'mismatch') {
            throw new SemaphoreLimitMismatchError(semaphore, limit, reply.limitInUse);
          }
          this.hintMs = reply.waitHintMs;
        }
        this.retryNow = true;
        const remaining = this.deadline - performance.now();
        if (remaining <= 0) throw new SemaphoreTimeoutError(semaphore, limit, waitMs);
        if (!this.woken) {
          await this.polling.sleep(
            this.hintMs >= 0 ? Math.min(remaining, this.hintMs + 1) : remaining,
          );
        }
      }
    } catch (error) {
      // Gives up the place in line at once (the line must not stall until the entry expires),
      // and a permit a retry whose reply was lost may have taken.
      await this.backend.abandon(where, token, ttlMs);
      throw error;
    } finally {
      stop?.();
    }
  }
}
