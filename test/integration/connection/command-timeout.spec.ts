import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  CounterService,
  PubSubService,
  QueueService,
  RedisConnectionError,
  RedisCoordinationModule,
  RedisLockService,
} from '../../../lib/index.js';
import { CapturingLogger, closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

/** ioredis's `commandTimeout`, given through the module's `redis` options. */
describeWithRedisServer('commandTimeout', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  const app = (commandTimeout: number, logger?: CapturingLogger) =>
    startModule([RedisCoordinationModule.forRoot({ url: server.url, redis: { commandTimeout } })], {
      logger,
    });

  it('bounds commands when Redis stops answering, with RedisConnectionError (not "busy")', async () => {
    const moduleRef = await app(300);
    const counters = moduleRef.get(CounterService);
    await counters.increment('c');
    server.pause();
    try {
      await assert.rejects(
        counters.increment('c'),
        (error) => error instanceof RedisConnectionError && /Command timed out/.test(error.message),
      );
      // Within its waitMs, yet a failure to reach Redis, not a LockTimeoutError.
      await assert.rejects(
        moduleRef.get(RedisLockService).acquire('r', { waitMs: 60_000 }),
        RedisConnectionError,
      );
    } finally {
      server.resume();
    }
  });

  // Connections the module opens itself, and duplicates of a client the app gives it.
  for (const given of [false, true]) {
    it(`leaves the blocking waits of idle consumers alone (${given ? 'given client' : 'url'})`, async () => {
      const logger = new CapturingLogger();
      const client = given ? new Redis(server.url, { commandTimeout: 100 }) : undefined;
      try {
        const moduleRef = client
          ? await startModule([RedisCoordinationModule.forRoot({ client })], { logger })
          : await app(100, logger);
        const queue = moduleRef.get(QueueService);
        const pubsub = moduleRef.get(PubSubService);
        const handled: unknown[] = [];
        queue.process('q', (job) => void handled.push(job.data));
        await pubsub.subscribe('ch', (message) => void handled.push(message), { group: 'g' });
        await sleep(1000); // idle: every block they send outlasts the timeout tenfold
        await queue.add('q', 'job');
        await pubsub.publish('ch', 'message', { durable: true });
        await waitUntil(() => handled.length === 2);
        assert.deepEqual(handled.sort(), ['job', 'message']);
        assert.deepEqual(
          logger.lines.filter((line) => /timed out/i.test(line)),
          [],
          'no block was cut short',
        );
        await closeModule(moduleRef);
      } finally {
        client?.disconnect();
      }
    });
  }
});
