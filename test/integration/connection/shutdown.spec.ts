import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { ChildApp } from '../../support/child-process.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { useRedisServer } from '../../support/hooks.js';

describeWithRedisServer('shutdown', () => {
  const server = useRedisServer();

  it('leaves no open handles after app.close(): the process exits by itself', async () => {
    const child = ChildApp.spawn('boot-and-close', { env: { REDIS_URL: server.url } });
    await child.waitFor('closed');
    const exit = await child.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, child.errorOutput);
  });

  it('leaves no socket or timer behind when Redis was down at close', async () => {
    const child = ChildApp.spawn('boot-and-close', {
      env: { REDIS_URL: server.url, CLOSE_WHEN: 'asked' },
    });
    await child.waitFor('ready');
    await server.stop();
    child.send({ type: 'close' });
    const { running } = await child.waitFor('closed');
    // Only the IPC channel to this test may remain (no socket, no timer).
    const left = (running as string[]).filter((resource) => resource !== 'PipeWrap');
    assert.equal(left.join(', '), '');
    assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
    await server.restart();
  });
});
