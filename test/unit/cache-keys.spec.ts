import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { InvalidKeyError } from '../../lib/index.js';
import { EntryRef, namespaceVersionKey } from '../../lib/cache/cache.keys.js';
import { KeySpace } from '../../lib/connection/key-space.js';

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
});
