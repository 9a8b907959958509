import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { entryBody, parseEntry } from '../../lib/cache/cache-entry.js';
import { NearCache } from '../../lib/cache/near-cache.js';

const local = { ttlMs: 60_000, shared: false };

function stored(text: string, tags: [string, string][] = [], now = Date.now()) {
  const lifetimes = { ttlMs: 60_000, staleMs: 0, staleIfErrorMs: 0 };
  return parseEntry(`:${entryBody(text, lifetimes, tags, now).body}`)!;
}

describe('NearCache', () => {
  function live() {
    const near = new NearCache({ local: undefined, maxEntries: 100, maxBytes: undefined });
    near.setLive(true);
    return near;
  }

  it('does not keep what a read that began before an invalidation returned', () => {
    const near = live();
    const mark = near.mark();
    near.evict(['other'], [], []); // any invalidation heard while the read was in flight
    near.put('k', stored('"old"'), undefined, 'old', local, mark, Date.now());
    assert.equal(near.get('k', Date.now()), undefined);
    near.put('k', stored('"new"'), undefined, 'new', local, near.mark(), Date.now());
    assert.equal(near.get('k', Date.now())?.stored.text, '"new"');
  });

  it('serves nothing while the bus is not listening, and nothing kept before it stopped', () => {
    const near = live();
    near.put('k', stored('1'), undefined, 1, local, near.mark(), Date.now());
    near.setLive(false);
    assert.equal(near.get('k', Date.now()), undefined);
    near.setLive(true);
    assert.equal(near.get('k', Date.now()), undefined);
  });

  it('evicts by key, namespace and tag', () => {
    const near = live();
    const now = Date.now();
    near.put('a', stored('1'), 'ns', 1, local, near.mark(), now);
    near.put('b', stored('2', [['t', 'x']]), undefined, 2, local, near.mark(), now);
    near.put('c', stored('3'), undefined, 3, local, near.mark(), now);
    near.evict([], ['ns'], []);
    assert.equal(near.get('a', now), undefined);
    near.evict([], [], ['t']);
    assert.equal(near.get('b', now), undefined);
    assert.ok(near.get('c', now));
    near.evict(['c'], [], []);
    assert.equal(near.get('c', now), undefined);
  });

  it('serves for local.ttlMs at most, and never past the entry’s own ttl', () => {
    const near = live();
    const now = Date.now();
    near.put('a', stored('1'), undefined, 1, { ttlMs: 10, shared: false }, near.mark(), now);
    assert.ok(near.get('a', now + 9));
    assert.equal(near.get('a', now + 10), undefined);
    near.put('b', stored('1', [], now - 59_990), undefined, 1, local, near.mark(), now);
    assert.equal(near.get('b', now + 10), undefined);
  });
});
