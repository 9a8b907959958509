/**
 * A counter's value. A `number` while it is a safe integer (|v| <= `Number.MAX_SAFE_INTEGER`),
 * a `bigint` beyond that: Redis counters are 64-bit and a rounded number would be silently wrong.
 */
export type CounterValue = number | bigint;

/** Options of `CounterService.increment()`/`decrement()`. */
export interface IncrementOptions {
  /**
   * Time to live given to the counter when it has none (first increment, or after `PERSIST`),
   * in the same atomic step as the increment. Later increments keep the running expiry, so a
   * fixed window stays fixed. Omit to leave expiry alone.
   */
  ttlMs?: number;
}

/** Options of `CounterService.hit()`. */
export interface HitOptions {
  /** Hits allowed in any window of `windowMs` (integer >= 1). */
  limit: number;
  /** Length of the sliding window, in ms. */
  windowMs: number;
  /**
   * Once a hit is denied, deny every hit for this long (ms), even if the window frees up.
   * @default 0 (no block: a hit is allowed as soon as the oldest counted one leaves the window)
   */
  blockMs?: number;
}

/** What `CounterService.hit()` decided. */
export interface HitResult {
  /** Whether this hit was within the limit (and so was counted). */
  allowed: boolean;
  /** Hits counted in the current window, this one included when allowed. */
  count: number;
  /** Hits still allowed in the current window. */
  remaining: number;
  /** Ms until one more hit may be allowed; 0 while `remaining > 0`. */
  resetInMs: number;
  /** Ms left of a block started by a denied hit (`blockMs`); 0 when not blocked. */
  blockedForMs: number;
}
