import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CodecError } from '../common/codec.js';
import type { WrappedCall } from '../common/method-wrapper.js';
import { CircuitBreaker } from '../connection/circuit-breaker.js';
import { RedisConnections } from '../connection/redis-connections.js';
import type {
  CacheEntryOptions,
  CacheEvictOptions,
  CacheHit,
  CachedOptions,
  CacheWrapOptions,
} from './cache.interfaces.js';
import { callKey, EntryRef } from './cache.keys.js';
import {
  CACHE_OP_TIMEOUT_MS,
  checkLoader,
  checkEntryOptions,
  checkSetOptions,
  resolveFillOptions,
  RETRY_AFTER_MS,
  type FillOptions,
} from './cache.options.js';
import { CacheStore } from './cache.store.js';
import { CacheFiller, type Fill } from './cache-fill.js';
import { CacheValues, labelOf, UNREADABLE } from './cache-values.js';

/**
 * Caches values in Redis for every instance of the app, with stampede protection: a missing
 * value is computed once per process (concurrent callers share the call) and, across
 * processes, by the holder of a short Redis lease while the others wait to be notified of its
 * value. Used directly or through `@Cached()`/`@CacheEvict()`.
 *
 * - Values go through the module's codec: the default `JsonCodec` round-trips `Date`,
 *   `BigInt`, `Map`, `Set` and `undefined`, and a cached `null` is a hit, not a miss.
 * - `invalidate(namespace)` is one `INCR`: the namespace's version is part of every entry.
 * - When Redis is unreachable, `wrap()` and decorated methods call straight through and caching
 *   resumes once it is back; `get/set/delete/invalidate` throw `RedisConnectionError`.
 *
 * @example
 * constructor(private readonly cache: CacheService) {}
 *
 * const product = await this.cache.wrap(`product:${id}`, () => this.db.find(id), {
 *   ttlMs: 60_000,
 *   namespace: 'products',
 * });
 * await this.cache.invalidate('products'); // every instance misses from now on
 */
@Injectable()
export class CacheService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('CacheService');
  /** Fills in progress in this process, by entry key: concurrent misses share one call. */
  private readonly flights = new Map<string, Promise<Fill>>();
  /** Bounds every cache operation; open while Redis is known to be down. */
  private readonly breaker: CircuitBreaker;
  private readonly store: CacheStore;
  private readonly values: CacheValues;
  private readonly filler: CacheFiller;
  private degraded = false;

  constructor(private readonly connections: RedisConnections) {
    this.breaker = new CircuitBreaker(connections, {
      timeoutMs: CACHE_OP_TIMEOUT_MS,
      retryAfterMs: RETRY_AFTER_MS,
    });
    this.store = new CacheStore(connections, this.breaker);
    this.values = new CacheValues(connections, this.store, this.logger);
    this.filler = new CacheFiller(this.store, this.values, (ref, error) =>
      this.noteFailure(ref, error),
    );
  }

  /**
   * Returns the cached value of `key`, or computes it with `loader`, stores it for `ttlMs` and
   * returns it. Concurrent misses, in this process and in other instances, share one
   * `loader` call. A `loader` error is thrown to the caller and not cached.
   * @throws CacheOptionsError when the options are invalid.
   */
  async wrap<T>(key: string, loader: () => T | Promise<T>, options: CacheWrapOptions): Promise<T> {
    checkLoader(loader);
    const fill = resolveFillOptions('CacheService.wrap()', options);
    return (await this.fetch(this.entryRef(key, options.namespace), loader, fill)) as T;
  }

  /**
   * Reads an entry: `undefined` on a miss, `{ value }` on a hit, also when the stored value is
   * `null` or `undefined`.
   * @throws RedisConnectionError when Redis is unreachable.
   */
  async get<T = unknown>(key: string, options: CacheEntryOptions = {}): Promise<CacheHit<T>> {
    checkEntryOptions(options);
    const text = await this.store.read(this.entryRef(key, options.namespace));
    return text === null ? undefined : { value: this.connections.codec.decode(text) as T };
  }

  /**
   * Stores `value` for `ttlMs`.
   * @throws CodecError when the value cannot be encoded or its encoded form is over the module's
   * `maxPayloadBytes` (nothing is stored); RedisConnectionError when Redis is unreachable.
   */
  async set(
    key: string,
    value: unknown,
    options: CacheEntryOptions & { ttlMs: number },
  ): Promise<void> {
    checkSetOptions(options);
    const ref = this.entryRef(key, options.namespace);
    let text: string;
    try {
      text = this.store.encodeValue(value);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      throw new CodecError(`Cache entry ${labelOf(ref)} not stored: ${error.message}`, {
        cause: error,
      });
    }
    await this.store.set(ref, text, options.ttlMs);
  }

  /** Deletes one entry; returns whether it existed. */
  async delete(key: string, options: CacheEntryOptions = {}): Promise<boolean> {
    checkEntryOptions(options);
    return this.store.delete(this.entryRef(key, options.namespace));
  }

  /**
   * Drops every entry of `namespace` at once, for every instance: bumps the namespace's
   * version (one `INCR`), so entries written under the old one are never read again and
   * expire on their own TTL.
   */
  async invalidate(namespace: string): Promise<void> {
    await this.store.invalidate(namespace);
  }

  /** @internal The body of `@Cached()`. */
  runCached(call: WrappedCall, options: CachedOptions<unknown[]>, fill: FillOptions): unknown {
    const key = callKey(call, options.key);
    if (key === undefined) {
      this.values.warnOnce(call.name, `${call.name}: arguments have no stable hash; not cached`);
      return callThrough(call.proceed);
    }
    return this.fetch(this.entryRef(key, options.namespace), call.proceed, fill);
  }

  /** @internal The body of `@CacheEvict()`: evicts after the method succeeded. */
  async runEvict(call: WrappedCall, options: CacheEvictOptions<unknown[]>): Promise<unknown> {
    const result = await call.proceed();
    const key = options.key === undefined ? undefined : callKey(call, options.key);
    try {
      if (key === undefined) await this.invalidate(options.namespace!);
      else await this.delete(key, { namespace: options.namespace });
    } catch (error) {
      // The method succeeded: its result stands; the stale entry lives until its TTL.
      this.logger.warn(
        `${call.name}: could not evict ${key === undefined ? `namespace "${options.namespace}"` : `"${key}"`}, it may be served until its TTL ends: ${this.values.describe(error)}`,
      );
    }
    return result;
  }

  beforeApplicationShutdown(): void {
    this.filler.wakeAll();
    this.breaker.close();
  }

  private entryRef(key: string, namespace: string | undefined): EntryRef {
    return new EntryRef(this.connections.keys, key, namespace);
  }

  /**
   * Hit path: one read, then a miss fills the entry. Not async, and the continuations run in
   * the read's own promise: a hit costs little more than the raw GET.
   */
  private fetch(ref: EntryRef, loader: () => unknown, options: FillOptions): Promise<unknown> {
    // Both checks cost nothing in the common case: no fill in progress, Redis answering.
    const flight = this.flights.size === 0 ? undefined : this.flights.get(ref.entry);
    if (flight) return this.join(ref, flight);
    if (this.breaker.isOpen) return callThrough(loader);
    return this.store.read(
      ref,
      (text) => {
        if (this.degraded) this.recovered();
        if (text !== null) {
          const value = this.values.decode(ref, text);
          if (value !== UNREADABLE) return value;
        }
        return this.fillOnce(ref, loader, options);
      },
      (error) => {
        this.noteFailure(ref, error);
        return loader();
      },
    );
  }

  private async fillOnce(ref: EntryRef, loader: () => unknown, options: FillOptions) {
    const existing = this.flights.get(ref.entry);
    if (existing) return this.join(ref, existing);
    const flight = this.filler.fill(ref, loader, options);
    this.flights.set(ref.entry, flight);
    try {
      return (await flight).value;
    } finally {
      this.flights.delete(ref.entry);
    }
  }

  private async join(ref: EntryRef, flight: Promise<Fill>): Promise<unknown> {
    const { value, text } = await flight;
    // Each caller gets its own copy, as on a hit: one caller mutating it cannot affect another.
    if (text === undefined) return value;
    const copy = this.values.decode(ref, text);
    return copy === UNREADABLE ? value : copy;
  }

  private noteFailure(ref: EntryRef, error: unknown): void {
    if (!this.breaker.trip(error)) {
      this.values.warnOnce(
        ref.entry,
        `Cache entry ${labelOf(ref)} skipped: ${this.values.describe(error)}`,
      );
      return;
    }
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(
      `Cache unavailable (${this.values.describe(error)}): cached methods call through until Redis is back`,
    );
  }

  private recovered(): void {
    this.degraded = false;
    this.logger.log('Cache available again: caching resumed');
  }
}

/** Runs the method without the cache; always a Promise, like a cached call. */
function callThrough(loader: () => unknown): Promise<unknown> {
  return Promise.resolve().then(loader);
}
