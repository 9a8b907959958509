import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ChildApp } from '../../support/child-process.js';
import { startTestRedis, type TestRedis } from '../../support/redis.js';

describe('shutdown', () => {
  let redis: TestRedis;
  before(async () => {
    redis = await startTestRedis();
  });
  after(() => redis.dispose());

  it('leaves no open handles after app.close(): the process exits by itself', async () => {
    const child = ChildApp.spawn('boot-and-close', { env: { REDIS_URL: redis.url } });
    await child.waitFor('closed');
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, child.errorOutput);
  });
});
