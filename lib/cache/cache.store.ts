import { randomBytes } from 'node:crypto';
import { CodecError } from '../common/codec.js';
import type { CircuitBreaker } from '../connection/circuit-breaker.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { namespaceVersionKey, type EntryRef } from './cache.keys.js';
import { claimFill, setEntry, storeFill } from './scripts/lua.generated.js';

const claimFillScript = new RedisScript(claimFill);
const storeFillScript = new RedisScript(storeFill);
const setEntryScript = new RedisScript(setEntry);

/** What a failed read of an entry could not do. */
const READ = 'read a cache entry';

/**
 * What a fill stores with: its lease token ('' when it holds no lease) and the namespace version
 * read when it began ('' without namespace), so a value computed across an invalidation is not
 * stored.
 */
export interface FillTicket {
  readonly token: string;
  readonly version: string;
}

/** What {@link CacheStore.claimFill} found. */
export type FillClaim =
  /** The entry exists after all: its text. */
  | { readonly state: 'hit'; readonly text: string }
  /** This caller holds the lease: it computes the value and stores it with the ticket. */
  | { readonly state: 'won'; readonly ticket: FillTicket }
  /** Another caller holds the lease for `leaseLeftMs` more; the ticket holds no lease. */
  | { readonly state: 'wait'; readonly ticket: FillTicket; readonly leaseLeftMs: number };

/**
 * The cache's Redis side: one typed method per command or script, each bounded by the breaker
 * (a `RedisConnectionError` when Redis is down or silent). Values arrive as the codec's text;
 * this is the only place that knows how an entry is stored:
 *
 * - an entry without namespace holds the text as it is;
 * - a namespaced entry holds `<version>:<text>`, its namespace's version when it was written.
 *   `invalidate()` increments the version (a missing counter reads as `0`), so every entry
 *   written before reads as missing and expires on its own TTL. The scripts
 *   (`scripts/*.lua`) read and write the same format.
 */
export class CacheStore {
  constructor(
    private readonly connections: RedisConnections,
    private readonly breaker: CircuitBreaker,
  ) {}

  /**
   * The text to store for a value (`set()`, or a method's result): the codec's, refused with a
   * {@link CodecError} when the codec refuses the value, or when the text is empty (nothing to
   * tell a fill that stored nothing from one that did) or over `maxPayloadBytes`.
   */
  encodeValue(value: unknown): string {
    const text = this.connections.codec.encode(value);
    if (text === '') throw new CodecError('its encoded form is empty');
    const bytes = Buffer.byteLength(text);
    const { maxPayloadBytes } = this.connections;
    if (bytes > maxPayloadBytes) {
      throw new CodecError(
        `its encoded form is ${bytes} bytes, over maxPayloadBytes (${maxPayloadBytes})`,
      );
    }
    return text;
  }

  /**
   * Reads an entry's text (null when missing or invalidated): one GET, or one MGET of namespace
   * version and entry. `then`/`otherwise` run in the read's own promise: a hit costs little
   * more than the raw GET.
   */
  read(ref: EntryRef): Promise<string | null>;
  read<R>(
    ref: EntryRef,
    then: (text: string | null) => R | PromiseLike<R>,
    otherwise?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R>;
  read<R>(
    ref: EntryRef,
    then?: (text: string | null) => R | PromiseLike<R>,
    otherwise?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R | string | null> {
    const { command } = this.connections;
    if (ref.namespace === undefined) {
      return this.breaker.call<string | null, R | string | null>(
        READ,
        () => command.get(ref.entry),
        then,
        otherwise,
      );
    }
    return this.breaker.call<(string | null)[], R | string | null>(
      READ,
      () => command.mget(ref.version, ref.entry),
      then ? (reply) => then(currentText(reply)) : currentText,
      otherwise,
    );
  }

  /** Stores an entry for `ttlMs`, under its namespace's current version. */
  async set(ref: EntryRef, text: string, ttlMs: number): Promise<void> {
    const { command } = this.connections;
    await this.breaker.call('store a cache entry', () =>
      ref.namespace === undefined
        ? command.set(ref.entry, text, 'PX', ttlMs)
        : setEntryScript.run(command, [ref.entry, ref.version], [text, ttlMs]),
    );
  }

  /** Deletes an entry; returns whether it existed. */
  async delete(ref: EntryRef): Promise<boolean> {
    const { command } = this.connections;
    return (await this.breaker.call('delete a cache entry', () => command.del(ref.entry))) === 1;
  }

  /** Increments the namespace's version: every entry written before is invalid at once. */
  async invalidate(namespace: string): Promise<void> {
    const version = namespaceVersionKey(this.connections.keys, namespace);
    const { command } = this.connections;
    await this.breaker.call('invalidate a cache namespace', () => command.incr(version));
  }

  /**
   * On a miss: reads the entry again and, if still missing, tries to take the fill lease for
   * `leaseMs` (claimFill-3.lua).
   */
  async claimFill(ref: EntryRef, leaseMs: number): Promise<FillClaim> {
    const token = randomBytes(9).toString('base64url');
    const [state, detail, leaseLeftMs] = (await this.breaker.call('claim a cache fill', () =>
      claimFillScript.run(
        this.connections.command,
        [ref.entry, ref.lease, ref.version],
        [token, leaseMs, ref.namespace === undefined ? '0' : '1'],
      ),
    )) as ['hit' | 'won' | 'wait', string, number?];
    if (state === 'hit') return { state, text: this.unwrap(ref, detail) };
    if (state === 'won') return { state, ticket: { token, version: detail } };
    return { state, ticket: { token: '', version: detail }, leaseLeftMs: leaseLeftMs ?? 0 };
  }

  /**
   * Ends a fill (storeFill-3.lua): stores `text` for `ttlMs` unless the namespace was
   * invalidated since the ticket's version (nothing is stored for `undefined`), frees the lease
   * and tells the waiters. Returns the text now stored, or null.
   */
  async storeFill(
    ref: EntryRef,
    ticket: FillTicket,
    text: string | undefined,
    ttlMs: number,
  ): Promise<string | null> {
    const stored = (await this.breaker.call('store a cache fill', () =>
      storeFillScript.run(
        this.connections.command,
        [ref.entry, ref.lease, ref.version],
        [
          ticket.token,
          text ?? '',
          ticket.version,
          ttlMs,
          ref.fillChannel,
          this.connections.publishCommand,
        ],
      ),
    )) as string;
    return stored === '' ? null : this.unwrap(ref, stored);
  }

  /**
   * Subscribes to the entry's fill channel: `listener` gets the text a fill stored, or null
   * when it stored nothing (the method threw or its result is not cached).
   */
  async onFill(ref: EntryRef, listener: (text: string | null) => void): Promise<Unsubscribe> {
    const hub = await this.breaker.call('open the subscriber connection', () =>
      this.connections.subscriptions(),
    );
    return this.breaker.call('subscribe to a cache fill', () =>
      hub.subscribe(ref.fillChannel, (stored) =>
        listener(stored === '' ? null : this.unwrap(ref, stored)),
      ),
    );
  }

  /** The text of a stored entry that is current (what the scripts and the fill channel return). */
  private unwrap(ref: EntryRef, stored: string): string {
    return ref.namespace === undefined ? stored : stored.slice(stored.indexOf(':') + 1);
  }
}

/** The text of a namespaced entry from MGET of version and entry; null when missing or stale. */
function currentText([version, entry]: (string | null)[]): string | null {
  if (entry === null || entry === undefined) return null;
  const prefix = `${version ?? '0'}:`;
  return entry.startsWith(prefix) ? entry.slice(prefix.length) : null;
}
