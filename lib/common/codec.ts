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

/**
 * A value could not be encoded (function, symbol, cycle, over a {@link JsonCodec} limit) or a
 * stored string could not be decoded.
 */
export class CodecError extends RedisCoordinationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CODEC', message, options);
  }
}

/** Marks the tagged form; no JSON text starts with it, so plain JSON is never mistaken for it. */
const TAGGED = '#';
/** Property that carries a tag in the tagged form. */
const TAG = '$t';

// Limits of the tagged form, the same on encode and decode (so the codec never writes what it
// would refuse to read): stored text may come from anyone who can write to Redis, and decoding
// blocks the event loop, so they bound the superlinear work a stored value can cause.
const MAX_DEPTH = 512;
/** Parsing a decimal BigInt is superlinear in its digits (a 1 MB one took over 100 ms). */
const MAX_BIGINT_DIGITS = 4096;
/** The smallest BigInt with more than MAX_BIGINT_DIGITS digits: a bound checked without toString. */
const BIGINT_OVER = 10n ** BigInt(MAX_BIGINT_DIGITS);
/**
 * V8 hashes numbers and BigInts in a Map or Set without a per-process seed, so crafted keys
 * all share one bucket and each insert compares with every key before it: n of them in one Map
 * or Set cost n²/2 compares (25 000 BigInts in a 1 MB Set took 2.6 s). So a value's Maps and
 * Sets may hold them only as long as the sum of n² stays within one Map or Set of this many.
 */
const MAX_NUMERIC_KEYS = 4096;
/** The same for BigInts alone: a BigInt compare walks its digits, up to 4096 of them. */
const MAX_BIGINT_KEYS = 256;
/** What the encoder writes for BigInts and Dates: nothing else reaches the parsers. */
const BIGINT_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const ISO_DATE =
  /^(?:[0-9]{4}|[+-][0-9]{6})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;
const SPECIAL_NUMBERS = new Set(['NaN', 'Infinity', '-Infinity', '-0']);
const DEPTH_LIMIT = `nested over ${MAX_DEPTH} deep`;
const BIGINT_LIMIT = `with a BigInt of over ${MAX_BIGINT_DIGITS} digits`;
const NUMERIC_KEYS_LIMIT = keysLimit('numbers or BigInts', MAX_NUMERIC_KEYS);
const BIGINT_KEYS_LIMIT = keysLimit('BigInts', MAX_BIGINT_KEYS);

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
 * - Limits keep crafted stored text from blocking the event loop: at most 512 levels of
 *   nesting, BigInts of at most 4096 digits, and numbers or BigInts as Map keys or Set members
 *   at most 4096 in one Map or Set (256 BigInts), with n² summed over the value's Maps and Sets
 *   at most 4096² (256²). Beyond them encode and decode throw a {@link CodecError}.
 *
 * @example
 * const codec = new JsonCodec();
 * codec.decode(codec.encode({ at: new Date(0), ids: new Set([1n]) })); // same shape, same types
 */
export class JsonCodec implements Codec {
  encode(value: unknown): string {
    if (isPlainJson(value, 0, [])) return JSON.stringify(value);
    return TAGGED + JSON.stringify(toTagged(value, 0, [], new HashBudget('encode')));
  }

  decode(text: string): unknown {
    try {
      if (text.startsWith(TAGGED)) {
        return fromTagged(JSON.parse(text.slice(1)), 0, new HashBudget('decode'));
      }
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

function toTagged(value: unknown, depth: number, ancestors: object[], budget: HashBudget): unknown {
  switch (typeof value) {
    case 'undefined':
      return { [TAG]: 'u' };
    case 'bigint':
      // Compared before toString(), which is superlinear too.
      if (value >= BIGINT_OVER || value <= -BIGINT_OVER) throw overLimit('encode', BIGINT_LIMIT);
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
  if (depth > MAX_DEPTH) throw overLimit('encode', DEPTH_LIMIT);
  if (ancestors.includes(value))
    throw new CodecError('Cannot encode a value that contains a cycle');
  ancestors.push(value);
  try {
    const child = (item: unknown) => toTagged(item, depth + 1, ancestors, budget);
    if (Array.isArray(value)) return value.map(child);
    if (value instanceof Date) {
      return { [TAG]: 'd', v: Number.isNaN(value.getTime()) ? null : value.toISOString() };
    }
    if (value instanceof Map || value instanceof Set) {
      // Keys are counted as stored: one whose toJSON() gives a number decodes as a number.
      const count = budget.table();
      const key = (item: unknown) => {
        const node = child(item);
        count(storedType(node));
        return node;
      };
      if (value instanceof Set) return { [TAG]: 's', v: [...value].map(key) };
      return { [TAG]: 'm', v: [...value].map(([k, v]) => [key(k), child(v)]) };
    }
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

/**
 * Revives a node of JSON.parse's result. Arrays and objects are revived in place: the tree is
 * ours, and copying it made 1 MB of `[]` or `{}` nodes decode over twice as slowly as it parses.
 */
function fromTagged(node: unknown, depth: number, budget: HashBudget): unknown {
  if (node === null || typeof node !== 'object') return node;
  // Depth counts as in toTagged: one level per array, object, Map and Set, none per leaf tag.
  if (Array.isArray(node)) {
    checkDepth(depth);
    for (let i = 0; i < node.length; i++) node[i] = fromTagged(node[i], depth + 1, budget);
    return node;
  }
  const tag = (node as Tagged)[TAG];
  if (tag === undefined) {
    checkDepth(depth);
    return reviveObject(node as Record<string, unknown>, depth, budget);
  }
  const v = (node as Tagged).v;
  switch (tag) {
    case 'u':
      return undefined;
    case 'n':
      if (typeof v !== 'string') throw malformed('a BigInt that is not a string');
      if (v.length - (v.startsWith('-') ? 1 : 0) > MAX_BIGINT_DIGITS) {
        throw overLimit('decode', BIGINT_LIMIT);
      }
      // BigInt() also reads hex, octal, binary and spaces: 4096 hex digits are 4933 decimal ones.
      if (!BIGINT_TEXT.test(v)) throw malformed('a BigInt that is not decimal digits');
      return BigInt(v);
    case 'f':
      if (typeof v !== 'string' || !SPECIAL_NUMBERS.has(v)) throw malformed('an unknown number');
      return Number(v);
    case 'd':
      if (v === null) return new Date(Number.NaN);
      if (typeof v !== 'string' || !ISO_DATE.test(v)) throw malformed('a Date not in ISO form');
      return new Date(v);
    case 'm': {
      checkDepth(depth);
      if (!Array.isArray(v)) throw malformed('a Map without an entry list');
      const count = budget.table();
      const entries = v.map((entry: unknown): [unknown, unknown] => {
        if (!Array.isArray(entry) || entry.length !== 2) throw malformed('a Map entry not a pair');
        const key = fromTagged(entry[0], depth + 1, budget);
        count(typeof key);
        return [key, fromTagged(entry[1], depth + 1, budget)];
      });
      return new Map(entries);
    }
    case 's': {
      checkDepth(depth);
      if (!Array.isArray(v)) throw malformed('a Set without a member list');
      const count = budget.table();
      return new Set(
        v.map((item: unknown) => {
          const member = fromTagged(item, depth + 1, budget);
          count(typeof member);
          return member;
        }),
      );
    }
    case 'b':
      // Buffer.from() of an object allocates its `length`: 38 bytes could ask for gigabytes.
      if (typeof v !== 'string') throw malformed('bytes that are not base64 text');
      return Buffer.from(v, 'base64');
    case 'o':
      checkDepth(depth);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        throw malformed('a wrapped object that is not an object');
      }
      return reviveObject(v as Record<string, unknown>, depth, budget);
    default:
      // The tag is stored text, maybe megabytes of it: a few characters identify it.
      throw malformed(`unknown tag ${JSON.stringify(String(tag).slice(0, 16))}`);
  }
}

function reviveObject(
  node: Record<string, unknown>,
  depth: number,
  budget: HashBudget,
): Record<string, unknown> {
  // for...in, not Object.keys(), which made 1 MB of `{}` nodes revive 5x as slowly.
  for (const key in node) {
    if (!Object.hasOwn(node, key)) continue; // enumerable properties someone added to a prototype
    // JSON.parse made `__proto__` an own data property: deleting it leaves the prototype alone.
    if (key === '__proto__') delete node[key];
    else node[key] = fromTagged(node[key], depth + 1, budget);
  }
  return node;
}

function checkDepth(depth: number): void {
  if (depth > MAX_DEPTH) throw overLimit('decode', DEPTH_LIMIT);
}

function malformed(what: string): CodecError {
  return new CodecError(`Cannot decode a stored value: ${what}`);
}

/** The error for a value over one of the limits above, naming it: `what` follows "a value". */
function overLimit(direction: 'encode' | 'decode', what: string): CodecError {
  return new CodecError(
    direction === 'encode'
      ? `Cannot encode a value ${what} (a JsonCodec limit)`
      : `Cannot decode a stored value ${what} (a JsonCodec limit)`,
  );
}

function keysLimit(what: string, limit: number): string {
  return `with over ${limit} ${what} as Map keys or Set members in one Map or Set, or their counts squared summing over ${limit}² across Maps and Sets`;
}

/** Tracks, over one value, the sum of n² for the keys V8 hashes without a seed (see above). */
class HashBudget {
  private numeric = 0;
  private bigints = 0;

  constructor(private readonly direction: 'encode' | 'decode') {}

  /** Returns the counter of one Map or Set: call it with the `typeof` of each key. */
  table(): (type: string) => void {
    let numeric = 0;
    let bigints = 0;
    return (type) => {
      // The n-th key adds n² - (n - 1)² = 2n - 1.
      if (type === 'bigint' && (this.bigints += 2 * ++bigints - 1) > MAX_BIGINT_KEYS ** 2) {
        throw overLimit(this.direction, BIGINT_KEYS_LIMIT);
      }
      if (
        (type === 'number' || type === 'bigint') &&
        (this.numeric += 2 * ++numeric - 1) > MAX_NUMERIC_KEYS ** 2
      ) {
        throw overLimit(this.direction, NUMERIC_KEYS_LIMIT);
      }
    };
  }
}

/** The `typeof` of what a tagged node decodes to, as far as HashBudget tells types apart. */
function storedType(node: unknown): string {
  if (node === null || typeof node !== 'object' || !Object.hasOwn(node, TAG)) return typeof node;
  const tag = (node as Tagged)[TAG];
  return tag === 'n' ? 'bigint' : tag === 'f' ? 'number' : 'object';
}
