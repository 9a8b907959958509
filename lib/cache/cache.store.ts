import { randomBytes } from 'node:crypto';
import { CodecError } from '../common/codec.js';
import type { CircuitBreaker } from '../connection/circuit-breaker.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import { parseEntry, tagsHold, type StoredEntry, type TagToken } from './cache-entry.js';
import { namespaceVersionKey, tagKey, type EntryRef } from './cache.keys.js';
import { claimFill, setEntry, storeFill, tagTokens } from './scripts/lua.generated.js';

const claimFillScript = new RedisScript(claimFill);
const storeFillScript = new RedisScript(storeFill);
const setEntryScript = new RedisScript(setEntry);
const tagTokensScript = new RedisScript(tagTokens);

/** What a failed read of an entry could not do. */
const READ = 'read a cache entry';

/**
 * What a fill stores with: its lease token ('' when it holds no lease), the namespace version
 * read when it began ('' without namespace), so a value computed across an invalidation is not
 * stored, and the tokens its tags held then, which the entry records.
 */
export interface FillTicket {
  readonly token: string;
  readonly version: string;
  readonly tags: readonly TagToken[];
}

/** What {@link CacheStore.claimFill} found. */
export type FillClaim =
  /** Another entry exists after all (its tags are not checked). */
  | { readonly state: 'hit'; readonly entry: StoredEntry; readonly ticket: FillTicket }
  /** This caller holds the lease: it computes the value and stores it with the ticket. */
  | { readonly state: 'won'; readonly ticket: FillTicket }
  /** Another caller holds the lease for `leaseLeftMs` more; the ticket holds no lease. */
  | { readonly state: 'wait'; readonly ticket: FillTicket; readonly leaseLeftMs: number };

/**
 * The cache's Redis side: one typed method per command or script, each bounded by the breaker
 * (a `RedisConnectionError` when Redis is down or silent). Entries are stored in the format of
 * `cache-entry.ts`; `invalidate()` increments a namespace's version (a missing counter reads as
 * `0`), so every entry written before reads as missing and expires on its own TTL. The scripts
 * (`scripts/*.lua`) read and write the same format.
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
   * Reads an entry (null when missing, invalidated with its namespace, or unreadable): one GET,
   * or one MGET of namespace version and entry. Its tags are not checked here. `then` and
   * `otherwise` run in the read's own promise: a hit costs little more than the raw GET.
   */
  read(ref: EntryRef): Promise<StoredEntry | null>;
  read<R>(
    ref: EntryRef,
    then: (entry: StoredEntry | null) => R | PromiseLike<R>,
    otherwise?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R>;
  read<R>(
    ref: EntryRef,
    then?: (entry: StoredEntry | null) => R | PromiseLike<R>,
    otherwise?: (error: unknown) => R | PromiseLike<R>,
  ): Promise<R | StoredEntry | null> {
    const { command } = this.connections;
    if (ref.namespace === undefined) {
      return this.breaker.call<string | null, R | StoredEntry | null>(
        READ,
        () => command.get(ref.entry),
        then ? (stored) => then(currentEntry('', stored)) : (stored) => currentEntry('', stored),
        otherwise,
      );
    }
    const current = ([version, stored]: (string | null)[]) =>
      currentEntry(version ?? '0', stored ?? null);
    return this.breaker.call<(string | null)[], R | StoredEntry | null>(
      READ,
      () => command.mget(ref.version, ref.entry),
      then ? (reply) => then(current(reply)) : current,
      otherwise,
    );
  }

  /** The token each tag holds now, null for a tag that has none (one MGET). */
  readTags(tags: readonly string[]): Promise<(string | null)[]> {
    const keys = tags.map((tag) => tagKey(this.connections.keys, tag));
    return this.breaker.call('read cache tags', () => this.connections.command.mget(keys));
  }

  /** Whether every tag the entry carries still holds the token it recorded (one MGET). */
  async ownTagsHold(entry: StoredEntry): Promise<boolean> {
    if (entry.tags.length === 0) return true;
    const tags = entry.tags.map(([tag]) => tag);
    return tagsHold(entry, tags, await this.readTags(tags)) === true;
  }

  /** Stores an entry's body (`cache-entry.ts`) for `keepMs`, under its namespace's version. */
  async set(ref: EntryRef, body: string, keepMs: number): Promise<void> {
    const { command } = this.connections;
    await this.breaker.call('store a cache entry', () =>
      ref.namespace === undefined
        ? command.set(ref.entry, `:${body}`, 'PX', keepMs)
        : setEntryScript.run(command, [ref.entry, ref.version], [body, keepMs]),
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

  /** Deletes the tags' version keys (one DEL): every entry carrying one is invalid at once. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const keys = tags.map((tag) => tagKey(this.connections.keys, tag));
    const { command } = this.connections;
    await this.breaker.call('invalidate cache tags', () => command.del(keys));
  }

  /**
   * On a miss, or to replace an entry the caller cannot use (`unusable`): reads the entry again
   * and, unless another one is there, tries to take the fill lease for `leaseMs`
   * (claimFill-3.lua). With tags, their tokens are read (tagTokens-1xN.lua) in the same round
   * trip, and kept at least `keepMs`, the entry's lifetime, plus the lease.
   */
  async claimFill(
    ref: EntryRef,
    leaseMs: number,
    tags: readonly string[],
    keepMs: number,
    unusable?: StoredEntry,
  ): Promise<FillClaim> {
    const token = randomBytes(9).toString('base64url');
    const { command } = this.connections;
    const [[state, detail, leaseLeftMs], tokens] = await this.breaker.call(
      'claim a cache fill',
      () =>
        Promise.all([
          claimFillScript.run(
            command,
            [ref.entry, ref.lease, ref.version],
            [token, leaseMs, ref.namespace === undefined ? '0' : '1', unusable?.header ?? ''],
          ) as Promise<['hit' | 'won' | 'wait', string, number?]>,
          this.runTagTokens(tags, keepMs + leaseMs, token),
        ]),
    );
    if (state === 'hit') {
      const entry = parseEntry(detail);
      const ticket = { token: '', version: entry?.version ?? '', tags: tokens };
      // Unreadable: computed again like a missing entry, holding no lease.
      return entry ? { state, entry, ticket } : { state: 'wait', ticket, leaseLeftMs: 0 };
    }
    const ticket = { token: state === 'won' ? token : '', version: detail, tags: tokens };
    return state === 'won' ? { state, ticket } : { state, ticket, leaseLeftMs: leaseLeftMs ?? 0 };
  }

  /**
   * The token each tag holds, giving one to those that have none (tagTokens-1xN.lua), and
   * keeping them at least `keepMs`: what an entry written now records.
   */
  tagTokens(tags: readonly string[], keepMs: number): Promise<TagToken[]> {
    const token = randomBytes(9).toString('base64url');
    return this.breaker.call('read cache tags', () => this.runTagTokens(tags, keepMs, token));
  }

  private async runTagTokens(
    tags: readonly string[],
    keepMs: number,
    token: string,
  ): Promise<TagToken[]> {
    if (tags.length === 0) return [];
    const { command, keys } = this.connections;
    const tokens = (await tagTokensScript.run(
      command,
      tags.map((tag) => tagKey(keys, tag)),
      [token, keepMs],
    )) as string[];
    return tags.map((tag, i): TagToken => [tag, tokens[i]!]);
  }

  /**
   * Ends a fill (storeFill-3.lua): stores `body` for `keepMs` unless the namespace was
   * invalidated since the ticket's version (nothing is stored for `undefined`), frees the lease
   * and tells the waiters. Returns the entry now stored, or null.
   */
  async storeFill(
    ref: EntryRef,
    ticket: FillTicket,
    body: string | undefined,
    keepMs: number,
  ): Promise<StoredEntry | null> {
    const stored = (await this.breaker.call('store a cache fill', () =>
      storeFillScript.run(
        this.connections.command,
        [ref.entry, ref.lease, ref.version],
        [
          ticket.token,
          body ?? '',
          ticket.version,
          keepMs,
          ref.fillChannel,
          this.connections.publishCommand,
        ],
      ),
    )) as string;
    return parseEntry(stored) ?? null;
  }

  /**
   * Subscribes to the entry's fill channel: `listener` gets the entry a fill stored, or null
   * when it stored nothing (the method threw or its result is not cached).
   */
  async onFill(ref: EntryRef, listener: (entry: StoredEntry | null) => void): Promise<Unsubscribe> {
    const hub = await this.breaker.call('open the subscriber connection', () =>
      this.connections.subscriptions(),
    );
    return this.breaker.call('subscribe to a cache fill', () =>
      hub.subscribe(ref.fillChannel, (stored) => listener(parseEntry(stored) ?? null)),
    );
  }
}

/** A stored entry if it is readable and of the namespace version `version` ('' without). */
function currentEntry(version: string, stored: string | null): StoredEntry | null {
  if (stored === null) return null;
  const entry = parseEntry(stored);
  return entry !== undefined && entry.version === version ? entry : null;
}
