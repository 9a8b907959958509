import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, it } from '@jest/globals';
import { RedisCoordinationModule, RedisLockService } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import {
  describeWithZooKeeper,
  startTestZooKeeper,
  type TestZooKeeper,
} from '../../support/zookeeper.js';
import { zooKeeperEnv, zooKeeperFromEnv } from '../../fixtures/zookeeper-env.js';
import { pauseHolderPastItsLock } from '../lock/paused-holder.js';

const SESSION_MS = 2000;

describeWithZooKeeper('ZooKeeper lock holder crashes and pauses', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();
  let zookeeper: TestZooKeeper;
  beforeAll(async () => (zookeeper = await startTestZooKeeper()));
  afterAll(() => zookeeper.dispose());

  /** A lock-worker child and this process's locks, on one ZooKeeper root. */
  async function setup() {
    const env = zooKeeperEnv(zookeeper.connectString, SESSION_MS);
    const child = spawnChild('lock-worker', {
      env: { REDIS_URL: redis.url, LOCK_PREFIX: uniqueKeyPrefix(), ...env },
    });
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: zooKeeperFromEnv(env),
        locks: { backend: 'zookeeper' },
      }),
    ]);
    await child.waitFor('ready');
    return { child, locks: moduleRef.get(RedisLockService) };
  }

  it('frees a SIGKILLed holder’s lock once its session times out, not before', async () => {
    const { child, locks } = await setup();
    child.send({ type: 'holdPlain', ttlMs: 60_000 });
    const { fencingToken } = await child.waitFor('acquired');
    const killedAt = performance.now();
    await child.kill();
    assert.equal(await locks.tryAcquire('shared'), null, 'still held right after the crash');
    const lock = await locks.acquire('shared', { waitMs: 30_000 });
    // ZooKeeper expires a session after its timeout, give or take a tick.
    assert.ok(
      performance.now() - killedAt >= SESSION_MS / 2,
      'taken before the session could expire',
    );
    assert.ok(lock.fencingToken > Number(fencingToken));
    await lock.release();
  });

  for (const mode of ['write', 'read'] as const) {
    it(`aborts a holder paused past its session on resume; its stale write is fenced off (${mode})`, async () => {
      const { child, locks } = await setup();
      // Its session expires while it is stopped, and its node with it.
      await pauseHolderPastItsLock({
        child,
        locks,
        store: redis.client,
        mode,
        ttlMs: 60_000,
        waitMs: 30_000,
      });
    });
  }
});
