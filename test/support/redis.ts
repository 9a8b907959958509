import { describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  RedisClusterServers,
  RedisServer,
  redisServerAvailable,
  uniqueKeyPrefix,
} from '../../lib/testing/index.js';

export { RedisServer, RedisClusterServers, uniqueKeyPrefix };

/** A Redis for a test file: REDIS_URL when set, else a private server started for the file. */
export interface TestRedis {
  readonly url: string;
  /** The private server, when this file started one (absent with REDIS_URL). */
  readonly server?: RedisServer;
  /** A plain ioredis client for assertions on Redis state; closed by `dispose()`. */
  readonly client: Redis;
  dispose(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const external = process.env.REDIS_URL;
  const server = external ? undefined : await RedisServer.start();
  const url = external ?? server!.url;
  // disconnectTimeout 0: ioredis would otherwise keep a 2 s timer after disconnect() whenever
  // the socket had closed before (a test stopped the server), outliving the test file.
  const client = new Redis(url, { lazyConnect: true, disconnectTimeout: 0 });
  await client.connect();
  return {
    url,
    server,
    client,
    async dispose() {
      client.disconnect();
      await server?.dispose();
    },
  };
}

/**
 * `describe` for a suite that must control a redis-server process (restart, pause, cluster):
 * skipped where no redis-server binary can be started (REDIS_URL only).
 */
export const describeWithRedisServer: (name: string, fn: () => void) => void =
  redisServerAvailable() ? describe : describe.skip;

/** `it` for a test that needs the file's own private server: skipped with REDIS_URL. */
export const itOnPrivateRedis: (name: string, fn: () => Promise<void>) => void = process.env
  .REDIS_URL
  ? it.skip
  : it;

/** Keys under `prefix` in Redis right now (SCAN, test use only). */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}
