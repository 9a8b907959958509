import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { useChildApps, useTestRedis } from '../../support/hooks.js';

/** The adapter plugged into a real ThrottlerModule guard, shared by two app instances. */
describe('RedisThrottlerStorage with @nestjs/throttler', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();

  async function startApp(prefix: string): Promise<string> {
    const child = spawnChild('throttled-app', {
      env: { REDIS_URL: redis.url, KEY_PREFIX: prefix },
    });
    const { url } = await child.waitFor('listening');
    return `${String(url)}/ping`;
  }

  it('limits requests across two instances to one shared budget', async () => {
    const prefix = uniqueKeyPrefix();
    const [a, b] = await Promise.all([startApp(prefix), startApp(prefix)]);
    const statuses: number[] = [];
    for (const app of [a, b, a, b, a]) {
      const response = await fetch(app);
      statuses.push(response.status);
      if (response.status === 200) assert.equal(await response.text(), 'pong');
    }
    assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
    const denied = await fetch(b);
    assert.equal(denied.status, 429);
    assert.ok(Number(denied.headers.get('retry-after')) > 0, 'Retry-After set from the block');
  });
});
