import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CodecError } from '../common/codec.js';
import type { WrappedCall } from '../common/method-wrapper.js';
import { CircuitBreaker } from '../connection/circuit-breaker.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
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
  checkEntryTtl,
  resolveFillOptions,
  RETRY_AFTER_MS,
  type FillOptions,
} from './cache.options.js';
import { CacheStore, type FillClaim, type FillTicket } from './cache.store.js';

/** Keys already warned about (non-encodable value…): bounded so a key per call cannot leak. */
const MAX_WARNED_KEYS = 10_000;

/** Outcome of one fill, shared by the callers of one process that missed together. */
interface Fill {
  readonly value: unknown;
  /** The stored text, when the value was stored: joiners decode their own copy from it. */
  readonly text?: string;
}

/** What {@link CacheService} `decode` returns for a stored string the codec cannot read. */
const UNREADABLE = Symbol('unreadable cache entry');

/** What logs call an entry. */
function labelOf(ref: EntryRef): string {
  return ref.namespace === undefined
    ? `"${ref.key}"`
    : `"${ref.key}" of namespace "${ref.namespace}"`;
}

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
  /** Callers waiting for another instance's fill, woken at shutdown. */
  private readonly waiters = new Set<() => void>();
  private readonly warnedKeys = new Set<string>();
  /** Bounds every cache operation; open while Redis is known to be down. */
  private readonly breaker: CircuitBreaker;
  private readonly store: CacheStore;
  private degraded = false;

  constructor(private readonly connections: RedisConnections) {
    this.breaker = new CircuitBreaker(connections, {
      timeoutMs: CACHE_OP_TIMEOUT_MS,
      retryAfterMs: RETRY_AFTER_MS,
    });
    this.store = new CacheStore(connections, this.breaker);
  }

  /**
   * Returns the cached value of `key`, or computes it with `loader`, stores it for `ttlMs` and
   * returns it. Concurrent misses, in this process and in other instances, share one
   * `loader` call. A `loader` error is thrown to the caller and not cached.
   * @throws CacheOptionsError when the options are invalid.
   */
  async wrap<T>(key: string, loader: () => T | Promise<T>, options: CacheWrapOptions): Promise<T> {
    const fill = resolveFillOptions('CacheService.wrap()', options);
    return (await this.fetch(this.entryRef(key, options.namespace), loader, fill)) as T;
  }

  /**
   * Reads an entry: `undefined` on a miss, `{ value }` on a hit, also when the stored value is
   * `null` or `undefined`.
   * @throws RedisConnectionError when Redis is unreachable.
   */
  async get<T = unknown>(key: string, options: CacheEntryOptions = {}): Promise<CacheHit<T>> {
    const text = await this.store.read(this.entryRef(key, options.namespace));
    return text === null ? undefined : { value: this.connections.codec.decode(text) as T };
  }

  /**
   * Stores `value` for `ttlMs`.
   * @throws CodecError when the value cannot be encoded; RedisConnectionError when Redis is
   * unreachable.
   */
  async set(
    key: string,
    value: unknown,
    options: CacheEntryOptions & { ttlMs: number },
  ): Promise<void> {
    checkEntryTtl(options.ttlMs);
    const ref = this.entryRef(key, options.namespace);
    await this.store.set(ref, this.connections.codec.encode(value), options.ttlMs);
  }

  /** Deletes one entry; returns whether it existed. */
  async delete(key: string, options: CacheEntryOptions = {}): Promise<boolean> {
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
      this.warnOnce(call.name, `${call.name}: arguments have no stable hash; not cached`);
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
        `${call.name}: could not evict ${key === undefined ? `namespace "${options.namespace}"` : `"${key}"`}, it may be served until its TTL ends: ${this.describe(error)}`,
      );
    }
    return result;
  }

  beforeApplicationShutdown(): void {
    for (const wake of this.waiters) wake();
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
          const value = this.decode(ref, text);
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
    const flight = this.fill(ref, loader, options);
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
    const copy = this.decode(ref, text);
    return copy === UNREADABLE ? value : copy;
  }

  /** Computes a missing value once across instances: lease winner computes, others wait. */
  private async fill(ref: EntryRef, loader: () => unknown, options: FillOptions): Promise<Fill> {
    let claim: FillClaim;
    try {
      claim = await this.store.claimFill(ref, options.leaseMs);
    } catch (error) {
      this.noteFailure(ref, error);
      return { value: await loader() };
    }
    if (claim.state === 'hit') {
      const value = this.decode(ref, claim.text);
      return value === UNREADABLE ? { value: await loader() } : { value, text: claim.text };
    }
    if (claim.state === 'won') return this.computeAndStore(ref, loader, options, claim.ticket);
    const text = await this.waitForFill(ref, Math.min(options.leaseMs, claim.leaseLeftMs));
    if (text !== null) {
      const value = this.decode(ref, text);
      if (value !== UNREADABLE) return { value, text };
    }
    // The holder failed, stored nothing, or is too slow: compute here, holding no lease.
    return this.computeAndStore(ref, loader, options, claim.ticket);
  }

  private async computeAndStore(
    ref: EntryRef,
    loader: () => unknown,
    options: FillOptions,
    ticket: FillTicket,
  ): Promise<Fill> {
    let value: unknown;
    try {
      value = await loader();
    } catch (error) {
      // Not cached; waiters are told at once so they stop waiting and compute themselves.
      await this.store.storeFill(ref, ticket, undefined, options.ttlMs).catch(() => undefined);
      throw error;
    }
    const text = this.encode(ref, value, options);
    try {
      const stored = await this.store.storeFill(ref, ticket, text, options.ttlMs);
      return stored === null ? { value } : { value, text: stored };
    } catch (error) {
      this.noteFailure(ref, error);
      return { value };
    }
  }

  /**
   * Waits, at most `boundMs`, for the lease holder's notification on the entry's fill channel.
   * Subscribes before reading again, so a fill that lands in between is not missed. Returns
   * the stored text, or null when nothing was stored in time.
   */
  private async waitForFill(ref: EntryRef, boundMs: number): Promise<string | null> {
    // Woken with the fill's outcome, or with nothing at the bound or at shutdown.
    let wake!: (filled?: { text: string | null }) => void;
    const news = new Promise<{ text: string | null } | undefined>((resolve) => {
      wake = resolve;
    });
    let unsubscribe: Unsubscribe | undefined;
    let timer: NodeJS.Timeout | undefined;
    this.waiters.add(wake);
    try {
      unsubscribe = await this.store.onFill(ref, (text) => wake({ text }));
      const current = await this.store.read(ref);
      if (current !== null) return current;
      timer = setTimeout(() => wake(), boundMs);
      const filled = await news;
      // No news: read once more, the holder may have stored it all the same.
      return filled ? filled.text : await this.store.read(ref);
    } catch (error) {
      this.noteFailure(ref, error);
      return null;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(wake);
      void unsubscribe?.().catch(() => undefined);
    }
  }

  /** The stored value, or {@link UNREADABLE} (warned once per key) when the codec cannot read it. */
  private decode(ref: EntryRef, text: string): unknown {
    try {
      return this.connections.codec.decode(text);
    } catch (error) {
      this.warnOnce(
        ref.entry,
        `Cache entry ${labelOf(ref)} cannot be decoded, recomputing it: ${this.describe(error)}`,
      );
      return UNREADABLE;
    }
  }

  /** The text to store, or undefined when the value is not cached (and why, once per key). */
  private encode(ref: EntryRef, value: unknown, options: FillOptions): string | undefined {
    if ((value === null || value === undefined) && !options.cacheNull) return undefined;
    try {
      return this.store.encodeResult(value);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.warnOnce(
        ref.entry,
        `Result for cache entry ${labelOf(ref)} not cached: ${error.message}`,
      );
      return undefined;
    }
  }

  private noteFailure(ref: EntryRef, error: unknown): void {
    if (!this.breaker.trip(error)) {
      this.warnOnce(ref.entry, `Cache entry ${labelOf(ref)} skipped: ${this.describe(error)}`);
      return;
    }
    if (this.degraded) return;
    this.degraded = true;
    this.logger.warn(
      `Cache unavailable (${this.describe(error)}): cached methods call through until Redis is back`,
    );
  }

  private recovered(): void {
    this.degraded = false;
    this.logger.log('Cache available again: caching resumed');
  }

  private warnOnce(key: string, message: string): void {
    if (this.warnedKeys.has(key)) return;
    if (this.warnedKeys.size >= MAX_WARNED_KEYS) this.warnedKeys.clear();
    this.warnedKeys.add(key);
    this.logger.warn(message);
  }

  private describe(error: unknown): string {
    return this.connections.redact(error instanceof Error ? error.message : String(error));
  }
}

/** Runs the method without the cache; always a Promise, like a cached call. */
function callThrough(loader: () => unknown): Promise<unknown> {
  return Promise.resolve().then(loader);
}
