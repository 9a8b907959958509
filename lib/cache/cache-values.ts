import type { LoggerService } from '@nestjs/common';
import { CodecError } from '../common/codec.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import type { EntryRef } from './cache.keys.js';
import type { FillOptions } from './cache.options.js';
import type { CacheStore } from './cache.store.js';

/** Keys already warned about (non-encodable value…): bounded so a key per call cannot leak. */
const MAX_WARNED_KEYS = 10_000;

/** What {@link CacheValues.decode} returns for a stored string the codec cannot read. */
export const UNREADABLE = Symbol('unreadable cache entry');

/** What logs call an entry. */
export function labelOf(ref: EntryRef): string {
  return ref.namespace === undefined
    ? `"${ref.key}"`
    : `"${ref.key}" of namespace "${ref.namespace}"`;
}

/**
 * Turns cached values to and from their stored text for the cache's read-through paths, where
 * a value that cannot be stored or read is not an error for the caller: it is warned about once
 * per entry, and the method's own result is used instead.
 */
export class CacheValues {
  private readonly warnedKeys = new Set<string>();

  constructor(
    private readonly connections: RedisConnections,
    private readonly store: CacheStore,
    private readonly logger: LoggerService,
  ) {}

  /** The stored value, or {@link UNREADABLE} (warned once per key) when the codec cannot read it. */
  decode(ref: EntryRef, text: string): unknown {
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
  encode(ref: EntryRef, value: unknown, options: FillOptions): string | undefined {
    if ((value === null || value === undefined) && !options.cacheNull) return undefined;
    try {
      return this.store.encodeValue(value);
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.warnOnce(
        ref.entry,
        `Result for cache entry ${labelOf(ref)} not cached: ${error.message}`,
      );
      return undefined;
    }
  }

  warnOnce(key: string, message: string): void {
    if (this.warnedKeys.has(key)) return;
    if (this.warnedKeys.size >= MAX_WARNED_KEYS) this.warnedKeys.clear();
    this.warnedKeys.add(key);
    this.logger.warn(message);
  }

  /** An error's message, safe to log. */
  describe(error: unknown): string {
    return this.connections.redact(error instanceof Error ? error.message : String(error));
  }
}
