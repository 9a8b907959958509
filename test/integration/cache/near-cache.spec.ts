import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  CacheOptionsError,
  CacheService,
  RedisCoordinationModule,
  type CacheModuleOptions,
  type CacheWrapOptions,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';

describe('near cache (local) and the invalidation bus', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function instance(prefix: string, cache?: CacheModuleOptions) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix, cache }),
    ]);
    return moduleRef.get(CacheService);
  }

  const local: CacheWrapOptions = { ttlMs: 60_000, local: { ttlMs: 60_000 } };
  let loads = 0;
  const load = () => ({ load: ++loads });

  /**
   * Whether `key` is answered from this process's memory: its Redis copy is deleted behind the
   * library's back (no invalidation is announced), so only memory can still give the same value.
   */
  async function answeredFromMemory(
    cache: CacheService,
    prefix: string,
    key: string,
    options = local,
  ): Promise<boolean> {
    const before = await cache.wrap(key, load, options);
    await redis.client.del(`${prefix}{cache:${key}}`);
    const after = await cache.wrap(key, load, options);
    return after.load === before.load;
  }

  /** Waits until `cache` keeps `key` in memory (the bus listens from the first near-cached call). */
  async function untilNearCached(cache: CacheService, prefix: string, key: string) {
    await eventually(`"${key}" answered from memory`, () => answeredFromMemory(cache, prefix, key));
  }

  it('a near-cached hit is answered from memory; without local it is not', async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix);
    await untilNearCached(cache, prefix, 'k');
    assert.equal(await answeredFromMemory(cache, prefix, 'plain', { ttlMs: 60_000 }), false);
  });

  it('a write, delete, namespace or tag invalidation on one instance evicts it from the others', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = [await instance(prefix), await instance(prefix)];
    await untilNearCached(a, prefix, 'k');
    const inNamespace = { ...local, namespace: 'ns' };
    const tagged = { ...local, tags: ['t'] };
    const kept = [await a.wrap('n', load, inNamespace), await a.wrap('t', load, tagged)];
    assert.deepEqual([await a.wrap('n', load, inNamespace), await a.wrap('t', load, tagged)], kept);

    // Memory keeps them for 60 s: only the bus can make a see the changes in time.
    await b.set('k', { load: -1 }, { ttlMs: 60_000 });
    await eventually('a sees b.set()', async () => (await a.wrap('k', load, local)).load === -1);
    await b.delete('k');
    await eventually('a sees b.delete()', async () => (await a.wrap('k', load, local)).load > 0);
    await b.invalidate('ns');
    await eventually(
      'a sees b.invalidate()',
      async () => (await a.wrap('n', load, inNamespace)).load !== kept[0]!.load,
    );
    await b.invalidateTags(['t']);
    await eventually(
      'a sees b.invalidateTags()',
      async () => (await a.wrap('t', load, tagged)).load !== kept[1]!.load,
    );
  });

  it("an instance's own write evicts its memory before the write resolves", async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix);
    await untilNearCached(cache, prefix, 'k');
    await cache.set('k', { load: -1 }, { ttlMs: 60_000 });
    assert.equal((await cache.wrap('k', load, local)).load, -1);
    await cache.invalidateTags(['none']);
    const tagged = { ...local, tags: ['mine'] };
    const before = await cache.wrap('t', load, tagged);
    await cache.invalidateTags(['mine']);
    assert.notEqual((await cache.wrap('t', load, tagged)).load, before.load);
  });

  it('announces the changes of one event-loop turn in one message, naming every entry', async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix);
    const listener = redis.client.duplicate();
    const messages: string[] = [];
    listener.on('message', (_channel: string, message: string) => messages.push(message));
    await listener.subscribe(`${prefix}{cache-bus:invalidations}`);
    try {
      const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((key) => cache.set(key, 1, { ttlMs: 60_000 })));
      await cache.invalidateTags(['last']);
      await eventually('the tag announced', () => messages.some((m) => m.includes('"last"')));
      const named = messages.flatMap((m) => (JSON.parse(m) as { k: string[] }).k);
      assert.deepEqual(new Set(named), new Set(keys.map((key) => `${prefix}{cache:${key}}`)));
      assert.ok(messages.length < 20, `${messages.length} messages for 101 changes`);
    } finally {
      listener.disconnect();
    }
  });

  it('each hit gets its own copy, unless the call opts into shared values', async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix);
    await untilNearCached(cache, prefix, 'k');
    const first = await cache.wrap('k', load, local);
    first.load = 1_000;
    assert.notEqual((await cache.wrap('k', load, local)).load, 1_000);

    const shared = { ttlMs: 60_000, local: { ttlMs: 60_000, shared: true } };
    await eventually('shared kept', () => answeredFromMemory(cache, prefix, 's', shared));
    assert.equal(await cache.wrap('s', load, shared), await cache.wrap('s', load, shared));
  });

  it('the module option cache.local makes it the default; local: false opts out', async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix, { local: { ttlMs: 60_000, maxEntries: 100 } });
    const plain = { ttlMs: 60_000 };
    await eventually('near-cached by default', () => answeredFromMemory(cache, prefix, 'k', plain));
    assert.equal(
      await answeredFromMemory(cache, prefix, 'off', { ttlMs: 60_000, local: false }),
      false,
    );
  });

  it('after its subscriber connection was lost, an instance never serves what it kept before', async () => {
    const prefix = uniqueKeyPrefix();
    const cache = await instance(prefix);
    await untilNearCached(cache, prefix, 'k');
    const kept = await cache.wrap('k', load, local);

    // The change is made behind the library's back, so no message could ever tell: only the lost
    // connection says memory may be out of date.
    const subscriber = subscriberId(
      (await redis.client.client('LIST')) as string,
      `${prefix}subscriber`,
    );
    await redis.client.client('KILL', 'ID', subscriber);
    await redis.client.set(`${prefix}{cache:k}`, 'not a cache entry');
    await eventually('subscriber back', async () => {
      const list = (await redis.client.client('LIST')) as string;
      return list.includes(`name=${prefix}subscriber`) && !list.includes(`id=${subscriber} `);
    });
    const after = await cache.wrap('k', load, local);
    assert.notEqual(after.load, kept.load);
  });

  it('refuses bad near-cache options with errors naming them', async () => {
    const cache = await instance(uniqueKeyPrefix());
    await assert.rejects(
      cache.wrap('k', load, { ttlMs: 1000, local: { ttlMs: 0 } }),
      (error: unknown) => error instanceof CacheOptionsError && /local\.ttlMs/.test(error.message),
    );
    await assert.rejects(
      cache.wrap('k', load, { ttlMs: 1000, local: 'yes' as never }),
      /local must be a boolean or \{ ttlMs, shared\? \}/,
    );
  });
});

/** The id of the client named `name` in a CLIENT LIST reply. */
function subscriberId(list: string, name: string): string {
  const line = list.split('\n').find((l) => l.includes(` name=${name} `));
  assert.ok(line, `no client named ${name}`);
  return /id=(\d+)/.exec(line)![1]!;
}
