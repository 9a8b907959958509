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

  /** Sends `command` to every worker at once and collects each one's `done` report. */
  async function runAll(command: ChildMessage): Promise<ChildMessage[]> {
    for (const worker of workers) worker.messages.length = 0;
    for (const worker of workers) worker.send(command);
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
});
