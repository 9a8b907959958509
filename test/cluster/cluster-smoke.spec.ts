import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { RedisCoordinationModule } from '../../lib/index.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';
import { RedisScript } from '../../lib/connection/script-runner.js';
import { closeModule, startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';

/** Touches two keys in one script: only valid on a cluster when both share a slot. */
const copyKey = new RedisScript({
  name: 'copyKey',
  numberOfKeys: 2,
  lua: "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], redis.call('GET', KEYS[1])) return redis.call('GET', KEYS[2])",
});

describeWithRedisServer('Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  it('runs multi-key scripts on hash-tagged keys of many names, across all masters', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    const slots = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const a = connections.keys.key('test', 'test key', `name-${i}`, 'a');
      const b = connections.keys.key('test', 'test key', `name-${i}`, 'b');
      assert.equal(await copyKey.run(connections.command, [a, b], [`v${i}`]), `v${i}`);
      slots.add(Number(await connections.command.call('CLUSTER', 'KEYSLOT', a)));
    }
    assert.ok(slots.size > 10, 'names spread over many slots');
    const hub = await connections.subscriptions();
    let deliver!: (message: string) => void;
    const got = new Promise<string>((resolve) => (deliver = resolve));
    await hub.subscribe('cluster-news', (message) => deliver(message));
    await connections.publish('cluster-news', 'hi');
    assert.equal(await got, 'hi');
    await closeModule(moduleRef);
  });
});
