import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import type { RedisClient } from '../../lib/connection/redis-connections.js';
import { resolveShardedPubSub } from '../../lib/connection/sharded-pubsub.js';
import { InvalidOptionsError } from '../../lib/index.js';

/** A one-server client stub whose `INFO server` reports `version`. */
function serverRunning(version: string): RedisClient {
  const info = async (section: string) => {
    assert.equal(section, 'server');
    return `# Server\r\nredis_version:${version}\r\nredis_mode:standalone\r\n`;
  };
  return { info, options: { host: '127.0.0.1', port: 6379 } } as unknown as RedisClient;
}

describe('resolveShardedPubSub', () => {
  it('stays off unless asked, and then never asks the server', async () => {
    assert.equal(await resolveShardedPubSub({} as RedisClient, undefined), false);
    assert.equal(await resolveShardedPubSub({} as RedisClient, false), false);
  });

  it('turns on when asked and the server runs Redis 7 or later', async () => {
    assert.equal(await resolveShardedPubSub(serverRunning('7.0.15'), true), true);
  });

  it('refuses shardedPubSub: true on an older Redis, naming the version', async () => {
    await assert.rejects(
      resolveShardedPubSub(serverRunning('6.2.14'), true),
      (error) =>
        error instanceof InvalidOptionsError &&
        /shardedPubSub: true needs Redis 7 or later.*runs 6\.2\.14/.test(error.message),
    );
  });
});
