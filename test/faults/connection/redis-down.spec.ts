import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import {
  CounterService,
  PubSubService,
  QueueService,
  RedisConnectionError,
  RedisCoordinationModule,
  RedisLockService,
  SemaphoreService,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

/**
 * Every capability reports an unreachable Redis the same way: a RedisConnectionError naming
 * what could not be done and the target (password redacted), never a raw ioredis error.
 */
describeWithRedisServer('Redis down, every capability', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  it('throws RedisConnectionError naming the action, then works again after a restart', async () => {
    server.cli('CONFIG', 'SET', 'requirepass', 'd0wn-secret');
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: `redis://:d0wn-secret@127.0.0.1:${server.port}`,
        // Fail a command after one reconnect attempt 100 ms apart, instead of ioredis's ~20 s.
        redis: { maxRetriesPerRequest: 1, retryStrategy: () => 100 },
      }),
    ]);
    const counters = moduleRef.get(CounterService);
    const queue = moduleRef.get(QueueService);
    const pubsub = moduleRef.get(PubSubService);
    const locks = moduleRef.get(RedisLockService);
    const semaphores = moduleRef.get(SemaphoreService);
    await counters.increment('down-test');
    await server.stop();

    const calls: Array<[RegExp, () => Promise<unknown>]> = [
      [/increment counter "down-test"/, () => counters.increment('down-test')],
      [/read counter "down-test"/, () => counters.get('down-test')],
      [/read 2 counters/, () => counters.getMany(['a', 'b'])],
      [/reset counter "down-test"/, () => counters.reset('down-test')],
      [
        /count a hit on rate limit "login"/,
        () => counters.hit('login', { limit: 1, windowMs: 1000 }),
      ],
      [/add a job to queue "emails"/, () => queue.add('emails', { to: 'x' })],
      [/add 2 jobs to queue "emails"/, () => queue.addBulk('emails', [{ data: 1 }, { data: 2 }])],
      [/count the jobs of queue "emails"/, () => queue.counts('emails')],
      [/publish on channel "news"/, () => pubsub.publish('news', { n: 1 })],
      [/publish on channel "orders"/, () => pubsub.publish('orders', { n: 1 }, { durable: true })],
      [/acquire lock down-lock/, () => locks.tryAcquire('down-lock')],
      [
        /take a permit of semaphore down-sem/,
        () => semaphores.acquire('down-sem', { limit: 1, waitMs: 0 }),
      ],
      [
        /count the permits of semaphore down-sem/,
        () => semaphores.available('down-sem', { limit: 1 }),
      ],
    ];
    for (const [action, call] of calls) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof RedisConnectionError, `${action}: got ${String(error)}`);
        assert.match(error.message, action);
        assert.match(
          error.message,
          new RegExp(`redis://:\\*\\*\\*@127\\.0\\.0\\.1:${server.port}`),
        );
        assert.doesNotMatch(error.message, /d0wn-secret/);
        return true;
      });
    }

    await server.restart();
    server.cli('CONFIG', 'SET', 'requirepass', 'd0wn-secret');
    for (;;) {
      const value = await counters.increment('after-restart').catch(() => undefined);
      if (value === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(typeof (await queue.add('emails', { to: 'y' })), 'string');
    assert.equal(await pubsub.publish('news', { n: 2 }), 0);
  });
});
