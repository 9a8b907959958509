import type { WrappedCall } from '../common/method-wrapper.js';
import { assertName } from '../common/validate.js';
import type { KeySpace } from '../connection/key-space.js';
import { stableHash } from './stable-hash.js';

/** The part of a namespace's version counter, under the namespace's base. */
const VERSION = 'v';

/**
 * Where one entry lives in Redis, through the key space. An entry without namespace owns the
 * hash tag `{cache:<key>}`: the entry is the base, its lease and fill channel hang under it.
 * Every key of a namespace shares the tag `{cache:<namespace>}` (so `invalidate()` and the fill
 * scripts run on a cluster): `:v` the version counter, `:e:<key>` the entry, `:l:<key>` its
 * lease, `:f:<key>` its fill channel.
 */
export class EntryRef {
  /** The entry key. */
  readonly entry: string;
  /** The namespace version counter; the entry key itself when the entry has no namespace. */
  readonly version: string;
  private readonly base: string;

  constructor(
    private readonly keys: KeySpace,
    /** The key the caller gave. */
    readonly key: string,
    readonly namespace: string | undefined,
  ) {
    if (namespace === undefined) {
      this.base = keys.base('cache', 'cache key', key); // checks the key
      this.entry = this.version = this.base;
    } else {
      assertName('cache key', key);
      this.base = namespaceBase(keys, namespace);
      this.entry = keys.under(this.base, `e:${key}`);
      this.version = keys.under(this.base, VERSION);
    }
  }

  // The lease and the channel are built on a miss only: a hit needs neither.

  /** The lease whose holder computes a missing value while other instances wait. */
  get lease(): string {
    return this.keys.under(this.base, this.namespace === undefined ? 'lease' : `l:${this.key}`);
  }

  /** Where the lease holder publishes what it stored. */
  get fillChannel(): string {
    return this.keys.under(this.base, this.namespace === undefined ? 'filled' : `f:${this.key}`);
  }
}

/**
 * The version key of a tag: it holds the token entries carrying the tag recorded, and
 * `invalidateTags()` deletes it. Every tag shares one hash tag, so the tags of an entry are read
 * with one `MGET` and invalidated with one `DEL`, on a cluster too (on another node than the
 * entry, in the same round trip).
 */
export function tagKey(keys: KeySpace, tag: string): string {
  assertName('cache tag', tag);
  return keys.under(keys.base('cache-tag', 'cache tag', 'versions'), tag);
}

/** The channel every instance announces its writes and invalidations on, for near caches. */
export function invalidationChannel(keys: KeySpace): string {
  return keys.base('cache-bus', 'cache bus', 'invalidations');
}

/** The version counter of `namespace`, which `invalidate()` increments. */
export function namespaceVersionKey(keys: KeySpace, namespace: string): string {
  return keys.under(namespaceBase(keys, namespace), VERSION);
}

function namespaceBase(keys: KeySpace, namespace: string): string {
  return keys.base('cache', 'cache namespace', namespace);
}

/**
 * The entry key of a decorated call: the fixed `key`, what the key function returns, or
 * `Class.method` plus a stable hash of the arguments; undefined when they have none.
 */
export function callKey(
  call: WrappedCall,
  key: string | ((...args: unknown[]) => string) | undefined,
): string | undefined {
  if (typeof key === 'string') return key;
  if (key) return key(...call.args);
  if (call.args.length === 0) return call.name;
  const hash = stableHash(call.args);
  return hash === undefined ? undefined : `${call.name}:${hash}`;
}
