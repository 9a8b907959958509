import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeldLock, HeldLocks, type LockBackend } from '../../lib/lock/lock.handle.js';

const backend: LockBackend = {
  extend: () => Promise.resolve(true),
  release: () => Promise.resolve(),
  forget: () => undefined,
};

function heldLock(name: string): HeldLock {
  const keys = { owner: `${name}:o`, queue: `${name}:q`, alive: `${name}:a`, channel: `${name}:c` };
  return new HeldLock(backend, [name], [keys], `t:${name}`, [1], 1000, 0);
}

const names = (list: HeldLocks) => list.toArray().map((held) => held.resources[0]);

describe('HeldLocks', () => {
  it('lists what was added, newest first, and forgets what was deleted from anywhere', () => {
    const list = new HeldLocks();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(heldLock);
    for (const held of [a!, b!, c!, d!]) list.add(held);
    assert.deepEqual(names(list), ['d', 'c', 'b', 'a']);
    list.delete(b!); // middle
    assert.deepEqual(names(list), ['d', 'c', 'a']);
    list.delete(d!); // first
    assert.deepEqual(names(list), ['c', 'a']);
    list.delete(a!); // last
    assert.deepEqual(names(list), ['c']);
    list.delete(c!); // only
    assert.deepEqual(names(list), []);
  });

  it('ignores deleting a lock twice or one it never held', () => {
    const list = new HeldLocks();
    const [a, b, stranger] = ['a', 'b', 'x'].map(heldLock);
    list.add(a!);
    list.add(b!);
    list.delete(a!);
    list.delete(a!);
    list.delete(stranger!);
    assert.deepEqual(names(list), ['b']);
    list.add(a!); // back on after leaving
    assert.deepEqual(names(list), ['a', 'b']);
  });
});
