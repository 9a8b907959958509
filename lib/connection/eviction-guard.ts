import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connections.js';
import { addressOf, readInfoField, serversOf } from './redis-servers.js';

/** One Redis server's eviction policy, as `INFO memory` reports it. */
export interface EvictionPolicy {
  /** The server, `host:port` (a Cluster's master), or undefined for the one server connected. */
  readonly node: string | undefined;
  /** `maxmemory_policy`; undefined when the server does not report it. */
  readonly policy: string | undefined;
}

/**
 * The `maxmemory-policy` of every server that holds the module's keys (each master of a
 * Cluster, else the one server), read with `INFO memory`: unlike `CONFIG GET`, managed services
 * allow it.
 */
export async function readEvictionPolicies(client: RedisClient): Promise<EvictionPolicy[]> {
  return Promise.all(
    serversOf(client).map(async ({ server, node }) => ({
      node,
      policy: await readInfoField(server, 'memory', 'maxmemory_policy'),
    })),
  );
}

/** The servers among `policies` that may evict keys: any policy but `noeviction`. */
export function evictingServers(policies: readonly EvictionPolicy[]): EvictionPolicy[] {
  return policies.filter(({ policy }) => policy !== undefined && policy !== 'noeviction');
}

/**
 * Calls `listener` when the servers behind `client` may have changed: a reconnect (to a new
 * master after a Sentinel failover, or a restarted server), or a Cluster whose masters differ
 * after a slots refresh.
 */
export function onNewServers(client: RedisClient, listener: () => void): void {
  if (!(client instanceof Cluster)) {
    client.on('ready', listener);
    return;
  }
  const mastersOf = () => client.nodes('master').map(addressOf).sort().join(',');
  let masters = mastersOf();
  client.on('refresh', () => {
    const now = mastersOf();
    if (now === masters) return;
    masters = now;
    listener();
  });
}
