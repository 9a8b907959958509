import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import {
  LockLostError,
  PermitLostError,
  PubSubService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
  SemaphoreService,
} from '../../../lib/index.js';
import { closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

/**
 * Shutdown must not wait for Redis: ioredis holds a command sent while its connection is down
 * through 20 reconnect attempts (over a minute here), and never settles one whose connection is
 * then closed, which left a blocked consumer's shutdown hanging for good.
 */
describeWithRedisServer('Shutting down while Redis is unreachable', () => {
  const server = useRedisServer({ appendOnly: true });
  closeModulesAfterEach();

  const app = (keyPrefix: string) =>
    startModule([RedisCoordinationModule.forRoot({ url: server.url, keyPrefix })]);

  const outages = [
    { name: 'down', cut: () => server.stop(), restore: () => server.restart() },
    // Frozen: connections stay open but nothing answers, so calls are sent and never answered.
    {
      name: 'frozen (SIGSTOP)',
      cut: () => Promise.resolve(server.pause()),
      restore: () => Promise.resolve(server.resume()),
    },
  ];
  for (const { name, cut, restore } of outages) {
    // The timeout only turns a shutdown that hangs into a failure.
    it(`closes an app holding a lock and a permit, subscribed to channels and running jobs while Redis is ${name}; nothing is lost`, async () => {
      const prefix = uniqueKeyPrefix();
      const first = await app(prefix);
      const lock = await first.get(RedisLockService).acquire('report', { ttlMs: 3000 });
      const permit = await first.get(SemaphoreService).acquire('render', { limit: 1, ttlMs: 3000 });
      const pubsub = first.get(PubSubService);
      await pubsub.subscribe('orders', () => undefined, { group: 'g' });
      await pubsub.subscribe('news', () => undefined);
      const queue = first.get(QueueService);
      await queue.add('jobs', 'slow', { attempts: 2 });
      let started!: () => void;
      const jobStarted = new Promise<void>((resolve) => (started = resolve));
      // A handler that never ends, and an idle worker blocked waiting for jobs.
      queue.process('jobs', () => (started(), new Promise(() => undefined)), {
        leaseMs: 1000,
        drainTimeoutMs: 200,
      });
      queue.process('idle', () => undefined);
      await jobStarted;

      await cut();
      try {
        // Redis stays out until the app has closed: a shutdown that waits for it never ends.
        await closeModule(first);
      } finally {
        await restore(); // also if closing throws, for the tests after this one
      }
      assert.ok(lock.signal.reason instanceof LockLostError);
      assert.ok(permit.signal.reason instanceof PermitLostError);

      // Back: the job cut short runs again once its lease is over, and the lock is free again
      // (freed at shutdown, or at the end of its lease); neither needed the closed app.
      const second = await app(prefix);
      const redone = new Promise<unknown>((resolve) =>
        second.get(QueueService).process('jobs', (job) => void resolve(job.data)),
      );
      assert.equal(await redone, 'slow');
      const relock = await second.get(RedisLockService).acquire('report', { waitMs: 10_000 });
      await relock.release();
      const again = await second
        .get(SemaphoreService)
        .acquire('render', { limit: 1, waitMs: 10_000 });
      await again.release();
    }, 60_000);
  }

  it('does not hold shutdown for an outcome it cannot record while Redis is down; the job is kept', async () => {
    const prefix = uniqueKeyPrefix();
    const first = await app(prefix);
    const queue = first.get(QueueService);
    await queue.add('jobs', 'late');
    let started!: () => void;
    let finish!: () => void;
    const jobStarted = new Promise<void>((resolve) => (started = resolve));
    // Its outcome could be retried until the lease ends, a minute away: shutdown must not wait.
    queue.process('jobs', () => (started(), new Promise<void>((resolve) => (finish = resolve))), {
      leaseMs: 60_000,
      drainTimeoutMs: 60_000,
    });
    await jobStarted;

    await server.stop();
    finish();
    await closeModule(first);

    await server.restart();
    const counts = await (await app(prefix)).get(QueueService).counts('jobs');
    assert.equal(counts.active, 1, 'still leased: it runs again once its lease ends');
  }, 30_000);
});
