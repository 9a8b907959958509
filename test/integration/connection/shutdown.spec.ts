import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { ChildApp } from '../../support/child-process.js';
import { useTestRedis } from '../../support/hooks.js';

describe('shutdown', () => {
  const redis = useTestRedis();

  it('leaves no open handles after app.close(): the process exits by itself', async () => {
    const child = ChildApp.spawn('boot-and-close', { env: { REDIS_URL: redis.url } });
    await child.waitFor('closed');
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, child.errorOutput);
  });
});
