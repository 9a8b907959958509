/** Options shared by `CacheService.wrap()` and `@Cached()`. */
export interface CacheWrapOptions {
  /** How long a stored value is served, in ms (integer >= 1). */
  ttlMs: number;
  /**
   * Namespace of the entry. `cache.invalidate(namespace)` drops every entry of it in O(1)
   * (the namespace's version is part of each entry). Omit for entries that are only evicted
   * one by one.
   */
  namespace?: string;
  /**
   * Tags of the entry: `cache.invalidateTags([tag])` drops every entry carrying one of them, on
   * every instance, in O(1) for the writer. Reading a tagged entry checks its tags in the same
   * round trip.
   */
  tags?: readonly string[];
  /**
   * Whether a `null`/`undefined` result is stored. A stored `null` is a hit (distinct from a
   * miss); with the default, a method that returns `null` runs again on the next call.
   * @default false
   */
  cacheNull?: boolean;
  /**
   * How long one instance may hold the right to compute a missing value while other instances
   * wait for it, in ms. Waiters compute it themselves when the lease ends without a value, so
   * choose it above the method's usual run time.
   * @default 10_000
   */
  leaseMs?: number;
  /**
   * Stale-while-revalidate: for this long after `ttlMs`, the old value is still served at once
   * while one instance (the lease holder) computes the new one in the background. An
   * invalidated entry (key, namespace or tag) is never served stale.
   * @default 0
   */
  staleMs?: number;
  /**
   * Fail-safe: for this long after `ttlMs`, when computing the value fails (the loader throws,
   * or Redis is down and the near cache still has it), the last value is served instead of the
   * error, which is logged once per key. Never for an invalidated entry.
   * @default 0
   */
  staleIfErrorMs?: number;
  /**
   * Near cache: keep the value in this process's memory too, so a hit needs no network. `false`
   * turns off the module's default (`cache.local`), `true` uses it.
   */
  local?: boolean | LocalCacheOptions;
}

/** How an entry is kept in the near cache (the in-process LRU in front of Redis). */
export interface LocalCacheOptions {
  /**
   * How long this process serves the value from memory, in ms (never past `ttlMs`). Writes and
   * invalidations on any instance evict it sooner, through the invalidation bus; this bounds
   * how stale it can be when a change is missed (a value deleted outside the library).
   */
  ttlMs: number;
  /**
   * Serve the same object to every caller instead of a copy decoded for each. Faster, but a
   * caller that mutates the value changes it for every other caller of this process.
   * @default false
   */
  shared?: boolean;
}

/** Module option `cache`. */
export interface CacheModuleOptions {
  /**
   * The near cache: its bounds, and the default for calls that do not say `local` (omit its
   * `ttlMs` to keep calls off the near cache unless they ask).
   */
  local?: NearCacheModuleOptions;
}

/** Module option `cache.local`. */
export interface NearCacheModuleOptions extends Partial<LocalCacheOptions> {
  /**
   * How many entries this process keeps, least recently used dropped first.
   * @default 10_000
   */
  maxEntries?: number;
  /** How many bytes of stored text this process keeps at most (counted as UTF-16). */
  maxBytes?: number;
}

/** Options of `CacheService.get/delete()`. */
export interface CacheEntryOptions {
  /** Namespace of the entry (see {@link CacheWrapOptions.namespace}). */
  namespace?: string;
}

/** Options of `CacheService.set()`. */
export interface CacheSetOptions extends CacheEntryOptions {
  /** How long the value is served, in ms (integer >= 1). */
  ttlMs: number;
  /** Tags of the entry (see {@link CacheWrapOptions.tags}). */
  tags?: readonly string[];
}

/**
 * Options of `@Cached()`. `A` is the parameter list of the key and tags functions: the decorated
 * method's leading parameters must match it.
 */
export interface CachedOptions<A extends unknown[] = []> extends Omit<CacheWrapOptions, 'tags'> {
  /**
   * The entry's key: a fixed string, or a function of the method's leading arguments.
   * @default `Class.method` plus a stable hash of the arguments (object key order ignored)
   */
  key?: string | ((...args: A) => string);
  /** The entry's tags: fixed, or a function of the method's leading arguments. */
  tags?: readonly string[] | ((...args: A) => readonly string[]);
}

/**
 * Options of `@CacheEvict()`: evict one entry (with `key`), a whole `namespace`, or every entry
 * carrying one of `tags`.
 */
export interface CacheEvictOptions<A extends unknown[] = []> {
  /** Namespace to evict from; without `key`, the whole namespace is invalidated. */
  namespace?: string;
  /** The entry to evict: a fixed string, or a function of the method's leading arguments. */
  key?: string | ((...args: A) => string);
  /** Tags to invalidate: fixed, or a function of the method's leading arguments. */
  tags?: readonly string[] | ((...args: A) => readonly string[]);
}

/** A cache read: `undefined` on a miss, `{ value }` on a hit (also when the value is `null`). */
export type CacheHit<T> = { value: T } | undefined;
