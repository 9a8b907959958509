import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import type { ChildApp } from '../../support/child-process.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { useChildApps, useRedisServer } from '../../support/hooks.js';

/**
 * A Redis outage under a real ThrottlerGuard: each `whenRedisDown` policy answers at once (200
 * or 503, never a 500 or a hang on ioredis's reconnects), logs the outage once, and throttles
 * again once Redis is back.
 */
describeWithRedisServer('RedisThrottlerStorage while Redis is down', () => {
  describe.each(['express', 'fastify'])('on %s', (adapter) => {
    const server = useRedisServer();
    const spawnChild = useChildApps();

    async function startApp(whenRedisDown?: string): Promise<{ child: ChildApp; url: string }> {
      const child = spawnChild('throttled-app', {
        env: {
          REDIS_URL: server.url,
          KEY_PREFIX: uniqueKeyPrefix(),
          HTTP_ADAPTER: adapter,
          THROTTLER: JSON.stringify({ ttl: 60_000, limit: 2 }),
          ...(whenRedisDown && { WHEN_REDIS_DOWN: whenRedisDown }),
        },
      });
      const { url } = await child.waitFor('listening');
      return { child, url: `${String(url)}/ping` };
    }

    /** Statuses of `count` requests made one after another. */
    async function statuses(url: string, count: number): Promise<number[]> {
      const seen: number[] = [];
      for (let i = 0; i < count; i++) seen.push((await fetch(url)).status);
      return seen;
    }

    /** Requests `url` until it answers `status`; a bound only turns a hang into a failure. */
    async function untilStatus(url: string, status: number): Promise<void> {
      const deadline = Date.now() + 30_000;
      while ((await fetch(url)).status !== status) {
        assert.ok(Date.now() < deadline, `no ${status} from ${url} within 30 s`);
        await sleep(50);
      }
    }

    /** What the storage logged at `level`. */
    function lines(child: ChildApp, level: string): string[] {
      return child.messages
        .filter(
          (message) =>
            message.type === 'log' &&
            message.level === level &&
            message.context === 'RedisThrottlerStorage',
        )
        .map((message) => String(message.message));
    }

    /** Errors logged by anyone: Nest logs each request that failed with a 500. */
    function errors(child: ChildApp): string[] {
      return child.messages
        .filter((message) => message.type === 'log' && message.level === 'error')
        .map((message) => String(message.message));
    }

    it('lets requests through by default and answers 503 with whenRedisDown: reject', async () => {
      const open = await startApp();
      const closed = await startApp('reject');
      assert.deepEqual(await statuses(open.url, 1), [200]);
      assert.deepEqual(await statuses(closed.url, 1), [200]);

      await server.stop();
      // More requests than the limit: none is throttled, none fails.
      assert.deepEqual(await statuses(open.url, 4), [200, 200, 200, 200]);
      assert.deepEqual(await statuses(closed.url, 3), [503, 503, 503]);
      const [openWarning, ...moreOpen] = lines(open.child, 'warn');
      assert.match(
        String(openWarning),
        /Could not count a throttler hit.*requests pass unthrottled/,
      );
      assert.equal(moreOpen.length, 0, 'the outage is logged once');
      const [closedWarning, ...moreClosed] = lines(closed.child, 'warn');
      assert.match(
        String(closedWarning),
        /Could not count a throttler hit.*requests fail with 503/,
      );
      assert.equal(moreClosed.length, 0, 'the outage is logged once');
      for (const child of [open.child, closed.child]) {
        assert.deepEqual(errors(child), [], 'no request failed with a 500');
      }

      await server.restart();
      await untilStatus(open.url, 429);
      await untilStatus(closed.url, 429);
      for (const child of [open.child, closed.child]) {
        assert.ok(lines(child, 'log').some((line) => line.includes('throttled again')));
      }
    });
  });
});
