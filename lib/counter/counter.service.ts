import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { Cluster } from 'ioredis';
import { describeValue } from '../common/coordination.error.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import { CounterValueError } from './counter.errors.js';
import type {
  CounterValue,
  HitOptions,
  HitResult,
  IncrementOptions,
} from './counter.interfaces.js';
import { counterKey, rateLimitKeys } from './counter.keys.js';
import { integerArgument, resolveHitOptions, resolveIncrementTtl } from './counter.options.js';
import { hitRateLimit, incrementCounter } from './scripts/lua.generated.js';

const incrementCounterScript = new RedisScript(incrementCounter);
const hitRateLimitScript = new RedisScript(hitRateLimit);

/** Above this, increments of a counter go through the exact script (a margin below 2^52). */
const LARGE_COUNTER = 2 ** 50;
/** ioredis parses integer replies exactly up to here (its digit loop rounds near 2^53). */
const EXACT_INTEGER_REPLY = 2 ** 52;
/** Counters remembered as large; forgetting one is safe (the fast path checks every reply). */
const MAX_LARGE_COUNTERS = 10_000;
/** Redis' answers when a key is not an integer or an increment would overflow 64 bits. */
const VALUE_REFUSED = /not an integer|overflow/i;

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
  /** Makes hit ids unique across processes without a Redis round trip. */
  private readonly hitIdPrefix = randomBytes(6).toString('base64url');
  private hitSequence = 0;
  /** Keys of counters seen above {@link LARGE_COUNTER}: their increments use the exact script. */
  private readonly largeCounters = new Set<string>();

  constructor(private readonly connections: RedisConnections) {}

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
    let key: string;
    try {
      key = this.counterKey(name);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (
      typeof by === 'number' &&
      Number.isSafeInteger(by) &&
      options.ttlMs === undefined &&
      (this.largeCounters.size === 0 || !this.largeCounters.has(key))
    ) {
      const { command } = this.connections;
      // INCR/DECR for ±1: one argument less to write and parse than INCRBY.
      const reply =
        by === 1 ? command.incr(key) : by === -1 ? command.decr(key) : command.incrby(key, by);
      return reply.then(
        (value) => this.checkSmall(name, key, by, value),
        (error: unknown) => {
          throw this.refusal(name, error);
        },
      );
    }
    let ttlMs: number;
    try {
      integerArgument('by', by);
      ttlMs = resolveIncrementTtl(options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.incrementExact(name, key, by, ttlMs);
  }

  /** The script path: exact decimal replies for large counters, TTL set atomically. */
  private async incrementExact(
    name: string,
    key: string,
    by: number | bigint,
    ttlMs: number,
  ): Promise<CounterValue> {
    let reply: unknown;
    try {
      reply = await incrementCounterScript.run(
        this.connections.command,
        [key],
        [String(by), ttlMs],
      );
    } catch (error) {
      throw this.refusal(name, error);
    }
    const value = toCounterValue(name, reply);
    if (typeof value === 'bigint' || Math.abs(value) > LARGE_COUNTER) this.rememberLarge(key);
    return value;
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
  async get(name: string): Promise<CounterValue> {
    const text = await this.connections.command
      .get(this.counterKey(name))
      .catch(this.connections.rethrow(`read counter "${name}"`));
    return toCounterValue(name, text);
  }

  /**
   * Values of several counters, in the order of `names`. On a standalone Redis this is one
   * `MGET`; on a cluster the counters live in different slots, so it is one `GET` per counter,
   * sent together (ioredis pipelines them per node).
   */
  async getMany(names: readonly string[]): Promise<CounterValue[]> {
    const keys = names.map((name) => this.counterKey(name));
    if (keys.length === 0) return [];
    const { command } = this.connections;
    const replies = await (
      command instanceof Cluster
        ? Promise.all(keys.map((key) => command.get(key)))
        : command.mget(...keys)
    ).catch(this.connections.rethrow(`read ${keys.length} counters`));
    return replies.map((reply, i) => toCounterValue(names[i]!, reply));
  }

  /** Deletes the counter (it reads as `0` again); returns whether it existed. */
  async reset(name: string): Promise<boolean> {
    const removed = await this.connections.command
      .del(this.counterKey(name))
      .catch(this.connections.rethrow(`reset counter "${name}"`));
    return removed === 1;
  }

  /**
   * Counts one hit against `name` in a sliding window of `windowMs`, unless `limit` hits are
   * already counted in it. One atomic script on the Redis clock: concurrent hits from any
   * number of instances let exactly `limit` through.
   * @throws InvalidArgumentError when `limit`, `windowMs` or `blockMs` is out of range.
   */
  async hit(name: string, options: HitOptions): Promise<HitResult> {
    const { limit, windowMs, blockMs } = resolveHitOptions(options);
    const id = `${this.hitIdPrefix}:${(this.hitSequence = (this.hitSequence + 1) % 1e15)}`;
    const reply = (await hitRateLimitScript
      .run(this.connections.command, rateLimitKeys(this.connections.keys, name), [
        limit,
        windowMs,
        id,
        blockMs,
      ])
      .catch(this.connections.rethrow(`count a hit on rate limit "${name}"`))) as [
      number,
      number,
      number,
      number,
    ];
    const [allowed, count, resetInMs, blockedForMs] = reply;
    return {
      allowed: allowed === 1,
      count,
      remaining: Math.max(0, limit - count),
      resetInMs,
      blockedForMs,
    };
  }

  /** What an increment throws: a typed error for a refused value or an unreachable Redis. */
  private refusal(name: string, error: unknown): unknown {
    if (!(error instanceof Error) || !VALUE_REFUSED.test(error.message)) {
      return this.connections.failure(error, `increment counter "${name}"`);
    }
    return new CounterValueError(name, error.message.replace(/ script:.*$/s, ''), { cause: error });
  }

  /** Checks a fast-path INCRBY reply: trusted only while small enough to be exact. */
  private checkSmall(name: string, key: string, by: number, value: number): number {
    const magnitude = Math.abs(value);
    if (magnitude <= LARGE_COUNTER) return value;
    this.rememberLarge(key);
    if (magnitude <= EXACT_INTEGER_REPLY) return value;
    throw new CounterValueError(
      name,
      `the increment by ${by} was applied, but the new value is beyond 2^52 and its integer reply cannot be read exactly; read it with get(). Later increments of this counter return exact values (bigint beyond Number.MAX_SAFE_INTEGER)`,
    );
  }

  private rememberLarge(key: string): void {
    if (this.largeCounters.size >= MAX_LARGE_COUNTERS) this.largeCounters.clear();
    this.largeCounters.add(key);
  }

  private counterKey(name: string): string {
    return counterKey(this.connections.keys, name);
  }
}

/** Parses what Redis returned for a counter: integer reply, decimal string or null. */
function toCounterValue(name: string, reply: unknown): CounterValue {
  if (reply === null || reply === undefined) return 0;
  if (typeof reply === 'number') return reply;
  const text = String(reply);
  if (!/^-?\d{1,19}$/.test(text)) {
    throw new CounterValueError(name, `its key holds ${describeValue(text)}, not an integer`);
  }
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}
