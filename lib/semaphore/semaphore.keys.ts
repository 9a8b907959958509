import type { KeySpace } from '../connection/key-space.js';

/** The keys the acquire and release scripts take, in their `--- @keys` order. */
export const PERMIT_KEY_PARTS = ['holders', 'queue', 'alive'] as const;

type PermitKeyPart = (typeof PERMIT_KEY_PARTS)[number];

/**
 * The Redis keys and release channel of one semaphore; all share the semaphore's hash tag
 * (the scripts' headers say what each key holds).
 */
export type SemaphoreKeys = { readonly [P in PermitKeyPart]: string } & {
  /** The semaphore's name, for messages. */
  readonly name: string;
  /** Where releases are published; each waiting instance listens on its own {@link inboxOf}. */
  readonly channel: string;
  /** The {@link PERMIT_KEY_PARTS} keys, built once per acquisition for its acquire and release. */
  readonly permit: readonly string[];
};

/** Builds a semaphore's keys (through the key space, which owns every key string). */
export function semaphoreKeys(keys: KeySpace, name: string): SemaphoreKeys {
  const base = keys.base('semaphore', 'semaphore name', name);
  const holders = keys.under(base, 'holders');
  const queue = keys.under(base, 'queue');
  const alive = keys.under(base, 'alive');
  return {
    name,
    holders,
    queue,
    alive,
    channel: keys.under(base, 'released'),
    permit: [holders, queue, alive],
  };
}

/**
 * Where the service instance named `instance` hears the releases that name its waiters of a
 * semaphore. The release script builds the same name (lib/common/lua/waiterQueue.lua).
 */
export function inboxOf(keys: SemaphoreKeys, instance: string): string {
  return `${keys.channel}:${instance}`;
}
