import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { describeValue } from '../common/coordination.error.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import { CounterValueError } from './counter.errors.js';
import type {
  CounterValue,
  HitOptions,
  HitResult,
  ThrottlerHitOptions,
  ThrottlerHitResult,
} from './counter.interfaces.js';
import { counterKey, rateLimitKeys, throttlerKeys } from './counter.keys.js';
import { hitRateLimit, hitThrottler, incrementCounter } from './scripts/lua.generated.js';

const incrementCounterScript = new RedisScript(incrementCounter);
const hitRateLimitScript = new RedisScript(hitRateLimit);
const hitThrottlerScript = new RedisScript(hitThrottler);

/** Above this, increments of a counter go through the exact script (a margin below 2^52). */
const LARGE_COUNTER = 2 ** 50;
/** ioredis parses integer replies exactly up to here (its digit loop rounds near 2^53). */
const EXACT_INTEGER_REPLY = 2 ** 52;
/** Counters remembered as large; forgetting one is safe (the fast path checks every reply). */
const MAX_LARGE_COUNTERS = 10_000;
/** Redis' answers when a key is not an integer or an increment would overflow 64 bits. */
const VALUE_REFUSED = /not an integer|overflow/i;

/**
 * The counters' and rate limits' Redis side: one typed method per command or script, each
 * parsing its reply and turning a refused value into {@link CounterValueError} and an
 * unreachable Redis into `RedisConnectionError`.
 */
export class CounterStore {
  /** Makes hit ids unique across processes without a Redis round trip. */
  private readonly hitIdPrefix = randomBytes(6).toString('base64url');
  private hitSequence = 0;
  /** Keys of counters seen above {@link LARGE_COUNTER}: their increments use the exact script. */
  private readonly largeCounters = new Set<string>();

  constructor(private readonly connections: RedisConnections) {}

  /** The key of counter `name`; throws InvalidKeyError for a bad name. */
  counterKey(name: string): string {
    return counterKey(this.connections.keys, name);
  }

  /**
   * Adds a safe integer with one `INCR`, `DECR` or `INCRBY`, unless the counter is known to be
   * large (then through {@link incrementCounter}). Not async: one `.then` on the command's
   * promise is all it adds to raw ioredis.
   */
  increment(name: string, key: string, by: number): Promise<CounterValue> {
    if (this.largeCounters.size > 0 && this.largeCounters.has(key)) {
      return this.incrementCounter(name, key, by, 0);
    }
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

  /**
   * incrementCounter-1.lua: exact decimal replies for large counters, and a TTL (`ttlMs` > 0)
   * given to a counter without one in the same step.
   */
  async incrementCounter(
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

  /** `GET`; a missing counter reads as 0. */
  async get(name: string): Promise<CounterValue> {
    const text = await this.connections.command
      .get(this.counterKey(name))
      .catch(this.connections.rethrow(`read counter "${name}"`));
    return toCounterValue(name, text);
  }

  /**
   * One `MGET` on a standalone Redis; on a cluster the counters live in different slots, so one
   * `GET` per counter, sent together (ioredis pipelines them per node).
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

  /** `DEL`; returns whether the counter existed. */
  async reset(name: string): Promise<boolean> {
    const removed = await this.connections.command
      .del(this.counterKey(name))
      .catch(this.connections.rethrow(`reset counter "${name}"`));
    return removed === 1;
  }

  /** hitRateLimit-2.lua: counts one hit unless `limit` are already counted in the window. */
  async hitRateLimit(
    name: string,
    { limit, windowMs, blockMs }: Required<HitOptions>,
  ): Promise<HitResult> {
    const keys = rateLimitKeys(this.connections.keys, name);
    const reply = (await hitRateLimitScript
      .run(this.connections.command, keys, [limit, windowMs, this.nextHitId(), blockMs])
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

  /**
   * hitThrottler-2.lua: counts one request as `@nestjs/throttler`'s in-memory storage would,
   * on one record shared by every instance.
   */
  async hitThrottler(
    name: string,
    { ttlMs, limit, blockMs }: ThrottlerHitOptions,
  ): Promise<ThrottlerHitResult> {
    const keys = throttlerKeys(this.connections.keys, name);
    const reply = (await hitThrottlerScript
      .run(this.connections.command, keys, [ttlMs, limit, blockMs, this.nextHitId()])
      .catch(this.connections.rethrow(`count a hit on throttler key "${name}"`))) as [
      number,
      number,
      number,
      number,
    ];
    const [totalHits, windowMs, blocked, waitMs] = reply;
    return { totalHits, windowMs, blocked: blocked === 1, waitMs };
  }

  /** What an increment throws: a typed error for a refused value or an unreachable Redis. */
  private refusal(name: string, error: unknown): unknown {
    if (!(error instanceof Error) || !VALUE_REFUSED.test(error.message)) {
      return this.connections.failure(error, `increment counter "${name}"`);
    }
    // No cause: the message is Redis' whole reply, and the raw error carries the command.
    return new CounterValueError(name, error.message.replace(/ script:.*$/s, ''));
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

  /** A member no other hit of any process uses. */
  private nextHitId(): string {
    return `${this.hitIdPrefix}:${(this.hitSequence = (this.hitSequence + 1) % 1e15)}`;
  }

  private rememberLarge(key: string): void {
    if (this.largeCounters.size >= MAX_LARGE_COUNTERS) this.largeCounters.clear();
    this.largeCounters.add(key);
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
