import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, it } from '@jest/globals';
import { PermitLostError, RedisCoordinationModule, SemaphoreService } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { enter, type InsideKeys } from '../../fixtures/semaphore-inside.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';

describe('semaphore holder crashes and pauses', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  async function setup() {
    const prefix = uniqueKeyPrefix();
    const child = spawnChild('semaphore-worker', {
      env: { REDIS_URL: redis.url, SEMAPHORE_PREFIX: prefix },
    });
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
    ]);
    const keys: InsideKeys = {
      holders: moduleRef
        .get(RedisConnections)
        .keys.key('semaphore', 'semaphore name', 'shared', 'holders'),
      inside: `${prefix}inside`,
      work: `${prefix}work`,
    };
    await child.waitFor('ready');
    return { child, semaphores: moduleRef.get(SemaphoreService), keys };
  }

  it('gives a SIGKILLed holder’s permits back after their lease, not before', async () => {
    const { child, semaphores, keys } = await setup();
    // A long holder keeps the semaphore's keys alive: the dead holder's permits must be dropped
    // from them, not vanish with them.
    const mine = await semaphores.acquire('shared', { limit: 3, ttlMs: 60_000 });
    assert.equal(await enter(redis.client, keys, mine.held.token), 1);
    const ttlMs = 1500;
    const before = performance.now();
    for (let i = 0; i < 2; i++) {
      child.send({ type: 'holdPlain', limit: 3, ttlMs });
      await child.waitFor('acquired', (m) => m.inside === i + 2);
    }
    await child.kill();
    assert.equal(await semaphores.available('shared', { limit: 3 }), 0, 'still held right after');
    const permits = [
      await semaphores.acquire('shared', { limit: 3, waitMs: 10_000 }),
      await semaphores.acquire('shared', { limit: 3, waitMs: 10_000 }),
    ];
    assert.ok(performance.now() - before >= ttlMs, 'acquired before the lease ran out');
    for (const [i, permit] of permits.entries()) {
      assert.equal(await enter(redis.client, keys, permit.held.token), i + 2);
    }
    await Promise.all([mine, ...permits].map((permit) => permit.release()));
  });

  it('aborts a paused holder’s signal on resume and refuses its lease-checked write', async () => {
    const { child, semaphores, keys } = await setup();
    child.send({ type: 'hold', limit: 1, ttlMs: 600 });
    assert.equal((await child.waitFor('acquired')).inside, 1);
    child.signal('SIGSTOP');
    // The watchdog cannot renew while the process is stopped: the lease runs out.
    const permit = await semaphores.acquire('shared', { limit: 1, waitMs: 10_000 });
    assert.equal(await enter(redis.client, keys, permit.held.token), 1, 'alone inside');
    child.signal('SIGCONT');
    child.send({ type: 'write' });
    const report = await child.waitFor('wrote');
    assert.equal(report.aborted, true, 'the paused holder is told it lost its permit');
    assert.equal(report.reason, PermitLostError.name);
    assert.equal(report.accepted, false, 'the write of a lost permit must be refused');
    assert.equal(await redis.client.get(keys.work), null);
    assert.equal(
      await semaphores.available('shared', { limit: 1 }),
      0,
      'the paused holder did not free our permit',
    );
    await permit.release();
  });
});
