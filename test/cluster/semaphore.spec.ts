import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import {
  RedisCoordinationModule,
  SemaphoreService,
  SemaphoreTimeoutError,
} from '../../lib/index.js';
import { startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';

describeWithRedisServer('semaphores on Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  it('counts permits on every master and lets a waiter in on release', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    const semaphores = moduleRef.get(SemaphoreService);
    for (let i = 0; i < 20; i++) {
      const options = { limit: 2, ttlMs: 5000 };
      const permits = [
        await semaphores.acquire(`sem-${i}`, options),
        await semaphores.acquire(`sem-${i}`, options),
      ];
      await assert.rejects(
        semaphores.acquire(`sem-${i}`, { ...options, waitMs: 0 }),
        SemaphoreTimeoutError,
      );
      assert.equal(await semaphores.available(`sem-${i}`, options), 0);
      await Promise.all(permits.map((permit) => permit.release()));
    }
    const holder = await semaphores.acquire('handover', { limit: 1, ttlMs: 20_000 });
    const waiting = semaphores.acquire('handover', { limit: 1, waitMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await holder.release();
    // waitMs < the holder's lease: only the release lets the waiter in.
    await (await waiting).release();
    assert.equal(await semaphores.available('handover', { limit: 1 }), 1);
  });
});
