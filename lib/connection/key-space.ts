import { assertName } from '../common/validate.js';

/**
 * Builds every Redis key and channel the library uses; no other file joins key strings.
 *
 * A named thing of a capability (a lock resource, a queue, a counter) owns the keys
 * `<prefix>{<capability>:<name>}[:<part>]`. The braces are a Redis Cluster hash tag, so all keys
 * of one thing live in one slot and every multi-key script runs unchanged on a cluster. A name
 * that itself contains `}` ends the tag early, consistently for all its parts: resources
 * `{stock}:a` and `{stock}:b` share the tag `lock:{stock` and so one slot.
 */
export class KeySpace {
  constructor(readonly prefix: string) {}

  /** `<prefix>{<capability>:<name>}`: the hash-tagged base of a named thing's keys. */
  base(capability: string, kind: string, name: unknown): string {
    assertName(kind, name);
    return `${this.prefix}{${capability}:${name}}`;
  }

  /** A key of a named thing: `<prefix>{<capability>:<name>}:<part>`. */
  key(capability: string, kind: string, name: unknown, part: string): string {
    return this.under(this.base(capability, kind, name), part);
  }

  /**
   * A SCAN MATCH pattern for the keys of every named thing of a capability (the prefix's glob
   * characters escaped); read each key's name back with {@link nameIn}.
   */
  scanPattern(capability: string): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}{${capability}:*`;
  }

  /** The thing's name in its key `part` (`undefined` for another part or capability). */
  nameIn(capability: string, key: string, part: string): string | undefined {
    const start = `${this.prefix}{${capability}:`;
    const end = `}:${part}`;
    if (!key.startsWith(start) || !key.endsWith(end)) return undefined;
    return key.slice(start.length, key.length - end.length) || undefined;
  }

  /** A key under a {@link base} already built: for several keys of one thing, checked once. */
  under(base: string, part: string): string {
    return `${base}:${part}`;
  }
}
