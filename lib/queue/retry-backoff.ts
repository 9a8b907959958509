/** First pause after a failed Redis call (Redis down), doubled while calls keep failing. */
const MIN_MS = 50;
const MAX_MS = 2000;

/**
 * The pause between retries of a loop that talks to Redis: 50 ms after the first failure,
 * doubled up to 2 s while calls keep failing, back to the start after a success.
 */
export class RetryBackoff {
  private delayMs = 0;

  /** Whether this is the first failure since the last success: say it once per outage. */
  get firstFailure(): boolean {
    return this.delayMs === 0;
  }

  /** The pause before the next attempt (it grows with each call until `succeeded()`). */
  next(): number {
    this.delayMs = Math.min(Math.max(this.delayMs * 2, MIN_MS), MAX_MS);
    return this.delayMs;
  }

  /** Waits the next pause. */
  pause(): Promise<void> {
    return sleep(this.next());
  }

  succeeded(): void {
    this.delayMs = 0;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
