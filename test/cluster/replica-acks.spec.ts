import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import {
  PubSubService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
} from '../../lib/index.js';
import { KeySpace } from '../../lib/connection/key-space.js';
import { within } from '../../lib/common/within.js';
import { resourceKeys } from '../../lib/lock/lock.keys.js';
import { queueKeys } from '../../lib/queue/queue.keys.js';
import type { RedisServer } from '../../lib/testing/index.js';
import { streamKey, waitUntil } from '../integration/pubsub/pubsub-helpers.js';
import { startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';

const PREFIX = 'ra:';
const keys = new KeySpace(PREFIX);
const owner = (resource: string) => resourceKeys(keys, resource).owner;

/** A node's replication role, through a connection of the test's own. */
async function roleOf(node: Redis): Promise<string | undefined> {
  return /^role:(\w+)/m.exec(await node.info('replication'))?.[1];
}

describeWithRedisServer('replicaAcks on a Redis Cluster with a replica per master', () => {
  const cluster = useRedisCluster(3, { replicas: 1 });
  closeModulesAfterEach();

  async function start() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        cluster: { nodes: cluster.addresses },
        keyPrefix: PREFIX,
        replicaAcks: { replicas: 1, timeoutMs: 4000 },
      }),
    ]);
    return {
      locks: moduleRef.get(RedisLockService),
      queue: moduleRef.get(QueueService),
      pubsub: moduleRef.get(PubSubService),
    };
  }

  /** The replica serving a lock resource's slot: the one holding a marker under its hash tag. */
  async function replicaOfLock(resource: string): Promise<{ server: RedisServer; node: Redis }> {
    const marker = keys.under(keys.base('lock', 'lock resource', resource), 'marker');
    const writer = new Cluster(cluster.addresses);
    // WAIT has no key: in a pipeline it goes to the node of the marker.
    await writer.pipeline().set(marker, '1').wait(1, 2000).exec();
    writer.disconnect();
    for (const server of cluster.nodes) {
      const node = new Redis(server.url);
      if ((await roleOf(node)) === 'slave') {
        await node.call('READONLY');
        // A replica of another slot answers MOVED.
        if ((await node.exists(marker).catch(() => 0)) === 1) return { server, node };
      }
      node.disconnect();
    }
    throw new Error(`no replica holds ${marker}`);
  }

  it('waits for the replica of each write on every master: the replicas hold it when the call returns', async () => {
    const { locks, queue, pubsub } = await start();
    // Reads from the replicas only (ioredis sends them READONLY).
    const replicas = new Cluster(cluster.addresses, { scaleReads: 'slave' });
    try {
      for (let i = 0; i < 12; i++) {
        const lock = await locks.acquire(`res-${i}`);
        assert.equal(await replicas.exists(owner(`res-${i}`)), 1, `res-${i} on its replica`);
        await lock.release();
        const id = await queue.add(`queue-${i}`, { i });
        assert.equal(await replicas.hexists(queueKeys(keys, `queue-${i}`).jobs, id), 1);
        const entry = await pubsub.publish(`channel-${i}`, i, { durable: true });
        const stream = streamKey(PREFIX, `channel-${i}`);
        assert.equal((await replicas.xrange(stream, entry, entry)).length, 1);
      }
      const tagged = await locks.acquire(['{stock}:a', '{stock}:b']);
      assert.equal(await replicas.exists(owner('{stock}:b')), 1);
      await tagged.release();
    } finally {
      replicas.disconnect();
    }
  });

  it("sends WAIT to the write's own node: an acquire waits while that node's replica is frozen", async () => {
    const { locks } = await start();
    const { server, node } = await replicaOfLock('frozen');
    const onMaster = new Cluster(cluster.addresses);
    server.pause();
    try {
      let settled = false;
      const acquiring = locks.acquire('frozen').finally(() => (settled = true));
      await waitUntil(async () => (await onMaster.exists(owner('frozen'))) === 1);
      await sleep(200); // without WAIT on that node, the acquire returns within a round trip
      assert.equal(settled, false, 'returned before the replica confirmed');
      server.resume();
      const lock = await acquiring;
      assert.equal(await node.exists(owner('frozen')), 1, 'on the replica');
      await lock.release();
    } finally {
      server.resume();
      onMaster.disconnect();
      node.disconnect();
    }
  });

  it("follows a failover: once the replica of a lock's master is promoted, the next acquire goes to it", async () => {
    const { locks } = await start();
    const first = await locks.acquire('moved'); // the app's slot map now points at the master
    await first.release();
    const { node: replica } = await replicaOfLock('moved');
    try {
      await replica.call('CLUSTER', 'FAILOVER');
      await within(
        waitUntil(async () => (await roleOf(replica)) === 'master'),
        60_000,
        () => new Error('the replica was not promoted within 60 s'),
      );
      // The app's stale slot map sends it to the demoted master, which answers MOVED.
      const lock = await locks.acquire('moved');
      assert.ok(lock.fencingToken > first.fencingToken);
      await lock.release();
    } finally {
      replica.disconnect();
    }
  });
});
