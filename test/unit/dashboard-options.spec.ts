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

  it('takes a path of one segment or more, none of them "." or ".."', () => {
    assert.equal(
      resolveDashboardOptions({ unguarded: true, path: '/ops/coordination' }).path,
      '/ops/coordination',
    );
    for (const path of ['', '/', '//']) {
      assert.deepEqual(problemsOf({ path }), [
        `path must name a segment, got ${JSON.stringify(path)}`,
      ]);
    }
    for (const path of ['.', 'ops/..', '/ops/./coordination', '../coordination']) {
      assert.deepEqual(problemsOf({ path }), [
        `path must not have "." or ".." segments, got ${JSON.stringify(path)}`,
      ]);
    }
    assert.deepEqual(problemsOf({ path: 'ops/...' }), []);
  });

  it('bounds the sampling interval to an hour and the samples kept to 10000', () => {
    assert.deepEqual(problemsOf({ sampleEveryMs: 3_600_000, samples: 10_000 }), []);
    assert.deepEqual(problemsOf({ sampleEveryMs: 3_600_001, samples: 10_001 }), [
      'sampleEveryMs must be an integer from 100 to 3600000 (an hour), got 3600001',
      'samples must be an integer from 2 to 10000, got 10001',
    ]);
    assert.match(problemsOf({ sampleEveryMs: 2 ** 31 })[0]!, /^sampleEveryMs must be/);
  });
});
