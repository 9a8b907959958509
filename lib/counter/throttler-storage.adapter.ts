import { Injectable } from '@nestjs/common';
import { CounterService } from './counter.service.js';

/**
 * What `@nestjs/throttler` (v6) asks of a storage, declared here structurally so the library
 * has no runtime or type dependency on the throttler package.
 */
export interface ThrottlerStorageRecordLike {
  totalHits: number;
  /** Seconds until the window frees a hit. */
  timeToExpire: number;
  isBlocked: boolean;
  /** Seconds until the block ends. */
  timeToBlockExpire: number;
}

/**
 * `@nestjs/throttler` storage backed by {@link CounterService.hit}: every instance of the app
 * shares one exact sliding window per throttler and tracker, so a limit of N lets N requests
 * through in total, not N per instance.
 *
 * Differences from the throttler's in-memory storage: the window slides (a request is allowed
 * as soon as the oldest counted one is `ttl` old), and a denied request starts a block of
 * `blockDuration` ms only when the throttler asks for one (its default `blockDuration` equals
 * `ttl`).
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
  constructor(private readonly counters: CounterService) {}

  /** Counts one request; the signature of `ThrottlerStorage.increment` in `@nestjs/throttler`. */
  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecordLike> {
    const result = await this.counters.hit(`throttler:${throttlerName}:${key}`, {
      limit,
      windowMs: ttl,
      blockMs: blockDuration,
    });
    const blocked = !result.allowed;
    return {
      // The throttler reports `limit - totalHits` as remaining and treats > limit as over.
      totalHits: blocked ? result.count + 1 : result.count,
      timeToExpire: Math.ceil(result.resetInMs / 1000),
      isBlocked: blocked,
      timeToBlockExpire: blocked
        ? Math.ceil(Math.max(result.blockedForMs, result.resetInMs) / 1000)
        : 0,
    };
  }
}
