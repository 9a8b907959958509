import assert from 'node:assert/strict';
import { PermitLostError } from '../../../lib/index.js';
import type { ChildApp, ChildMessage } from '../../support/child-process.js';

/**
 * The contention scenario of the semaphore fault tests, for either backend: two semaphore-worker
 * children take two of the `limit` permits, then one is SIGKILLed and the other SIGSTOPped
 * holding theirs, while the `stressed` ones take permits `iterations` times each. Every holder
 * checks how many are inside with it: never more than `limit`, and `limit` reached (so the check
 * could have seen one too many). Resolves with the paused holder's `acquired` report; it is
 * still stopped.
 */
export async function stressPastCrashedHolders(scenario: {
  stressed: readonly ChildApp[];
  killed: ChildApp;
  paused: ChildApp;
  limit: number;
  iterations: number;
  /** The lease of the killed and the paused holder's permits. */
  holderTtlMs: number;
  /** The lease of the stressed ones' permits. */
  ttlMs: number;
}): Promise<ChildMessage> {
  const { stressed, killed, paused, limit } = scenario;
  killed.send({ type: 'holdPlain', limit, ttlMs: scenario.holderTtlMs });
  assert.equal((await killed.reportOf('acquired')).inside, 1);
  paused.send({ type: 'hold', limit, ttlMs: scenario.holderTtlMs });
  const acquired = await paused.reportOf('acquired');
  assert.equal(acquired.inside, 2);
  await killed.kill();
  paused.signal('SIGSTOP');

  for (const worker of stressed) {
    worker.send({ type: 'stress', iterations: scenario.iterations, limit, ttlMs: scenario.ttlMs });
  }
  const reports = await Promise.all(stressed.map((worker) => worker.reportOf('done')));
  const summary = JSON.stringify(reports);
  for (const report of reports) {
    assert.equal(report.violations, 0, summary);
    assert.ok(Number(report.maxInside) <= limit, summary);
    assert.equal(report.refused, 0, `every write under a live permit: ${summary}`);
    assert.equal(report.aborted, 0, summary);
  }
  assert.equal(Math.max(...reports.map((r) => Number(r.maxInside))), limit, summary);
  return acquired;
}

/** Resumes the paused holder and checks that it knows its permit is lost and its write is refused. */
export async function resumeLostHolder(paused: ChildApp): Promise<void> {
  paused.signal('SIGCONT');
  paused.send({ type: 'write' });
  const late = await paused.reportOf('wrote');
  assert.equal(late.aborted, true, 'the paused holder is told it lost its permit');
  assert.equal(late.reason, PermitLostError.name);
  assert.equal(late.accepted, false, 'its write is refused');
}
