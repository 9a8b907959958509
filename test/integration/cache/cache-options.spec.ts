import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  CacheEvict,
  CacheOptionsError,
  CacheService,
  InvalidArgumentError,
  Cached,
  InvalidKeyError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/** Defines a class with `decorator` on a method: where decoration-time errors surface. */
function decorate(decorator: MethodDecorator): void {
  class Target {
    method(_id: string) {
      return 1;
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'method')!;
  decorator(Target.prototype, 'method', descriptor);
}

describe('cache options are checked', () => {
  it('at decoration time (class definition), naming the method and the field', () => {
    const cases: Array<[string, () => MethodDecorator, RegExp]> = [
      ['negative TTL', () => Cached({ ttlMs: -1 }) as MethodDecorator, /Target\.method.*ttlMs/],
      ['fractional TTL', () => Cached({ ttlMs: 1.5 }) as MethodDecorator, /ttlMs/],
      ['missing TTL', () => Cached({} as { ttlMs: number }) as MethodDecorator, /ttlMs/],
      ['bad leaseMs', () => Cached({ ttlMs: 1, leaseMs: 0 }) as MethodDecorator, /leaseMs/],
      [
        'non-function key',
        () => Cached({ ttlMs: 1000, key: 42 as unknown as string }) as MethodDecorator,
        /key must be a string or a function.*number/,
      ],
      [
        'over-long key',
        () => Cached({ ttlMs: 1000, key: 'k'.repeat(2000) }) as MethodDecorator,
        /key.*longer than 1024/,
      ],
      [
        'empty namespace',
        () => Cached({ ttlMs: 1000, namespace: '' }) as MethodDecorator,
        /namespace/,
      ],
      [
        'cacheNull not boolean',
        () => Cached({ ttlMs: 1000, cacheNull: 'yes' as unknown as boolean }) as MethodDecorator,
        /cacheNull/,
      ],
      [
        'evict without key or namespace',
        () => CacheEvict({}) as MethodDecorator,
        /key, a namespace/,
      ],
      [
        'evict non-function key',
        () => CacheEvict({ key: {} as unknown as string }) as MethodDecorator,
        /key must be/,
      ],
    ];
    for (const [label, make, message] of cases) {
      assert.throws(
        () => decorate(make()),
        (error: unknown) =>
          error instanceof CacheOptionsError &&
          error.code === 'CACHE_OPTIONS' &&
          message.test(error.message),
        label,
      );
    }
  });

  it("and the key function is typed by the method's leading parameters", () => {
    @Injectable()
    class Typed {
      @Cached({ ttlMs: 1000, key: (id: string, page: number) => `${id}:${page}` })
      find(id: string, page: number) {
        return `${id}${page}`;
      }
      // As with @WithLock, the key function may read only the first parameters.
      @Cached({ ttlMs: 1000, key: (id: string) => id })
      findPage(id: string, page: number) {
        return `${id}${page}`;
      }
      @CacheEvict({ namespace: 'typed', key: (id: string) => id })
      rename(id: string, name: string) {
        return `${id}${name}`;
      }
      // @ts-expect-error the key function reads a number where the method's first parameter is a string
      @CacheEvict({ key: (id: number) => `${id}` })
      wrongEvict(id: string, name: string) {
        return `${id}${name}`;
      }
      // @ts-expect-error the key function takes a number where the method takes a string
      @Cached({ ttlMs: 1000, key: (id: number) => `${id}` })
      wrong(id: string) {
        return id;
      }
    }
    assert.equal(typeof Typed.prototype.find, 'function');
  });

  describe('at call time', () => {
    const redis = useTestRedis();
    closeModulesAfterEach();

    it('refuses a computed key over the limit and bad wrap options with typed errors', async () => {
      @Injectable()
      class Keyed {
        @Cached({ ttlMs: 1000, key: (id: string) => id })
        find(id: string) {
          return id;
        }
      }
      const moduleRef = await startModule(
        [RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() })],
        { providers: [Keyed] },
      );
      const keyed = moduleRef.get(Keyed);
      assert.equal(await keyed.find('ok'), 'ok');
      await assert.rejects(async () => keyed.find('x'.repeat(1025)), InvalidKeyError);
      const cache = moduleRef.get(CacheService);
      await assert.rejects(
        cache.wrap('k', () => 1, { ttlMs: -5 }),
        CacheOptionsError,
      );
      await assert.rejects(
        cache.set('k', 1, undefined as unknown as { ttlMs: number }),
        (e) =>
          e instanceof CacheOptionsError && /expected an options object with ttlMs/.test(e.message),
      );
      // Refused even when the entry is cached: a wrong loader is a bug, found at once.
      await cache.set('k', 1, { ttlMs: 60_000 });
      await assert.rejects(
        cache.wrap('k', 'not a function' as unknown as () => number, { ttlMs: 1000 }),
        (e) => e instanceof InvalidArgumentError && /loader/.test(e.message),
      );
    });
  });
});
