import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { Cluster } from 'ioredis';
import { CacheService, CounterService, RedisCoordinationModule } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';

/** Every counter and cache script and multi-key read runs on a Redis Cluster. */
describeWithRedisServer('counters and cache on a Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  it('increments, reads many, rate-limits, caches, fills and invalidates', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses }, keyPrefix: 'cl:' }),
    ]);
    const counters = moduleRef.get(CounterService);
    const cache = moduleRef.get(CacheService);

    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    for (const [i, name] of names.entries()) await counters.increment(name, i, { ttlMs: 60_000 });
    assert.equal(await counters.increment('c1', 2n ** 60n), 2n ** 60n + 1n);
    const values = await counters.getMany(names);
    assert.deepEqual(
      values.slice(2),
      names.slice(2).map((_, i) => i + 2),
    );
    const hits = [];
    for (let i = 0; i < 3; i++)
      hits.push(await counters.hit('ip', { limit: 2, windowMs: 60_000, blockMs: 1000 }));
    assert.deepEqual(
      hits.map((h) => h.allowed),
      [true, true, false],
    );

    let loads = 0;
    const load = async () => ({ n: ++loads, at: new Date(1) });
    for (const namespace of [undefined, 'ns']) {
      const options = { ttlMs: 60_000, namespace };
      const results = await Promise.all(
        Array.from({ length: 5 }, () => cache.wrap('k', load, options)),
      );
      assert.ok(results.every((r) => r.n === results[0]!.n && r.at instanceof Date));
      assert.deepEqual(await cache.wrap('k', load, options), results[0]);
    }
    assert.equal(loads, 2);
    await cache.invalidate('ns');
    assert.equal(await cache.get('k', { namespace: 'ns' }), undefined);
    await cache.set('k', 5, { ttlMs: 60_000, namespace: 'ns' });
    assert.deepEqual(await cache.get('k', { namespace: 'ns' }), { value: 5 });
  });

  it('tags: entries in other slots than their tags, read in one round trip and invalidated on every node', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses }, keyPrefix: 'tg:' }),
    ]);
    const cache = moduleRef.get(CacheService);
    const admin = new Cluster(cluster.addresses);
    try {
      // Keys spread over the slots of all three masters; the tags' keys share one slot.
      const keys = Array.from({ length: 12 }, (_, i) => `item${i}`);
      const slotOf = (key: string) => admin.cluster('KEYSLOT', key) as Promise<number>;
      const slots = new Set(await Promise.all(keys.map((key) => slotOf(`tg:{cache:${key}}`))));
      assert.ok(slots.size > 1);
      assert.ok(!slots.has(await slotOf('tg:{cache-tag:versions}:all')));
      let loads = 0;
      const options = (key: string) => ({ ttlMs: 60_000, tags: [`tag-of-${key.length}`, 'all'] });
      for (const key of keys) await cache.wrap(key, () => ++loads, options(key));
      for (const key of keys) await cache.wrap(key, () => ++loads, options(key));
      await cache.set('in-ns', 'v', { ttlMs: 60_000, namespace: 'ns', tags: ['all'] });
      assert.equal(loads, keys.length);
      assert.deepEqual(await cache.get('in-ns', { namespace: 'ns' }), { value: 'v' });

      await cache.invalidateTags(['all']);
      for (const key of keys) await cache.wrap(key, () => ++loads, options(key));
      assert.equal(loads, 2 * keys.length);
      assert.equal(await cache.get('in-ns', { namespace: 'ns' }), undefined);
      assert.equal(await admin.exists('tg:{cache:item0}'), 1, 'entries are not deleted one by one');
    } finally {
      admin.disconnect();
    }
  });
});
