import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-connections.js';

/** A server that holds the module's keys and channels. */
export interface RedisServerRef {
  readonly server: Redis;
  /** `host:port` of a Cluster's master; undefined for the one server of a plain connection. */
  readonly node: string | undefined;
}

/** Every server holding the module's keys: each master of a Cluster, else the one server. */
export function serversOf(client: RedisClient): RedisServerRef[] {
  return client instanceof Cluster
    ? client.nodes('master').map((server) => ({ server, node: addressOf(server) }))
    : [{ server: client, node: undefined }];
}

/** `host:port` of one server connection. */
export function addressOf(server: Redis): string {
  return `${server.options.host}:${server.options.port}`;
}

/** One field of an `INFO <section>` reply, e.g. `maxmemory_policy` of `INFO memory`. */
export async function readInfoField(
  server: Redis,
  section: string,
  field: string,
): Promise<string | undefined> {
  return new RegExp(`^${field}:(\\S+)`, 'm').exec(await server.info(section))?.[1];
}
