import { Injectable } from '@nestjs/common';
import { RedisConnections } from '../connection/redis-connections.js';
import { resolveThrottlerHit } from './counter.options.js';
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
  private readonly store: CounterStore;

  constructor(connections: RedisConnections) {
    this.store = new CounterStore(connections);
  }

  /** Counts one request; the signature of `ThrottlerStorage.increment` in `@nestjs/throttler`. */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecordLike> {
    const hit = await this.store.hitThrottler(
      `${throttlerName}:${key}`,
      resolveThrottlerHit(ttl, limit, blockDuration),
    );
    return {
      totalHits: hit.totalHits,
      timeToExpire: Math.ceil(hit.windowMs / 1000),
      isBlocked: hit.blocked,
      timeToBlockExpire: Math.ceil(hit.waitMs / 1000),
    };
  }
}
