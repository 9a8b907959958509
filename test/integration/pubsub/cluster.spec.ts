import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { PubSubService, RedisCoordinationModule } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';
import { waitUntil } from './pubsub-helpers.js';

describeWithRedisServer('PubSubService on a Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  it('broadcasts, consumes durable channels on many slots, and dead-letters in one script', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    const pubsub = moduleRef.get(PubSubService);
    const broadcast: unknown[] = [];
    await pubsub.subscribe('news', (m) => void broadcast.push(m));
    await pubsub.subscribe({ pattern: 'alerts.*' }, (m) => void broadcast.push(m));
    await pubsub.publish('news', 1);
    await pubsub.publish('alerts.fire', 2);
    await waitUntil(() => broadcast.length === 2);

    // Channels spread over the masters; each one's stream and dead-letter stream share a slot.
    const channels = Array.from({ length: 6 }, (_, i) => `orders-${i}`);
    const handled: string[] = [];
    for (const channel of channels) {
      await pubsub.subscribe<string>(
        channel,
        (m) => {
          if (m === 'poison') throw new Error('bad order');
          handled.push(m);
        },
        { group: 'billing', maxDeliveries: 2, retryDelayMs: 10 },
      );
      await pubsub.publish(channel, `${channel}:ok`, { durable: true });
      await pubsub.publish(channel, 'poison', { durable: true });
    }
    await waitUntil(async () => {
      const dead = await Promise.all(channels.map((c) => pubsub.deadLetters(c)));
      return handled.length === channels.length && dead.every((list) => list.length === 1);
    });
    assert.deepEqual(handled.sort(), channels.map((c) => `${c}:ok`).sort());
    const { command } = moduleRef.get(RedisConnections);
    const slots = await Promise.all(
      channels.map((c) => command.call('CLUSTER', 'KEYSLOT', `coord:{pubsub:${c}}:stream`)),
    );
    assert.ok(new Set(slots).size > 1, 'the channels live in different slots');
  });
});
