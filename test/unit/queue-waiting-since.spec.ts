import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { waitingSince } from '../../lib/queue/queue.store.js';

// How long a job first in line has waited (QueueService.oldestWaiting) starts from the latest
// of: its add, its due time when delayed at add, its last failed attempt.
describe('waitingSince', () => {
  const header = (fields: object) => JSON.stringify({ a: 3, t: 1000, ...fields });
  const errors = (...at: number[]) =>
    JSON.stringify(at.map((time, i) => ({ attempt: i + 1, error: 'boom', at: time })));

  it('counts from the add', () => {
    assert.equal(waitingSince(header({}), null), 1000);
  });

  it('counts a job delayed at add from when it came due', () => {
    assert.equal(waitingSince(header({ d: 5000 }), null), 6000);
  });

  it('counts a retried job from its last failure, when that is later', () => {
    assert.equal(waitingSince(header({}), errors(2000, 3500)), 3500);
    assert.equal(waitingSince(header({ d: 5000 }), errors(2000)), 6000);
  });

  it('is undefined for a header the library did not write; ignores an unreadable history', () => {
    assert.equal(waitingSince('not json', null), undefined);
    assert.equal(waitingSince(JSON.stringify({ t: 'yesterday' }), null), undefined);
    assert.equal(waitingSince(false, null), undefined);
    assert.equal(waitingSince(header({}), '{broken'), 1000);
  });
});
