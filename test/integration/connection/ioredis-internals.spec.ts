import assert from 'node:assert/strict';
import { once } from 'node:events';
import { it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { describeWithRedisServer } from '../../support/redis.js';
import { useRedisCluster, useRedisServer } from '../../support/hooks.js';

// The connection layer reads a few ioredis internals: adaptive batching replaces `sendCommand`
// and reads `commandQueue`; StartupHold replaces `sendCommand`, unrefs `reconnectTimeout` and a
// Cluster's subscriber connections (plain and sharded). This spec fails when an ioredis release
// changes them.
describeWithRedisServer('the ioredis internals the connection layer reads', () => {
  const server = useRedisServer();
  const cluster = useRedisCluster(3);

  it('sendCommand can be replaced per client, and commandQueue counts commands awaiting replies', async () => {
    const client = new Redis(server.url, { lazyConnect: true });
    try {
      await client.connect();
      const seen: string[] = [];
      const send = client.sendCommand;
      client.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
        seen.push(args[0].name);
        return send.apply(client, args);
      }) as typeof client.sendCommand;
      const pong = client.ping();
      assert.equal(client.commandQueue.length, 1);
      assert.equal(await pong, 'PONG');
      assert.equal(client.commandQueue.length, 0);
      await client.pipeline().set('k', '1').get('k').exec();
      assert.deepEqual(seen, ['ping', 'set', 'get']);
    } finally {
      client.disconnect();
    }
  });

  it('sets reconnectTimeout, a timer, before it emits "reconnecting"', async () => {
    const client = new Redis(server.url, { lazyConnect: true, retryStrategy: () => 1000 });
    try {
      await client.connect();
      const reconnecting = once(client, 'reconnecting');
      await server.stop();
      await reconnecting;
      const timer = (client as unknown as { reconnectTimeout?: NodeJS.Timeout }).reconnectTimeout;
      assert.equal(typeof timer?.unref, 'function');
    } finally {
      client.disconnect();
      await server.restart();
    }
  });

  it("a Cluster subscribes on its subscriber's own connection, not one of its nodes", async () => {
    const client = new Cluster(cluster.addresses, { lazyConnect: true });
    try {
      await client.connect();
      await client.subscribe('news');
      const { subscriber } = client as unknown as { subscriber?: { getInstance(): Redis | null } };
      const instance = subscriber?.getInstance();
      assert.ok(instance?.stream, 'the subscriber connection has a socket');
      assert.ok(!client.nodes('all').includes(instance), 'it is not one of the nodes');
    } finally {
      client.disconnect();
    }
  });

  it('a Cluster with sharded subscribers holds one subscriber connection per master, emitting subscribersReady', async () => {
    const client = new Cluster(cluster.addresses, { lazyConnect: true, shardedSubscribers: true });
    try {
      const ready = once(client, 'subscribersReady');
      await client.connect();
      await client.ssubscribe('news');
      await ready;
      const { shardedSubscribers } = client as unknown as {
        shardedSubscribers?: {
          shardedSubscribers?: Map<string, { getInstance(): Redis | null }>;
        };
      };
      const instances = [...(shardedSubscribers?.shardedSubscribers?.values() ?? [])].map((s) =>
        s.getInstance(),
      );
      assert.equal(instances.length, 3);
      assert.ok(
        instances.some((instance) => instance?.stream),
        'the subscriber of the channel has a socket',
      );
      assert.ok(instances.every((instance) => instance && !client.nodes('all').includes(instance)));
    } finally {
      client.disconnect();
    }
  });
});
