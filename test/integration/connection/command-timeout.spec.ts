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

  it('undoes a lock acquire that timed out when Redis runs it after all', async () => {
    const moduleRef = await app(300);
    const locks = moduleRef.get(RedisLockService);
    await (await locks.acquire('r')).release(); // Redis knows the scripts: no NOSCRIPT round trip
    server.pause();
    try {
      await assert.rejects(locks.acquire('r', { ttlMs: 60_000 }), RedisConnectionError);
    } finally {
      server.resume();
    }
    // Redis now runs the acquire it held, then the release sent after it on the same connection,
    // then this check: the lock is free, not held for the 60 s lease by nobody.
    assert.equal(await locks.isLocked('r'), false);
  });

  it('has a default that fails calls while Redis is down, instead of holding them through every reconnect', async () => {
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })]);
    await server.stop();
    try {
      const calls = [
        moduleRef.get(RedisLockService).acquire('r', { waitMs: 1000 }),
        moduleRef.get(CounterService).increment('c'),
        moduleRef.get(QueueService).add('q', 1),
        moduleRef.get(PubSubService).publish('ch', 1),
      ];
      for (const outcome of await Promise.allSettled(calls)) {
        assert.equal(outcome.status, 'rejected');
        const error = (outcome as PromiseRejectedResult).reason as Error;
        assert.ok(error instanceof RedisConnectionError, String(error));
        // Given up by the timeout, not after ioredis's 20 reconnect attempts (over 90 s).
        assert.match(error.message, /Command timed out/);
      }
    } finally {
      await server.restart();
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
