import { LRUCache } from 'lru-cache';
import type { StoredEntry } from './cache-entry.js';
import type { LocalOptions, ResolvedCacheOptions } from './cache.options.js';

/** One value kept in this process's memory. */
export interface NearEntry {
  /** As read from Redis: a copy is decoded from its text on each hit unless `shared`. */
  readonly stored: StoredEntry;
  readonly namespace: string | undefined;
  /** The decoded value, served to every caller when the call opted into shared values. */
  readonly shared: { readonly value: unknown } | undefined;
  /** Served from memory until then; kept longer only as a fail-safe (`staleIfErrorMs`). */
  readonly localUntil: number;
  /** Served only in the bus session it was kept in. */
  readonly session: number;
}

/**
 * The near cache: an LRU of entries in this process, in front of Redis. It serves only while
 * the invalidation bus is listening ({@link live}), and only entries kept in the bus's current
 * session: after the bus's connection was lost, entries kept before may have missed an
 * invalidation. They stay only as a fail-safe for while Redis cannot be read. Every change
 * (an eviction, a session) bumps the {@link mark}, so a Redis read that began before an
 * invalidation arrived cannot put its older value back.
 */
export class NearCache {
  private readonly entries: LRUCache<string, NearEntry>;
  private epoch = 0;
  private session = 0;
  private listening = false;

  constructor(options: ResolvedCacheOptions) {
    this.entries = new LRUCache<string, NearEntry>({
      max: options.maxEntries,
      ...(options.maxBytes === undefined
        ? {}
        : {
            maxSize: options.maxBytes,
            sizeCalculation: (entry: NearEntry) => Math.max(1, entry.stored.text.length * 2),
          }),
    });
  }

  /** Whether memory may be served and filled: the bus hears every change. */
  get live(): boolean {
    return this.listening;
  }

  /** The bus started or stopped hearing changes: what is kept may have missed some. */
  setLive(live: boolean): void {
    this.listening = live;
    this.session++;
    this.epoch++;
  }

  /** The entry to serve now, if any. */
  get(key: string, now: number): NearEntry | undefined {
    if (!this.listening) return undefined;
    const entry = this.entries.get(key);
    return entry !== undefined && entry.session === this.session && now < entry.localUntil
      ? entry
      : undefined;
  }

  /**
   * The entry kept as a fail-safe, when its call set `staleIfErrorMs`, while that lasts (also
   * past its time, and when the bus is not listening: Redis cannot say better).
   */
  getFailSafe(key: string, now: number): NearEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const { errorUntil, freshUntil } = entry.stored;
    return errorUntil > freshUntil && now < errorUntil ? entry : undefined;
  }

  /** Taken before a Redis read: {@link put} keeps its result only if nothing changed since. */
  mark(): number {
    return this.epoch;
  }

  /** Keeps an entry read (or stored) since `mark`, for `local.ttlMs` at most. */
  put(
    key: string,
    stored: StoredEntry,
    namespace: string | undefined,
    value: unknown,
    local: LocalOptions,
    mark: number,
    now: number,
  ): void {
    if (!this.listening || mark !== this.epoch) return;
    const localUntil = Math.min(now + local.ttlMs, stored.freshUntil);
    const keepUntil = Math.max(localUntil, stored.errorUntil);
    if (keepUntil <= now) return;
    const shared = local.shared ? { value } : undefined;
    // No LRU ttl: the times are checked on each read, and an entry past them is only a slot
    // the LRU reuses first.
    this.entries.set(key, { stored, namespace, shared, localUntil, session: this.session });
  }

  /** Drops entries by key, namespace or tag. */
  evict(keys: readonly string[], namespaces: readonly string[], tags: readonly string[]): void {
    this.epoch++;
    for (const key of keys) this.entries.delete(key);
    if (namespaces.length === 0 && tags.length === 0) return;
    // A scan of at most `maxEntries`: cheaper than keeping an index from tags to keys current.
    const droppedNamespaces = new Set(namespaces);
    const droppedTags = new Set(tags);
    const dropped: string[] = [];
    for (const [key, entry] of this.entries.entries()) {
      if (
        (entry.namespace !== undefined && droppedNamespaces.has(entry.namespace)) ||
        entry.stored.tags.some(([tag]) => droppedTags.has(tag))
      ) {
        dropped.push(key);
      }
    }
    for (const key of dropped) this.entries.delete(key);
  }
}
