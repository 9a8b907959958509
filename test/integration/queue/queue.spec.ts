import assert from 'node:assert/strict';
import { once } from 'node:events';
import { beforeEach, describe, it } from '@jest/globals';
import {
  InvalidArgumentError,
  InvalidKeyError,
  QueueJobTimeoutError,
  QueuePayloadError,
  QueueService,
  QueueShutdownError,
  type Job,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { DEFAULT_WORKER_OPTIONS } from '../../../lib/queue/queue.interfaces.js';
import { QueueStore, type ClaimRequest } from '../../../lib/queue/queue.store.js';
import { itOnPrivateRedis, keysUnder } from '../../support/redis.js';
import { useQueueApp } from './queue-app.js';

describe('QueueService', () => {
  const app = useQueueApp();
  const { redis } = app;
  let prefix: string;
  let queue: QueueService;
  let connections: RedisConnections;
  beforeEach(() => void ({ prefix, queue, connections } = app));
  const start = app.start;

  /** A claim for QueueStore calls made by hand, with the default dead-list bounds. */
  function claimOf(count: number, leaseMs: number): ClaimRequest {
    const { keepDeadCount, keepDeadMs } = DEFAULT_WORKER_OPTIONS;
    return { count, leaseMs, keepDead: { count: keepDeadCount, ms: keepDeadMs } };
  }

  it('runs an added job once, records its completion, keeps all keys under one hash tag', async () => {
    const seen: Job[] = [];
    const worker = start('emails', (job) => {
      seen.push(job);
      return 'sent';
    });
    const id = await queue.add('emails', { to: 'a@example.com', at: new Date(0) });
    const [job, result] = await once(worker, 'completed');
    assert.equal(result, 'sent');
    assert.equal((job as Job).id, id);
    assert.deepEqual(seen[0]!.data, { to: 'a@example.com', at: new Date(0) });
    assert.equal(seen[0]!.attempt, 1);
    assert.deepEqual(await queue.counts('emails'), {
      waiting: 0,
      active: 0,
      delayed: 0,
      completed: 1,
      dead: 0,
      paused: false,
    });
    const keys = await keysUnder(redis.client, prefix);
    assert.ok(keys.length > 0);
    for (const key of keys) assert.ok(key.startsWith(`${prefix}{queue:emails}:`), key);
    // Kept, with what the handler returned, in the bounded completed list.
    const done = await queue.getJob('emails', id);
    assert.equal(done?.state, 'completed');
    assert.equal(done?.returnValue, 'sent');
    assert.deepEqual(done?.data, { to: 'a@example.com', at: new Date(0) });
  });

  it('keeps nothing of a completed job with keepCompletedCount 0', async () => {
    const worker = start('emails', () => 'sent', { keepCompletedCount: 0 });
    const id = await queue.add('emails', { to: 'a@example.com' });
    await once(worker, 'completed');
    assert.equal(await queue.getJob('emails', id), undefined);
    for (const part of ['jobs', 'state', 'results', 'completed']) {
      assert.equal(await redis.client.exists(`${prefix}{queue:emails}:${part}`), 0, part);
    }
  });

  it('addBulk adds all jobs in order and the worker processes every one', async () => {
    const ids = await queue.addBulk(
      'bulk',
      Array.from({ length: 250 }, (_, i) => ({ data: i })),
    );
    assert.equal(ids.length, 250);
    assert.equal(new Set(ids).size, 250);
    assert.equal((await queue.counts('bulk')).waiting, 250);
    const order: number[] = [];
    const worker = start('bulk', (job) => void order.push(job.data as number), {
      keepCompletedCount: 100,
    });
    let completed = 0;
    worker.on('completed', () => completed++);
    while (completed < 250) await once(worker, 'completed');
    // FIFO with concurrency 1.
    assert.deepEqual(
      order,
      Array.from({ length: 250 }, (_, i) => i),
    );
    const counts = await queue.counts('bulk');
    assert.equal(counts.waiting + counts.active, 0);
    // Trimmed in batches: 100 kept, plus at most a tenth more between trims.
    assert.ok(
      counts.completed >= 100 && counts.completed <= 110,
      `the completed record is bounded by keepCompletedCount: ${counts.completed}`,
    );
    for (const part of ['jobs', 'state']) {
      assert.equal(
        await redis.client.hlen(`${prefix}{queue:bulk}:${part}`),
        counts.completed,
        `${part}: nothing kept beyond the completed list`,
      );
    }
  });

  it('dedups by jobId while the job waits, and runs it again once completed', async () => {
    assert.equal(await queue.add('dedup', 1, { jobId: 'j1' }), 'j1');
    assert.equal(await queue.add('dedup', 2, { jobId: 'j1' }), 'j1');
    await queue.addBulk('dedup', [{ data: 3, opts: { jobId: 'j1' } }]);
    assert.equal((await queue.counts('dedup')).waiting, 1);
    const data: unknown[] = [];
    const worker = start('dedup', (job) => void data.push(job.data));
    await once(worker, 'completed');
    assert.deepEqual(data, [1]);
    await queue.add('dedup', 4, { jobId: 'j1' });
    await once(worker, 'completed');
    assert.deepEqual(data, [1, 4]);
  });

  it('runs higher priorities first, FIFO within a priority', async () => {
    await queue.pause('prio');
    for (const [label, priority] of [
      ['low', -5],
      ['normal-1', 0],
      ['high-1', 10],
      ['normal-2', 0],
      ['high-2', 10],
    ] as const) {
      await queue.add('prio', label, { priority });
    }
    const order: string[] = [];
    const worker = start('prio', (job) => void order.push(job.data as string));
    let completed = 0;
    worker.on('completed', () => completed++);
    await queue.resume('prio');
    while (completed < 5) await once(worker, 'completed');
    assert.deepEqual(order, ['high-1', 'high-2', 'normal-1', 'normal-2', 'low']);
    // Every completion was recorded, a negative priority's included.
    const counts = await queue.counts('prio');
    assert.deepEqual([counts.completed, counts.active, counts.waiting], [5, 0, 0]);
  });

  it('does not run a delayed job before its delay', async () => {
    const worker = start('delayed', () => Date.now());
    const addedAt = Date.now();
    await queue.add('delayed', 'later', { delayMs: 400 });
    assert.equal((await queue.counts('delayed')).delayed, 1);
    const [, ranAt] = (await once(worker, 'completed')) as [Job, number];
    // Redis and this process share a clock; 1 ms covers the ms rounding of TIME.
    assert.ok(ranAt - addedAt >= 399, `ran after ${ranAt - addedAt} ms`);
  });

  // Counts the server's script calls, so it needs a private server (not REDIS_URL).
  itOnPrivateRedis(
    'an idle worker blocks on Redis instead of polling, and add() wakes it',
    async () => {
      const scriptCalls = async () => {
        const stats = await redis.client.info('commandstats');
        return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      };
      const worker = start('idle', () => 'ok');
      while (!String(await redis.client.client('LIST')).includes('cmd=blpop')) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const before = await scriptCalls();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.equal(await scriptCalls(), before, 'no claim attempts while idle');
      await queue.add('idle', 1);
      await once(worker, 'completed');
    },
  );

  it('keeps completed ids no longer than keepCompletedMs', async () => {
    const worker = start('short', () => 'ok', { keepCompletedMs: 0 });
    await queue.add('short', 1);
    await once(worker, 'completed');
    assert.equal((await queue.counts('short')).completed, 0);
  });

  it('pause stops claiming; resume wakes idle workers', async () => {
    const worker = start('paused', () => 'ok');
    await queue.pause('paused');
    await queue.add('paused', 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(
      { waiting: 1, paused: true },
      { waiting: (await queue.counts('paused')).waiting, paused: true },
    );
    await queue.resume('paused');
    await once(worker, 'completed');
    assert.equal((await queue.counts('paused')).paused, false);
  });

  it('retries with fixed backoff, then dead-letters with the error history; retryDead reruns', async () => {
    const attempts: number[] = [];
    let succeed = false;
    const worker = start('retry', (job) => {
      attempts.push(Date.now());
      if (!succeed) throw new Error(`boom ${job.attempt}`);
      return 'fine';
    });
    const id = await queue.add(
      'retry',
      { n: 1 },
      {
        attempts: 3,
        backoff: { type: 'fixed', delayMs: 200 },
      },
    );
    const outcomes: string[] = [];
    worker.on('failed', (_job, _error, outcome) => outcomes.push(outcome));
    while (outcomes.length < 3) await once(worker, 'failed');
    assert.deepEqual(outcomes, ['retry', 'retry', 'dead']);
    for (let i = 1; i < attempts.length; i++) {
      assert.ok(attempts[i]! - attempts[i - 1]! >= 199, `gap ${attempts[i]! - attempts[i - 1]!}`);
    }
    const [dead] = await queue.dead('retry');
    assert.equal(dead!.id, id);
    assert.deepEqual(dead!.data, { n: 1 });
    assert.equal(dead!.attemptsMade, 3);
    assert.equal(dead!.lastError, 'Error: boom 3');
    assert.deepEqual(
      dead!.history.map((h) => h.error),
      ['Error: boom 1', 'Error: boom 2', 'Error: boom 3'],
    );
    assert.equal((await queue.counts('retry')).dead, 1);

    succeed = true;
    assert.equal(await queue.retryDead('retry'), 1);
    const [job] = (await once(worker, 'completed')) as [Job];
    assert.equal(job.id, id);
    assert.equal(job.attempt, 1, 'retryDead gives a fresh set of attempts');
    assert.equal((await queue.counts('retry')).dead, 0);
  });

  it('exponential backoff doubles the wait between attempts', async () => {
    const times: number[] = [];
    const worker = start('expo', () => {
      times.push(Date.now());
      throw new Error('no');
    });
    await queue.add('expo', 1, { attempts: 3, backoff: { type: 'exponential', delayMs: 150 } });
    let dead = false;
    worker.on('failed', (_job, _error, outcome) => (dead = outcome === 'dead'));
    while (!dead) await once(worker, 'failed');
    assert.ok(times[1]! - times[0]! >= 149, `first gap ${times[1]! - times[0]!}`);
    assert.ok(times[2]! - times[1]! >= 299, `second gap ${times[2]! - times[1]!}`);
  });

  it('fails an attempt past timeoutMs (signal aborted) and the worker goes on', async () => {
    let reason: unknown;
    const worker = start('timeout', async (job, signal) => {
      if (job.data === 'hang') {
        signal.addEventListener('abort', () => (reason = signal.reason));
        await new Promise(() => undefined); // never settles, ignores the signal
      }
      return 'done';
    });
    await queue.add('timeout', 'hang', { timeoutMs: 100 });
    const [, error, outcome] = await once(worker, 'failed');
    assert.ok(error instanceof QueueJobTimeoutError);
    assert.ok(reason instanceof QueueJobTimeoutError);
    assert.equal(outcome, 'dead');
    await queue.add('timeout', 'quick');
    const [job] = (await once(worker, 'completed')) as [Job];
    assert.equal(job.data, 'quick');
    assert.match((await queue.dead('timeout'))[0]!.lastError!, /QueueJobTimeoutError.*100 ms/);
  });

  it('treats a thrown non-Error and a rejected promise as failed attempts', async () => {
    const worker = start(
      'throwers',
      (job) => {
        if (job.data === 'string') throw 'plain string';
        if (job.data === 'undefined') return Promise.reject(undefined);
        return Promise.reject(new RangeError('rejected'));
      },
      { concurrency: 3 },
    );
    await queue.addBulk('throwers', [{ data: 'string' }, { data: 'undefined' }, { data: 'err' }]);
    let failed = 0;
    worker.on('failed', () => failed++);
    while (failed < 3) await once(worker, 'failed');
    const errors = (await queue.dead('throwers')).map((d) => d.lastError).sort();
    assert.deepEqual(errors, [
      'RangeError: rejected',
      'non-Error thrown: "plain string"',
      'non-Error thrown: undefined',
    ]);
  });

  it('renews the lease of a long handler, so the job is not redone', async () => {
    const runs: number[] = [];
    const worker = start(
      'renew',
      async (job) => {
        runs.push(job.attempt);
        await new Promise((resolve) => setTimeout(resolve, 700));
      },
      { leaseMs: 150 },
    );
    let lost = false;
    worker.on('lost', () => (lost = true));
    await queue.add('renew', 1, { attempts: 5 });
    await once(worker, 'completed');
    assert.deepEqual(runs, [1]);
    assert.equal(lost, false);
  });

  it('refuses completion, failure and renewal with the token of an expired claim', async () => {
    const store = new QueueStore(connections, 'tokens');
    await queue.add('tokens', 'x', { attempts: 5 });
    const [first] = (await store.claimJobs(claimOf(1, 50))).jobs;
    await new Promise((resolve) => setTimeout(resolve, 80)); // the 50 ms lease expires
    const [second] = (await store.claimJobs(claimOf(1, 60_000))).jobs; // recovers it, claims it again
    assert.equal(second!.job.id, first!.job.id);
    assert.equal(second!.job.attempt, 2);
    const stale = { id: first!.job.id, token: first!.token };
    const keep = { count: 10, ms: 60_000 };
    const noClaim = claimOf(0, 1000);
    assert.deepEqual((await store.completeJobs([stale], keep, noClaim)).statuses, [0]);
    assert.equal((await store.failJob(stale.id, stale.token, 'late', 0, noClaim)).status, 0);
    assert.deepEqual([...(await store.extendLeases([stale], 1000))], [stale.id]);
    assert.equal(await store.releaseJobs([stale]), 0);
    assert.deepEqual((await queue.counts('tokens')).active, 1, 'the second claim still holds it');
    const current = { id: second!.job.id, token: second!.token };
    assert.deepEqual((await store.completeJobs([current], keep, noClaim)).statuses, [1]);
  });

  it('counts an expired lease as an attempt: the last one dead-letters the job', async () => {
    const store = new QueueStore(connections, 'expiry');
    const id = await queue.add('expiry', 'x', { attempts: 1 });
    assert.equal((await store.claimJobs(claimOf(1, 30))).jobs.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the worker "crashed"
    const next = await store.claimJobs(claimOf(1, 1000));
    assert.equal(next.jobs.length, 0);
    const [dead] = await queue.dead('expiry');
    assert.equal(dead!.id, id);
    assert.match(dead!.lastError!, /lease expired/);
    assert.equal(dead!.attemptsMade, 1);
  });

  it('close() lets a running handler finish within drainTimeoutMs', async () => {
    let release!: () => void;
    const worker = start('drain', () => new Promise<void>((resolve) => (release = resolve)), {
      drainTimeoutMs: 5000,
    });
    await queue.add('drain', 1);
    while ((await queue.counts('drain')).active === 0) await new Promise((r) => setTimeout(r, 10));
    const closed = worker.close();
    setTimeout(() => release(), 100);
    await closed;
    const counts = await queue.counts('drain');
    assert.deepEqual([counts.completed, counts.waiting, counts.active], [1, 0, 0]);
  });

  it('close() hands unfinished jobs back to waiting at once, attempt not counted', async () => {
    let reason: unknown;
    const worker = start(
      'handback',
      (_job, signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            reason = signal.reason;
            reject(signal.reason as Error);
          }),
        ),
      { drainTimeoutMs: 100, leaseMs: 60_000, concurrency: 2 },
    );
    await queue.addBulk('handback', [{ data: 1 }, { data: 2 }]);
    while ((await queue.counts('handback')).active < 2) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await worker.close();
    assert.ok(reason instanceof QueueShutdownError);
    const counts = await queue.counts('handback');
    assert.deepEqual([counts.waiting, counts.active, counts.dead], [2, 0, 0]);
    // Back long before the 60 s lease; the next worker sees attempt 1 again.
    const next = start('handback', (job) => job.attempt);
    const [, attempt] = await once(next, 'completed');
    assert.equal(attempt, 1);
  });

  it('refuses bad input with typed errors and enqueues nothing', async () => {
    await assert.rejects(queue.add('bad', { f: () => 1 }), QueuePayloadError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(
      queue.addBulk<unknown>('bad', [{ data: 1 }, { data: cyclic }]),
      QueuePayloadError,
      'one bad payload fails the whole bulk',
    );
    await assert.rejects(queue.add('bad', 'x'.repeat(2 * 1024 * 1024)), /maxPayloadBytes/);
    await assert.rejects(queue.add('bad', 1, { delayMs: -1 }), InvalidArgumentError);
    await assert.rejects(
      queue.add('bad', 1, { delay: 5 } as never),
      /job options\.delay.*unknown option/,
    );
    await assert.rejects(queue.add('bad', 1, { priority: 1.5 }), InvalidArgumentError);
    await assert.rejects(queue.add('bad', 1, { attempts: 0 }), InvalidArgumentError);
    await assert.rejects(
      queue.add('bad', 1, { backoff: { type: 'linear', delayMs: 1 } as never }),
      /backoff\.type/,
    );
    await assert.rejects(
      queue.add('bad', 1, { backoff: { type: 'fixed', delayMs: -5 } }),
      /backoff\.delayMs/,
    );
    await assert.rejects(queue.add('', 1), InvalidKeyError);
    assert.throws(() => queue.process('bad', () => 1, { concurrency: 0 }), /concurrency/);
    assert.throws(
      () => queue.process('bad', () => 1, { lease: 5 } as never),
      /worker options\.lease/,
    );
    assert.throws(() => queue.process('bad', 'nope' as never), /handler/);
    await assert.rejects(queue.dead('bad', { limit: 0 }), InvalidArgumentError);
    assert.deepEqual(await keysUnder(redis.client, prefix), []);
  });
});
