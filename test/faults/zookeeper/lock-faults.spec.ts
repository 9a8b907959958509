import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, it } from '@jest/globals';
import {
  LockLostError,
  RedisCoordinationModule,
  RedisLockService,
  ZooKeeperConnectionError,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import {
  describeWithZooKeeper,
  startTestZooKeeper,
  ZooKeeperEnsemble,
  type TestZooKeeper,
} from '../../support/zookeeper.js';
import { fencedWrite } from '../../fixtures/lock-fenced-store.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';
import { within } from '../../../lib/common/within.js';

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
    const root = `/t${randomBytes(4).toString('hex')}`;
    const child = spawnChild('lock-worker', {
      env: {
        REDIS_URL: redis.url,
        LOCK_PREFIX: uniqueKeyPrefix(),
        ZOOKEEPER_CONNECT: zookeeper.connectString,
        ZOOKEEPER_ROOT: root,
        ZOOKEEPER_SESSION_MS: String(SESSION_MS),
      },
    });
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: { connectString: zookeeper.connectString, root, sessionTimeoutMs: SESSION_MS },
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
      child.send({ type: 'hold', mode, ttlMs: 60_000 });
      const { fencingToken } = await child.waitFor('acquired');
      child.signal('SIGSTOP');
      // Its session expires while it is stopped, and its node with it.
      const lock = await locks.acquire('shared', { waitMs: 30_000 });
      assert.ok(lock.fencingToken > Number(fencingToken));
      assert.equal(await fencedWrite(redis.client, 'store', lock.fencingToken, 'fresh'), true);
      child.signal('SIGCONT');
      child.send({ type: 'write' });
      const report = await child.waitFor('wrote');
      assert.equal(report.aborted, true, 'the paused holder is told it lost the lock');
      assert.equal(report.reason, LockLostError.name);
      assert.equal(report.accepted, false, 'the stale write must be rejected');
      assert.equal(await locks.isLocked('shared'), true, 'the paused holder did not free our lock');
      await lock.release();
      await redis.client.del('store');
    });
  }
});

describeWithZooKeeper('ZooKeeper lock across ensemble failures', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();
  let ensemble: ZooKeeperEnsemble;
  beforeAll(async () => (ensemble = await ZooKeeperEnsemble.start(3)));
  afterAll(() => ensemble.dispose());

  async function start() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        zookeeper: {
          connectString: ensemble.connectString,
          root: `/t${randomBytes(4).toString('hex')}`,
          sessionTimeoutMs: 4000,
        },
        locks: { backend: 'zookeeper' },
      }),
    ]);
    return {
      locks: moduleRef.get(RedisLockService),
      zookeeper: moduleRef.get(ZooKeeperConnection),
    };
  }

  it('keeps locking when the ensemble loses its leader', async () => {
    const { locks } = await start();
    const before = await locks.acquire('job');
    const leader = await ensemble.waitForQuorum();
    await leader.kill();
    await ensemble.waitForQuorum();
    await before.release().catch(() => undefined); // its session may have moved: either way freed
    const after = await locks.acquire('job', { waitMs: 30_000 });
    assert.ok(after.fencingToken > before.fencingToken);
    await after.release();
    await leader.restart();
    await ensemble.waitForQuorum();
  });

  it('aborts holders when quorum is lost, claims no lock without it, and recovers', async () => {
    const { locks, zookeeper } = await start();
    const held = await locks.acquire('job');
    const [first, second] = ensemble.servers.filter((server) => server.running);
    await Promise.all([first!.kill(), second!.kill()]);
    // Bounded only so that a holder never told fails the test instead of hanging it.
    await within(
      new Promise<void>((resolve) =>
        held.signal.aborted ? resolve() : held.signal.addEventListener('abort', () => resolve()),
      ),
      60_000,
      () => new Error('the holder was never told it lost the lock'),
    );
    assert.ok(held.signal.reason instanceof LockLostError, String(held.signal.reason));
    const attempt = await locks.tryAcquire('other').catch((e: unknown) => e);
    assert.ok(attempt instanceof ZooKeeperConnectionError, `without quorum: ${String(attempt)}`);
    await first!.restart();
    await ensemble.waitForQuorum();
    await waitUntil(() => zookeeper.connected);
    const again = await locks.acquire('job', { waitMs: 30_000 });
    assert.ok(again.fencingToken > held.fencingToken);
    await again.release();
    await second!.restart();
    await ensemble.waitForQuorum();
  });
});
