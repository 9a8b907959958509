/** Fallback polling of a waiter (a lost release message, an expired lease): first and longest interval. */
const POLL_MIN_MS = 5;
const POLL_MAX_MS = 200;

/**
 * How long a waiter's queue entry in Redis lives unless the waiter retries. Waiters retry at
 * least every 200 ms, so only one that crashed, paused or gave up loses its place.
 */
export const WAITER_LEASE_MS = 1000;

/**
 * The pauses of a waiter between attempts: until a release wakes it, or until its next poll,
 * whose interval grows from 5 to 200 ms (±25% jitter) while nothing wakes it. So a release costs
 * one wake-up, and a lost message at most one poll interval.
 */
export class PollingSleep {
  private backoffMs = POLL_MIN_MS;
  private wake: (() => void) | undefined;

  /** Ends the sleep under way, if any. */
  wakeUp(): void {
    this.wake?.();
  }

  /** Sleeps until {@link wakeUp} or the next poll, at most `limitMs`. */
  async sleep(limitMs: number): Promise<void> {
    const delay = Math.min(this.backoffMs * (0.75 + Math.random() * 0.5), limitMs);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await new Promise<boolean>((resolve) => {
      this.wake = () => resolve(false);
      timer = setTimeout(() => resolve(true), Math.max(1, delay));
    });
    clearTimeout(timer);
    this.wake = undefined;
    if (timedOut) this.backoffMs = Math.min(this.backoffMs * 2, POLL_MAX_MS);
  }
}
