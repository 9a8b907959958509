import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { CacheService, RedisCoordinationModule } from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';

/** A loader whose value the test sets, that can be held until released, and counts its calls. */
class Source {
  value = 'v1';
  calls = 0;
  failure: Error | undefined;
  private gate: Promise<void> | undefined;
  private open = () => {};

  readonly load = async (): Promise<string> => {
    this.calls++;
    await this.gate;
    if (this.failure) throw this.failure;
    return this.value;
  };

  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.gate = undefined;
    this.open();
  }
}

describe('stale-while-revalidate (staleMs) and fail-safe (staleIfErrorMs)', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function instance(prefix: string, logger = new CapturingLogger()) {
    const moduleRef = await startModule(
      [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix })],
      { logger },
    );
    return moduleRef.get(CacheService);
  }

  it('serves the stale value at once while one instance, the lease winner, refreshes it', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = [await instance(prefix), await instance(prefix)];
    const source = new Source();
    const options = { ttlMs: 500, staleMs: 60_000 };
    assert.equal(await a.wrap('k', source.load, options), 'v1');
    await sleep(600);

    source.value = 'v2';
    source.hold();
    // Both instances answer while the refresh is held: nobody waits for it.
    assert.deepEqual(
      await Promise.all([a.wrap('k', source.load, options), b.wrap('k', source.load, options)]),
      ['v1', 'v1'],
    );
    await eventually('a refresh started', () => source.calls === 2);
    source.release();
    // Read raw: on a slow machine the new value may be stale again by the time it is read.
    await eventually('the refreshed value is stored', async () => {
      return (await redis.client.get(`${prefix}{cache:k}`))?.endsWith('"v2"') === true;
    });
    // The other instance's claim lost the lease, or found the new value: it computed nothing.
    assert.equal(source.calls, 2, 'one refresh for both instances');
    assert.equal(await a.wrap('k', source.load, options), 'v2');
  });

  it('serves the last value when the loader fails, logged once per key, while staleIfErrorMs lasts', async () => {
    const logger = new CapturingLogger();
    const cache = await instance(uniqueKeyPrefix(), logger);
    const source = new Source();
    const options = { ttlMs: 200, staleIfErrorMs: 60_000 };
    const short = { ttlMs: 200, staleIfErrorMs: 1 };
    assert.equal(await cache.wrap('k', source.load, options), 'v1');
    assert.equal(await cache.wrap('short', source.load, short), 'v1');
    await sleep(300);

    source.failure = new Error('database down');
    assert.equal(await cache.wrap('k', source.load, options), 'v1');
    assert.equal(await cache.wrap('k', source.load, options), 'v1');
    assert.equal(
      logger.lines.filter((line) => line.includes('the last value is served')).length,
      1,
    );
    await assert.rejects(cache.wrap('short', source.load, short), /database down/);

    source.failure = undefined;
    source.value = 'v2';
    assert.equal(await cache.wrap('k', source.load, options), 'v2');
  });

  it('never serves an invalidated entry stale: key, namespace and tag invalidation bypass grace', async () => {
    const cache = await instance(uniqueKeyPrefix());
    const source = new Source();
    const grace = { ttlMs: 200, staleMs: 60_000, staleIfErrorMs: 60_000 };
    const entries = {
      deleted: { key: 'd', options: grace },
      namespace: { key: 'n', options: { ...grace, namespace: 'ns' } },
      tag: { key: 't', options: { ...grace, tags: ['tag'] } },
    };
    for (const { key, options } of Object.values(entries)) {
      assert.equal(await cache.wrap(key, source.load, options), 'v1');
    }
    await sleep(300);
    await cache.delete('d');
    await cache.invalidate('ns');
    await cache.invalidateTags(['tag']);

    source.failure = new Error('database down');
    for (const { key, options } of Object.values(entries)) {
      await assert.rejects(cache.wrap(key, source.load, options), /database down/, key);
    }
    source.failure = undefined;
    source.value = 'v2';
    for (const { key, options } of Object.values(entries)) {
      assert.equal(await cache.wrap(key, source.load, options), 'v2', key);
    }
  });

  it('get() reads an entry past its ttlMs as missing, even while it may be served stale', async () => {
    const cache = await instance(uniqueKeyPrefix());
    await cache.wrap('k', () => 'v1', { ttlMs: 100, staleMs: 60_000 });
    await sleep(200);
    assert.equal(await cache.get('k'), undefined);
  });
});
