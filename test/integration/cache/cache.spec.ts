import assert from 'node:assert/strict';
import { afterEach, describe, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import request from 'supertest';
import { CacheService, CodecError, RedisCoordinationModule } from '../../../lib/index.js';
import { CallLog, ItemsController, ProductService } from '../../fixtures/cache-app.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

describe('CacheService and @Cached/@CacheEvict', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  /** One app instance: its own Nest container and connections, on a shared key prefix. */
  async function instance(
    prefix: string,
    logger = new CapturingLogger(),
    options: { maxPayloadBytes?: number } = {},
  ) {
    @Module({
      imports: [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix, ...options })],
      providers: [CallLog, ProductService],
    })
    class AppModule {}
    const moduleRef = await startModule([AppModule], { logger });
    return {
      moduleRef,
      logger,
      cache: moduleRef.get(CacheService),
      products: moduleRef.get(ProductService),
      log: moduleRef.get(CallLog),
    };
  }

  it('caches a method result: the second call is served from Redis', async () => {
    const prefix = uniqueKeyPrefix();
    const { products, log } = await instance(prefix);
    const first = await products.find('1');
    const second = await products.find('1');
    assert.deepEqual(second, first);
    assert.ok(second.at instanceof Date, 'a Date comes back as a Date');
    assert.equal(log.count('find'), 1);
    await products.find('2');
    assert.equal(log.count('find'), 2);
    const keys = await keysUnder(redis.client, prefix);
    assert.ok(keys.includes(`${prefix}{cache:products}:e:product:1`), keys.join(', '));
  });

  it('round-trips the codec table through @Cached; null is a hit only with cacheNull', async () => {
    const { products, log } = await instance(uniqueKeyPrefix());
    const table: Record<string, unknown> = {
      date: new Date('2026-11-24T20:00:00.123Z'),
      bigint: 2n ** 70n,
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, new Date(0)],
      ]),
      set: new Set([1, 'two', 3n]),
      nested: { list: [{ when: new Date(5), maybe: undefined }], deep: { n: null } },
      undefinedInside: { a: undefined, b: [undefined, 1] },
      string: 'plain',
      zero: 0,
    };
    for (const [label, value] of Object.entries(table)) {
      products.next = value;
      const computed = await products.echo(label);
      products.next = 'not called again';
      const cached = await products.echo(label);
      assert.deepEqual(cached, value, label);
      assert.deepEqual(computed, value, label);
    }
    assert.equal(log.count('echo'), Object.keys(table).length);

    // Default (cacheNull false): null is returned but not stored, so the method runs again.
    products.next = null;
    assert.equal(await products.echo('null'), null);
    assert.equal(await products.echo('null'), null);
    assert.equal(log.count('echo'), Object.keys(table).length + 2);

    // cacheNull: null and undefined are stored and are hits, distinct from a miss.
    for (const value of [null, undefined]) {
      products.next = value;
      assert.equal(await products.echoNull(String(value)), value);
      products.next = 'miss';
      assert.equal(await products.echoNull(String(value)), value);
    }
    assert.equal(log.count('echoNull'), 2);
  });

  it('returns a value it cannot encode uncached, warning once per key', async () => {
    const { products, log, logger, cache } = await instance(uniqueKeyPrefix());
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    for (const [label, value] of [
      ['fn', { run: () => 1 }],
      ['cycle', cyclic],
    ] as const) {
      products.next = value;
      assert.equal(await products.echo(label), value);
      assert.equal(await products.echo(label), value);
      assert.equal(await cache.get(`echo:${label}`), undefined, 'no entry written');
    }
    assert.equal(log.count('echo'), 4);
    const warnings = logger.lines.filter((line) => line.includes('not cached'));
    assert.equal(warnings.length, 2, warnings.join('\n'));
    assert.match(warnings[0]!, /echo:fn.*function/);
    await assert.rejects(cache.set('direct', { f: () => 1 }, { ttlMs: 1000 }), CodecError);
  });

  it('set() refuses a value over maxPayloadBytes with a CodecError naming the limit, storing nothing', async () => {
    const { cache } = await instance(uniqueKeyPrefix(), undefined, { maxPayloadBytes: 1024 });
    await cache.set('small', 'x'.repeat(500), { ttlMs: 60_000 });
    const error = await cache
      .set('big', 'x'.repeat(2048), { ttlMs: 60_000, namespace: 'docs' })
      .catch((e: unknown) => e);
    assert.ok(error instanceof CodecError, String(error));
    assert.match(
      error.message,
      /"big" of namespace "docs" not stored: .*2050 bytes.*maxPayloadBytes \(1024\)/,
    );
    assert.equal(await cache.get('big', { namespace: 'docs' }), undefined);
    assert.deepEqual(await cache.get('small'), { value: 'x'.repeat(500) });
  });

  it('does not cache errors thrown by the method', async () => {
    const { products, log } = await instance(uniqueKeyPrefix());
    await assert.rejects(products.failing(), /first call fails/);
    assert.equal(await products.failing(), 'second call works');
    assert.equal(await products.failing(), 'second call works');
    assert.equal(log.count('failing'), 2);
  });

  it('hashes arguments stably: object key order does not matter', async () => {
    const { products, log } = await instance(uniqueKeyPrefix());
    await products.search({ a: 1, b: { c: 2, d: [1, 2] } }, 2);
    await products.search({ b: { d: [1, 2], c: 2 }, a: 1 }, 2);
    assert.equal(log.count('search'), 1);
    await products.search({ a: 1, b: { c: 2, d: [2, 1] } }, 2);
    await products.search({ a: 1, b: { c: 2, d: [1, 2] } }, 3);
    assert.equal(log.count('search'), 3);
  });

  it('shares one call among concurrent misses, each caller getting its own copy', async () => {
    const { products, log } = await instance(uniqueKeyPrefix());
    const results = await Promise.all(Array.from({ length: 50 }, () => products.find('hot')));
    assert.equal(log.count('find'), 1);
    assert.equal(new Set(results).size, results.length, 'no two callers share one object');
    results[0]!.name = 'mutated';
    assert.equal(results[1]!.name, 'product hot');
  });

  it('@CacheEvict and namespace invalidation are seen by another instance at once', async () => {
    const prefix = uniqueKeyPrefix();
    const a = await instance(prefix);
    const b = await instance(prefix);
    await a.products.find('1');
    await a.products.find('2');
    await b.products.find('1');
    assert.equal(b.log.count('find'), 0, 'b reads what a cached');

    await a.products.rename('1');
    await b.products.find('1');
    await b.products.find('2');
    assert.equal(b.log.count('find'), 1, 'only the evicted entry is recomputed');

    await b.products.reimport(); // a decorated method returns a Promise, even a sync one
    await a.products.find('2');
    assert.equal(a.log.count('find'), 3, 'the namespace was invalidated for a too');

    await a.cache.invalidate('products');
    await b.products.find('1');
    assert.equal(b.log.count('find'), 2);
  });

  it('get/set/delete/wrap work directly, a cached null is not a miss', async () => {
    const { cache } = await instance(uniqueKeyPrefix());
    assert.equal(await cache.get('k'), undefined);
    await cache.set('k', null, { ttlMs: 60_000 });
    assert.deepEqual(await cache.get('k'), { value: null });
    await cache.set('k', { when: new Date(7) }, { ttlMs: 60_000, namespace: 'ns' });
    assert.deepEqual(await cache.get('k', { namespace: 'ns' }), { value: { when: new Date(7) } });
    await cache.invalidate('ns');
    assert.equal(await cache.get('k', { namespace: 'ns' }), undefined);
    assert.equal(await cache.delete('k'), true);
    assert.equal(await cache.get('k'), undefined);
    let loads = 0;
    const load = async () => ++loads;
    assert.equal(await cache.wrap('w', load, { ttlMs: 60_000 }), 1);
    assert.equal(await cache.wrap('w', load, { ttlMs: 60_000 }), 1);
    assert.equal(loads, 1);
  });

  it('keeps two apps with different prefixes apart', async () => {
    const a = await instance(uniqueKeyPrefix());
    const b = await instance(uniqueKeyPrefix());
    await a.products.find('1');
    await b.products.find('1');
    assert.equal(a.log.count('find'), 1);
    assert.equal(b.log.count('find'), 1);
  });

  describe('on a controller @Get, in both decorator orders', () => {
    let app: INestApplication | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });

    it('serves the route through the cache over real HTTP', async () => {
      const moduleRef: TestingModule = await Test.createTestingModule({
        imports: [
          RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
        ],
        controllers: [ItemsController],
        providers: [CallLog],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const log = app.get(CallLog);
      const server = app.getHttpServer();
      for (let i = 0; i < 2; i++) {
        const above = await request(server).get('/items/7?v=x').expect(200);
        assert.deepEqual(above.body, { id: '7', v: 'x', route: 'above' });
        const below = await request(server).get('/items/below/8').expect(200);
        assert.deepEqual(below.body, { id: '8', route: 'below' });
      }
      assert.equal(log.count('above'), 1);
      assert.equal(log.count('below'), 1);
      // The key function sees the route parameters: another id is another entry.
      await request(server).get('/items/9').expect(200);
      assert.equal(log.count('above'), 2);
    });
  });
});
