import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { InvalidKeyError } from '../../lib/index.js';
import { KeySpace } from '../../lib/connection/key-space.js';

/** The part of a key Redis Cluster hashes: between the first { and the next }. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

describe('KeySpace', () => {
  const keys = new KeySpace('app:');

  it('puts every key of one named thing under one hash tag', () => {
    const base = keys.base('lock', 'lock resource', 'orders:42');
    const queue = keys.key('lock', 'lock resource', 'orders:42', 'queue');
    assert.equal(base, 'app:{lock:orders:42}');
    assert.equal(queue, 'app:{lock:orders:42}:queue');
    assert.equal(hashTag(base), hashTag(queue));
  });

  it('gives names sharing a leading {tag} one slot', () => {
    assert.equal(
      hashTag(keys.base('lock', 'lock resource', '{stock}:a')),
      hashTag(keys.base('lock', 'lock resource', '{stock}:b')),
    );
  });

  for (const [name, value] of [
    ['empty', ''],
    ['not a string', 42],
    ['undefined', undefined],
    ['too long', 'x'.repeat(1025)],
  ] as Array<[string, unknown]>) {
    it(`refuses a name that is ${name} with InvalidKeyError`, () => {
      assert.throws(
        () => keys.base('lock', 'lock resource', value),
        (error: unknown) => {
          assert.ok(error instanceof InvalidKeyError);
          assert.match(error.message, /^Invalid lock resource/);
          return true;
        },
      );
    });
  }

  it('refuses names with a lone UTF-16 surrogate, which Redis would store as U+FFFD', () => {
    for (const name of ['x\uD800', '\uDC00x', 'a\uD800b']) {
      assert.throws(
        () => keys.base('lock', 'lock resource', name),
        (e) => e instanceof InvalidKeyError && /lone UTF-16 surrogate/.test(e.message),
      );
    }
    // A surrogate pair is a well-formed character.
    assert.equal(keys.base('lock', 'lock resource', 'x\uD83D\uDE00'), 'app:{lock:x\uD83D\uDE00}');
    assert.equal(keys.base('lock', 'lock resource', 'x\uFFFD'), 'app:{lock:x\uFFFD}');
  });
});
