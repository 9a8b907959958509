import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from '@jest/globals';
import { CodecError, InvalidArgumentError, type Job, type JobWorker } from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { QueueStore } from '../../../lib/queue/queue.store.js';
import { keysUnder } from '../../support/redis.js';
import { useQueueApp } from './queue-app.js';

describe('QueueService dead-letter list', () => {
  const app = useQueueApp();
  const { redis } = app;

  function key(name: string, part: string): string {
    return `${app.prefix}{queue:${name}}:${part}`;
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

  /** Resolves once `condition` holds; fails after `ms` (the 60 s leases below must not be waited out). */
  async function eventually(what: string, condition: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition()) {
      if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  function bounded<T>(what: string, work: Promise<T>, ms = 5000): Promise<T> {
    return within(work, ms, () => new Error(`not within ${ms} ms: ${what}`));
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
      await app.queue.addBulk(
        'flood',
        Array.from({ length: 10_000 }, (_, j) => ({ data: i + j })),
      );
    }
    const worker = app.start(
      'flood',
      () => {
        throw new Error('always');
      },
      { concurrency: 1000, keepDeadCount: 1000 },
    );
    await deadOutcomes(worker, total);
    const counts = await app.queue.counts('flood');
    assert.deepEqual([counts.waiting, counts.active, counts.dead], [0, 0, 1000]);
    const dead = await assertOnlyDeadJobsStored('flood');
    assert.equal(dead.length, 1000);
    // The newest were kept: the last jobs to fail.
    const listed = await app.queue.dead<number>('flood', { limit: 10_000 });
    assert.equal(listed.length, 1000);
    assert.ok(listed.every((job) => job.lastError === 'Error: always'));
    const parts = (await keysUnder(redis.client, app.prefix)).map((k) =>
      k.slice(k.lastIndexOf(':') + 1),
    );
    assert.deepEqual(
      parts.filter((part) => !['dead', 'jobs', 'state', 'errors', 'seq', 'wake'].includes(part)),
      [],
      'no other key holds anything',
    );
  });

  it('drops dead jobs older than keepDeadMs when another job dies', async () => {
    const worker = app.start(
      'aging',
      () => {
        throw new Error('no');
      },
      { keepDeadMs: 300 },
    );
    const first = await app.queue.add('aging', 'first');
    await once(worker, 'failed');
    assert.deepEqual(await assertOnlyDeadJobsStored('aging'), [first]);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const second = await app.queue.add('aging', 'second');
    await once(worker, 'failed');
    assert.deepEqual(await assertOnlyDeadJobsStored('aging'), [second]);
    assert.deepEqual(
      (await app.queue.dead('aging')).map((job) => job.data),
      ['second'],
    );
  });

  it('trims the dead list when expired leases bury jobs too', async () => {
    const store = new QueueStore(app.connections, 'crashed');
    await app.queue.addBulk('crashed', [{ data: 1 }, { data: 2 }, { data: 3 }]);
    const keepDead = { count: 1, ms: 60_000 };
    assert.equal((await store.claimJobs({ count: 3, leaseMs: 30, keepDead })).jobs.length, 3);
    await new Promise((resolve) => setTimeout(resolve, 60)); // the worker "crashed"
    await store.claimJobs({ count: 1, leaseMs: 1000, keepDead }); // buries all three
    const [kept] = await assertOnlyDeadJobsStored('crashed');
    assert.ok(kept);
    assert.equal((await app.queue.counts('crashed')).dead, 1);
  });

  it('refuses bad keepDeadCount and keepDeadMs with a typed error naming them', () => {
    assert.throws(
      () => app.queue.process('bad', () => 1, { keepDeadCount: -1 }),
      (error: Error) =>
        error instanceof InvalidArgumentError && /keepDeadCount/.test(error.message),
    );
    assert.throws(
      () => app.queue.process('bad', () => 1, { keepDeadMs: 1.5 }),
      (error: Error) => error instanceof InvalidArgumentError && /keepDeadMs/.test(error.message),
    );
  });

  it('dead-letters a job whose record cannot be decoded at once, and the jobs behind it run', async () => {
    await app.queue.pause('poison');
    const [before, garbage, refused, missing, after] = await app.queue.addBulk(
      'poison',
      ['before', 'garbage', 'refused', 'missing', 'after'].map((data) => ({
        data,
        opts: { attempts: 3 },
      })),
    );
    const jobs = key('poison', 'jobs');
    await redis.client.hset(jobs, garbage!, 'not a record');
    const record = (await redis.client.hget(jobs, refused!))!;
    // A valid header, then a payload the default codec refuses (an unknown tag).
    await redis.client.hset(jobs, refused!, `${record.split('\n')[0]}\n#{"$t":"zz"}`);
    await redis.client.hdel(jobs, missing!);
    // Concurrency 1: undecodable jobs come both from a claim of its own and from the claim made
    // with a completion. The 60 s lease must not be waited out.
    const worker = app.start('poison', (job) => job.data, { leaseMs: 60_000 });
    const completed: unknown[] = [];
    worker.on('completed', (job: Job) => completed.push(job.data));
    const undecodable = new Map<string, CodecError>();
    worker.on('undecodable', (id, error) => undecodable.set(id, error));
    await app.queue.resume('poison');
    await eventually('two jobs run, three dead-lettered', () => {
      return completed.length === 2 && undecodable.size === 3;
    });
    assert.deepEqual(completed, ['before', 'after']);
    assert.ok([...undecodable.values()].every((error) => error instanceof CodecError));
    const counts = await app.queue.counts('poison');
    assert.deepEqual([counts.waiting, counts.active, counts.dead], [0, 0, 3]);
    const dead = new Map((await app.queue.dead('poison')).map((job) => [job.id, job]));
    assert.match(dead.get(garbage!)!.decodeError!, /does not start with a valid header/);
    assert.match(dead.get(refused!)!.decodeError!, /codec refused its payload.*unknown tag "zz"/);
    assert.match(dead.get(missing!)!.decodeError!, /record is missing/);
    for (const id of [garbage!, refused!, missing!]) {
      const job = dead.get(id)!;
      assert.match(job.decodeError!, new RegExp(`Cannot decode job ${id} of queue "poison"`));
      assert.equal(job.data, undefined);
      assert.equal(job.lastError, `CodecError: ${job.decodeError}`);
      assert.equal(undecodable.get(id)!.message, job.decodeError);
      // Dead at the first attempt of three: no retry can read it.
      assert.deepEqual([job.attemptsMade, job.maxAttempts, job.history.length], [1, 3, 1]);
    }
    assert.ok(!dead.has(before!) && !dead.has(after!));
  });

  it('dead() lists a dead job whose record or history became unreadable, with the others', async () => {
    const worker = app.start('listing', () => {
      throw new Error('bad');
    });
    const died = deadOutcomes(worker, 2);
    const [spoiled, intact] = await app.queue.addBulk('listing', [
      { data: 'spoiled', opts: { name: 'x' } },
      { data: 'intact' },
    ]);
    await died;
    await redis.client.hset(key('listing', 'jobs'), spoiled!, 'garbage');
    await redis.client.hset(key('listing', 'errors'), intact!, 'not json');
    const dead = new Map((await app.queue.dead('listing')).map((job) => [job.id, job]));
    const first = dead.get(spoiled!)!;
    assert.equal(first.data, undefined);
    assert.equal(first.name, undefined);
    assert.match(first.decodeError!, /valid header/);
    assert.equal(first.lastError, 'Error: bad');
    assert.deepEqual([first.attemptsMade, first.maxAttempts], [1, 1]);
    const second = dead.get(intact!)!;
    assert.equal(second.data, 'intact');
    assert.equal(second.decodeError, undefined);
    assert.deepEqual(second.history, [], 'an unreadable history lists as empty');
  });

  it('retryDead of an undecodable job: dead again at once while unreadable, runs once repaired', async () => {
    await app.queue.pause('again');
    const [id] = await app.queue.addBulk('again', [{ data: { n: 1 }, opts: { attempts: 2 } }]);
    const jobs = key('again', 'jobs');
    const good = (await redis.client.hget(jobs, id!))!;
    await redis.client.hset(jobs, id!, 'garbage');
    const worker = app.start('again', (job) => job.data, { leaseMs: 60_000 });
    await app.queue.resume('again');
    await bounded('first burial', once(worker, 'undecodable'));
    assert.equal(await app.queue.retryDead('again', [id!]), 1);
    await bounded('second burial', once(worker, 'undecodable'));
    const [dead] = await app.queue.dead('again');
    assert.equal(dead!.id, id);
    assert.deepEqual([dead!.attemptsMade, dead!.maxAttempts], [1, 2]);
    assert.equal(dead!.history.length, 2);
    assert.ok(dead!.history.every((entry) => entry.error.startsWith('CodecError: ')));

    await redis.client.hset(jobs, id!, good);
    assert.equal(await app.queue.retryDead('again', [id!]), 1);
    const [job] = (await bounded('the repaired job runs', once(worker, 'completed'))) as [Job];
    assert.deepEqual([job.id, job.data, job.attempt], [id, { n: 1 }, 1]);
    assert.equal((await app.queue.counts('again')).dead, 0);
  });

  it('an unreadable error history does not stop failing or claiming', async () => {
    const worker = app.start(
      'history',
      () => {
        throw new Error('no');
      },
      { leaseMs: 60_000 },
    );
    await app.queue.pause('history');
    const id = await app.queue.add('history', 1, { attempts: 2 });
    await redis.client.hset(key('history', 'errors'), id, 'not json');
    const died = deadOutcomes(worker, 1);
    await app.queue.resume('history');
    await bounded('the job dies after two attempts', died);
    const [dead] = await app.queue.dead('history');
    assert.deepEqual(
      dead!.history.map((entry) => entry.error),
      ['Error: no', 'Error: no'],
    );
  });
});
