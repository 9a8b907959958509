import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ChildApp } from '../../support/child-process.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';

/** Exactness across real processes: each runs its own app and connections. */
describe('CounterService across processes', () => {
  let redis: TestRedis;
  let children: ChildApp[] = [];
  const prefix = uniqueKeyPrefix();
  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await redis.dispose();
  });

  async function spawn(count: number) {
    children = Array.from({ length: count }, () =>
      ChildApp.spawn('counter-worker', { env: { REDIS_URL: redis.url, PREFIX: prefix } }),
    );
    await Promise.all(children.map((child) => child.waitFor('ready')));
  }

  it('8 processes x 5000 increments give exactly 40000', async () => {
    await spawn(8);
    for (const child of children) {
      child.send({ type: 'increment', name: 'total', times: 5000, concurrency: 32 });
    }
    await Promise.all(children.map((child) => child.waitFor('incremented')));
    assert.equal(await redis.client.get(`${prefix}{counter:total}`), '40000');
  });

  it('hit() with limit 10 lets exactly 10 of 4 x 100 concurrent hits through', async () => {
    const hitters = children.slice(0, 4);
    for (const child of hitters) {
      child.send({ type: 'hit', name: 'burst', count: 100, limit: 10, windowMs: 60_000 });
    }
    const reports = await Promise.all(hitters.map((child) => child.waitFor('hits')));
    const allowed = reports.reduce((sum, report) => sum + (report.allowed as number), 0);
    assert.equal(allowed, 10);
    assert.equal(await redis.client.zcard(`${prefix}{rate:burst}:hits`), 10);
  });
});
