import type { KeySpace } from '../connection/key-space.js';

/** The parts of a queue's keys, in the order every queue script takes them (includes/queue.lua). */
const QUEUE_KEY_PARTS = [
  'wait',
  'active',
  'delayed',
  'jobs',
  'state',
  'errors',
  'dead',
  'completed',
  'seq',
  'wake',
  'paused',
] as const;

/** A queue's keys by part, and in script order (`all`). They share one hash tag. */
export type QueueKeys = { readonly [P in (typeof QUEUE_KEY_PARTS)[number]]: string } & {
  readonly all: readonly string[];
};

/** Builds a queue's keys (through the key space, which owns every key string). */
export function queueKeys(keys: KeySpace, queue: string): QueueKeys {
  const base = keys.base('queue', 'queue name', queue);
  const all = QUEUE_KEY_PARTS.map((part) => keys.under(base, part));
  const byPart = Object.fromEntries(QUEUE_KEY_PARTS.map((part, i) => [part, all[i]!]));
  return Object.freeze({ ...byPart, all }) as unknown as QueueKeys;
}
