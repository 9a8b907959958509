import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import {
  CacheEvict,
  CacheOptionsError,
  CacheService,
  Cached,
  InvalidArgumentError,
  InvalidKeyError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/** The database every instance reads. */
const rows = new Map<string, { name: string }>();

/** Profiles tagged by user, and all of them by `profiles`. */
@Injectable()
class ProfileService {
  loads = 0;

  @Cached({
    ttlMs: 60_000,
    key: (id: string) => `profile:${id}`,
    tags: (id: string) => [`user:${id}`, 'profiles'],
  })
  async profile(id: string) {
    this.loads++;
    return { id, ...rows.get(id) };
  }

  @CacheEvict({ tags: (id: string) => [`user:${id}`] })
  async rename(id: string, name: string) {
    rows.set(id, { name });
  }
}

describe('cache tags', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function instance(prefix: string) {
    @Module({
      imports: [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix })],
      providers: [ProfileService],
    })
    class AppModule {}
    const moduleRef = await startModule([AppModule]);
    return { cache: moduleRef.get(CacheService), profiles: moduleRef.get(ProfileService) };
  }

  it('invalidating a tag makes every entry carrying it miss, on every instance, without touching them', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = [await instance(prefix), await instance(prefix)];
    let n = 0;
    const load = () => ++n;
    const wrap = (key: string, tags: string[]) => a.cache.wrap(key, load, { ttlMs: 60_000, tags });
    assert.equal(await wrap('one', ['red']), 1);
    assert.equal(await wrap('two', ['red', 'blue']), 2);
    assert.equal(await wrap('three', ['blue']), 3);
    await a.cache.set('four', 'set', { ttlMs: 60_000, tags: ['red'] });
    assert.deepEqual(await b.cache.get('four'), { value: 'set' });
    const entries = (await keysUnder(redis.client, prefix)).filter((k) => k.includes('{cache:'));

    await b.cache.invalidateTags(['red']);

    // The writer's cost is one DEL of the tag: the entries are still there, and miss.
    assert.deepEqual(
      (await keysUnder(redis.client, prefix)).filter((k) => k.includes('{cache:')).sort(),
      entries.sort(),
    );
    assert.equal(await b.cache.get('four'), undefined);
    assert.equal(await b.cache.wrap('one', load, { ttlMs: 60_000, tags: ['red'] }), 4);
    assert.equal(await wrap('two', ['red', 'blue']), 5);
    assert.equal(await wrap('three', ['blue']), 3, 'an entry without the tag is still served');
    assert.equal(await wrap('one', ['red']), 4, 'the new value is cached again');
  });

  it('a value computed while its tag is invalidated is never served afterwards', async () => {
    const { cache } = await instance(uniqueKeyPrefix());
    let release!: () => void;
    const computing = cache.wrap(
      'slow',
      async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return 'computed before the change';
      },
      { ttlMs: 60_000, tags: ['stock'] },
    );
    while (!release) await new Promise((resolve) => setTimeout(resolve, 5));
    // The data changes while the value is being computed: its tag is invalidated.
    await cache.invalidateTags(['stock']);
    release();
    assert.equal(await computing, 'computed before the change');
    const next = await cache.wrap('slow', () => 'computed after the change', {
      ttlMs: 60_000,
      tags: ['stock'],
    });
    assert.equal(next, 'computed after the change');
  });

  it('@Cached tags are a function of the arguments; @CacheEvict({ tags }) drops them everywhere', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = [await instance(prefix), await instance(prefix)];
    rows.set('1', { name: 'Ada' });
    rows.set('2', { name: 'Bob' });
    assert.equal((await a.profiles.profile('1')).name, 'Ada');
    assert.equal((await b.profiles.profile('1')).name, 'Ada');
    await a.profiles.profile('2');
    assert.equal(a.profiles.loads + b.profiles.loads, 2);

    await b.profiles.rename('1', 'Ada L.');
    assert.equal((await a.profiles.profile('1')).name, 'Ada L.');
    await a.profiles.profile('2');
    assert.equal(a.profiles.loads + b.profiles.loads, 3, 'user:2 was not invalidated');

    await a.cache.invalidateTags(['profiles']);
    await b.profiles.profile('1');
    await b.profiles.profile('2');
    assert.equal(a.profiles.loads + b.profiles.loads, 5);
  });

  it('an entry read without its tags is checked against the tags it carries', async () => {
    const { cache } = await instance(uniqueKeyPrefix());
    await cache.wrap('k', () => 'v1', { ttlMs: 60_000, tags: ['x', 'y'] });
    // Read by a call that names no tags, or other ones.
    assert.equal(await cache.wrap('k', () => 'v2', { ttlMs: 60_000 }), 'v1');
    await cache.invalidateTags(['y']);
    assert.equal(await cache.wrap('k', () => 'v3', { ttlMs: 60_000, tags: ['x'] }), 'v3');
  });

  it('refuses bad tags with typed errors naming them', async () => {
    const { cache } = await instance(uniqueKeyPrefix());
    await assert.rejects(cache.invalidateTags(['']), InvalidKeyError);
    await assert.rejects(cache.invalidate(''), InvalidKeyError);
    await assert.rejects(cache.invalidateTags('user:1' as never), InvalidArgumentError);
    await assert.rejects(
      cache.set('k', 1, { ttlMs: 1000, tags: [42 as never] }),
      (error: unknown) => error instanceof InvalidKeyError && /cache tag/.test(error.message),
    );
    await assert.rejects(
      cache.wrap('k', () => 1, { ttlMs: 1000, tags: Array.from({ length: 65 }, (_, i) => `${i}`) }),
      /at most 64 tags/,
    );
    assert.throws(() => {
      class Bad {
        @Cached({ ttlMs: 1000, tags: 'user' as never })
        m() {}
      }
      return Bad;
    }, CacheOptionsError);
  });
});
