import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { resumeLostHolder, stressPastCrashedHolders } from './crashed-holders.js';
import { ChildApp } from '../../support/child-process.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';

const STRESSED = 6;
const ITERATIONS = 200;
const LIMIT = 3;

describe('semaphore across processes, with holders killed and paused', () => {
  let redis: TestRedis;
  let prefix: string;
  let workers: ChildApp[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
    prefix = uniqueKeyPrefix();
    const env = { REDIS_URL: redis.url, SEMAPHORE_PREFIX: prefix };
    // Six that take permits in a loop, then one to SIGKILL and one to SIGSTOP while holding.
    workers = Array.from({ length: STRESSED + 2 }, () =>
      ChildApp.spawn('semaphore-worker', { env }),
    );
    await Promise.all(workers.map((worker) => worker.waitFor('ready')));
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await redis.dispose();
  });

  it(`never lets more than ${LIMIT} holders in over ${STRESSED * ITERATIONS} acquisitions`, async () => {
    const stressed = workers.slice(0, STRESSED);
    const [killed, paused] = workers.slice(STRESSED) as [ChildApp, ChildApp];
    // Two of the three permits go to holders that then crash or freeze holding them.
    await stressPastCrashedHolders({
      stressed,
      killed,
      paused,
      limit: LIMIT,
      iterations: ITERATIONS,
      holderTtlMs: 1500,
      ttlMs: 5000,
    });
    assert.equal(Number(await redis.client.get(`${prefix}work`)), STRESSED * ITERATIONS);

    await resumeLostHolder(paused);
    assert.equal(Number(await redis.client.get(`${prefix}work`)), STRESSED * ITERATIONS);
  });
});
