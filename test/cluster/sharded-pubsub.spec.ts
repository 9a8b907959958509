import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  PubSubService,
  RedisCoordinationModule,
  RedisLockService,
  ShardedPatternError,
  type RedisCoordinationModuleOptions,
} from '../../lib/index.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';
import { startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';
import { waitUntil } from '../integration/pubsub/pubsub-helpers.js';

/** The shard channels (`PUBSUB SHARDCHANNELS`) and plain channels each node serves. */
async function channelsByNode(addresses: Array<{ host: string; port: number }>) {
  return Promise.all(
    addresses.map(async ({ host, port }) => {
      const node = new Redis({ host, port, lazyConnect: true });
      await node.connect();
      try {
        const shard = (await node.call('PUBSUB', 'SHARDCHANNELS')) as string[];
        const plain = (await node.call('PUBSUB', 'CHANNELS')) as string[];
        return { shard, plain };
      } finally {
        node.disconnect();
      }
    }),
  );
}

describeWithRedisServer('sharded pub/sub on Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  const instance = (options: Partial<RedisCoordinationModuleOptions> = {}) =>
    startModule([
      RedisCoordinationModule.forRoot({
        cluster: { nodes: cluster.addresses },
        shardedPubSub: true,
        ...options,
      }),
    ]);

  it('shards every channel with shardedPubSub: each message reaches every instance, and publish() counts them all', async () => {
    const apps = await Promise.all([instance(), instance(), instance()]);
    assert.ok(apps.every((app) => app.get(RedisConnections).shardedPubSub));
    // Channels on every master: a plain PUBLISH would count only the receiving node's subscribers.
    const channels = Array.from({ length: 9 }, (_, i) => `news-${i}`);
    const received = new Map<string, number>();
    for (const app of apps) {
      for (const channel of channels) {
        await app.get(PubSubService).subscribe<number>(channel, () => {
          received.set(channel, (received.get(channel) ?? 0) + 1);
        });
      }
    }
    const publisher = apps[0]!.get(PubSubService);
    for (const channel of channels) {
      assert.equal(await publisher.publish(channel, 1), apps.length, `receivers of ${channel}`);
    }
    await waitUntil(() => channels.every((c) => received.get(c) === apps.length));

    // The channels are shard channels, each served by the master owning its slot only.
    const served = await channelsByNode(cluster.addresses);
    assert.deepEqual(
      served.flatMap((node) => node.plain),
      [],
    );
    const shardChannels = served.flatMap((node) => node.shard).filter((c) => c.includes('news-'));
    assert.equal(shardChannels.length, channels.length);
    assert.ok(served.filter((node) => node.shard.length > 0).length > 1, 'on several masters');
  });

  it("carries the library's own channels sharded: a lock hand-over wakes the waiter", async () => {
    const [first, second] = await Promise.all([instance(), instance()]);
    const holder = await first.get(RedisLockService).acquire('sharded-handover', { ttlMs: 30_000 });
    const waiting = second.get(RedisLockService).acquire('sharded-handover', { waitMs: 20_000 });
    await waitUntil(async () =>
      (await channelsByNode(cluster.addresses)).some((node) =>
        node.shard.some((c) => c.includes('sharded-handover')),
      ),
    );
    await holder.release();
    // Only the release's SPUBLISH lets the waiter in before the holder's 30 s lease ends.
    const next = await waiting;
    assert.ok(next.fencingToken > holder.fencingToken);
    await next.release();
  });

  it('refuses pattern subscriptions while sharded, and serves them with shardedPubSub: false', async () => {
    const sharded = await instance();
    await assert.rejects(
      sharded.get(PubSubService).subscribe({ pattern: 'alerts.*' }, () => undefined),
      (error) => error instanceof ShardedPatternError && error.code === 'SHARDED_PATTERN',
    );

    const plain = await instance({ shardedPubSub: false });
    assert.equal(plain.get(RedisConnections).shardedPubSub, false);
    const got: unknown[] = [];
    await plain.get(PubSubService).subscribe({ pattern: 'alerts.*' }, (m) => void got.push(m));
    await plain.get(PubSubService).publish('alerts.fire', 2);
    await waitUntil(() => got.length === 1);
    assert.deepEqual(got, [2]);
  });
});
