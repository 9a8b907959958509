import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { DashboardOptionsError } from '../../lib/index.js';
import { resolveDashboardOptions } from '../../lib/dashboard/dashboard.options.js';

function problemsOf(options: object): readonly string[] {
  try {
    resolveDashboardOptions({ unguarded: true, ...options });
  } catch (error) {
    assert.ok(error instanceof DashboardOptionsError, String(error));
    return error.problems;
  }
  return [];
}

describe('CoordinationDashboardModule options', () => {
  it('checks semaphore names as the library does, and keeps one of each', () => {
    assert.deepEqual(
      resolveDashboardOptions({
        unguarded: true,
        semaphores: [
          { name: 'pdf', limit: 4 },
          { name: 'mail', limit: 1 },
          { name: 'pdf', limit: 4 },
        ],
      }).semaphores,
      [
        { name: 'pdf', limit: 4 },
        { name: 'mail', limit: 1 },
      ],
    );
    const [empty, malformed, twice] = problemsOf({
      semaphores: [
        { name: '', limit: 1 },
        { name: 'x\uD800', limit: 1 },
        { name: 'pdf', limit: 4 },
        { name: 'pdf', limit: 2 },
      ],
    });
    assert.match(empty!, /^semaphores: .*semaphore name.*must not be empty/);
    assert.match(malformed!, /^semaphores: .*lone UTF-16 surrogate/);
    assert.match(twice!, /"pdf" is given twice, with limits 4 and 2/);
    assert.match(problemsOf({ semaphores: [{ name: 7, limit: 1 }] })[0]!, /expected a string/);
  });
});
