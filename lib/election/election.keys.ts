import type { KeySpace } from '../connection/key-space.js';
import type { ResourceKeys } from '../lock/lock.keys.js';

/** The Redis keys and channel of one election; all share the election's hash tag. */
export interface ElectionKeys {
  /**
   * The leader's lease, a lock (lib/lock) taken without a waiter queue: its owner value names
   * the leader's instance and its term (the fencing token). The queue keys and release channel
   * are never written; the lock's scripts take them as KEYS, so they are named in the same slot.
   */
  readonly lease: ResourceKeys;
  /** Where a new leader or a resignation is announced. */
  readonly changed: string;
}

/** Builds an election's keys (through the key space, which owns every key string). */
export function electionKeys(keys: KeySpace, name: string): ElectionKeys {
  const base = keys.base('election', 'election name', name);
  return {
    lease: {
      owner: keys.under(base, 'leader'),
      queue: keys.under(base, 'queue'),
      alive: keys.under(base, 'alive'),
      readers: keys.under(base, 'readers'),
      channel: keys.under(base, 'released'),
    },
    changed: keys.under(base, 'changed'),
  };
}
