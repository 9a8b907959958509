import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { CodecError, JsonCodec } from '../../lib/index.js';

const codec = new JsonCodec();
const roundTrip = (value: unknown) => codec.decode(codec.encode(value));

describe('JsonCodec', () => {
  const cases: Array<[string, unknown]> = [
    ['string', 'hello'],
    ['number', 42.5],
    ['null', null],
    ['undefined', undefined],
    ['boolean', false],
    ['plain object', { a: 1, b: [1, 'x', null], c: { d: true } }],
    ['Date', new Date('2024-05-01T10:20:30.456Z')],
    ['BigInt', 2n ** 70n],
    ['negative BigInt', -12345678901234567890n],
    [
      'Map',
      new Map<unknown, unknown>([
        ['a', 1],
        [2, new Date(0)],
      ]),
    ],
    ['Set', new Set([1, 'two', 3n])],
    ['undefined inside object', { a: undefined, b: 1 }],
    ['undefined inside array', [1, undefined, 3]],
    ['non-finite numbers', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
    ['Buffer', Buffer.from([0, 1, 2, 255])],
    ['object with a $t key', { $t: 'd', v: 'not a date' }],
    ['nested', { when: new Date(5), tags: new Set(['x']), meta: new Map([['n', { big: 1n }]]) }],
  ];
  for (const [name, value] of cases) {
    it(`round-trips ${name}`, () => {
      assert.deepEqual(roundTrip(value), value);
    });
  }

  it('round-trips an invalid Date', () => {
    const value = roundTrip(new Date(Number.NaN));
    assert.ok(value instanceof Date && Number.isNaN(value.getTime()));
  });

  it('stores values JSON represents exactly as plain JSON', () => {
    assert.equal(codec.encode({ a: [1, 'x'] }), '{"a":[1,"x"]}');
    assert.equal(codec.encode(null), 'null');
  });

  it('keeps a stored null distinct from undefined', () => {
    assert.equal(roundTrip(null), null);
    assert.equal(roundTrip(undefined), undefined);
    assert.notEqual(codec.encode(null), codec.encode(undefined));
  });

  it('stores class instances like JSON.stringify does', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    assert.deepEqual(roundTrip({ p: new Point(1, 2), at: new Date(0) }), {
      p: { x: 1, y: 2 },
      at: new Date(0),
    });
  });

  for (const [name, value] of [
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a function inside an object', { ok: 1, fn: () => 1 }],
  ] as Array<[string, unknown]>) {
    it(`refuses ${name} with a CodecError`, () => {
      assert.throws(() => codec.encode(value), CodecError);
    });
  }

  it('refuses a cycle with a CodecError naming it', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    assert.throws(() => codec.encode(cyclic), /cycle/);
  });

  it('accepts a shared (non-cyclic) reference', () => {
    const shared = { n: 1 };
    assert.deepEqual(roundTrip({ a: shared, b: shared, at: new Date(1) }), {
      a: { n: 1 },
      b: { n: 1 },
      at: new Date(1),
    });
  });

  it('throws CodecError for text that is not a stored value', () => {
    assert.throws(() => codec.decode('hello from redis-cli'), CodecError);
    assert.throws(() => codec.decode('#{"$t":"zz"}'), /unknown tag/);
  });

  it('never lets __proto__ in stored text reach a prototype', () => {
    const plain = codec.decode('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
    const tagged = codec.decode('#{"__proto__":{"polluted":true},"d":{"$t":"u"}}') as Record<
      string,
      unknown
    >;
    for (const value of [plain, tagged]) {
      assert.equal(Object.getPrototypeOf(value), Object.prototype);
      assert.equal(Object.hasOwn(value, '__proto__'), false);
      assert.equal((value as { polluted?: boolean }).polluted, undefined);
    }
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.assign({}, plain).polluted, undefined);
  });

  it('does not copy enumerable properties of Object.prototype into decoded objects', () => {
    Object.defineProperty(Object.prototype, 'inherited', {
      value: 1,
      enumerable: true,
      configurable: true,
    });
    try {
      const value = codec.decode('#{"a":{"$t":"u"},"b":{"c":1}}') as Record<string, unknown>;
      assert.deepEqual(Object.keys(value), ['a', 'b']);
      assert.deepEqual(Object.keys(value.b as object), ['c']);
    } finally {
      delete (Object.prototype as { inherited?: number }).inherited;
    }
  });
});

// Stored text may come from anyone who can write to Redis, and decoding runs on the event loop:
// each limit is tested at its value (round-trips) and one past it (CodecError, encode and decode).
describe('JsonCodec limits', () => {
  const refused = (fn: () => unknown, message: RegExp) =>
    assert.throws(fn, (error) => error instanceof CodecError && message.test(error.message));
  const nines = (digits: number) => 10n ** BigInt(digits) - 1n;

  it('round-trips BigInts of 4096 digits and refuses 4097', () => {
    for (const value of [nines(4096), -nines(4096)]) assert.equal(roundTrip(value), value);
    refused(() => codec.encode(nines(4097)), /BigInt of over 4096 digits/);
    refused(() => codec.encode({ n: -nines(4097) }), /BigInt of over 4096 digits/);
    refused(() => codec.decode(`#{"$t":"n","v":"${'9'.repeat(4097)}"}`), /over 4096 digits/);
    refused(() => codec.decode(`#{"$t":"n","v":"-${'9'.repeat(4097)}"}`), /over 4096 digits/);
    // The worst case before the limit: one 1 MB BigInt, over 100 ms of parsing.
    refused(() => codec.decode(`#{"$t":"n","v":"${'9'.repeat(1_000_000)}"}`), /4096 digits/);
  });

  it('refuses a stored BigInt that is not what the encoder writes', () => {
    // 4000 hex digits would be a BigInt of 4817 decimal digits.
    for (const v of [`"0x${'f'.repeat(4000)}"`, '" 12"', '"+1"', '"0b1"', '5', 'null']) {
      refused(() => codec.decode(`#{"$t":"n","v":${v}}`), /BigInt that is not/);
    }
  });

  // Each container counts one level, on encode and decode alike. `wrap` nests a value one level
  // deeper, `wrapText` does the same to its stored form.
  const containers: Array<[string, (value: unknown) => unknown, (text: string) => string]> = [
    ['arrays', (value) => [value], (text) => `[${text}]`],
    ['objects', (value) => ({ a: value }), (text) => `{"a":${text}}`],
    [
      'objects with a $t key',
      (value) => ({ $t: value }),
      (text) => `{"$t":"o","v":{"$t":${text}}}`,
    ],
    ['Maps', (value) => new Map([['k', value]]), (text) => `{"$t":"m","v":[["k",${text}]]}`],
    ['Sets', (value) => new Set([value]), (text) => `{"$t":"s","v":[${text}]}`],
  ];
  for (const [name, wrap, wrapText] of containers) {
    it(`round-trips ${name} nested 512 deep and refuses 513`, () => {
      let atLimit: unknown = undefined; // a tagged leaf: the value takes the tagged form
      for (let depth = 512; depth >= 0; depth--) atLimit = wrap(atLimit);
      assert.deepEqual(roundTrip(atLimit), atLimit);
      refused(() => codec.encode(wrap(atLimit)), /nested over 512 deep/);
      const overText = `#${wrapText(codec.encode(atLimit).slice(1))}`;
      refused(() => codec.decode(overText), /nested over 512 deep/);
    });
  }

  it('refuses stored text nested far deeper before recursing through it', () => {
    const deep = `#${'['.repeat(500_000)}${']'.repeat(500_000)}`;
    refused(() => codec.decode(deep), /nested over 512 deep/);
  });

  // Numbers and BigInts whose V8 hashes collide make each insert into their Map or Set scan the
  // others: n of them cost n²/2 compares, so n² summed over a value's Maps and Sets is bounded.
  const sequence = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => from + i);
  const setText = (items: unknown[]) => `{"$t":"s","v":[${items.join(',')}]}`;
  const mapText = (keys: unknown[]) => `{"$t":"m","v":[${keys.map((k) => `[${k},0]`).join(',')}]}`;
  const numbersLimit = /over 4096 numbers or BigInts as Map keys or Set members in one Map or Set/;

  it('round-trips 4096 numbers in one Set or Map and refuses 4097', () => {
    const atLimit = new Set(sequence(0, 4096));
    assert.deepEqual(roundTrip(atLimit), atLimit);
    refused(() => codec.encode(new Set(sequence(0, 4097))), numbersLimit);
    refused(() => codec.encode(new Map(sequence(0, 4097).map((k) => [k, 0]))), numbersLimit);
    refused(() => codec.decode(`#${setText(sequence(0, 4097))}`), numbersLimit);
    refused(() => codec.decode(`#${mapText(sequence(0, 4097))}`), numbersLimit);
  });

  it('round-trips numbers in several Maps and Sets while n² sums to at most 4096²', () => {
    // 2 × 2896² = 16 773 632 ≤ 4096² = 16 777 216 < 2896² + 2897²
    const atLimit = [new Set(sequence(0, 2896)), new Map(sequence(0, 2896).map((k) => [k, 0]))];
    assert.deepEqual(roundTrip(atLimit), atLimit);
    // Many small ones cost little: 5000 Sets of one number are 5000, not 5000².
    const records = sequence(0, 5000).map((id) => ({ id, tags: new Set([id]) }));
    assert.deepEqual(roundTrip(records), records);
    const over = [new Set(sequence(0, 2896)), new Map(sequence(0, 2897).map((k) => [k, 0]))];
    refused(() => codec.encode(over), /counts squared summing over 4096² across Maps and Sets/);
    refused(
      () => codec.decode(`#[${setText(sequence(0, 2896))},${mapText(sequence(0, 2897))}]`),
      /counts squared summing over 4096² across Maps and Sets/,
    );
  });

  it('counts a Map key or Set member as it is stored', () => {
    // Its toJSON() makes it a number in the stored form, and so when decoded.
    const asNumber = { toJSON: () => 5000 };
    refused(() => codec.encode(new Set([...sequence(0, 4096), asNumber])), numbersLimit);
  });

  it('round-trips 256 BigInts in one Set or Map (n² summing to 256²) and refuses more', () => {
    // V8 hashes a BigInt by its lowest 64 bits: these all collide.
    const colliding = (count: number) => sequence(1, count).map((i) => BigInt(i) << 64n);
    const stored = (items: bigint[]) => items.map((n) => `{"$t":"n","v":"${n}"}`);
    const bigintsLimit = /over 256 BigInts as Map keys or Set members in one Map or Set/;
    const atLimit = new Set(colliding(256));
    assert.deepEqual(roundTrip(atLimit), atLimit);
    refused(() => codec.encode(new Set(colliding(257))), bigintsLimit);
    refused(() => codec.decode(`#${setText(stored(colliding(257)))}`), bigintsLimit);
    // 2 × 181² = 65 522 ≤ 256² = 65 536 < 181² + 182²
    const spread = [new Set(colliding(181)), new Map(colliding(181).map((k) => [k, 0]))];
    assert.deepEqual(roundTrip(spread), spread);
    const over = [new Set(colliding(181)), new Map(colliding(182).map((k) => [k, 0]))];
    refused(() => codec.encode(over), /BigInts .* summing over 256² across Maps and Sets/);
    refused(
      () =>
        codec.decode(`#[${setText(stored(colliding(181)))},${mapText(stored(colliding(182)))}]`),
      /BigInts .* summing over 256² across Maps and Sets/,
    );
    // The worst case before the limit: 25 000 such BigInts (1 MB) in one Set, 2.6 s to decode.
    refused(() => codec.decode(`#${setText(stored(colliding(25_000)))}`), bigintsLimit);
  });

  it('reads only the special numbers the encoder writes', () => {
    for (const v of ['"1"', '"0x10"', '"nan"', '" Infinity"', '5']) {
      refused(() => codec.decode(`#{"$t":"f","v":${v}}`), /unknown number/);
    }
  });

  it('round-trips Dates across the whole range and refuses one not in ISO form', () => {
    // The first and last Dates there are, and each side of the 4-digit years.
    for (const iso of [
      '-271821-04-20T00:00:00.000Z',
      '-000001-12-31T23:59:59.999Z',
      '0000-01-01T00:00:00.000Z',
      '9999-12-31T23:59:59.999Z',
      '+010000-01-01T00:00:00.000Z',
      '+275760-09-13T00:00:00.000Z',
    ]) {
      assert.equal((roundTrip(new Date(iso)) as Date).toISOString(), iso);
    }
    for (const v of ['"2024-05-01"', '"May 1, 2024"', '0', `"${'2'.repeat(1_000_000)}"`]) {
      refused(() => codec.decode(`#{"$t":"d","v":${v}}`), /Date not in ISO form/);
    }
  });

  it('round-trips large byte arrays and refuses bytes that are not base64 text', () => {
    // Linear and smaller than their stored form: maxPayloadBytes alone bounds them.
    const bytes = Buffer.alloc(700_000, 0xa5);
    assert.deepEqual(roundTrip(bytes), bytes);
    // Buffer.from({ length }) would allocate `length` bytes (a 38-byte text could ask for GBs).
    for (const v of ['{"length":3}', '[1,2,3]', '3']) {
      refused(() => codec.decode(`#{"$t":"b","v":${v}}`), /bytes that are not base64 text/);
    }
  });

  it('refuses Maps, Sets and wrapped objects whose stored shape is wrong', () => {
    refused(() => codec.decode('#{"$t":"m","v":"ab"}'), /Map without an entry list/);
    for (const entry of ['[1]', '[1,2,3]', '"ab"']) {
      refused(() => codec.decode(`#{"$t":"m","v":[${entry}]}`), /Map entry not a pair/);
    }
    refused(() => codec.decode('#{"$t":"s","v":"abc"}'), /Set without a member list/);
    for (const v of ['"ab"', '[1]', 'null']) {
      refused(() => codec.decode(`#{"$t":"o","v":${v}}`), /wrapped object that is not an object/);
    }
  });

  it('names an unknown tag in a few characters, however long it is', () => {
    const text = `#{"$t":"${'x'.repeat(100_000)}"}`;
    refused(() => codec.decode(text), /^Cannot decode a stored value: unknown tag "x{16}"$/);
  });
});
