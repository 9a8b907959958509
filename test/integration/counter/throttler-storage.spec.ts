import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import {
  InvalidArgumentError,
  RedisCoordinationModule,
  RedisThrottlerStorage,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/**
 * RedisThrottlerStorage called as ThrottlerGuard calls it, for what the HTTP specs
 * (throttler.spec.ts) do not reach: the path without a block, the records it returns, and the
 * options' checks.
 */
describe('RedisThrottlerStorage.increment', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start(): Promise<RedisThrottlerStorage> {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
    ]);
    return moduleRef.get(RedisThrottlerStorage);
  }

  it('without a block, denies over the limit until the oldest hit expires', async () => {
    const storage = await start();
    const hit = () => storage.increment('client', 500, 2, 0, 'default');
    assert.deepEqual(await hit(), {
      totalHits: 1,
      timeToExpire: 1,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
    assert.equal((await hit()).totalHits, 2);
    // Denied and not counted; the throttler reports one hit over the limit.
    assert.deepEqual(await hit(), {
      totalHits: 3,
      timeToExpire: 1,
      isBlocked: true,
      timeToBlockExpire: 1,
    });
    let record = await hit();
    while (record.isBlocked) {
      await sleep(50);
      record = await hit();
    }
    assert.ok(record.totalHits <= 2, `${record.totalHits} hits once the first expired`);
  });

  it('withOptions() refuses an unknown policy or option when the app starts', async () => {
    const storage = await start();
    assert.throws(
      () => storage.withOptions({ whenRedisDown: 'retry' as 'allow' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /whenRedisDown "retry"/.test(error.message),
    );
    assert.throws(
      () => storage.withOptions({ whenRedisDwn: 'reject' } as never),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /options.whenRedisDwn/.test(error.message),
    );
    assert.ok(storage.withOptions({ whenRedisDown: 'reject' }) instanceof RedisThrottlerStorage);
  });
});
