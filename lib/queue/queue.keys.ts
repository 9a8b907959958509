import type { KeySpace } from '../connection/key-space.js';
import { RedisScript, type ScriptSource } from '../connection/script-runner.js';

/** The parts of a queue's keys (includes/queue.lua says what each holds). */
const QUEUE_KEY_PARTS = [
  'wait',
  'active',
  'delayed',
  'jobs',
  'state',
  'errors',
  'results',
  'progress',
  'dead',
  'completed',
  'seq',
  'wake',
  'paused',
  'events',
  'listening',
  'limits',
  'starts',
  'gwait',
  'gpos',
  'groups',
  'gactive',
  'schedulers',
  'schedule',
] as const;

export type QueueKeyPart = (typeof QUEUE_KEY_PARTS)[number];

/** A queue's keys by part, and all of them (`all`). They share one hash tag. */
export type QueueKeys = { readonly [P in QueueKeyPart]: string } & {
  readonly all: readonly string[];
};

/** Builds a queue's keys (through the key space, which owns every key string). */
export function queueKeys(keys: KeySpace, queue: string): QueueKeys {
  const base = keys.base('queue', 'queue name', queue);
  const all = QUEUE_KEY_PARTS.map((part) => keys.under(base, part));
  const byPart = Object.fromEntries(QUEUE_KEY_PARTS.map((part, i) => [part, all[i]!]));
  return Object.freeze({ ...byPart, all }) as unknown as QueueKeys;
}

/** The keys a script names with `--- @keys`, in its order. */
export function keysOfScript(keys: QueueKeys, script: ScriptSource): string[] {
  const names = script.keyNames ?? [];
  return names.map((name) => {
    if (!QUEUE_KEY_PARTS.includes(name as QueueKeyPart)) {
      throw new Error(`Script ${script.name} names an unknown queue key "${name}"`);
    }
    return keys[name as QueueKeyPart];
  });
}

/** One runner per script of a set, made once (module level): each loads its script by SHA. */
export function scriptRunners<N extends string>(
  sources: Record<N, ScriptSource>,
): Record<N, RedisScript> {
  return Object.fromEntries(
    Object.entries<ScriptSource>(sources).map(([name, source]) => [name, new RedisScript(source)]),
  ) as Record<N, RedisScript>;
}

/** Each script's KEYS for one queue, in the order its `--- @keys` line names them. */
export function scriptKeysOf<N extends string>(
  keys: QueueKeys,
  sources: Record<N, ScriptSource>,
): Record<N, string[]> {
  return Object.fromEntries(
    Object.entries<ScriptSource>(sources).map(([name, source]) => [
      name,
      keysOfScript(keys, source),
    ]),
  ) as Record<N, string[]>;
}
