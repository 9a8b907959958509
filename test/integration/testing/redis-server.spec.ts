import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisServer, uniqueKeyPrefix } from '../../../lib/testing/index.js';
import { runWithTesting } from '../../support/built-testing.js';
import { describeWithRedisServer } from '../../support/redis.js';

describeWithRedisServer('nestjs-redis-coordination/testing', () => {
  it('starts a private Redis and removes it when disposed (await using)', async () => {
    let pid: number;
    let dir: string;
    {
      await using server = await RedisServer.start();
      [pid, dir] = [server.pid!, server.dir];
      const client = new Redis(server.url);
      assert.equal(await client.ping(), 'PONG');
      client.disconnect();
    }
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the server process is gone');
    assert.equal(existsSync(dir), false, 'its data directory is removed');
  });

  it('gives each test a prefix of its own', () => {
    const prefixes = new Set(Array.from({ length: 100 }, () => uniqueKeyPrefix()));
    assert.equal(prefixes.size, 100);
    for (const prefix of prefixes) assert.match(prefix, /^t[0-9a-f]{8}:$/);
  });
});

describe('nestjs-redis-coordination/testing without a redis-server binary', () => {
  it('says at once how to get one, and leaves no data directory behind', () => {
    const run = runWithTesting(
      `await testing.RedisServer.start().then(() => console.log('started'), (e) => console.log(e.message));`,
      { REDIS_SERVER_BIN: '/no/such/redis-server' },
    );
    assert.deepEqual(run.leftInTmpdir, []);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Cannot start \/no\/such\/redis-server: no such program/);
    assert.match(run.stdout, /apt-get install redis-server.*REDIS_SERVER_BIN/s);
  });
});
