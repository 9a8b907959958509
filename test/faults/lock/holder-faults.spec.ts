import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { RedisCoordinationModule, RedisLockService } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import { pauseHolderPastItsLock } from './paused-holder.js';

describe('lock holder crashes and pauses', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  async function setup() {
    const prefix = uniqueKeyPrefix();
    const child = spawnChild('lock-worker', {
      env: { REDIS_URL: redis.url, LOCK_PREFIX: prefix },
    });
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
    ]);
    await child.waitFor('ready');
    return { child, locks: moduleRef.get(RedisLockService) };
  }

  it('frees a SIGKILLed holder’s lock after its TTL, not before', async () => {
    const { child, locks } = await setup();
    const ttlMs = 1500;
    const before = performance.now();
    child.send({ type: 'holdPlain', ttlMs });
    const { fencingToken } = await child.waitFor('acquired');
    await child.kill();
    assert.equal(await locks.tryAcquire('shared'), null, 'still held right after the crash');
    const lock = await locks.acquire('shared', { waitMs: ttlMs + 3000 });
    assert.ok(performance.now() - before >= ttlMs, 'acquired before the TTL ran out');
    assert.ok(lock.fencingToken > Number(fencingToken));
    await lock.release();
  });

  for (const mode of ['write', 'read'] as const) {
    it(`aborts a paused holder’s signal on resume and its stale write is fenced off (${mode})`, async () => {
      const { child, locks } = await setup();
      // The watchdog cannot renew while the process is stopped: the lease runs out.
      await pauseHolderPastItsLock({
        child,
        locks,
        store: redis.client,
        mode,
        ttlMs: 600,
        waitMs: 10_000,
      });
    });
  }

  it('frees only a SIGKILLed reader’s share, after its lease', async () => {
    const { child, locks } = await setup();
    const ttlMs = 1500;
    child.send({ type: 'holdPlain', mode: 'read', ttlMs });
    const { fencingToken } = await child.waitFor('acquired');
    const mine = await locks.acquire('shared', { mode: 'read', ttlMs: 60_000 });
    await child.kill();
    const before = performance.now();
    let written = false;
    const writer = locks
      .acquire('shared', { waitMs: 60_000 })
      .then((lock) => ((written = true), lock));
    // Past the dead reader's lease the writer still waits: this process's read hold is its own.
    await sleep(ttlMs + 500);
    assert.equal(written, false, 'the writer got in while a live reader held the lock');
    await mine.release();
    const lock = await writer;
    assert.ok(performance.now() - before >= ttlMs);
    assert.ok(lock.fencingToken > Number(fencingToken));
    await lock.release();
  });
});
