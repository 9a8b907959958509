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
}

/** Options of `CacheService.get/set/delete()`. */
export interface CacheEntryOptions {
  /** Namespace of the entry (see {@link CacheWrapOptions.namespace}). */
  namespace?: string;
}

/**
 * Options of `@Cached()`. `A` is the parameter list of the key function: the decorated method's
 * leading parameters must match it.
 */
export interface CachedOptions<A extends unknown[] = []> extends CacheWrapOptions {
  /**
   * The entry's key: a fixed string, or a function of the method's leading arguments.
   * @default `Class.method` plus a stable hash of the arguments (object key order ignored)
   */
  key?: string | ((...args: A) => string);
}

/** Options of `@CacheEvict()`: evict one entry (with `key`) or a whole `namespace`. */
export interface CacheEvictOptions<A extends unknown[] = []> {
  /** Namespace to evict from; without `key`, the whole namespace is invalidated. */
  namespace?: string;
  /** The entry to evict: a fixed string, or a function of the method's leading arguments. */
  key?: string | ((...args: A) => string);
}

/** A cache read: `undefined` on a miss, `{ value }` on a hit (also when the value is `null`). */
export type CacheHit<T> = { value: T } | undefined;
