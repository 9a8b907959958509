import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, it } from '@jest/globals';
import {
  InvalidArgumentError,
  QueueService,
  RedisCoordinationModule,
  type JobWorker,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { QueueStore } from '../../../lib/queue/queue.store.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { keysUnder, uniqueKeyPrefix } from '../../support/redis.js';
import { useTestRedis } from '../../support/hooks.js';

describe('QueueService dead-letter list', () => {
  let prefix: string;
  let queue: QueueService;
  let connections: RedisConnections;
  const workers: JobWorker[] = [];

  const redis = useTestRedis();
  beforeEach(async () => {
    prefix = uniqueKeyPrefix();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
    ]);
    queue = moduleRef.get(QueueService);
    connections = moduleRef.get(RedisConnections);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.close()));
    await closeStartedModules();
  });

  function start(...args: Parameters<QueueService['process']>): JobWorker {
    const worker = queue.process(...args);
    workers.push(worker);
    return worker;
  }

  function key(name: string, part: string): string {
    return `${prefix}{queue:${name}}:${part}`;
  }

  /** Resolves once the worker has dead-lettered `count` jobs in all. */
  function deadOutcomes(worker: JobWorker, count: number): Promise<void> {
    let dead = 0;
    return new Promise((resolve) => {
      worker.on('failed', (_job, _error, outcome) => {
        if (outcome === 'dead' && ++dead === count) resolve();
      });
    });
  }

  /** Every per-job entry (record, state, errors) belongs to a job still in the dead list. */
  async function assertOnlyDeadJobsStored(name: string): Promise<string[]> {
    const dead = (await redis.client.zrange(key(name, 'dead'), '0', '-1')).sort();
    for (const part of ['jobs', 'state', 'errors']) {
      assert.deepEqual((await redis.client.hkeys(key(name, part))).sort(), dead, `${part} fields`);
    }
    return dead;
  }

  it('keeps at most keepDeadCount dead jobs: 100 000 failures leave 1000 and no orphan entry', async () => {
    // About 9 s on 2 cores (1.7 s of it adding): one failJob round trip per job.
    const total = 100_000;
    for (let i = 0; i < total; i += 10_000) {
      await queue.addBulk(
        'flood',
        Array.from({ length: 10_000 }, (_, j) => ({ data: i + j })),
      );
    }
    const worker = start(
      'flood',
      () => {
        throw new Error('always');
      },
      { concurrency: 1000, keepDeadCount: 1000 },
    );
    await deadOutcomes(worker, total);
    const counts = await queue.counts('flood');
    assert.deepEqual([counts.waiting, counts.active, counts.dead], [0, 0, 1000]);
    const dead = await assertOnlyDeadJobsStored('flood');
    assert.equal(dead.length, 1000);
    // The newest were kept: the last jobs to fail.
    const listed = await queue.dead<number>('flood', { limit: 10_000 });
    assert.equal(listed.length, 1000);
    assert.ok(listed.every((job) => job.lastError === 'Error: always'));
    const parts = (await keysUnder(redis.client, prefix)).map((k) =>
      k.slice(k.lastIndexOf(':') + 1),
    );
    assert.deepEqual(
      parts.filter((part) => !['dead', 'jobs', 'state', 'errors', 'seq', 'wake'].includes(part)),
      [],
      'no other key holds anything',
    );
  });

  it('drops dead jobs older than keepDeadMs when another job dies', async () => {
    const worker = start(
      'aging',
      () => {
        throw new Error('no');
      },
      { keepDeadMs: 300 },
    );
    const first = await queue.add('aging', 'first');
    await once(worker, 'failed');
    assert.deepEqual(await assertOnlyDeadJobsStored('aging'), [first]);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const second = await queue.add('aging', 'second');
    await once(worker, 'failed');
    assert.deepEqual(await assertOnlyDeadJobsStored('aging'), [second]);
    assert.deepEqual(
      (await queue.dead('aging')).map((job) => job.data),
      ['second'],
    );
  });

  it('trims the dead list when expired leases bury jobs too', async () => {
    const store = new QueueStore(connections, 'crashed');
    await queue.addBulk('crashed', [{ data: 1 }, { data: 2 }, { data: 3 }]);
    const keepDead = { count: 1, ms: 60_000 };
    assert.equal((await store.claimJobs({ count: 3, leaseMs: 30, keepDead })).jobs.length, 3);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the worker "crashed"
    await store.claimJobs({ count: 1, leaseMs: 1000, keepDead }); // buries all three
    const [kept] = await assertOnlyDeadJobsStored('crashed');
    assert.ok(kept);
    assert.equal((await queue.counts('crashed')).dead, 1);
  });

  it('refuses bad keepDeadCount and keepDeadMs with a typed error naming them', () => {
    assert.throws(
      () => queue.process('bad', () => 1, { keepDeadCount: -1 }),
      (error: Error) =>
        error instanceof InvalidArgumentError && /keepDeadCount/.test(error.message),
    );
    assert.throws(
      () => queue.process('bad', () => 1, { keepDeadMs: 1.5 }),
      (error: Error) => error instanceof InvalidArgumentError && /keepDeadMs/.test(error.message),
    );
  });
});
