import type { Counter } from '@opentelemetry/api';
import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { CircuitBreaker } from '../connection/circuit-breaker.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { telemetryOf } from '../telemetry/telemetry.js';
import type { RedisThrottlerStorageOptions, ThrottlerHitOptions } from './counter.interfaces.js';
import {
  DEFAULT_THROTTLER_STORAGE_OPTIONS,
  resolveThrottlerHit,
  resolveThrottlerStorageOptions,
  THROTTLER_RETRY_AFTER_MS,
  THROTTLER_TIMEOUT_MS,
} from './counter.options.js';
import { CounterStore } from './counter.store.js';

/**
 * What `@nestjs/throttler` (v6) asks of a storage, declared here structurally so the library
 * has no runtime or type dependency on the throttler package.
 */
export interface ThrottlerStorageRecordLike {
  totalHits: number;
  /** Seconds until the record's window ends (the `X-RateLimit-Reset` header). */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds until a denied request may pass (the `Retry-After` header); 0 when allowed. */
  timeToBlockExpire: number;
}

/**
 * `@nestjs/throttler` storage on Redis: every instance of the app shares one exact record per
 * throttler and tracker (one atomic script per request), so a limit of N lets N requests
 * through in total, not N per instance.
 *
 * It follows the throttler's own in-memory storage (v6), so swapping it in changes nothing but
 * where the count lives: a counted hit lives `ttl`; the hit over `limit` blocks the client for
 * `blockDuration` (the throttler defaults it to `ttl`), after which the client starts a fresh
 * count; with `blockDuration: 0`, a request over the limit waits for the oldest hit to expire.
 * `limit: 0` denies every request (after a block, one passes, as in memory), and `ttl: 0`
 * counts nothing beyond the request itself.
 *
 * While Redis cannot be reached, requests pass unthrottled (a warning is logged), or fail with
 * 503 with `withOptions({ whenRedisDown: 'reject' })`; see {@link RedisThrottlerStorageOptions}.
 *
 * @example
 * ThrottlerModule.forRootAsync({
 *   inject: [RedisThrottlerStorage],
 *   useFactory: (storage: RedisThrottlerStorage) => ({
 *     throttlers: [{ ttl: 60_000, limit: 10 }],
 *     storage,
 *   }),
 * })
 */
@Injectable()
export class RedisThrottlerStorage {
  private readonly logger = new Logger('RedisThrottlerStorage');
  private readonly store: CounterStore;
  /** Bounds each call and skips Redis for a moment after it failed. */
  private readonly breaker: CircuitBreaker;
  private whenRedisDown = DEFAULT_THROTTLER_STORAGE_OPTIONS.whenRedisDown;
  /** An outage was logged and no call has succeeded since. */
  private degraded = false;

  /** Counts blocked requests (with the module option `telemetry`). */
  private readonly denied: Counter | undefined;

  constructor(private readonly connections: RedisConnections) {
    this.denied = telemetryOf(connections)?.metrics?.rateLimitDenied;
    this.store = new CounterStore(connections);
    this.breaker = new CircuitBreaker(connections, {
      timeoutMs: THROTTLER_TIMEOUT_MS,
      retryAfterMs: THROTTLER_RETRY_AFTER_MS,
    });
  }

  /**
   * A storage on the same connections with other options; call it once, in the throttler's
   * factory. Bad options throw `InvalidArgumentError` there, so the app fails to start.
   *
   * @example
   * ThrottlerModule.forRootAsync({
   *   inject: [RedisThrottlerStorage],
   *   useFactory: (storage: RedisThrottlerStorage) => ({
   *     throttlers: [{ ttl: 60_000, limit: 5 }],
   *     storage: storage.withOptions({ whenRedisDown: 'reject' }),
   *   }),
   * })
   */
  withOptions(options: RedisThrottlerStorageOptions): RedisThrottlerStorage {
    const { whenRedisDown } = resolveThrottlerStorageOptions(options);
    const storage = new RedisThrottlerStorage(this.connections);
    storage.whenRedisDown = whenRedisDown;
    return storage;
  }

  /**
   * Counts one request; the signature of `ThrottlerStorage.increment` in `@nestjs/throttler`.
   * While Redis cannot be reached, what `whenRedisDown` says: the request passes, uncounted, or
   * this throws `ServiceUnavailableException` (503).
   */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecordLike> {
    const options = resolveThrottlerHit(ttl, limit, blockDuration);
    const name = `${throttlerName}:${key}`;
    const hit = this.breaker.isOpen
      ? undefined
      : await this.breaker.call(
          'count a throttler hit',
          () => this.store.hitThrottler(name, options),
          (result) => result,
          (error) => this.failed(error),
        );
    if (hit === undefined) return this.withoutRedis(options);
    if (this.degraded) {
      this.degraded = false;
      this.logger.log('Redis answers again: requests are throttled again');
    }
    if (hit.blocked) {
      this.denied?.add(1, {
        'coordination.rate_limit.source': 'throttler',
        'coordination.rate_limit.throttler': throttlerName,
      });
    }
    return {
      totalHits: hit.totalHits,
      timeToExpire: Math.ceil(hit.windowMs / 1000),
      isBlocked: hit.blocked,
      timeToBlockExpire: Math.ceil(hit.waitMs / 1000),
    };
  }

  /** Logs an outage once; any other error is the caller's (a 500, as for any bug). */
  private failed(error: unknown): undefined {
    if (!this.breaker.trip(error)) throw error;
    if (!this.degraded) {
      this.degraded = true;
      this.logger.warn(
        `${(error as Error).message}: ${this.whenRedisDown === 'allow' ? 'requests pass unthrottled' : 'requests fail with 503'} until Redis answers again (whenRedisDown: '${this.whenRedisDown}')`,
      );
    }
    return undefined;
  }

  /** What a request gets while Redis is down, by `whenRedisDown`. */
  private withoutRedis(options: ThrottlerHitOptions): ThrottlerStorageRecordLike {
    if (this.whenRedisDown === 'reject') {
      throw new ServiceUnavailableException('Request throttling is unavailable; retry later');
    }
    return {
      totalHits: 0,
      timeToExpire: Math.ceil(options.ttlMs / 1000),
      isBlocked: false,
      timeToBlockExpire: 0,
    };
  }
}
