import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import {
  CacheEvict,
  CacheService,
  Cached,
  CounterService,
  LeaderElectionService,
  OnMessage,
  PubSubService,
  QueueService,
  QueueWorker,
  RedisCoordinationError,
  RedisCoordinationModule,
  RedisHealthIndicator,
  RedisLockService,
  RedisThrottlerStorage,
  SemaphoreService,
  WithLock,
  WithSemaphore,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { useTestRedis } from '../../support/hooks.js';

/**
 * Every options object the library takes refuses a key it does not know, naming it and the
 * option it most likely means: `{ ttl: 1000 }` for `{ ttlMs: 1000 }` must not quietly run with
 * the default lease, TTL or limit.
 */
describe('an unknown option key', () => {
  const redis = useTestRedis();
  let moduleRef: TestingModule;
  beforeAll(async () => {
    moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: redis.url })]);
  });
  afterAll(() => moduleRef.close());

  const noop = () => undefined;
  /** [call, the misspelt key, the option the error should suggest (if any)] */
  const cases: Record<string, [() => unknown, string, string | undefined]> = {
    'lock.acquire': [() => lock().acquire('r', { ttl: 1000 } as never), 'ttl', 'ttlMs'],
    'lock.tryAcquire': [() => lock().tryAcquire('r', { TTLms: 1000 } as never), 'TTLms', 'ttlMs'],
    'lock.using': [
      () => lock().using('r', noop, { maxHold: 1000 } as never),
      'maxHold',
      'maxHoldMs',
    ],
    'lock.acquire with a @WithLock option': [
      () => lock().acquire('r', { onBusy: 'skip' } as never),
      'onBusy',
      undefined,
    ],
    '@WithLock': [() => WithLock('r', { onbusy: 'skip' } as never), 'onbusy', 'onBusy'],
    'semaphore.acquire': [
      () => semaphore().acquire('s', { limit: 1, ttl: 1000 } as never),
      'ttl',
      'ttlMs',
    ],
    'semaphore.using': [
      () => semaphore().using('s', { limit: 1, wait: 10 } as never, noop),
      'wait',
      'waitMs',
    ],
    'semaphore.available': [
      () => semaphore().available('s', { limits: 1 } as never),
      'limits',
      'limit',
    ],
    'semaphore.acquire with a @WithSemaphore option': [
      () => semaphore().acquire('s', { limit: 1, onBusy: 'skip' } as never),
      'onBusy',
      undefined,
    ],
    '@WithSemaphore': [
      () => WithSemaphore('s', { limit: 1, onbusy: 'skip' } as never),
      'onbusy',
      'onBusy',
    ],
    'counter.increment': [
      () => moduleRef.get(CounterService).increment('c', 1, { ttl: 1000 } as never),
      'ttl',
      'ttlMs',
    ],
    'counter.hit': [
      () => moduleRef.get(CounterService).hit('h', { limit: 1, window: 1000 } as never),
      'window',
      'windowMs',
    ],
    'queue.add': [
      () => moduleRef.get(QueueService).add('q', 1, { delay: 10 } as never),
      'delay',
      'delayMs',
    ],
    'queue.process': [
      () => moduleRef.get(QueueService).process('q', noop, { concurency: 2 } as never),
      'concurency',
      'concurrency',
    ],
    '@QueueWorker': [() => QueueWorker('q', { lease: 1000 } as never), 'lease', 'leaseMs'],
    publish: [
      () => moduleRef.get(PubSubService).publish('ch', 1, { durabel: true } as never),
      'durabel',
      'durable',
    ],
    subscribe: [
      () => moduleRef.get(PubSubService).subscribe('ch', noop, { onUndecodeable: 'raw' } as never),
      'onUndecodeable',
      'onUndecodable',
    ],
    'subscribe (durable)': [
      () =>
        moduleRef.get(PubSubService).subscribe('ch', noop, { group: 'g', maxDelivery: 3 } as never),
      'maxDelivery',
      'maxDeliveries',
    ],
    '@OnMessage': [() => OnMessage('ch', { group: 'g', batch: 3 } as never), 'batch', 'batchSize'],
    'cache.wrap': [
      () => moduleRef.get(CacheService).wrap('k', noop, { ttlMs: 1000, namespce: 'n' } as never),
      'namespce',
      'namespace',
    ],
    'cache.get': [
      () => moduleRef.get(CacheService).get('k', { nameSpace: 'n' } as never),
      'nameSpace',
      'namespace',
    ],
    'cache.set': [
      () => moduleRef.get(CacheService).set('k', 1, { ttl: 1000 } as never),
      'ttl',
      'ttlMs',
    ],
    'cache.delete': [
      () => moduleRef.get(CacheService).delete('k', { namespaces: 'n' } as never),
      'namespaces',
      'namespace',
    ],
    '@Cached': [
      () => {
        class Decorated {
          @Cached({ ttlMs: 1000, keys: 'k' } as never)
          method() {}
        }
        return Decorated;
      },
      'keys',
      'key',
    ],
    '@CacheEvict': [
      () => {
        class Decorated {
          @CacheEvict({ namespace: 'n', keys: 'k' } as never)
          method() {}
        }
        return Decorated;
      },
      'keys',
      'key',
    ],
    'elections.join': [
      () => moduleRef.get(LeaderElectionService).join('e', { lease: 1000 } as never),
      'lease',
      'leaseMs',
    ],
    'health check': [
      () => moduleRef.get(RedisHealthIndicator).isHealthy('redis', { timeout: 10 } as never),
      'timeout',
      'timeoutMs',
    ],
    'throttler storage': [
      () => moduleRef.get(RedisThrottlerStorage).withOptions({ whenDown: 'allow' } as never),
      'whenDown',
      undefined,
    ],
  };
  const lock = () => moduleRef.get(RedisLockService);
  const semaphore = () => moduleRef.get(SemaphoreService);

  for (const [name, [call, key, likely]] of Object.entries(cases)) {
    it(`is refused by ${name}, naming ${key}${likely ? ` and ${likely}` : ''}`, async () => {
      await assert.rejects(
        async () => call(),
        (error: unknown) => {
          assert.ok(error instanceof RedisCoordinationError, String(error));
          assert.match(error.message, new RegExp(`\\b${key}\\b.*unknown option`));
          if (likely) assert.match(error.message, new RegExp(`did you mean "${likely}"\\?`));
          else assert.doesNotMatch(error.message, /did you mean/);
          return true;
        },
      );
    });
  }
});
