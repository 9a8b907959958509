import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { waitingSince } from '../../lib/queue/queue.store.js';

// How long a job first in line has waited (QueueService.oldestWaiting) starts at the latest
// moment it can have entered wait: its add, its due time when delayed at add, its last failure
// plus the longest backoff it could get.
describe('waitingSince', () => {
  const header = (fields: object) => JSON.stringify({ a: 3, t: 1000, ...fields });
  const errors = (...at: number[]) =>
    JSON.stringify(at.map((time, i) => ({ attempt: i + 1, error: 'boom', at: time })));
  /** The state of a job that made `made` attempts (`made|max|priority|token`). */
  const state = (made: number) => `${made}|3|0|`;

  it('counts from the add', () => {
    assert.equal(waitingSince(header({}), null, state(0)), 1000);
  });

  it('counts a job delayed at add from when it came due', () => {
    assert.equal(waitingSince(header({ d: 5000 }), null, state(0)), 6000);
  });

  it('counts a retried job from its last failure plus the longest backoff it could get', () => {
    assert.equal(waitingSince(header({}), errors(2000, 3500), state(2)), 3500);
    // fixed 1000 ms with 50 % jitter: at most 1500 ms after the failure
    const fixed = header({ b: ['fixed', 1000, 0.5] });
    assert.equal(waitingSince(fixed, errors(2000), state(1)), 3500);
    // exponential from 1000 ms: the retry after attempt 2 waits 2000 ms
    const exponential = header({ b: ['exponential', 1000, 0] });
    assert.equal(waitingSince(exponential, errors(2000, 4000), state(2)), 6000);
    assert.equal(waitingSince(header({ d: 5000 }), errors(2000), state(1)), 6000);
  });

  it('cannot tell for a job retried from the dead-letter list (its attempts start again)', () => {
    assert.equal(waitingSince(header({}), errors(2000, 3000, 4000), state(0)), undefined);
  });

  it('is undefined for a header the library did not write; ignores an unreadable history', () => {
    assert.equal(waitingSince('not json', null, state(0)), undefined);
    assert.equal(waitingSince(JSON.stringify({ t: 'yesterday' }), null, state(0)), undefined);
    assert.equal(waitingSince(false, null, null), undefined);
    assert.equal(waitingSince(header({}), '{broken', state(0)), 1000);
  });
});
