import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  LockLostError,
  RedisConnectionError,
  RedisCoordinationModule,
  RedisLockService,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

describeWithRedisServer('lock across a Redis restart', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  for (const mode of ['write', 'read'] as const) {
    it(`aborts the holder’s signal when the lock vanishes, and locks again afterwards (${mode})`, async () => {
      const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })]);
      const locks = moduleRef.get(RedisLockService);
      let firstToken = 0;
      const reason = await locks.using(
        'job',
        async (signal, lock) => {
          firstToken = lock.fencingToken;
          await server.restart(); // no persistence: the lock key is gone
          if (!signal.aborted)
            await new Promise((resolve) => signal.addEventListener('abort', resolve));
          return signal.reason as unknown;
        },
        { ttlMs: 1000, mode },
      );
      assert.ok(reason instanceof LockLostError, String(reason));
      const again = await locks.acquire('job', { waitMs: 5000, mode });
      // Tokens come from Redis time as well as the counter: still increasing after data loss.
      assert.ok(again.fencingToken > firstToken);
      await again.release();
      assert.equal(await locks.isLocked('job'), false);
    });
  }

  it('aborts the holder’s signal when Redis cannot confirm a renewal before the lease ends', async () => {
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })]);
    const locks = moduleRef.get(RedisLockService);
    const reason = await locks.using(
      'paused',
      async (signal) => {
        server.pause(); // Redis stops answering: renewals hang
        try {
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
        } finally {
          server.resume();
        }
        return signal.reason as unknown;
      },
      { ttlMs: 600 },
    );
    assert.ok(reason instanceof LockLostError, String(reason));
    assert.match(reason.message, /before a renewal was confirmed/);
    const again = await locks.acquire('paused', { waitMs: 5000 });
    await again.release();
  });

  it('reports Redis down as RedisConnectionError, never as busy', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, redis: { maxRetriesPerRequest: 1 } }),
    ]);
    const locks = moduleRef.get(RedisLockService);
    await server.stop();
    try {
      const error = await locks.acquire('down', { waitMs: 60_000 }).catch((e: unknown) => e);
      assert.ok(error instanceof RedisConnectionError, String(error));
      assert.match(error.message, /Could not acquire lock down: Redis unreachable/);
    } finally {
      await server.restart();
    }
  });

  it('fails a waiter with RedisConnectionError, not a timeout, when Redis goes down while it waits', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: server.url,
        keyPrefix: 'wd:',
        redis: { maxRetriesPerRequest: 1 },
      }),
    ]);
    const locks = moduleRef.get(RedisLockService);
    await locks.acquire('wait-down', { ttlMs: 60_000 });
    const waiting = locks.acquire('wait-down', { waitMs: 60_000 }).catch((e: unknown) => e);
    // Down only once the waiter is queued, so it is a retry of the waiter that fails.
    const raw = new Redis(server.url);
    try {
      while ((await raw.exists('wd:{lock:wait-down}:queue')) === 0) await sleep(5);
    } finally {
      raw.disconnect();
    }
    await server.stop();
    try {
      const error = await waiting;
      assert.ok(error instanceof RedisConnectionError, String(error));
      assert.match(error.message, /Could not acquire lock wait-down: Redis unreachable/);
    } finally {
      await server.restart();
    }
  });
});
