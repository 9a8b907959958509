import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import {
  InvalidArgumentError,
  InvalidKeyError,
  RedisCoordinationModule,
  RedisLockService,
  WithLock,
} from '../../../lib/index.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';

describe('lock bad input', () => {
  let redis: TestRedis;
  let locks: RedisLockService;
  beforeAll(async () => {
    redis = await startTestRedis();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
    ]);
    locks = moduleRef.get(RedisLockService);
  });
  afterAll(async () => {
    await closeStartedModules();
    await redis.dispose();
  });

  const call = (resource: unknown, options?: unknown) =>
    locks.acquire(resource as string, options as object);

  it('refuses bad resources with InvalidKeyError / InvalidArgumentError', async () => {
    await assert.rejects(
      call(''),
      (e) => e instanceof InvalidKeyError && /must not be empty/.test(e.message),
    );
    await assert.rejects(
      call(42),
      (e) => e instanceof InvalidKeyError && /42.*expected a string/.test(e.message),
    );
    await assert.rejects(call(null), InvalidKeyError);
    // 'x\uD800' would be stored as 'x\uFFFD' and so be the same lock.
    await assert.rejects(
      call('x\uD800'),
      (e) => e instanceof InvalidKeyError && /lone UTF-16 surrogate/.test(e.message),
    );
    await assert.rejects(call(['a', 7]), InvalidKeyError);
    await assert.rejects(call('x'.repeat(2000)), /longer than 1024/);
    await assert.rejects(
      call([]),
      (e) => e instanceof InvalidArgumentError && /at least one/.test(e.message),
    );
    await assert.rejects(locks.isLocked(undefined as unknown as string), InvalidKeyError);
  });

  it('refuses bad durations and options, naming the option', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { ttlMs: 1e12 },
        /ttlMs 1000000000000: expected an integer number of milliseconds from 10 to 86400000/,
      ],
      [{ ttlMs: 0 }, /ttlMs/],
      [{ ttlMs: null }, /ttlMs null/],
      [{ ttlMs: 1.5 }, /ttlMs/],
      [{ waitMs: -1 }, /waitMs -1/],
      [{ waitMs: '100' }, /waitMs "100"/],
      [{ maxHoldMs: -5 }, /maxHoldMs/],
      [{ fair: 'yes' }, /fair "yes": expected a boolean/],
      ['fast', /lock options "fast"/],
    ];
    for (const [options, message] of cases) {
      await assert.rejects(
        call('k', options),
        (e) => e instanceof InvalidArgumentError && message.test(e.message),
      );
    }
    const lock = await locks.acquire('k');
    await assert.rejects(lock.extend(-1), InvalidArgumentError);
    await lock.release();
    assert.equal(await locks.isLocked('k'), false, 'nothing was locked by refused calls');
  });

  it('refuses bad @WithLock arguments when the class is defined', () => {
    assert.throws(() => WithLock('', {}), InvalidKeyError);
    assert.throws(() => WithLock('k', { onBusy: 'later' as 'wait' }), /onBusy "later"/);
    assert.throws(() => WithLock('k', { ttlMs: -1 }), InvalidArgumentError);
  });
});
