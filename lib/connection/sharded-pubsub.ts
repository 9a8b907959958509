import { InvalidOptionsError } from '../common/coordination.error.js';
import type { RedisClient } from './redis-connections.js';
import { readInfoField, serversOf } from './redis-servers.js';

/** The first Redis version with sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`). */
const SHARDED_PUBSUB_SINCE_MAJOR = 7;

/**
 * Whether the module uses sharded pub/sub: only when the module option `shardedPubSub` is true
 * (why it is off by default: see the option). Set to true on a Redis older than 7, start fails
 * with {@link InvalidOptionsError}.
 */
export async function resolveShardedPubSub(
  client: RedisClient,
  option: boolean | undefined,
): Promise<boolean> {
  if (option !== true) return false;
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
  const servers = older.map(({ node, version }) => `${node ?? 'the server'} runs ${version}`);
  throw new InvalidOptionsError([
    `shardedPubSub: true needs Redis ${SHARDED_PUBSUB_SINCE_MAJOR} or later (SPUBLISH/SSUBSCRIBE), but ${servers.join(', ')}: upgrade Redis, or leave shardedPubSub unset`,
  ]);
}
