import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { PermitLostError } from '../../../lib/index.js';
import { ChildApp, type ChildMessage } from '../../support/child-process.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';

const STRESSED = 6;
const ITERATIONS = 200;
const LIMIT = 3;

describe('semaphore across processes, with holders killed and paused', () => {
  let redis: TestRedis;
  let prefix: string;
  let workers: ChildApp[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
    prefix = uniqueKeyPrefix();
    const env = { REDIS_URL: redis.url, SEMAPHORE_PREFIX: prefix };
    // Six that take permits in a loop, then one to SIGKILL and one to SIGSTOP while holding.
    workers = Array.from({ length: STRESSED + 2 }, () =>
      ChildApp.spawn('semaphore-worker', { env }),
    );
    await Promise.all(workers.map((worker) => worker.waitFor('ready')));
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await redis.dispose();
  });

  /** The worker's `type` report, failing the test if it reports a failure first. */
  function reportOf(worker: ChildApp, type: string): Promise<ChildMessage> {
    return Promise.race([
      worker.waitFor(type),
      worker.waitFor('failed').then((m) => assert.fail(String(m.error))),
    ]);
  }

  it(`never lets more than ${LIMIT} holders in over ${STRESSED * ITERATIONS} acquisitions`, async () => {
    const stressed = workers.slice(0, STRESSED);
    const [killed, paused] = workers.slice(STRESSED) as [ChildApp, ChildApp];
    // Two of the three permits go to holders that then crash or freeze holding them.
    killed.send({ type: 'holdPlain', limit: LIMIT, ttlMs: 1500 });
    assert.equal((await reportOf(killed, 'acquired')).inside, 1);
    paused.send({ type: 'hold', limit: LIMIT, ttlMs: 1500 });
    assert.equal((await reportOf(paused, 'acquired')).inside, 2);
    await killed.kill();
    paused.signal('SIGSTOP');

    for (const worker of stressed) {
      worker.send({ type: 'stress', iterations: ITERATIONS, limit: LIMIT, ttlMs: 5000 });
    }
    const reports = await Promise.all(stressed.map((worker) => reportOf(worker, 'done')));
    const summary = JSON.stringify(reports);
    for (const report of reports) {
      assert.equal(report.violations, 0, summary);
      assert.ok(Number(report.maxInside) <= LIMIT, summary);
      assert.equal(report.refused, 0, `every write under a live permit: ${summary}`);
      assert.equal(report.aborted, 0, summary);
    }
    // The check saw the semaphore full, so it could have seen one holder too many.
    assert.equal(Math.max(...reports.map((r) => Number(r.maxInside))), LIMIT, summary);
    assert.equal(Number(await redis.client.get(`${prefix}work`)), STRESSED * ITERATIONS);

    paused.signal('SIGCONT');
    paused.send({ type: 'write' });
    const late = await reportOf(paused, 'wrote');
    assert.equal(late.aborted, true, 'the paused holder is told it lost its permit');
    assert.equal(late.reason, PermitLostError.name);
    assert.equal(late.accepted, false, 'its write is refused');
    assert.equal(Number(await redis.client.get(`${prefix}work`)), STRESSED * ITERATIONS);
  });
});
