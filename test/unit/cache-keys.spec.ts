import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { describe, it } from '@jest/globals';
import { InvalidKeyError } from '../../lib/index.js';
import { EntryRef, namespaceVersionKey } from '../../lib/cache/cache.keys.js';
import { KeySpace } from '../../lib/connection/key-space.js';
import { stableHash } from '../../lib/cache/stable-hash.js';

// Stored entries outlive a deploy: a change to these strings orphans every cached value.
describe('cache entry keys', () => {
  const keys = new KeySpace('app:');

  it('hang an entry without namespace, its lease and fill channel under its own tag', () => {
    const ref = new EntryRef(keys, 'product:1', undefined);
    assert.equal(ref.entry, 'app:{cache:product:1}');
    assert.equal(ref.version, ref.entry);
    assert.equal(ref.lease, 'app:{cache:product:1}:lease');
    assert.equal(ref.fillChannel, 'app:{cache:product:1}:filled');
  });

  it("put every key of a namespace under the namespace's tag", () => {
    const ref = new EntryRef(keys, 'product:1', 'products');
    assert.equal(ref.entry, 'app:{cache:products}:e:product:1');
    assert.equal(ref.version, 'app:{cache:products}:v');
    assert.equal(ref.version, namespaceVersionKey(keys, 'products'));
    assert.equal(ref.lease, 'app:{cache:products}:l:product:1');
    assert.equal(ref.fillChannel, 'app:{cache:products}:f:product:1');
  });

  it('refuse an empty key or namespace with InvalidKeyError', () => {
    assert.throws(() => new EntryRef(keys, '', undefined), InvalidKeyError);
    assert.throws(() => new EntryRef(keys, '', 'products'), InvalidKeyError);
    assert.throws(() => new EntryRef(keys, 'k', ''), InvalidKeyError);
  });

  it('hash arguments to the same default key as before, strings and numbers included', () => {
    const sha1 = (text: string) => hash('sha1', text, 'base64url');
    // Strings and finite numbers take a shortcut; it must write the general path's text.
    assert.equal(stableHash(['u-42']), sha1('["u-42",]'));
    assert.equal(stableHash(['a"b', 7, 1.5]), sha1('["a\\"b",7,1.5,]'));
    assert.equal(stableHash([]), sha1('[]'));
    assert.equal(stableHash([-0]), sha1('[-0,]'));
    assert.equal(stableHash([NaN, Infinity]), sha1('[NaN,Infinity,]'));
    assert.equal(stableHash(['x', { b: 2, a: 1 }]), sha1('["x",{"a":1,"b":2,},]'));
    assert.equal(stableHash([{ a: 1, b: 2 }]), stableHash([{ b: 2, a: 1 }]));
    assert.equal(stableHash([() => 1]), undefined);
  });
});
