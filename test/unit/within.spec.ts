import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { waitAtMost, within } from '../../lib/common/within.js';

const never = new Promise<never>(() => undefined);

describe('within / waitAtMost', () => {
  it('settles as the work does when it settles first', async () => {
    assert.equal(await within(Promise.resolve(42), 10_000, () => new Error('late')), 42);
    const failure = new Error('failed');
    await assert.rejects(
      within(Promise.reject(failure), 10_000, () => new Error('late')),
      (error) => error === failure,
    );
  });

  it('rejects with the given error when the work does not settle in time', async () => {
    const late = new Error('late');
    await assert.rejects(
      within(never, 5, () => late),
      (error) => error === late,
    );
  });

  it('waitAtMost resolves either way and never rejects', async () => {
    assert.equal(await waitAtMost(never, 5), undefined);
    assert.equal(await waitAtMost(Promise.reject(new Error('x')), 10_000), undefined);
  });
});
