import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { PermitLostError, RedisCoordinationModule, SemaphoreService } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

describeWithRedisServer('semaphore across a Redis restart', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  async function start() {
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })]);
    return moduleRef.get(SemaphoreService);
  }

  it('aborts the holder’s signal when its permit vanishes, and counts afresh afterwards', async () => {
    const semaphores = await start();
    const reason = await semaphores.using('render', { limit: 2, ttlMs: 1000 }, async (signal) => {
      await server.restart(); // no persistence: the holders and the limit are gone
      if (!signal.aborted)
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      return signal.reason as unknown;
    });
    assert.ok(reason instanceof PermitLostError, String(reason));
    assert.match(reason.message, /renewal found it gone/);
    // The limit went with the data: a new one is taken, and counting starts from nothing.
    const permit = await semaphores.acquire('render', { limit: 3, waitMs: 5000 });
    assert.equal(await semaphores.available('render', { limit: 3 }), 2);
    await permit.release();
  });

  it('aborts the holder’s signal when Redis cannot confirm a renewal before the lease ends', async () => {
    const semaphores = await start();
    const reason = await semaphores.using('frozen', { limit: 1, ttlMs: 600 }, async (signal) => {
      server.pause(); // Redis stops answering: renewals hang
      try {
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
      } finally {
        server.resume();
      }
      return signal.reason as unknown;
    });
    assert.ok(reason instanceof PermitLostError, String(reason));
    assert.match(reason.message, /before a renewal was confirmed/);
    const again = await semaphores.acquire('frozen', { limit: 1, waitMs: 5000 });
    await again.release();
  });
});
