import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { useChildApps, useTestRedis } from '../../support/hooks.js';

/** Options of the app's default throttler, as ThrottlerModule takes them. */
interface Throttler {
  ttl: number;
  limit: number;
  blockDuration?: number;
}

/**
 * The adapter plugged into a real ThrottlerGuard on Express and on Fastify, over HTTP, with the
 * behaviour of @nestjs/throttler's own in-memory storage (its e2e specs) as the reference.
 */
describe.each(['express', 'fastify'])(
  'RedisThrottlerStorage with @nestjs/throttler on %s',
  (adapter) => {
    const redis = useTestRedis();
    const spawnChild = useChildApps();

    /** Starts the throttled app (test/fixtures/throttled-app.ts); returns its base URL. */
    async function startApp(prefix: string, throttler?: Throttler): Promise<string> {
      const child = spawnChild('throttled-app', {
        env: {
          REDIS_URL: redis.url,
          KEY_PREFIX: prefix,
          HTTP_ADAPTER: adapter,
          ...(throttler && { THROTTLER: JSON.stringify(throttler) }),
        },
      });
      const { url } = await child.waitFor('listening');
      return String(url);
    }

    /** The header as a number (NaN when absent). */
    function header(response: Response, name: string): number {
      return Number(response.headers.get(name) ?? NaN);
    }

    /** Requests `url` until `done(response)`; a bound only turns a hang into a failure. */
    async function requestUntil(
      url: string,
      done: (response: Response) => boolean,
    ): Promise<Response> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const response = await fetch(url);
        if (done(response)) return response;
        assert.ok(Date.now() < deadline, `still ${response.status} from ${url} after 30 s`);
        await sleep(50);
      }
    }

    it('limits requests across two instances to one shared budget, exactly', async () => {
      const prefix = uniqueKeyPrefix();
      const [a, b] = await Promise.all([
        startApp(prefix, { ttl: 60_000, limit: 5 }),
        startApp(prefix, { ttl: 60_000, limit: 5 }),
      ]);
      const responses = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetch(`${i % 2 ? a : b}/ping`)),
      );
      const statuses = responses.map((response) => response.status);
      assert.equal(statuses.filter((status) => status === 200).length, 5, String(statuses));
      assert.equal(statuses.filter((status) => status === 429).length, 15, String(statuses));

      // One record in Redis for both: the hits (5 allowed, the 6th blocked) and the window/block.
      const keys = await keysUnder(redis.client, prefix);
      assert.equal(keys.length, 2, String(keys));
      const [hits] = keys.filter((key) => key.endsWith(':hits'));
      assert.equal(await redis.client.zcard(hits!), 6);
      for (const key of keys) assert.ok((await redis.client.pttl(key)) > 0, `${key} expires`);
    });

    it('answers 429 with Retry-After over the limit and sets the X-RateLimit headers', async () => {
      const url = `${await startApp(uniqueKeyPrefix(), { ttl: 60_000, limit: 2, blockDuration: 5_000 })}/ping`;
      for (const remaining of [1, 0]) {
        const response = await fetch(url);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), 'pong');
        assert.equal(header(response, 'x-ratelimit-limit'), 2);
        assert.equal(header(response, 'x-ratelimit-remaining'), remaining);
        const reset = header(response, 'x-ratelimit-reset');
        assert.ok(reset > 0 && reset <= 60, `X-RateLimit-Reset ${reset}`);
      }
      const blocked = await fetch(url);
      assert.equal(blocked.status, 429);
      assert.equal(header(blocked, 'retry-after'), 5, 'the block just started');
      const still = await fetch(url);
      assert.equal(still.status, 429);
      const retryAfter = header(still, 'retry-after');
      assert.ok(retryAfter >= 1 && retryAfter <= 5, `Retry-After ${retryAfter}`);
    });

    it('lets a blocked client through again once blockDuration is over, with a fresh count', async () => {
      // ttl far beyond the block: what ends the block is blockDuration, not the hits expiring.
      const url = `${await startApp(uniqueKeyPrefix(), { ttl: 60_000, limit: 2, blockDuration: 1_000 })}/ping`;
      assert.equal((await fetch(url)).status, 200);
      assert.equal((await fetch(url)).status, 200);
      const blocked = await fetch(url);
      assert.equal(blocked.status, 429);
      assert.equal(header(blocked, 'retry-after'), 1);
      const blockedAt = Date.now();

      const released = await requestUntil(url, (response) => response.status !== 429);
      assert.equal(released.status, 200);
      assert.ok(Date.now() - blockedAt >= 500, 'not released long before blockDuration');
      assert.equal(header(released, 'x-ratelimit-remaining'), 1, 'counting starts afresh');
      assert.equal((await fetch(url)).status, 200);
      assert.equal((await fetch(url)).status, 429, 'and blocks again over the limit');
    });

    it('treats limit 0 and ttl 0 as the in-memory storage does, not as errors', async () => {
      const base = await startApp(uniqueKeyPrefix());
      for (let i = 0; i < 3; i++) {
        // limit 0: the first request already exceeds it, and blocks.
        const limitZero = await fetch(`${base}/limit-0`);
        assert.equal(limitZero.status, 429);
        const blockedFor = header(limitZero, 'retry-after');
        assert.ok(blockedFor > 0 && blockedFor <= 60, `Retry-After ${blockedFor}`);
        // ...and without a block, every request is denied until the window ends.
        const noBlock = await fetch(`${base}/limit-0-no-block`);
        assert.equal(noBlock.status, 429);
        const untilReset = header(noBlock, 'retry-after');
        assert.ok(untilReset > 0 && untilReset <= 60, `Retry-After ${untilReset}`);

        // ttl 0: a hit expires at once, so no request ever counts against another.
        for (const route of ['ttl-0', 'ttl-0-block']) {
          const response = await fetch(`${base}/${route}`);
          assert.equal(response.status, 200, route);
          assert.equal(header(response, 'x-ratelimit-reset'), 0, route);
        }
        // ttl 0 and limit 0: denied, and nothing to wait for.
        const both = await fetch(`${base}/ttl-0-limit-0`);
        assert.equal(both.status, 429);
        assert.equal(header(both, 'retry-after'), 0);
      }
      const ttlZero = await fetch(`${base}/ttl-0`);
      assert.equal(header(ttlZero, 'x-ratelimit-remaining'), 1, 'only this request counts');
    });
  },
);
