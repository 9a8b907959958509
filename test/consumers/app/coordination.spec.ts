import { Test, TestingModule } from '@nestjs/testing';
import {
  PubSubService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
} from 'nestjs-redis-coordination';
import { RedisServer, uniqueKeyPrefix } from 'nestjs-redis-coordination/testing';
import { Inbox, JOBS_QUEUE, NEWS_CHANNEL, PriceService, providers } from './app.module';

// The pattern the README gives for testing an app: a private redis-server per test file.
describe('nestjs-redis-coordination in this app', () => {
  let redis: RedisServer;
  let moduleRef: TestingModule;

  beforeAll(async () => {
    redis = await RedisServer.start();
    moduleRef = await Test.createTestingModule({
      imports: [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() })],
      providers,
    }).compile();
    await moduleRef.init(); // starts @QueueWorker workers and @OnMessage subscriptions
  });

  afterAll(async () => {
    await moduleRef?.close();
    await redis?.dispose();
  });

  it('gives a lock to one holder at a time', async () => {
    const locks = moduleRef.get(RedisLockService);
    const lock = await locks.acquire('consumer-report', { ttlMs: 10_000 });
    expect(await locks.tryAcquire('consumer-report')).toBeNull();
    await lock.release();
    expect(await locks.using('consumer-report', async () => 'done')).toBe('done');
    expect(await locks.isLocked('consumer-report')).toBe(false);
  });

  it('hands an added job to the @QueueWorker method', async () => {
    await moduleRef.get(QueueService).add(JOBS_QUEUE, { orderId: 42 });
    expect(await moduleRef.get(Inbox).next('job')).toEqual({ orderId: 42 });
  });

  it('delivers a published message to the @OnMessage method', async () => {
    const receivers = await moduleRef.get(PubSubService).publish(NEWS_CHANNEL, { headline: 'hi' });
    expect(receivers).toBe(1);
    expect(await moduleRef.get(Inbox).next('message')).toEqual({ headline: 'hi' });
  });

  it('answers the second @Cached call from Redis without running the method', async () => {
    const prices = moduleRef.get(PriceService);
    expect(await prices.price('sku-1')).toBe(500);
    expect(await prices.price('sku-1')).toBe(500);
    expect(prices.loads).toBe(1);
  });
});
