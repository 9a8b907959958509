import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { InvalidArgumentError, QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import { startModule } from '../../support/nest.js';

const PROCESSES = 4;
/** The test fails if no job completes for this long. */
const STALL_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Queue-wide limits across processes', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  async function queueUnder(keyPrefix: string): Promise<QueueService> {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    return moduleRef.get(QueueService);
  }

  /** Starts the worker processes and waits until every job of the queue is done. */
  async function runToCompletion(queue: QueueService, env: Record<string, string>) {
    for (let i = 0; i < PROCESSES; i++) {
      spawnChild('queue-worker', { env: { REDIS_URL: redis.url, QUEUE: 'jobs', ...env } });
    }
    let lastRemaining = Infinity;
    let lastProgressAt = Date.now();
    for (;;) {
      const counts = await queue.counts('jobs');
      const remaining = counts.waiting + counts.active + counts.delayed;
      if (remaining === 0) return;
      if (remaining < lastRemaining) {
        lastRemaining = remaining;
        lastProgressAt = Date.now();
      }
      assert.ok(Date.now() - lastProgressAt < STALL_MS, `stalled with ${remaining} jobs left`);
      await sleep(100);
    }
  }

  it(`keeps at most 5 jobs active across ${PROCESSES} processes of concurrency 16`, async () => {
    const prefix = 'gc:';
    const queue = await queueUnder(prefix);
    await queue.setGlobalConcurrency('jobs', 5);
    assert.deepEqual(await queue.limits('jobs'), { concurrency: 5 });
    await queue.addBulk(
      'jobs',
      Array.from({ length: 400 }, (_, i) => ({ data: i })),
    );
    await runToCompletion(queue, {
      KEY_PREFIX: prefix,
      DONE_KEY: `${prefix}done`,
      LIVE_KEY: `${prefix}live`,
      LEASE_MS: '10000',
      CONCURRENCY: '16',
      WORK_MS: '20',
    });
    const samples = (await redis.client.lrange(`${prefix}live:samples`, 0, -1)).map(Number);
    assert.equal(samples.length, 400);
    assert.ok(Math.max(...samples) <= 5, `live counts sampled: max ${Math.max(...samples)}`);
    // The limit is reached, not merely respected by a slow queue.
    assert.equal(Math.max(...samples), 5);
  });

  it('starts at most 50 jobs in any one-second window, and keeps the queue moving', async () => {
    const prefix = 'rl:';
    const queue = await queueUnder(prefix);
    await queue.setRateLimit('jobs', { max: 50, durationMs: 1000 });
    const jobs = 200;
    await queue.addBulk(
      'jobs',
      Array.from({ length: jobs }, (_, i) => ({ data: i })),
    );
    await runToCompletion(queue, {
      KEY_PREFIX: prefix,
      DONE_KEY: `${prefix}done`,
      STARTS_KEY: `${prefix}starts`,
      LEASE_MS: '10000',
      CONCURRENCY: '16',
    });
    const starts = (await redis.client.lrange(`${prefix}starts`, 0, -1))
      .map(Number)
      .sort((a, b) => a - b);
    assert.equal(starts.length, jobs);
    // Every window [t, t + 1000) that begins at a start.
    let busiest = 0;
    for (let i = 0, j = 0; i < starts.length; i++) {
      while (j < starts.length && starts[j]! < starts[i]! + 1000) j++;
      busiest = Math.max(busiest, j - i);
    }
    assert.ok(busiest <= 50, `a one-second window held ${busiest} starts`);
    assert.equal(busiest, 50, 'the limit is reached');
  });

  it('refuses bad limits with a typed error, and clears them', async () => {
    const queue = await queueUnder('bad:');
    await assert.rejects(queue.setGlobalConcurrency('jobs', 0), InvalidArgumentError);
    await assert.rejects(
      queue.setRateLimit('jobs', { max: 10, durationMs: 0 }),
      InvalidArgumentError,
    );
    await assert.rejects(
      queue.setRateLimit('jobs', { max: 10, durationMs: 1000, burst: 3 } as never),
      InvalidArgumentError,
    );
    await queue.setRateLimit('jobs', { max: 10, durationMs: 1000 });
    await queue.setGlobalConcurrency('jobs', 3);
    assert.deepEqual(await queue.limits('jobs'), {
      concurrency: 3,
      rateLimit: { max: 10, durationMs: 1000 },
    });
    await queue.setGlobalConcurrency('jobs', null);
    await queue.setRateLimit('jobs', null);
    assert.deepEqual(await queue.limits('jobs'), {});
  });
});
