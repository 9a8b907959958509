import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CodecError } from '../common/codec.js';
import type { WrappedCall } from '../common/method-wrapper.js';
import { assertName } from '../common/validate.js';
import { CircuitBreaker } from '../connection/circuit-breaker.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { entryBody, tagsHold, type StoredEntry } from './cache-entry.js';
import { CacheFiller, type Fill, type FillRequest } from './cache-fill.js';
import { CacheValues, labelOf, UNREADABLE } from './cache-values.js';
import type {
  CacheEntryOptions,
  CacheEvictOptions,
  CacheHit,
  CachedOptions,
  CacheSetOptions,
  CacheWrapOptions,
} from './cache.interfaces.js';
import { callKey, EntryRef } from './cache.keys.js';
import {
  CACHE_OP_TIMEOUT_MS,
  checkEntryOptions,
  checkLoader,
  checkSetOptions,
  checkTags,
  resolveFillOptions,
  RETRY_AFTER_MS,
  type FillOptions,
  type LocalOptions,
} from './cache.options.js';
import { tracedLookup } from './cache.telemetry.js';
import { telemetryOf, type Telemetry } from '../telemetry/telemetry.js';
import { CacheStore } from './cache.store.js';
import { InvalidationBus } from './invalidation-bus.js';
import { NearCache, type NearEntry } from './near-cache.js';

/**
 * Caches values in Redis for every instance of the app, with stampede protection: a missing
 * value is computed once per process (concurrent callers share the call) and, across
 * processes, by the holder of a short Redis lease while the others wait to be notified of its
 * value. Used directly or through `@Cached()`/`@CacheEvict()`.
 *
 * - Values go through the module's codec: the default `JsonCodec` round-trips `Date`,
 *   `BigInt`, `Map`, `Set` and `undefined`, and a cached `null` is a hit, not a miss.
 * - `invalidate(namespace)` is one `INCR`, `invalidateTags(tags)` one `DEL`: the namespace's
 *   version and the tags' tokens are part of every entry.
 * - `local`: a near cache in this process's memory, kept in step across instances by an
 *   invalidation channel. `staleMs`/`staleIfErrorMs`: serve the last value while it is
 *   refreshed, or when computing it fails.
 * - When Redis is unreachable, `wrap()` and decorated methods call straight through and caching
 *   resumes once it is back; `get/set/delete/invalidate` throw `RedisConnectionError`.
 *
 * @example
 * constructor(private readonly cache: CacheService) {}
 *
 * const product = await this.cache.wrap(`product:${id}`, () => this.db.find(id), {
 *   ttlMs: 60_000,
 *   namespace: 'products',
 *   tags: [`supplier:${supplierId}`],
 * });
 * await this.cache.invalidateTags([`supplier:${supplierId}`]); // every instance misses now
 */
@Injectable()
export class CacheService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('CacheService');
  /** Fills in progress in this process, by entry key: concurrent misses share one call. */
  private readonly flights = new Map<string, Promise<Fill>>();
  /** Stale entries being refreshed in the background by this process, by entry key. */
  private readonly refreshing = new Set<string>();
  /** Bounds every cache operation; open while Redis is known to be down. */
  private readonly breaker: CircuitBreaker;
  private readonly store: CacheStore;
  private readonly values: CacheValues;
  private readonly filler: CacheFiller;
  private readonly near: NearCache;
  private readonly bus: InvalidationBus;
  /** The module's near-cache default for calls that do not say `local`. */
  private readonly defaultLocal: LocalOptions | undefined;
  private degraded = false;

  /** With the module option `telemetry`: spans and lookup counts of reads. */
  private readonly telemetry?: Telemetry;

  constructor(private readonly connections: RedisConnections) {
    this.telemetry = telemetryOf(connections);
    this.breaker = new CircuitBreaker(connections, {
      timeoutMs: CACHE_OP_TIMEOUT_MS,
      retryAfterMs: RETRY_AFTER_MS,
    });
    this.store = new CacheStore(connections, this.breaker);
    this.values = new CacheValues(connections, this.store, this.logger);
    this.filler = new CacheFiller(this.store, this.values, (ref, error) =>
      this.noteFailure(ref, error),
    );
    this.near = new NearCache(connections.cache);
    this.bus = new InvalidationBus(connections, this.near, this.logger, (error) =>
      this.values.describe(error),
    );
    this.defaultLocal = connections.cache.local;
  }

  /**
   * Returns the cached value of `key`, or computes it with `loader`, stores it for `ttlMs` and
   * returns it (get-or-set). Concurrent misses, in this process and in other instances, share
   * one `loader` call. A `loader` error is thrown to the caller and not cached.
   * @throws CacheOptionsError when the options are invalid.
   */
  async wrap<T>(key: string, loader: () => T | Promise<T>, options: CacheWrapOptions): Promise<T> {
    checkLoader(loader);
    const fill = resolveFillOptions('CacheService.wrap()', options);
    const ref = this.entryRef(key, options.namespace);
    const request = { ref, loader, options: fill, tags: fill.tags, lookup: undefined };
    return (await this.fetch(request)) as T;
  }

  /**
   * Reads an entry: `undefined` on a miss, `{ value }` on a hit, also when the stored value is
   * `null` or `undefined`. An entry past its `ttlMs` (in its stale period) is a miss here.
   * @throws RedisConnectionError when Redis is unreachable.
   */
  async get<T = unknown>(key: string, options: CacheEntryOptions = {}): Promise<CacheHit<T>> {
    checkEntryOptions(options);
    const ref = this.entryRef(key, options.namespace);
    const entry = await this.store.read(ref);
    if (entry === null || Date.now() >= entry.freshUntil) return undefined;
    if (!(await this.store.ownTagsHold(entry))) return undefined;
    return { value: this.connections.codec.decode(entry.text) as T };
  }

  /**
   * Stores `value` for `ttlMs`, with its `tags`; near caches of every instance drop their copy.
   * @throws CodecError when the value cannot be encoded or its encoded form is over the module's
   * `maxPayloadBytes` (nothing is stored); RedisConnectionError when Redis is unreachable.
   */
  async set(key: string, value: unknown, options: CacheSetOptions): Promise<void> {
    const tags = checkSetOptions(options);
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
    const lifetimes = { ttlMs: options.ttlMs, staleMs: 0, staleIfErrorMs: 0 };
    const tokens = tags.length === 0 ? [] : await this.store.tagTokens(tags, options.ttlMs);
    const { body, keepMs } = entryBody(text, lifetimes, tokens);
    try {
      await this.store.set(ref, body, keepMs);
    } finally {
      this.bus.announce({ keys: [ref.entry] });
    }
  }

  /** Deletes one entry, on every instance's near cache too; returns whether it existed. */
  async delete(key: string, options: CacheEntryOptions = {}): Promise<boolean> {
    checkEntryOptions(options);
    const ref = this.entryRef(key, options.namespace);
    try {
      return await this.store.delete(ref);
    } finally {
      this.bus.announce({ keys: [ref.entry] });
    }
  }

  /**
   * Drops every entry of `namespace` at once, for every instance: bumps the namespace's
   * version (one `INCR`), so entries written under the old one are never read again and
   * expire on their own TTL.
   */
  async invalidate(namespace: string): Promise<void> {
    assertName('cache namespace', namespace);
    try {
      await this.store.invalidate(namespace);
    } finally {
      this.bus.announce({ namespaces: [namespace] });
    }
  }

  /**
   * Drops every entry carrying one of `tags`, for every instance: deletes the tags' tokens (one
   * `DEL`), so entries that recorded them are never read again and expire on their own TTL.
   * @throws InvalidKeyError for a tag that is not a usable name.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const checked = checkTags(tags);
    if (checked.length === 0) return;
    try {
      await this.store.invalidateTags(checked);
    } finally {
      this.bus.announce({ tags: checked });
    }
  }

  /** @internal The body of `@Cached()`. */
  runCached(call: WrappedCall, options: CachedOptions<unknown[]>, fill: FillOptions): unknown {
    const key = callKey(call, options.key);
    if (key === undefined) {
      this.values.warnOnce(call.name, `${call.name}: arguments have no stable hash; not cached`);
      return callThrough(call.proceed);
    }
    const tags =
      typeof options.tags === 'function' ? checkTags(options.tags(...call.args)) : fill.tags;
    const ref = this.entryRef(key, options.namespace);
    return this.fetch({ ref, loader: call.proceed, options: fill, tags, lookup: undefined });
  }

  /** @internal The body of `@CacheEvict()`: evicts after the method succeeded. */
  async runEvict(call: WrappedCall, options: CacheEvictOptions<unknown[]>): Promise<unknown> {
    const result = await call.proceed();
    const { namespace } = options;
    const key = options.key === undefined ? undefined : callKey(call, options.key);
    const tags = typeof options.tags === 'function' ? options.tags(...call.args) : options.tags;
    const evictions: [what: string, evict: () => Promise<unknown>][] = [];
    if (tags !== undefined) {
      evictions.push([`tags ${JSON.stringify(tags)}`, () => this.invalidateTags(tags)]);
    }
    if (key !== undefined) evictions.push([`"${key}"`, () => this.delete(key, { namespace })]);
    else if (namespace !== undefined) {
      evictions.push([`namespace "${namespace}"`, () => this.invalidate(namespace)]);
    }
    // The method succeeded: its result stands, and one failed eviction does not skip the others.
    for (const [what, evict] of evictions) {
      await evict().catch((error: unknown) =>
        this.logger.warn(
          `${call.name}: could not evict ${what}, it may be served until its TTL ends: ${this.values.describe(error)}`,
        ),
      );
    }
    return result;
  }

  beforeApplicationShutdown(): void {
    this.filler.wakeAll();
    this.bus.close();
    this.breaker.close();
  }

  private entryRef(key: string, namespace: string | undefined): EntryRef {
    return new EntryRef(this.connections.keys, key, namespace);
  }

  /**
   * Hit path: memory, else one read (with the tags' tokens in the same round trip), then a miss
   * fills the entry. Not async, and the continuations run in the read's own promise: a hit
   * costs little more than the raw GET.
   */
  private fetch(request: FillRequest): Promise<unknown> {
    const { telemetry } = this;
    if (!telemetry) return this.lookup(request);
    // Built field by field, in the order every request is: one object shape on the hot path.
    const { ref, loader, options, tags } = request;
    return tracedLookup(telemetry, ref.namespace, (lookup) =>
      this.lookup({ ref, loader, options, tags, lookup }),
    );
  }

  /** {@link fetch}, noting what it found in `request.lookup` (when telemetry asks). */
  private lookup(request: FillRequest): Promise<unknown> {
    const { ref, lookup } = request;
    const local = this.localOf(request.options);
    if (local) {
      const kept = this.near.get(ref.entry, Date.now());
      lookup?.local(kept !== undefined);
      if (kept) return Promise.resolve(this.keptValue(kept));
      this.bus.listen();
    }
    // Both checks cost nothing in the common case: no fill in progress, Redis answering.
    const flight = this.flights.size === 0 ? undefined : this.flights.get(ref.entry);
    if (flight) return this.join(request, flight);
    if (this.breaker.isOpen) return this.withoutRedis(request, undefined);
    const read = new Read(request, local, this.near.mark());
    const failed = (error: unknown) => this.withoutRedis(request, error);
    if (request.tags.length === 0) {
      return this.store.read(ref, (entry) => this.serve(read, entry, NO_TOKENS), failed);
    }
    return Promise.all([this.store.read(ref), this.store.readTags(request.tags)]).then(
      ([entry, tokens]) => this.serve(read, entry, tokens),
      failed,
    );
  }

  /**
   * Serves what a read found: fresh, stale while refreshed, or filled. Not async: a hit returns
   * its value straight into the read's promise.
   */
  private serve(
    read: Read,
    entry: StoredEntry | null,
    tokens: readonly (string | null)[],
  ): unknown {
    if (this.degraded) this.recovered();
    if (entry === null) return this.fillOnce(read);
    const current = tagsHold(entry, read.request.tags, tokens);
    if (current === undefined) {
      // Tagged differently than this call says: check the entry's own tags (one more read).
      return this.store.ownTagsHold(entry).then(
        (current) => this.serveChecked(read, entry, current),
        (error: unknown) => this.withoutRedis(read.request, error),
      );
    }
    return this.serveChecked(read, entry, current);
  }

  /** Serves an entry whose tags were checked (`current`: none was invalidated). */
  private serveChecked(read: Read, entry: StoredEntry, current: boolean): unknown {
    // Invalidated: never served, not even stale.
    if (!current) return this.fillOnce(read, entry);
    const now = Date.now();
    if (now >= entry.staleUntil) return this.fillOnce(read, entry, entry);
    const value = this.values.decode(read.request.ref, entry.text);
    if (value === UNREADABLE) return this.fillOnce(read, entry);
    const { lookup } = read.request;
    if (now < entry.freshUntil) {
      lookup?.found('hit');
      if (read.local) this.keep(read, entry, value);
      return value;
    }
    lookup?.found('stale');
    this.refreshInBackground(read.request, entry);
    return value;
  }

  /**
   * Fills a missing or unusable entry, once per process. `fallback`: the entry to serve if the
   * loader fails, while its `staleIfErrorMs` lasts.
   */
  private async fillOnce(read: Read, unusable?: StoredEntry, fallback?: StoredEntry) {
    const { ref, lookup } = read.request;
    const existing = this.flights.get(ref.entry);
    if (existing) return this.join(read.request, existing);
    lookup?.found('miss');
    const flight = this.filler.fill(read.request, unusable);
    this.flights.set(ref.entry, flight);
    try {
      const { value, entry } = await flight;
      if (read.local && entry) this.keep(read, entry, value);
      return value;
    } catch (error) {
      if (fallback && Date.now() < fallback.errorUntil) {
        const value = this.values.decode(ref, fallback.text);
        if (value !== UNREADABLE) return this.servedOnError(ref, value, error);
      }
      throw error;
    } finally {
      this.flights.delete(ref.entry);
    }
  }

  /** Recomputes a stale entry without anyone waiting: one instance does, the lease winner. */
  private refreshInBackground(request: FillRequest, stale: StoredEntry): void {
    const { ref } = request;
    if (this.refreshing.has(ref.entry)) return;
    this.refreshing.add(ref.entry);
    this.filler
      .refresh(request, stale)
      .catch((error: unknown) => {
        this.values.warnOnce(
          ref.entry,
          `Cache entry ${labelOf(ref)} could not be refreshed, its stale value is served until its staleMs ends: ${this.values.describe(error)}`,
        );
      })
      .finally(() => this.refreshing.delete(ref.entry));
  }

  /**
   * Redis could not be read (`error`; none when it is known to be down): the method is called
   * through; if it fails, a near-cached value still in its `staleIfErrorMs` is served.
   */
  private async withoutRedis(request: FillRequest, error: unknown): Promise<unknown> {
    const { ref } = request;
    if (error !== undefined) this.noteFailure(ref, error);
    try {
      return await request.loader();
    } catch (loaderError) {
      const kept = this.near.getFailSafe(ref.entry, Date.now());
      if (!kept) throw loaderError;
      return this.servedOnError(ref, this.keptValue(kept), loaderError);
    }
  }

  private servedOnError(ref: EntryRef, value: unknown, error: unknown): unknown {
    this.values.warnOnce(
      `${ref.entry}\0failed`,
      `Cache entry ${labelOf(ref)}: computing it failed, the last value is served while its staleIfErrorMs lasts: ${this.values.describe(error)}`,
    );
    return value;
  }

  private async join({ ref, lookup }: FillRequest, flight: Promise<Fill>): Promise<unknown> {
    lookup?.found('fill-wait');
    const { value, entry } = await flight;
    // Each caller gets its own copy, as on a hit: one caller mutating it cannot affect another.
    if (entry === undefined) return value;
    const copy = this.values.decode(ref, entry.text);
    return copy === UNREADABLE ? value : copy;
  }

  private localOf(options: FillOptions): LocalOptions | undefined {
    return options.local === undefined ? this.defaultLocal : options.local || undefined;
  }

  private keep(read: Read, entry: StoredEntry, value: unknown): void {
    const { ref } = read.request;
    this.near.put(ref.entry, entry, ref.namespace, value, read.local!, read.mark, Date.now());
  }

  /** A near-cached value: the shared one, or a copy decoded for this caller. */
  private keptValue(kept: NearEntry): unknown {
    if (kept.shared) return kept.shared.value;
    return this.connections.codec.decode(kept.stored.text);
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

/** One read of a call: what it asks, whether it keeps the value in memory, and when it began. */
class Read {
  constructor(
    readonly request: FillRequest,
    readonly local: LocalOptions | undefined,
    /** The near cache's mark before the read: it keeps the result only if nothing changed. */
    readonly mark: number,
  ) {}
}

const NO_TOKENS: readonly (string | null)[] = Object.freeze([]);

/** Runs the method without the cache; always a Promise, like a cached call. */
function callThrough(loader: () => unknown): Promise<unknown> {
  return Promise.resolve().then(loader);
}
