/**
 * How a cache entry is stored in Redis: a one-line header, then the codec's text.
 *
 *     <namespace version>:<fresh until>:<stale until>:<error until>:<tags>\n<text>
 *
 * - the namespace version is the namespace's counter when the entry was computed ('' without
 *   namespace); it comes first so the Lua scripts can check it as a prefix;
 * - the three times are ms since the epoch, on the writer's clock: the entry is served until
 *   `fresh until`, served while one instance refreshes it until `stale until`, and served when
 *   the loader fails until `error until`; Redis drops it after the latest of them;
 * - the tags are a JSON array `[tag, token, tag, token…]`: the token each tag's version key held
 *   when the value began to be computed. The entry is current only while every tag still holds
 *   that token (`invalidateTags()` deletes the key), so invalidation costs the writer one `DEL`.
 *
 * Text that does not parse (written by an older version of the library) reads as missing.
 */
export interface StoredEntry {
  /** The namespace version the entry was computed under; '' without namespace. */
  readonly version: string;
  readonly freshUntil: number;
  /** Until when the entry is served stale while one instance refreshes it (`staleMs`). */
  readonly staleUntil: number;
  /** Until when the entry is served when its loader fails (`staleIfErrorMs`). */
  readonly errorUntil: number;
  /** The entry's tags with the token each one held when the value was computed. */
  readonly tags: readonly TagToken[];
  /** The codec's text of the value. */
  readonly text: string;
  /** The stored header line, with its "\n": what the claim script compares. */
  readonly header: string;
}

/** A tag and the token its version key held. */
export type TagToken = readonly [tag: string, token: string];

/** The lifetimes of an entry written now, from the entry's options. */
export interface EntryLifetimes {
  readonly ttlMs: number;
  readonly staleMs: number;
  readonly staleIfErrorMs: number;
}

/**
 * The stored form of a value without its namespace version (the scripts, or the store for an
 * entry without namespace, put `<version>:` in front), and how long Redis keeps it.
 */
export function entryBody(
  text: string,
  lifetimes: EntryLifetimes,
  tags: readonly TagToken[],
  now = Date.now(),
): { readonly body: string; readonly keepMs: number } {
  const freshUntil = now + lifetimes.ttlMs;
  const staleUntil = freshUntil + lifetimes.staleMs;
  const errorUntil = freshUntil + lifetimes.staleIfErrorMs;
  const tagText = tags.length === 0 ? '' : JSON.stringify(tags.flat());
  return {
    body: `${freshUntil}:${staleUntil}:${errorUntil}:${tagText}\n${text}`,
    keepMs: lifetimeMs(lifetimes),
  };
}

/** How long Redis keeps an entry: `ttlMs` and the longer grace period. */
export function lifetimeMs(lifetimes: EntryLifetimes): number {
  return lifetimes.ttlMs + Math.max(lifetimes.staleMs, lifetimes.staleIfErrorMs);
}

/** Parses a stored entry, with its namespace version; undefined when it is not in this format. */
export function parseEntry(stored: string): StoredEntry | undefined {
  const end = stored.indexOf('\n');
  if (end < 0) return undefined;
  const a = stored.indexOf(':');
  const b = stored.indexOf(':', a + 1);
  const c = stored.indexOf(':', b + 1);
  const d = stored.indexOf(':', c + 1);
  if (a < 0 || d < 0 || d > end) return undefined;
  const freshUntil = Number(stored.slice(a + 1, b));
  const staleUntil = Number(stored.slice(b + 1, c));
  const errorUntil = Number(stored.slice(c + 1, d));
  if (!(freshUntil > 0 && staleUntil >= freshUntil && errorUntil >= freshUntil)) return undefined;
  const tags = d + 1 === end ? NO_TAGS : parseTags(stored.slice(d + 1, end));
  if (tags === undefined) return undefined;
  return {
    version: stored.slice(0, a),
    freshUntil,
    staleUntil,
    errorUntil,
    tags,
    text: stored.slice(end + 1),
    header: stored.slice(0, end + 1),
  };
}

const NO_TAGS: readonly TagToken[] = Object.freeze([]);

function parseTags(text: string): TagToken[] | undefined {
  let flat: unknown;
  try {
    flat = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(flat) || flat.length % 2 !== 0) return undefined;
  const tags: TagToken[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const [tag, token] = [flat[i] as unknown, flat[i + 1] as unknown];
    if (typeof tag !== 'string' || typeof token !== 'string') return undefined;
    tags.push([tag, token]);
  }
  return tags;
}

/**
 * Whether every tag of the entry still holds the token it recorded, given the tokens read for
 * `tags` (null: a tag without token); undefined when the entry carries a tag not among `tags`.
 */
export function tagsHold(
  entry: StoredEntry,
  tags: readonly string[],
  tokens: readonly (string | null)[],
): boolean | undefined {
  for (const [tag, token] of entry.tags) {
    const i = tags.indexOf(tag);
    if (i < 0) return undefined;
    if (tokens[i] !== token) return false;
  }
  return true;
}
