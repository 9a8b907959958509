import { Cluster } from 'ioredis';
import { InvalidOptionsError } from '../common/coordination.error.js';
import type { RedisClient } from './redis-connections.js';
import { readInfoField, serversOf } from './redis-servers.js';

/** The first Redis version with sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`). */
const SHARDED_PUBSUB_SINCE_MAJOR = 7;

/**
 * Whether the module uses sharded pub/sub, from the module option `shardedPubSub` and the
 * servers: unset, it is on for a Cluster whose masters all run Redis 7 or later (a Cluster copies
 * every plain `PUBLISH` to every node; a single server gains nothing). Set to true on an older
 * Redis, start fails with {@link InvalidOptionsError}.
 */
export async function resolveShardedPubSub(
  client: RedisClient,
  option: boolean | undefined,
): Promise<boolean> {
  if (option === false) return false;
  if (option === undefined && !(client instanceof Cluster)) return false;
  const versions = await Promise.all(
    serversOf(client).map(async ({ server, node }) => ({
      node,
      version: (await readInfoField(server, 'server', 'redis_version')) ?? '0',
    })),
  );
  const older = versions.filter(
    ({ version }) => Number(version.split('.')[0]) < SHARDED_PUBSUB_SINCE_MAJOR,
  );
  if (older.length === 0) return true;
  if (option === undefined) return false;
  const servers = older.map(({ node, version }) => `${node ?? 'the server'} runs ${version}`);
  throw new InvalidOptionsError([
    `shardedPubSub: true needs Redis ${SHARDED_PUBSUB_SINCE_MAJOR} or later (SPUBLISH/SSUBSCRIBE), but ${servers.join(', ')}: upgrade Redis, or leave shardedPubSub unset`,
  ]);
}
