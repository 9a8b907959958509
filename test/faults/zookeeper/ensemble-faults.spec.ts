import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from '@jest/globals';
import {
  LeaderElectionService,
  LiveConfigService,
  LockLostError,
  RedisCoordinationModule,
  RedisLockService,
  ZooKeeperConnectionError,
  type Election,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis, useZooKeeperEnsemble } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';

/** Bounded only so that what never happens fails the test instead of hanging it. */
const bounded = <T>(what: string, work: Promise<T>) =>
  within(work, 60_000, () => new Error(`${what}: not within 60 s`));

/**
 * Two app instances with locks, elections and live configuration on a 3-node ensemble, which
 * loses its leader, then its quorum.
 */
describeWithZooKeeper('ZooKeeper recipes across ensemble failures', () => {
  const redis = useTestRedis();
  const ensemble = useZooKeeperEnsemble(3);
  closeModulesAfterEach();

  /** Two instances on one root and key prefix, both candidates of election `sweeper`. */
  async function instances() {
    const root = `/t${randomBytes(4).toString('hex')}`;
    const keyPrefix = uniqueKeyPrefix();
    return Promise.all(
      [0, 1].map(async () => {
        const moduleRef = await startModule([
          RedisCoordinationModule.forRoot({
            url: redis.url,
            keyPrefix,
            zookeeper: { connectString: ensemble.connectString, root, sessionTimeoutMs: 4000 },
            locks: { backend: 'zookeeper' },
            elections: { backend: 'zookeeper' },
            liveConfig: { backend: 'zookeeper', keys: ['limits'] },
          }),
        ]);
        return {
          locks: moduleRef.get(RedisLockService),
          config: moduleRef.get(LiveConfigService),
          election: await moduleRef.get(LeaderElectionService).join('sweeper'),
          zookeeper: moduleRef.get(ZooKeeperConnection),
        };
      }),
    );
  }

  type Instance = Awaited<ReturnType<typeof instances>>[number];

  /** Waits until exactly one instance leads; returns its election. */
  async function oneLeader(all: readonly Instance[]): Promise<Election> {
    const leaders = () => all.filter(({ election }) => election.isLeader);
    await bounded(
      'exactly one leader',
      waitUntil(() => leaders().length === 1),
    );
    return leaders()[0]!.election;
  }

  /** Sets `limits` from the first instance at the version it holds; both then hold it. */
  async function changeConfig(all: readonly Instance[], value: number): Promise<number> {
    const [writer] = all;
    const version = await writer!.config.set('limits', value, {
      expectVersion: writer!.config.entry('limits').version,
    });
    await bounded(
      `every instance holds version ${version}`,
      waitUntil(() => all.every(({ config }) => config.entry('limits').version === version)),
    );
    for (const { config } of all) assert.equal(config.get('limits'), value);
    return version;
  }

  it('keeps locking, leading and configuring when the ensemble loses its leader', async () => {
    const all = await instances();
    const [one] = all;
    const termBefore = (await oneLeader(all)).term!;
    const versionBefore = await changeConfig(all, 1);
    const before = await one!.locks.acquire('job');

    const leader = await ensemble.waitForQuorum();
    await leader.kill();
    await ensemble.waitForQuorum();

    await before.release().catch(() => undefined); // its session may have moved: either way freed
    const after = await one!.locks.acquire('job', { waitMs: 30_000 });
    assert.ok(after.fencingToken > before.fencingToken);
    await after.release();
    const termAfter = (await oneLeader(all)).term!;
    assert.ok(termAfter >= termBefore, `term ${termAfter} after ${termBefore}`);
    assert.equal(await changeConfig(all, 2), versionBefore + 1);

    await leader.restart();
    await ensemble.waitForQuorum();
  });

  it('without quorum past the session timeout: holders and the leader are told at once, nothing is taken or written; all recovers on new sessions with quorum', async () => {
    const all = await instances();
    const [one, two] = all;
    const elected = await oneLeader(all);
    const termBefore = elected.term!;
    const versionBefore = await changeConfig(all, 1);
    const held = await one!.locks.acquire('job');

    const lost = all.map(
      ({ zookeeper }) =>
        new Promise<void>((resolve) => {
          const stop = zookeeper.onSessionEvent((event) => {
            if (event !== 'lost') return;
            stop();
            resolve();
          });
        }),
    );
    const [first, second] = ensemble.servers.filter((server) => server.running);
    await Promise.all([first!.kill(), second!.kill()]);
    await bounded(
      'the holder is told it lost the lock',
      new Promise<void>((resolve) =>
        held.signal.aborted ? resolve() : held.signal.addEventListener('abort', () => resolve()),
      ),
    );
    assert.ok(held.signal.reason instanceof LockLostError, String(held.signal.reason));
    await bounded(
      'the leader steps down',
      waitUntil(() => all.every(({ election }) => !election.isLeader)),
    );
    const attempt = await one!.locks.tryAcquire('other').catch((e: unknown) => e);
    assert.ok(
      attempt instanceof ZooKeeperConnectionError,
      `lock without quorum: ${String(attempt)}`,
    );
    const write = await two!.config.set('limits', 99).catch((e: unknown) => e);
    assert.ok(write instanceof ZooKeeperConnectionError, `write without quorum: ${String(write)}`);
    // Reads serve the last value known.
    assert.equal(two!.config.get('limits'), 1);
    // Out past the session timeout: every session, with its nodes and watches, is gone.
    await bounded('both sessions lost', Promise.all(lost));

    await first!.restart();
    await ensemble.waitForQuorum();
    await bounded(
      'both reconnected',
      waitUntil(() => all.every(({ zookeeper }) => zookeeper.connected)),
    );
    const again = await one!.locks.acquire('job', { waitMs: 30_000 });
    assert.ok(again.fencingToken > held.fencingToken);
    await again.release();
    const termAfter = (await oneLeader(all)).term!;
    assert.ok(termAfter > termBefore, `term ${termAfter} after ${termBefore}`);
    // Watches set again on the new sessions: the change reaches both. The write tried without
    // quorum counts only if its error said it might (a server that got it commits it later).
    const versionAfter = await changeConfig(all, 3);
    if (versionAfter !== versionBefore + 1) {
      assert.equal(versionAfter, versionBefore + 2);
      assert.match((write as Error).message, /may still be applied/);
    }

    await second!.restart();
    await ensemble.waitForQuorum();
  });
});
