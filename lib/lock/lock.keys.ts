import type { KeySpace } from '../connection/key-space.js';

/** The Redis keys and release channel of one lock resource; all share the resource's hash tag. */
export interface ResourceKeys {
  /** The holder's owner value (see lock.store.ts), expiring with the lease. */
  readonly owner: string;
  /** Waiting tokens by arrival. */
  readonly queue: string;
  /** Waiting tokens by the time their entry expires. */
  readonly alive: string;
  /** Read holds: readers' tokens by when their lease ends. */
  readonly readers: string;
  /** Where releases are published; each waiting instance listens on its own {@link inboxOf}. */
  readonly channel: string;
}

/** Builds a resource's keys (through the key space, which owns every key string). */
export function resourceKeys(keys: KeySpace, resource: string): ResourceKeys {
  const base = keys.base('lock', 'lock resource', resource);
  return {
    owner: keys.under(base, 'owner'),
    queue: keys.under(base, 'queue'),
    alive: keys.under(base, 'alive'),
    readers: keys.under(base, 'readers'),
    channel: keys.under(base, 'released'),
  };
}

/**
 * Where the service instance named `instance` hears the releases that name its waiters of a
 * resource. The scripts build the same name (common/lua/waiterQueue.lua).
 */
export function inboxOf(keys: ResourceKeys, instance: string): string {
  return `${keys.channel}:${instance}`;
}
