import assert from 'node:assert/strict';
import { once } from 'node:events';
import { it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  CacheEvict,
  CacheService,
  RedisConnectionError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { CallLog, ProductService } from '../../fixtures/cache-app.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';

/** Renames a user: evicts the user's tag and their profile entry. */
@Injectable()
class Renamer {
  @CacheEvict({ tags: (id: string) => [`user:${id}`], key: (id: string) => `profile:${id}` })
  async rename(id: string) {
    return `renamed ${id}`;
  }
}

/** The cache never breaks the methods it wraps: Redis stopped, frozen, then back. */
describeWithRedisServer('@Cached while Redis is down', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  it('calls through while Redis is stopped or frozen and caches again once it is back', async () => {
    const logger = new CapturingLogger();
    @Module({
      imports: [RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: 'down:' })],
      providers: [CallLog, ProductService],
    })
    class AppModule {}
    const moduleRef = await startModule([AppModule], { logger });
    const products = moduleRef.get(ProductService);
    const log = moduleRef.get(CallLog);
    const command = moduleRef.get(RedisConnections).command;
    const expected = (id: string) => ({
      id,
      name: `product ${id}`,
      at: new Date(Date.UTC(2026, 0, 1)),
    });

    assert.deepEqual(await products.find('1'), expected('1'));
    assert.deepEqual(await products.find('1'), expected('1'));
    assert.equal(log.count('find'), 1);

    await server.stop();
    for (const id of ['1', '1', '2']) assert.deepEqual(await products.find(id), expected(id));
    assert.equal(log.count('find'), 4, 'every call went through to the method');
    assert.ok(logger.lines.some((line) => line.includes('Cache unavailable')));
    assert.ok(!logger.lines.some((line) => /password|ERR/.test(line)));

    await server.restart();
    if (command.status !== 'ready') await once(command, 'ready');
    assert.deepEqual(await products.find('3'), expected('3'));
    assert.deepEqual(await products.find('3'), expected('3'));
    assert.equal(log.count('find'), 5, 'caching resumed: the second call was a hit');
    assert.ok(logger.lines.some((line) => line.includes('caching resumed')));

    // Frozen: the connection stays open but nothing answers; calls go through after the
    // cache's per-operation timeout instead of hanging with Redis.
    server.pause();
    try {
      assert.deepEqual(await products.find('3'), expected('3'));
      assert.deepEqual(await products.find('4'), expected('4'));
      assert.equal(log.count('find'), 7);
    } finally {
      server.resume();
    }
    // Replies come in order: once this one is in, the timed-out cache reads were answered too.
    await command.ping();
    assert.deepEqual(await products.find('5'), expected('5'));
    assert.deepEqual(await products.find('5'), expected('5'));
    assert.equal(log.count('find'), 8, 'caching resumed after the freeze');
  });

  it('with Redis down and the method failing, serves what the near cache kept while staleIfErrorMs lasts', async () => {
    await server.restart();
    const logger = new CapturingLogger();
    const moduleRef = await startModule(
      [RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: 'failsafe:' })],
      { logger },
    );
    const cache = moduleRef.get(CacheService);
    const options = { ttlMs: 60_000, staleIfErrorMs: 60_000, local: { ttlMs: 60_000 } };
    const without = { ttlMs: 60_000, local: { ttlMs: 60_000 } };
    let failure: Error | undefined;
    const load = () => {
      if (failure) throw failure;
      return { at: 'before the outage' };
    };
    // Kept in memory from the first read after the invalidation channel is listened to.
    await cache.wrap('kept', load, options);
    const admin = new Redis(server.url);
    await eventually('the invalidation channel is listened to', async () => {
      const [, count] = (await admin.pubsub('NUMSUB', 'failsafe:{cache-bus:invalidations}')) as [
        string,
        number,
      ];
      return count === 1;
    });
    admin.disconnect();
    await cache.wrap('kept', load, options);
    await cache.wrap('not-kept', load, without);

    await server.stop();
    failure = new Error('database down too');
    // Memory serves as usual until the lost connection is noticed; then only as a fail-safe.
    await eventually('the loss is noticed', () =>
      cache.wrap('not-kept', load, without).then(
        () => false,
        (error: Error) => error === failure,
      ),
    );
    assert.deepEqual(await cache.wrap('kept', load, options), { at: 'before the outage' });
    assert.ok(logger.lines.some((line) => line.includes('the last value is served')));
    failure = undefined;
    assert.deepEqual(await cache.wrap('kept', load, options), { at: 'before the outage' });
  });

  it('with Redis down, tag operations throw RedisConnectionError and @CacheEvict tries every eviction', async () => {
    await server.restart();
    const logger = new CapturingLogger();
    const moduleRef = await startModule(
      [RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: 'evict:' })],
      { logger, providers: [Renamer] },
    );
    const cache = moduleRef.get(CacheService);
    await server.stop();

    await assert.rejects(cache.invalidateTags(['user:1']), RedisConnectionError);
    await assert.rejects(
      cache.set('k', 1, { ttlMs: 1000, tags: ['user:1'] }),
      RedisConnectionError,
    );
    assert.equal(await moduleRef.get(Renamer).rename('1'), 'renamed 1');
    const failed = logger.lines.filter((line) => line.includes('could not evict'));
    assert.equal(failed.length, 2, failed.join('\n'));
    assert.match(failed[0]!, /tags \["user:1"\]/);
    assert.match(failed[1]!, /"profile:1"/);
  });
});
