import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import type { RedisClient } from '../../lib/connection/redis-connections.js';
import { RedisScript, type ScriptSource } from '../../lib/connection/script-runner.js';
import { keysOfScript, queueKeys } from '../../lib/queue/queue.keys.js';
import { KeySpace } from '../../lib/connection/key-space.js';
import { countJobs } from '../../lib/queue/scripts/lua.generated.js';

/** A client that records what it was asked to run and answers 'OK'. */
function recordingClient(): { client: RedisClient; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const client = {
    evalsha: (...args: unknown[]) => {
      calls.push(args);
      return Promise.resolve('OK');
    },
  } as unknown as RedisClient;
  return { client, calls };
}

describe('RedisScript key shape', () => {
  const fixed: ScriptSource = { name: 'fixed', numberOfKeys: 2, lua: 'return 1' };
  const grouped: ScriptSource = {
    name: 'grouped',
    numberOfKeys: 3,
    grouped: true,
    lua: 'return 1',
  };

  it('runs a fixed script only with its exact number of keys', async () => {
    const { client, calls } = recordingClient();
    const script = new RedisScript(fixed);
    await script.run(client, ['a', 'b'], ['x']);
    assert.deepEqual(calls[0], [script.sha, 2, 'a', 'b', 'x']);
    await assert.rejects(script.run(client, ['a'], []), /fixed takes 2 keys, was given 1/);
    await assert.rejects(script.run(client, ['a', 'b', 'c', 'd'], []), /was given 4/);
    assert.equal(calls.length, 1);
  });

  it('runs a grouped script with any positive multiple of its group, nothing else', async () => {
    const { client, calls } = recordingClient();
    const script = new RedisScript(grouped);
    await script.run(client, ['a', 'b', 'c'], []);
    await script.run(client, ['a', 'b', 'c', 'd', 'e', 'f'], []);
    assert.deepEqual(
      calls.map((call) => call[1]),
      [3, 6],
    );
    await assert.rejects(script.run(client, ['a', 'b', 'c', 'd'], []), /groups of 3 keys/);
    await assert.rejects(script.run(client, [], []), /groups of 3 keys, was given 0/);
    assert.equal(calls.length, 2);
  });
});

describe('queue scripts take the keys their --- @keys line names', () => {
  const keys = queueKeys(new KeySpace('p:'), 'q');

  it('in that order', () => {
    assert.deepEqual(countJobs.keyNames, [
      'wait',
      'active',
      'delayed',
      'completed',
      'dead',
      'paused',
      'gwait',
    ]);
    assert.deepEqual(keysOfScript(keys, countJobs), [
      keys.wait,
      keys.active,
      keys.delayed,
      keys.completed,
      keys.dead,
      keys.paused,
      keys.gwait,
    ]);
  });

  it('refuses a name that is not a queue key', () => {
    assert.throws(
      () => keysOfScript(keys, { ...countJobs, keyNames: ['wait', 'nope'] }),
      /countJobs names an unknown queue key "nope"/,
    );
  });
});
