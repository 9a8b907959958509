import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisServer, uniqueKeyPrefix } from '../../../lib/testing/index.js';
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
    const scratch = mkdtempSync(join(tmpdir(), 'coord-testing-'));
    const entry = fileURLToPath(new URL('../../../dist/lib/testing/index.js', import.meta.url));
    const run = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { RedisServer } = await import(${JSON.stringify(entry)});
         await RedisServer.start().then(() => console.log('started'), (e) => console.log(e.message));`,
      ],
      {
        env: { ...process.env, REDIS_SERVER_BIN: '/no/such/redis-server', TMPDIR: scratch },
        encoding: 'utf8',
      },
    );
    const left = readdirSync(scratch);
    rmSync(scratch, { recursive: true, force: true });
    assert.deepEqual([...left], []);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /Cannot start \/no\/such\/redis-server: no such program/);
    assert.match(run.stdout, /apt-get install redis-server.*REDIS_SERVER_BIN/s);
  });
});
