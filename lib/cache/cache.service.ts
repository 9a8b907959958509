import { randomBytes } from 'node:crypto';
import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { CodecError } from '../common/codec.js';
import type { WrappedCall } from '../common/method-wrapper.js';
import { CircuitBreaker } from '../connection/circuit-breaker.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type {
  CacheEntryOptions,
  CacheEvictOptions,
  CacheHit,
  CachedOptions,
  CacheWrapOptions,
} from './cache.interfaces.js';
import { callKey, EntryRef, namespaceVersionKey } from './cache.keys.js';
import { checkEntryTtl, resolveFillOptions, type FillOptions } from './cache.options.js';
import { claimFill, setEntry, storeFill } from './scripts/lua.generated.js';

const claimFillScript = new RedisScript(claimFill);
const storeFillScript = new RedisScript(storeFill);
const setEntryScript = new RedisScript(setEntry);

/**
 * How long one cache operation may take before the call goes through to the method: the
 * command connection queues commands while Redis is unreachable, and a cache must not make a
 * method slower than no cache.
 */
const CACHE_OP_TIMEOUT_MS = 1000;
/**
 * After Redis failed, calls skip the cache this long before trying it again (less when the
 * connection reports ready or a late reply arrives first).
 */
const RETRY_AFTER_MS = 1000;
/** What a failed read of an entry could not do. */
const READ = 'read a cache entry';
/** Keys already warned about (non-encodable value…): bounded so a key per call cannot leak. */
const MAX_WARNED_KEYS = 10_000;

/** Outcome of one fill, shared by the callers of one process that missed together. */
interface Fill {
  readonly value: unknown;
  /** The stored text, when the value was stored: joiners decode their own copy from it. */
  readonly text?: string;
}

/** What reading an entry returns: GET's reply, or MGET's of namespace version and entry. */
type EntryReply = string | null | (string | null)[];

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
  private readonly waiters = new Set<(message: string | null) => void>();
  private readonly warnedKeys = new Set<string>();
  /** Bounds every cache operation; open while Redis is known to be down. */
  private readonly breaker: CircuitBreaker;
  private degraded = false;

  constructor(private readonly connections: RedisConnections) {
    this.breaker = new CircuitBreaker(connections, {
      timeoutMs: CACHE_OP_TIMEOUT_MS,
      retryAfterMs: RETRY_AFTER_MS,
    });
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
    const ref = this.entryRef(key, options.namespace);
    const text = entryText(await this.breaker.call(READ, () => this.sendRead(ref)));
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
    const text = this.connections.codec.encode(value);
    const { command } = this.connections;
    await this.breaker.call('store a cache entry', () =>
      ref.namespace === undefined
        ? command.set(ref.entry, text, 'PX', options.ttlMs)
        : setEntryScript.run(command, [ref.entry, ref.version], [text, options.ttlMs]),
    );
  }

  /** Deletes one entry; returns whether it existed. */
  async delete(key: string, options: CacheEntryOptions = {}): Promise<boolean> {
    const ref = this.entryRef(key, options.namespace);
    return (
      (await this.breaker.call('delete a cache entry', () =>
        this.connections.command.del(ref.entry),
      )) === 1
    );
  }

  /**
   * Drops every entry of `namespace` at once, for every instance: bumps the namespace's
   * version (one `INCR`), so entries written under the old one are never read again and
   * expire on their own TTL.
   */
  async invalidate(namespace: string): Promise<void> {
    const version = namespaceVersionKey(this.connections.keys, namespace);
    await this.breaker.call('invalidate a cache namespace', () =>
      this.connections.command.incr(version),
    );
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
    for (const wake of this.waiters) wake(null);
    this.breaker.close();
  }

  private entryRef(key: string, namespace: string | undefined): EntryRef {
    return new EntryRef(this.connections.keys, key, namespace);
  }

  /**
   * Hit path: one GET (or one MGET of version and entry), then a miss fills the entry. Not
   * async, and one `.then` on the read: a hit costs little more than the raw GET.
   */
  private fetch(ref: EntryRef, loader: () => unknown, options: FillOptions): Promise<unknown> {
    // Both checks cost nothing in the common case: no fill in progress, Redis answering.
    const flight = this.flights.size === 0 ? undefined : this.flights.get(ref.entry);
    if (flight) return this.join(ref, flight);
    if (this.breaker.isOpen) return callThrough(loader);
    return this.breaker.call(
      READ,
      () => this.sendRead(ref),
      (reply) => {
        if (this.degraded) this.recovered();
        const text = entryText(reply);
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
    const token = randomBytes(9).toString('base64url');
    let claim: [string, string, number?];
    try {
      claim = (await this.breaker.call('claim a cache fill', () =>
        claimFillScript.run(
          this.connections.command,
          [ref.entry, ref.lease, ref.version],
          [token, options.leaseMs, ref.namespace === undefined ? '0' : '1'],
        ),
      )) as [string, string, number?];
    } catch (error) {
      this.noteFailure(ref, error);
      return { value: await loader() };
    }
    const [state, detail, leaseLeftMs] = claim;
    if (state === 'hit') {
      const text = this.unwrap(ref, detail);
      const value = this.decode(ref, text);
      return value === UNREADABLE ? { value: await loader() } : { value, text };
    }
    if (state === 'won') return this.computeAndStore(ref, loader, options, token, detail);
    const text = await this.waitForFill(ref, Math.min(options.leaseMs, leaseLeftMs ?? 0));
    if (text !== null) {
      const value = this.decode(ref, text);
      if (value !== UNREADABLE) return { value, text };
    }
    // The holder failed, stored nothing, or is too slow: compute here, holding no lease.
    return this.computeAndStore(ref, loader, options, '', detail);
  }

  private async computeAndStore(
    ref: EntryRef,
    loader: () => unknown,
    options: FillOptions,
    token: string,
    version: string,
  ): Promise<Fill> {
    let value: unknown;
    try {
      value = await loader();
    } catch (error) {
      // Not cached; waiters are told at once so they stop waiting and compute themselves.
      await this.store(ref, token, '', version, options).catch(() => undefined);
      throw error;
    }
    const text = this.encode(ref, value, options);
    try {
      const stored = await this.store(ref, token, text ?? '', version, options);
      return stored === '' ? { value } : { value, text: this.unwrap(ref, stored) };
    } catch (error) {
      this.noteFailure(ref, error);
      return { value };
    }
  }

  private async store(
    ref: EntryRef,
    token: string,
    text: string,
    version: string,
    options: FillOptions,
  ): Promise<string> {
    return (await this.breaker.call('store a cache fill', () =>
      storeFillScript.run(
        this.connections.command,
        [ref.entry, ref.lease, ref.version],
        [token, text, version, options.ttlMs, ref.fillChannel],
      ),
    )) as string;
  }

  /**
   * Waits, at most `boundMs`, for the lease holder's notification on the entry's fill channel.
   * Subscribes before reading again, so a fill that lands in between is not missed. Returns
   * the stored text, or null when nothing was stored in time.
   */
  private async waitForFill(ref: EntryRef, boundMs: number): Promise<string | null> {
    let wake!: (message: string | null) => void;
    const message = new Promise<string | null>((resolve) => {
      wake = resolve;
    });
    let unsubscribe: (() => Promise<void>) | undefined;
    let timer: NodeJS.Timeout | undefined;
    this.waiters.add(wake);
    try {
      const hub = await this.breaker.call('open the subscriber connection', () =>
        this.connections.subscriptions(),
      );
      unsubscribe = await this.breaker.call('subscribe to a cache fill', () =>
        hub.subscribe(ref.fillChannel, (text) => wake(text)),
      );
      const current = await this.readText(ref);
      if (current !== null) return current;
      timer = setTimeout(() => wake(null), boundMs);
      const text = await message;
      if (text === null) return await this.readText(ref);
      return text === '' ? null : this.unwrap(ref, text);
    } catch (error) {
      this.noteFailure(ref, error);
      return null;
    } finally {
      clearTimeout(timer);
      this.waiters.delete(wake);
      void unsubscribe?.().catch(() => undefined);
    }
  }

  /**
   * Sends the read of an entry: a GET, or an MGET of namespace version and entry. The caller's
   * continuation attaches to the reply itself, with no promise in between, so it runs before
   * anything that awaited a command sent later: after a freeze, the late reply re-enables the
   * cache before the next call looks.
   */
  private sendRead(ref: EntryRef): Promise<EntryReply> {
    const { command } = this.connections;
    return ref.namespace === undefined
      ? command.get(ref.entry)
      : command.mget(ref.version, ref.entry);
  }

  private readText(ref: EntryRef): Promise<string | null> {
    return this.breaker.call(READ, () => this.sendRead(ref), entryText);
  }

  private unwrap(ref: EntryRef, stored: string): string {
    return ref.namespace === undefined ? stored : stored.slice(stored.indexOf(':') + 1);
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
    let text: string;
    try {
      text = this.connections.codec.encode(value);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.warnOnce(
        ref.entry,
        `Result for cache entry ${labelOf(ref)} not cached: ${error.message}`,
      );
      return undefined;
    }
    if (text === '' || Buffer.byteLength(text) > this.connections.maxPayloadBytes) {
      this.warnOnce(
        ref.entry,
        `Result for cache entry ${labelOf(ref)} not cached: its encoded form is empty or over maxPayloadBytes (${this.connections.maxPayloadBytes})`,
      );
      return undefined;
    }
    return text;
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

/** The entry's current text (without version) in a read's reply; null when missing or invalidated. */
function entryText(reply: EntryReply): string | null {
  if (!Array.isArray(reply)) return reply;
  const [version, entry] = reply;
  if (entry === null || entry === undefined) return null;
  const prefix = `${version ?? '0'}:`;
  return entry.startsWith(prefix) ? entry.slice(prefix.length) : null;
}
