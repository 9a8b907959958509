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
});
