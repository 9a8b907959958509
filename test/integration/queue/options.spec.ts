import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { backoffDelay, resolveJobOptions } from '../../../lib/queue/queue.options.js';

describe('queue backoff', () => {
  it('waits delayMs, or delayMs·2^(attempt−1), and jitter only ever adds', () => {
    const fixed = resolveJobOptions({ backoff: { type: 'fixed', delayMs: 100 } }).backoff;
    assert.deepEqual(
      [1, 2, 5].map((attempt) => backoffDelay(fixed, attempt)),
      [100, 100, 100],
    );
    const expo = resolveJobOptions({ backoff: { type: 'exponential', delayMs: 100 } }).backoff;
    assert.deepEqual(
      [1, 2, 3].map((attempt) => backoffDelay(expo, attempt)),
      [100, 200, 400],
    );
    const jittered = resolveJobOptions({
      backoff: { type: 'fixed', delayMs: 1000, jitter: 0.5 },
    }).backoff;
    const delays = Array.from({ length: 200 }, () => backoffDelay(jittered, 1));
    assert.ok(
      delays.every((d) => d >= 1000 && d <= 1500),
      'within [delay, delay·1.5]',
    );
    assert.ok(new Set(delays).size > 10, 'spread out');
    assert.equal(backoffDelay(undefined, 3), 0, 'no backoff: retry at once');
  });

  it('refuses a jitter outside 0…1', () => {
    assert.throws(
      () => resolveJobOptions({ backoff: { type: 'fixed', delayMs: 1, jitter: 2 } }),
      /backoff\.jitter/,
    );
  });
});
