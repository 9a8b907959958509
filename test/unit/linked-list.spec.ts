import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { LinkedList, type Linked } from '../../lib/common/linked-list.js';

interface Item extends Linked<Item> {
  name: string;
}

const items = (...names: string[]): Item[] => names.map((name) => ({ name }));
const names = (list: LinkedList<Item>) => [...list].map((item) => item.name);

describe('LinkedList', () => {
  it('keeps insertion order and removes from anywhere', () => {
    const list = new LinkedList<Item>();
    const [a, b, c, d] = items('a', 'b', 'c', 'd');
    for (const item of [a!, b!, c!, d!]) list.append(item);
    assert.deepEqual(names(list), ['a', 'b', 'c', 'd']);
    assert.equal(list.delete(b!), true); // middle
    assert.deepEqual(names(list), ['a', 'c', 'd']);
    assert.equal(list.delete(a!), true); // first
    assert.deepEqual(names(list), ['c', 'd']);
    assert.equal(list.delete(d!), true); // last
    assert.deepEqual(names(list), ['c']);
    list.append(a!); // appended after the old last was removed
    assert.deepEqual(names(list), ['c', 'a']);
    assert.equal(list.delete(c!), true);
    assert.equal(list.delete(a!), true); // the only one
    assert.deepEqual(names(list), []);
    assert.equal(list.size, 0);
  });

  it('says false for an item deleted twice or never added, and leaves the list alone', () => {
    const list = new LinkedList<Item>();
    const [a, b, stranger] = items('a', 'b', 'x');
    list.append(a!);
    list.append(b!);
    assert.equal(list.delete(a!), true);
    assert.equal(list.delete(a!), false);
    assert.equal(list.delete(stranger!), false);
    assert.deepEqual(names(list), ['b']);
    assert.equal(list.size, 1);
  });

  it('lets the item being visited be deleted', () => {
    const list = new LinkedList<Item>();
    for (const item of items('a', 'b', 'c')) list.append(item);
    const visited: string[] = [];
    for (const item of list) {
      visited.push(item.name);
      list.delete(item);
    }
    assert.deepEqual(visited, ['a', 'b', 'c']);
    assert.equal(list.size, 0);
  });
});
