import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { ChildApp, type ChildMessage } from '../../support/child-process.js';
import { startTestRedis, uniqueKeyPrefix, type TestRedis } from '../../support/redis.js';

const PROCESSES = 8;

describe('lock across 8 processes', () => {
  let redis: TestRedis;
  let workers: ChildApp[] = [];
  beforeAll(async () => {
    redis = await startTestRedis();
    const env = { REDIS_URL: redis.url, LOCK_PREFIX: uniqueKeyPrefix() };
    workers = Array.from({ length: PROCESSES }, () => ChildApp.spawn('lock-worker', { env }));
    await Promise.all(workers.map((worker) => worker.waitFor('ready')));
  });
  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.kill()));
    await redis.dispose();
  });

  /** Sends `command` (or worker i's) to every worker at once and collects each one's `done` report. */
  async function runAll(
    command: ChildMessage | ((worker: number) => ChildMessage),
  ): Promise<ChildMessage[]> {
    for (const worker of workers) worker.messages.length = 0;
    workers.forEach((worker, i) =>
      worker.send(typeof command === 'function' ? command(i) : command),
    );
    return Promise.all(
      workers.map((worker) =>
        Promise.race([
          worker.waitFor('done'),
          worker.waitFor('failed').then((m) => assert.fail(String(m.error))),
        ]),
      ),
    );
  }

  it('is mutually exclusive: no lost update, no fenced write rejected', async () => {
    const iterations = 150;
    const reports = await runAll({ type: 'exclusion', iterations });
    assert.equal(Number(await redis.client.get('counter')), PROCESSES * iterations);
    assert.deepEqual(
      reports.map((r) => r.rejected),
      Array(PROCESSES).fill(0),
    );
  });

  for (const fair of [false, true]) {
    it(`serves every contender, none starved past waitMs (fair: ${fair})`, async () => {
      const waitMs = 5000;
      const reports = await runAll({ type: 'hammer', durationMs: 2000, holdMs: 1, waitMs, fair });
      const counts = reports.map((r) => Number(r.acquisitions));
      const summary = JSON.stringify(reports);
      assert.deepEqual(
        reports.map((r) => r.failures),
        Array(PROCESSES).fill(0),
        summary,
      );
      for (const report of reports) assert.ok(Number(report.maxWaitMs) < waitMs, summary);
      // A starving contender would have (close to) none; share-out is measured in the benchmark.
      assert.ok(Math.min(...counts) >= Math.max(...counts) / 4, summary);
    });
  }

  it('read-write: no write overlaps any hold, readers overlap, writers are not starved', async () => {
    const writers = 2;
    // Shorter than the run: a writer starved by readers fails with LockTimeoutError.
    const waitMs = 2000;
    const reports = await runAll((i) => ({
      type: 'readWrite',
      role: i < writers ? 'writer' : 'reader',
      durationMs: 4000,
      // Readers hold long enough to overlap back to back: without writer preference the read
      // holds would never all end, and the writers would wait out waitMs.
      holdMs: i < writers ? 2 : 50,
      waitMs,
    }));
    const summary = JSON.stringify(reports);
    for (const report of reports) {
      assert.equal(report.violations, 0, summary);
      assert.equal(report.failures, 0, summary);
      assert.ok(Number(report.maxWaitMs) < waitMs, summary);
    }
    const writes = reports.slice(0, writers).reduce((sum, r) => sum + Number(r.acquisitions), 0);
    assert.ok(
      reports.slice(0, writers).every((r) => Number(r.acquisitions) > 0),
      summary,
    );
    assert.equal(Number(await redis.client.get('rw:counter')), writes, 'a write was lost');
    assert.ok(
      Math.max(...reports.map((r) => Number(r.mostReaders))) > 1,
      'readers never overlapped',
    );
  });
});
