import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from '@jest/globals';
import {
  InvalidArgumentError,
  InvalidKeyError,
  QueueJobActiveError,
  QueueLeaseLostError,
  QueuePayloadError,
  type Job,
} from '../../../lib/index.js';
import { keysUnder } from '../../support/redis.js';
import { useQueueApp } from './queue-app.js';

describe('QueueService job management', () => {
  const app = useQueueApp();
  const { redis } = app;

  /** A handler that holds each job until `release()` and reports when it started. */
  function holding() {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let started!: (job: Job) => void;
    const running = new Promise<Job>((resolve) => (started = resolve));
    return {
      handler: async (job: Job) => {
        started(job);
        await released;
        return { done: job.id };
      },
      running,
      release,
    };
  }

  it('shows a job in every state with its data, attempts, errors, progress and result', async () => {
    const { queue } = app;
    assert.equal(await queue.getJob('inspect', 'nope'), undefined);
    const waiting = await queue.add('inspect', { n: 1 }, { name: 'w', priority: 5, attempts: 2 });
    const delayed = await queue.add('inspect', { n: 2 }, { delayMs: 60_000 });
    const w = await queue.getJob('inspect', waiting);
    assert.equal(w?.state, 'waiting');
    assert.deepEqual(
      { name: w?.name, data: w?.data, priority: w?.priority, max: w?.maxAttempts },
      { name: 'w', data: { n: 1 }, priority: 5, max: 2 },
    );
    assert.equal(w?.attemptsMade, 0);
    assert.ok(Math.abs(w!.addedAt! - Date.now()) < 60_000);
    const d = await queue.getJob('inspect', delayed);
    assert.equal(d?.state, 'delayed');
    assert.ok(d!.dueAt! > Date.now() + 50_000, 'due in about a minute');

    const hold = holding();
    const worker = app.start('inspect', hold.handler);
    const job = await hold.running;
    assert.equal(job.id, waiting);
    await job.progress({ step: 'half', pct: 50 });
    const a = await queue.getJob('inspect', waiting);
    assert.equal(a?.state, 'active');
    assert.equal(a?.attemptsMade, 1);
    assert.ok(a!.leaseExpiresAt! > Date.now());
    assert.deepEqual(a?.progress, { step: 'half', pct: 50 });
    hold.release();
    await once(worker, 'completed');
    const c = await queue.getJob('inspect', waiting);
    assert.equal(c?.state, 'completed');
    assert.deepEqual(c?.returnValue, { done: waiting });
    assert.deepEqual(c?.progress, { step: 'half', pct: 50 });
    assert.ok(c!.finishedAt! >= a!.leaseExpiresAt! - 30_000);
    await worker.close();

    const failing = app.start('failing', () => {
      throw new Error('smtp down');
    });
    const doomed = await app.queue.add('failing', 'x');
    await once(failing, 'failed');
    const dead = await queue.getJob('failing', doomed);
    assert.equal(dead?.state, 'dead');
    assert.equal(dead?.lastError, 'Error: smtp down');
    assert.equal(dead?.history.length, 1);
    assert.equal(dead?.returnValue, undefined);
  });

  it('pages through each state in serving order, completed and dead newest first', async () => {
    const { queue } = app;
    const ids = await queue.addBulk(
      'pages',
      Array.from({ length: 25 }, (_, i) => ({ data: i, opts: { priority: i === 7 ? 1 : 0 } })),
    );
    const first = await queue.jobs('pages', 'waiting', { limit: 3 });
    assert.deepEqual(
      first.map((job) => job.data),
      [7, 0, 1],
      'the higher priority first, then FIFO',
    );
    const rest = await queue.jobs('pages', 'waiting', { offset: 3, limit: 100 });
    assert.equal(rest.length, 22);
    assert.ok(rest.every((job) => job.state === 'waiting'));
    const worker = app.start('pages', (job) => job.data, { concurrency: 1 });
    let completed = 0;
    worker.on('completed', () => completed++);
    while (completed < 25) await once(worker, 'completed');
    const finished = await queue.jobs('pages', 'completed', { limit: 25 });
    assert.equal(finished.length, 25);
    for (let i = 1; i < finished.length; i++) {
      assert.ok(finished[i - 1]!.finishedAt! >= finished[i]!.finishedAt!, 'newest first');
    }
    assert.equal(ids.length, 25);
    await assert.rejects(queue.jobs('pages', 'finished' as never), InvalidArgumentError);
    await assert.rejects(queue.jobs('pages', 'waiting', { limit: 1001 }), InvalidArgumentError);
    await assert.rejects(queue.jobs('pages', 'waiting', { offset: -1 }), InvalidArgumentError);
  });

  it('removes a job with every trace; refuses an active one unless forced', async () => {
    const { queue } = app;
    const id = await queue.add('rm', 'a');
    assert.equal(await queue.remove('rm', id), true);
    assert.equal(await queue.remove('rm', id), false);
    assert.equal(await queue.getJob('rm', id), undefined);
    assert.deepEqual(await keysUnder(redis.client, `${app.prefix}{queue:rm}:jobs`), []);

    const hold = holding();
    const worker = app.start('rm', hold.handler, { leaseMs: 300 });
    const running = await queue.add('rm', 'b');
    await hold.running;
    await assert.rejects(queue.remove('rm', running), QueueJobActiveError);
    assert.equal((await queue.getJob('rm', running))?.state, 'active');
    const lost = once(worker, 'lost');
    assert.equal(await queue.remove('rm', running, { force: true }), true);
    hold.release();
    await lost; // its completion was refused: the job stays gone
    assert.equal(await queue.getJob('rm', running), undefined);
    await assert.rejects(queue.remove('rm', ''), InvalidKeyError);
  });

  it('removes a job only from the list it is asked to, in the same step ({ state })', async () => {
    const { queue } = app;
    const waiting = await queue.add('only', 'w');
    assert.equal(await queue.remove('only', waiting, { state: 'dead' }), false);
    assert.equal((await queue.getJob('only', waiting))?.state, 'waiting');
    const worker = app.start('only-dead', () => {
      throw new Error('boom');
    });
    const dead = await queue.add('only-dead', 'd', { attempts: 1 });
    await once(worker, 'failed');
    await worker.close();
    assert.equal(await queue.remove('only-dead', dead, { state: 'completed' }), false);
    assert.equal(await queue.remove('only-dead', dead, { state: 'dead' }), true);
    assert.equal(await queue.getJob('only-dead', dead), undefined);
    await assert.rejects(
      queue.remove('only', waiting, { state: 'waiting' } as never),
      InvalidArgumentError,
    );
  });

  it('cleans finished jobs by age, at most limit per call', async () => {
    const { queue } = app;
    const worker = app.start('clean', (job) => {
      if (job.data === 'fail') throw new Error('no');
      return 'ok';
    });
    await queue.addBulk('clean', [
      ...Array.from({ length: 5 }, () => ({ data: 'ok' })),
      ...Array.from({ length: 2 }, () => ({ data: 'fail' })),
    ]);
    let settled = 0;
    const settledAll = new Promise<void>((resolve) => {
      const count = () => ++settled === 7 && resolve();
      worker.on('completed', count).on('failed', count);
    });
    await settledAll;
    assert.equal(await queue.clean('clean', 'completed', { olderThanMs: 60_000 }), 0, 'too young');
    assert.equal(await queue.clean('clean', 'completed', { limit: 3 }), 3);
    assert.equal(await queue.clean('clean', 'completed'), 2);
    assert.equal(await queue.clean('clean', 'dead'), 2);
    const counts = await queue.counts('clean');
    assert.deepEqual([counts.completed, counts.dead], [0, 0]);
    for (const part of ['jobs', 'state', 'errors', 'results']) {
      assert.equal(await redis.client.exists(`${app.prefix}{queue:clean}:${part}`), 0, part);
    }
    await assert.rejects(queue.clean('clean', 'waiting' as never), InvalidArgumentError);
    await assert.rejects(queue.clean('clean', 'dead', { limit: 0 }), InvalidArgumentError);
  });

  it('obliterates a queue, refusing while jobs are active unless forced', async () => {
    const { queue } = app;
    await queue.addBulk('gone', [{ data: 1 }, { data: 2, opts: { delayMs: 60_000 } }]);
    const hold = holding();
    app.start('gone', hold.handler, { leaseMs: 300 });
    await hold.running;
    await assert.rejects(queue.obliterate('gone'), QueueJobActiveError);
    assert.ok((await keysUnder(redis.client, app.prefix)).length > 0);
    await queue.obliterate('gone', { force: true });
    hold.release();
    assert.deepEqual(await keysUnder(redis.client, app.prefix), []);
    await queue.obliterate('never-used');
  });

  it('records progress only while the worker holds the job, and refuses what cannot be stored', async () => {
    const { queue } = app;
    const hold = holding();
    app.start('progress', hold.handler, { leaseMs: 300 });
    const id = await queue.add('progress', 1);
    const job = await hold.running;
    await job.progress(10);
    assert.equal((await queue.getJob('progress', id))?.progress, 10);
    await assert.rejects(
      job.progress(() => 1),
      QueuePayloadError,
    );
    await queue.remove('progress', id, { force: true });
    await assert.rejects(job.progress(20), QueueLeaseLostError);
    hold.release();
  });

  it('completes a job whose return value cannot be stored, without keeping it', async () => {
    const { queue } = app;
    const worker = app.start('unstorable', () => () => 'a function');
    const id = await queue.add('unstorable', 1);
    await once(worker, 'completed');
    const job = await queue.getJob('unstorable', id);
    assert.equal(job?.state, 'completed');
    assert.equal('returnValue' in job!, false);
  });
});
