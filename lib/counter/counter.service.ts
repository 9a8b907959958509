import type { Counter } from '@opentelemetry/api';
import { Injectable } from '@nestjs/common';
import { RedisConnections } from '../connection/redis-connections.js';
import { telemetryOf } from '../telemetry/telemetry.js';
import type {
  CounterValue,
  HitOptions,
  HitResult,
  IncrementOptions,
} from './counter.interfaces.js';
import {
  assertCounterNames,
  integerArgument,
  assertIncrementOptions,
  resolveHitOptions,
  resolveIncrementTtl,
} from './counter.options.js';
import { CounterStore } from './counter.store.js';

/**
 * Exact counters and sliding-window rate limits on Redis, shared by every instance of the app.
 *
 * - Every change is one atomic Redis command or script: concurrent increments from any number
 *   of processes never lose an update, and `ttlMs` is set in the same step as the increment.
 * - Values are Redis' signed 64-bit integers: a `number` while safe, a `bigint` beyond
 *   `Number.MAX_SAFE_INTEGER` (see {@link CounterValue}); a missing counter reads as `0`.
 * - `hit()` is an exact sliding log: out of any burst of concurrent hits, exactly `limit` are
 *   allowed per window.
 *
 * @example
 * constructor(private readonly counters: CounterService) {}
 *
 * await this.counters.increment('page_views');                       // 1, 2, 3…
 * await this.counters.increment(`daily:${day}`, 1, { ttlMs: 86_400_000 });
 * const [a, b] = await this.counters.getMany(['a', 'b']);
 * const { allowed, resetInMs } = await this.counters.hit(`login:${ip}`, { limit: 10, windowMs: 60_000 });
 * if (!allowed) throw new TooManyRequestsException(`retry in ${resetInMs} ms`);
 */
@Injectable()
export class CounterService {
  private readonly store: CounterStore;

  /** Counts denied hits (with the module option `telemetry`). */
  private readonly denied: Counter | undefined;

  constructor(connections: RedisConnections) {
    this.store = new CounterStore(connections);
    this.denied = telemetryOf(connections)?.metrics?.rateLimitDenied;
  }

  /**
   * Adds `by` (default 1, may be negative; a safe integer or a bigint) and returns the new
   * value. With `ttlMs`, a counter without expiry gets one in the same step.
   *
   * A plain increment is one `INCR`, `DECR` or `INCRBY` (as fast as raw ioredis). ioredis parses
   * integer replies in doubles, exact only up to about 2^52, so a counter seen above 2^50 (and
   * any `ttlMs` or bigint increment) goes through a script that replies with the exact decimal
   * text instead.
   * @throws InvalidArgumentError when `by` is not an integer or `ttlMs` is not positive.
   * @throws CounterValueError when the key holds a non-integer, the result overflows 64 bits,
   * or (once per counter and process) a plain increment lands beyond 2^52 in one jump: the
   * increment is then applied but its result could not be read exactly.
   */
  increment(
    name: string,
    by: number | bigint = 1,
    options: IncrementOptions = {},
  ): Promise<CounterValue> {
    // Not async: the hot path adds a single `.then` to the INCRBY promise.
    try {
      const key = this.store.counterKey(name);
      assertIncrementOptions(options);
      if (typeof by === 'number' && Number.isSafeInteger(by) && options.ttlMs === undefined) {
        return this.store.increment(name, key, by);
      }
      integerArgument('by', by);
      return this.store.incrementCounter(name, key, by, resolveIncrementTtl(options));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /** Subtracts `by` (default 1); the same as `increment(name, -by, options)`. */
  decrement(
    name: string,
    by: number | bigint = 1,
    options: IncrementOptions = {},
  ): Promise<CounterValue> {
    integerArgument('by', by);
    return this.increment(name, -by, options);
  }

  /** The counter's value; `0` when it does not exist (never set, reset or expired). */
  get(name: string): Promise<CounterValue> {
    return this.store.get(name);
  }

  /**
   * Values of several counters, in the order of `names`. On a standalone Redis this is one
   * `MGET`; on a cluster the counters live in different slots, so it is one `GET` per counter,
   * sent together (ioredis pipelines them per node).
   */
  async getMany(names: readonly string[]): Promise<CounterValue[]> {
    assertCounterNames(names);
    return this.store.getMany(names);
  }

  /** Deletes the counter (it reads as `0` again); returns whether it existed. */
  reset(name: string): Promise<boolean> {
    return this.store.reset(name);
  }

  /**
   * Counts one hit against `name` in a sliding window of `windowMs`, unless `limit` hits are
   * already counted in it. One atomic script on the Redis clock: concurrent hits from any
   * number of instances let exactly `limit` through.
   * @throws InvalidArgumentError when `limit`, `windowMs` or `blockMs` is out of range.
   */
  async hit(name: string, options: HitOptions): Promise<HitResult> {
    const result = await this.store.hitRateLimit(name, resolveHitOptions(options));
    // Not by name: names are per caller (an IP, a user), too many for a metric's attributes.
    if (!result.allowed) this.denied?.add(1, { 'coordination.rate_limit.source': 'hit' });
    return result;
  }
}
