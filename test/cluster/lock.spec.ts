import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import {
  InvalidArgumentError,
  RedisCoordinationModule,
  RedisLockService,
} from '../../lib/index.js';
import { startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';

describeWithRedisServer('locks on Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  async function start() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    return moduleRef.get(RedisLockService);
  }

  it('locks resources on every master, hands over through pub/sub, and explains cross-slot sets', async () => {
    const locks = await start();
    for (let i = 0; i < 20; i++) {
      const lock = await locks.acquire(`res-${i}`);
      assert.equal(await locks.tryAcquire(`res-${i}`), null);
      await lock.release();
    }
    const holder = await locks.acquire('handover', { ttlMs: 20_000 });
    const waiting = locks.acquire('handover', { waitMs: 15_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await holder.release();
    const next = await waiting; // waitMs < the holder's lease: only the release lets it in
    assert.ok(next.fencingToken > holder.fencingToken);
    await next.release();

    const tagged = await locks.acquire(['{stock}:a', '{stock}:b']);
    assert.equal(await locks.isLocked('{stock}:b'), true);
    await tagged.release();
    await assert.rejects(
      locks.acquire(['stock:a', 'stock:b', 'stock:c']),
      (e) => e instanceof InvalidArgumentError && /hash tag/.test(e.message),
    );
  });
});
