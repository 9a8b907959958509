import { RedisCoordinationError } from './coordination.error.js';

/**
 * Turns values into the strings stored in Redis and back. Queue payloads, pub/sub messages and
 * cache entries all go through the module's codec (option `codec`), so one choice serves all.
 */
export interface Codec {
  /** Returns the stored form of `value`; throws {@link CodecError} when it cannot be encoded. */
  encode(value: unknown): string;
  /** Returns the value of a stored string; throws {@link CodecError} when it is not one. */
  decode(text: string): unknown;
}

/** A value could not be encoded (function, symbol, cycle) or a stored string could not be decoded. */
export class CodecError extends RedisCoordinationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CODEC', message, options);
  }
}

/** Marks the tagged form; no JSON text starts with it, so plain JSON is never mistaken for it. */
const TAGGED = '#';
/** Property that carries a tag in the tagged form. */
const TAG = '$t';
const MAX_DEPTH = 512;

type Tagged = { [TAG]: string; v?: unknown };

/**
 * The default codec: JSON that round-trips what JSON alone loses.
 *
 * - Values JSON represents exactly are stored as plain JSON, so other languages and `redis-cli`
 *   read them, and decoding is a bare `JSON.parse` (the hot path of a cache hit).
 * - Otherwise the value is stored as `#` + JSON with tagged nodes for `Date`, `BigInt`, `Map`,
 *   `Set`, `undefined`, `NaN`/`±Infinity`/`-0` and `Uint8Array`/`Buffer`, so `null` and
 *   `undefined` stay distinct and a cached `null` is not a miss.
 * - Functions, symbols and cycles are refused with a {@link CodecError}: never a silently
 *   truncated entry. Other class instances are stored like `JSON.stringify` does (their
 *   `toJSON()` or own enumerable properties); they come back as plain objects.
 * - Decoding never lets input reach an object's prototype: `__proto__` keys are dropped.
 *
 * @example
 * const codec = new JsonCodec();
 * codec.decode(codec.encode({ at: new Date(0), ids: new Set([1n]) })); // same shape, same types
 */
export class JsonCodec implements Codec {
  encode(value: unknown): string {
    if (isPlainJson(value, 0, [])) return JSON.stringify(value);
    return TAGGED + JSON.stringify(toTagged(value, 0, []));
  }

  decode(text: string): unknown {
    try {
      if (text.startsWith(TAGGED)) return fromTagged(JSON.parse(text.slice(1)));
      // JSON.parse makes `__proto__` an own property, harmless until someone merges the object;
      // drop it, and only pay for the reviver when the text contains one.
      return text.includes('"__proto__"') ? JSON.parse(text, dropProtoKeys) : JSON.parse(text);
    } catch (error) {
      if (error instanceof CodecError) throw error;
      throw new CodecError(`Cannot decode a stored value: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}

function dropProtoKeys(key: string, value: unknown): unknown {
  return key === '__proto__' ? undefined : value;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** True when `JSON.parse(JSON.stringify(value))` gives back an equal value. */
function isPlainJson(value: unknown, depth: number, ancestors: object[]): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object': {
      if (value === null) return true;
      if (depth > MAX_DEPTH || ancestors.includes(value)) return false;
      ancestors.push(value);
      let plain = true;
      if (Array.isArray(value)) {
        for (let i = 0; plain && i < value.length; i++) {
          plain = isPlainJson(value[i], depth + 1, ancestors);
        }
      } else if (isPlainObject(value)) {
        for (const key in value) {
          if (!plain) break;
          plain = key !== TAG && isPlainJson(value[key], depth + 1, ancestors);
        }
      } else {
        plain = false;
      }
      ancestors.pop();
      return plain;
    }
    default:
      return false;
  }
}

function toTagged(value: unknown, depth: number, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'undefined':
      return { [TAG]: 'u' };
    case 'bigint':
      return { [TAG]: 'n', v: value.toString() };
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [TAG]: 'f', v: Object.is(value, -0) ? '-0' : String(value) };
    case 'function':
    case 'symbol':
      throw new CodecError(`Cannot encode a ${typeof value}: only data can be stored in Redis`);
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH)
    throw new CodecError(`Cannot encode a value nested over ${MAX_DEPTH} deep`);
  if (ancestors.includes(value))
    throw new CodecError('Cannot encode a value that contains a cycle');
  ancestors.push(value);
  try {
    const child = (item: unknown) => toTagged(item, depth + 1, ancestors);
    if (Array.isArray(value)) return value.map(child);
    if (value instanceof Date) {
      return { [TAG]: 'd', v: Number.isNaN(value.getTime()) ? null : value.toISOString() };
    }
    if (value instanceof Map)
      return { [TAG]: 'm', v: [...value].map(([k, v]) => [child(k), child(v)]) };
    if (value instanceof Set) return { [TAG]: 's', v: [...value].map(child) };
    if (value instanceof Uint8Array)
      return { [TAG]: 'b', v: Buffer.from(value).toString('base64') };
    const source = value as Record<string, unknown> & { toJSON?: () => unknown };
    if (typeof source.toJSON === 'function') return child(source.toJSON());
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(source)) out[key] = child(source[key]);
    // A user object that happens to have a `$t` key is wrapped so it is not read as a tag.
    return Object.hasOwn(out, TAG) ? { [TAG]: 'o', v: out } : out;
  } finally {
    ancestors.pop();
  }
}

function fromTagged(node: unknown): unknown {
  if (node === null || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map(fromTagged);
  const tagged = node as Tagged;
  switch (tagged[TAG]) {
    case undefined:
      return reviveObject(node as Record<string, unknown>);
    case 'u':
      return undefined;
    case 'n':
      return BigInt(tagged.v as string);
    case 'f':
      return Number(tagged.v);
    case 'd':
      return new Date(tagged.v === null ? Number.NaN : (tagged.v as string));
    case 'm':
      return new Map(
        (tagged.v as [unknown, unknown][]).map(([k, v]) => [fromTagged(k), fromTagged(v)]),
      );
    case 's':
      return new Set((tagged.v as unknown[]).map(fromTagged));
    case 'b':
      return Buffer.from(tagged.v as string, 'base64');
    case 'o':
      return reviveObject(tagged.v as Record<string, unknown>);
    default:
      throw new CodecError(`Cannot decode a stored value: unknown tag "${tagged[TAG]}"`);
  }
}

function reviveObject(node: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(node)) {
    if (key !== '__proto__') out[key] = fromTagged(node[key]);
  }
  return out;
}
