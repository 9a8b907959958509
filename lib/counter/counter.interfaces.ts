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

/** Options of `RedisThrottlerStorage.withOptions()`. */
export interface RedisThrottlerStorageOptions {
  /**
   * What a request gets while Redis cannot be reached (stopped, unreachable, or no reply within
   * a second):
   * - `'allow'` (fail open): it passes unthrottled. A warning is logged when the outage is
   *   noticed, and a line when throttling resumes.
   * - `'reject'` (fail closed): it fails with 503 Service Unavailable
   *   (`ServiceUnavailableException`); the same lines are logged.
   *
   * Either way the request waits for no reconnect: while Redis is known to be down, the
   * storage skips it for a second before trying again.
   * @default 'allow' (the throttler usually guards every route: failing closed would turn a
   * Redis outage into an outage of the whole app)
   */
  whenRedisDown?: 'allow' | 'reject';
}

/** One request as `@nestjs/throttler` asks to count it (internal: see hitThrottler-2.lua). */
export interface ThrottlerHitOptions {
  /** How long a counted hit lives, and the length of the record's window, in ms (>= 0). */
  ttlMs: number;
  /** Hits allowed while they live (any number; <= 0 allows none). */
  limit: number;
  /** How long the hit over `limit` blocks the record, in ms; 0 for no block. */
  blockMs: number;
}

/** What hitThrottler-2.lua decided, in ms. */
export interface ThrottlerHitResult {
  /** The throttler's `totalHits`: live hits, plus one for a request denied without a block. */
  totalHits: number;
  /** Ms until the record's window ends. */
  windowMs: number;
  blocked: boolean;
  /** Ms until a denied request may pass; 0 when allowed. */
  waitMs: number;
}
