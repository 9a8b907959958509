import assert from 'node:assert/strict';
import { once } from 'node:events';
import { beforeEach, describe, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  InvalidArgumentError,
  InvalidKeyError,
  QueuePayloadError,
  QueueScheduler,
  QueueService,
  QueueWorker,
  QueueWorkerConflictError,
  RedisCoordinationModule,
  type Job,
  type JobWorker,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { RedisScript } from '../../../lib/connection/script-runner.js';
import { keysOfScript, queueKeys } from '../../../lib/queue/queue.keys.js';
import { fireSchedulers } from '../../../lib/queue/scripts/lua.generated.js';
import { startModule } from '../../support/nest.js';
import { useQueueApp } from './queue-app.js';

/** The slot a scheduled job was created for, from its id `<scheduler id>:<slot>`. */
function slotOf(job: Job): number {
  return Number(job.id.slice(job.id.lastIndexOf(':') + 1));
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Resolves once `jobs` holds `count` jobs, as the worker completes them. */
async function until(worker: JobWorker, jobs: readonly Job[], count: number): Promise<void> {
  while (jobs.length < count) await once(worker, 'completed');
}

@Injectable()
class Reports {
  /** The jobs each method ran. */
  readonly ran: { method: string; job: Job }[] = [];

  @QueueScheduler('reports', 'tick', { everyMs: 100 }, { data: 'scheduled' })
  tick(job: Job) {
    this.ran.push({ method: 'tick', job });
  }

  @QueueScheduler('reports', 'named', { everyMs: 100 }, { name: 'other-name', data: 'named' })
  @QueueWorker('reports', { concurrency: 2 })
  fallback(job: Job) {
    this.ran.push({ method: 'fallback', job });
  }
}

@Injectable()
class Stacked {
  @QueueScheduler('stacked', 'hourly', { everyMs: 3_600_000 })
  @QueueWorker('stacked', { name: 'hourly' })
  hourly() {}
}

@Injectable()
class DeclaredTwice {
  @QueueScheduler('twice', 'hourly', { everyMs: 3_600_000 }, { name: 'a' })
  a() {}

  @QueueScheduler('twice', 'hourly', { everyMs: 3_600_000 }, { name: 'b' })
  b() {}
}

describe('Queue schedulers', () => {
  const app = useQueueApp();
  const { redis } = app;
  let queue: QueueService;
  let connections: RedisConnections;
  beforeEach(() => void ({ queue, connections } = app));

  /** Every job the queue's worker runs, in order. */
  function record(name: string): { jobs: Job[]; worker: JobWorker } {
    const jobs: Job[] = [];
    const worker = app.start(name, (job) => void jobs.push(job), { concurrency: 4 });
    return { jobs, worker };
  }

  function keys(name: string) {
    return queueKeys(connections.keys, name);
  }

  async function redisNow(): Promise<number> {
    const [seconds, micros] = await redis.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  it('creates one job per slot, on the multiples of everyMs, with ids <scheduler id>:<slot>', async () => {
    // Longer than the ~100 ms an idle worker may wake late (Redis ends blocking waits on its
    // 10 Hz timer): a job created a whole period late would merge the next slot into it.
    const everyMs = 250;
    const before = await redisNow();
    const { nextRunAt } = await queue.upsertScheduler(
      'ticks',
      'tick',
      { everyMs },
      { data: { n: 1 }, opts: { attempts: 2, priority: 5 } },
    );
    const after = await redisNow();
    assert.equal(nextRunAt % everyMs, 0, 'aligned on the period');
    assert.ok(nextRunAt > before && nextRunAt <= after + everyMs, 'the first slot after now');
    const { jobs, worker } = record('ticks');
    await until(worker, jobs, 4);
    const slots = jobs.map(slotOf);
    assert.equal(slots[0], nextRunAt);
    for (const [i, job] of jobs.entries()) {
      assert.equal(job.id, `tick:${slots[i]}`);
      assert.equal(slots[i]! % everyMs, 0);
      if (i > 0) assert.equal(slots[i]! - slots[i - 1]!, everyMs, 'consecutive slots');
      assert.equal(job.name, 'tick', 'the job name defaults to the scheduler id');
      assert.deepEqual(job.data, { n: 1 });
      assert.equal(job.maxAttempts, 2);
      // Created at (or right after) its slot, not before.
      assert.ok(job.addedAt >= slots[i]!, `job ${job.id} added at ${job.addedAt}`);
    }
  });

  it('an upsert with the same pattern keeps the next slot; a new pattern moves it', async () => {
    const first = await queue.upsertScheduler('reports', 'hourly', { everyMs: 3_600_000 });
    // As if stored long ago: a recomputed first slot would be the next hour instead.
    const stored = first.nextRunAt + 5 * 3_600_000;
    await redis.client.zadd(keys('reports').schedule, stored, 'hourly');
    const again = await queue.upsertScheduler(
      'reports',
      'hourly',
      { everyMs: 3_600_000 },
      { data: 'new template' },
    );
    assert.equal(again.nextRunAt, stored, 'kept');
    const cron = await queue.upsertScheduler('reports', 'hourly', { cron: '0 * * * *' });
    assert.equal(cron.nextRunAt, first.nextRunAt, 'moved to the first slot of the new pattern');
    const spaced = await queue.upsertScheduler('reports', 'hourly', { cron: ' 0  *  * * * ' });
    assert.equal(spaced.nextRunAt, first.nextRunAt, 'the same expression, other spacing');
    const zoned = await queue.upsertScheduler('reports', 'hourly', {
      cron: '0 * * * *',
      tz: 'Asia/Kolkata', // UTC+5:30: on the half hour
    });
    assert.equal(zoned.nextRunAt % 3_600_000, 1_800_000);
    assert.equal(await redis.client.hlen(keys('reports').schedulers), 1);
    assert.equal(await redis.client.zcard(keys('reports').schedule), 1);
  });

  it('an upserted template applies from the next job on', async () => {
    await queue.upsertScheduler('mail', 'digest', { everyMs: 100 }, { data: 'v1' });
    const { jobs, worker } = record('mail');
    await until(worker, jobs, 1);
    await queue.upsertScheduler(
      'mail',
      'digest',
      { everyMs: 100 },
      { name: 'digest-v2', data: 'v2', opts: { attempts: 3 } },
    );
    const upsertedAt = await redisNow();
    // Jobs created before the upsert may still be running; those created after use the new one.
    while (!jobs.some((job) => job.addedAt > upsertedAt)) await once(worker, 'completed');
    for (const job of jobs.filter((j) => j.addedAt > upsertedAt)) {
      assert.deepEqual([job.data, job.name, job.maxAttempts], ['v2', 'digest-v2', 3]);
    }
    const [listed] = await queue.schedulers('mail');
    assert.deepEqual(listed!.template, { name: 'digest-v2', data: 'v2', opts: { attempts: 3 } });
  });

  it('lists schedulers with their pattern, next slot, last job and template; removing one stops it', async () => {
    const cron = await queue.upsertScheduler(
      'listed',
      'nightly',
      { cron: '0 3 * * *', tz: 'europe/paris' },
      { name: 'nightly', data: { kind: 'full' }, opts: { attempts: 3 } },
    );
    await queue.upsertScheduler('listed', 'flush', { everyMs: 100 }, { data: new Date(0) });
    const { jobs, worker } = record('listed');
    await until(worker, jobs, 1);
    const [flush, nightly] = await queue.schedulers('listed');
    assert.deepEqual(nightly, {
      id: 'nightly',
      pattern: { cron: '0 3 * * *', tz: 'Europe/Paris' },
      nextRunAt: cron.nextRunAt,
      template: { name: 'nightly', data: { kind: 'full' }, opts: { attempts: 3 } },
    });
    assert.equal(new Date(cron.nextRunAt).getUTCMinutes(), 0);
    assert.ok([1, 2].includes(new Date(cron.nextRunAt).getUTCHours()), '03:00 in Paris');
    assert.equal(flush!.id, 'flush');
    assert.deepEqual(flush!.pattern, { everyMs: 100 });
    assert.deepEqual(flush!.template, { name: 'flush', data: new Date(0), opts: {} });
    assert.ok(flush!.lastRunAt! >= slotOf(jobs[0]!));
    assert.equal(flush!.lastJobId, `flush:${flush!.lastRunAt}`);
    assert.ok(flush!.nextRunAt > flush!.lastRunAt! && flush!.nextRunAt % 100 === 0);

    assert.equal(await queue.removeScheduler('listed', 'flush'), true);
    assert.equal(await queue.removeScheduler('listed', 'flush'), false);
    assert.deepEqual(
      (await queue.schedulers('listed')).map((s) => s.id),
      ['nightly'],
    );
    // Its last job may have been created just before the removal; none after.
    const removedAt = await redisNow();
    const stopped = jobs.length;
    await queue.upsertScheduler('listed', 'probe', { everyMs: 100 });
    while (!jobs.some((job) => job.name === 'probe')) await once(worker, 'completed');
    const late = jobs.slice(stopped).filter((j) => j.name === 'flush' && slotOf(j) > removedAt);
    assert.deepEqual(late, [], 'no flush job after the removal');
    assert.deepEqual((await redis.client.hkeys(keys('listed').schedulers)).sort(), [
      'nightly',
      'probe',
    ]);
  });

  it('catch-up: slots missed while no worker ran give one job, then the next future slot', async () => {
    await queue.upsertScheduler('late', 'tick', { everyMs: 100 });
    // As if no worker had run for 5 s: 50 slots are due.
    const missed = Math.floor((await redisNow()) / 100) * 100 - 5000;
    await redis.client.zadd(keys('late').schedule, missed, 'tick');
    const { jobs, worker } = record('late');
    await until(worker, jobs, 2);
    const [catchUp, next] = jobs as [Job, Job];
    assert.equal(slotOf(catchUp), missed, 'one job for the missed slot');
    // The next job is for the first slot after the catch-up was created, not for missed + 100.
    const nextSlot = slotOf(next);
    assert.ok(Math.abs(nextSlot - catchUp.addedAt) <= 100, `${nextSlot} vs ${catchUp.addedAt}`);
  });

  it('two apps racing to fire the same scheduler create one job per slot, each run once', async () => {
    const other = (
      await startModule([
        RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: app.prefix }),
      ])
    ).get(QueueService);
    const runs: Job[] = [];
    const handler = (job: Job) => void runs.push(job);
    // Both upsert it (at boot), both run workers that race at every slot.
    const everyMs = 300;
    await Promise.all(
      [queue, other].map((service) => service.upsertScheduler('race', 'tick', { everyMs })),
    );
    const workers = [queue, other].flatMap((service) =>
      [1, 2].map(() => service.process('race', handler, { concurrency: 2 })),
    );
    try {
      await waitUntil(() => runs.length >= 12);
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
    }
    const slots = runs.map(slotOf).sort((a, b) => a - b);
    assert.equal(new Set(slots).size, slots.length, `a slot ran twice: ${slots.join(' ')}`);
    const span = (slots.at(-1)! - slots[0]!) / everyMs + 1;
    assert.equal(slots.length, span, `a slot is missing: ${slots.join(' ')}`);
    assert.ok(
      runs.every((job) => job.attempt === 1),
      'every job ran once',
    );
    const fired = new Set(runs.map((job) => job.id));
    const stored = await redis.client.hget(keys('race').schedulers, 'tick');
    assert.ok(fired.has((JSON.parse(stored!) as { lastJobId: string }).lastJobId));
  });

  describe('fireSchedulers', () => {
    /** Runs the script as a worker would, with (scheduler id, slot read, next slot). */
    function fire(name: string, ...triple: (string | number)[]): Promise<number[]> {
      const script = new RedisScript(fireSchedulers);
      return script.run(
        connections.command,
        keysOfScript(keys(name), fireSchedulers),
        triple,
      ) as Promise<number[]>;
    }

    it('is a compare-and-set: a stale slot creates no job and moves nothing', async () => {
      const { nextRunAt: slot } = await queue.upsertScheduler('cas', 'tick', { everyMs: 60_000 });
      const stale = slot - 60_000;
      assert.deepEqual(await fire('cas', 'tick', stale, slot), [0]);
      assert.equal((await queue.counts('cas')).waiting, 0);
      assert.deepEqual(await fire('cas', 'tick', slot, slot + 60_000), [1]);
      // A second worker that read the same slot loses.
      assert.deepEqual(await fire('cas', 'tick', slot, slot + 60_000), [0]);
      assert.equal((await queue.counts('cas')).waiting, 1);
      const [listed] = await queue.schedulers('cas');
      assert.deepEqual(
        [listed!.nextRunAt, listed!.lastRunAt, listed!.lastJobId],
        [slot + 60_000, slot, `tick:${slot}`],
      );
      assert.deepEqual(await fire('cas', 'gone', slot, slot + 60_000), [0]);
    });

    it('never fires a slot at or before the last one fired, and moves on', async () => {
      const { nextRunAt: slot } = await queue.upsertScheduler('once', 'tick', { everyMs: 60_000 });
      assert.deepEqual(await fire('once', 'tick', slot, slot + 60_000), [1]);
      const worker = app.start('once', () => undefined);
      await once(worker, 'completed'); // the job is gone: its id alone no longer dedups
      await worker.close();
      // An upsert that changed the pattern and raced a firing can set an already-fired slot.
      await redis.client.zadd(keys('once').schedule, slot, 'tick');
      assert.deepEqual(await fire('once', 'tick', slot, slot + 120_000), [2]);
      const counts = await queue.counts('once');
      assert.deepEqual([counts.waiting, counts.completed], [0, 1]);
      assert.equal((await queue.schedulers('once'))[0]!.nextRunAt, slot + 120_000);
    });
  });

  it('refuses bad patterns, templates and ids with typed errors naming the field', async () => {
    const refused = async (
      call: Promise<unknown>,
      type: typeof InvalidArgumentError | typeof InvalidKeyError | typeof QueuePayloadError,
      message: RegExp,
    ) => {
      await assert.rejects(call, (error: unknown) => {
        assert.ok(error instanceof type, String(error));
        assert.match((error as Error).message, message);
        return true;
      });
    };
    const upsert = (pattern: unknown, template?: unknown, id = 'x') =>
      queue.upsertScheduler('bad', id, pattern as never, template as never);
    await refused(upsert({ cron: 'every day' }), InvalidArgumentError, /pattern\.cron "every day"/);
    await refused(upsert({ cron: '* * *' }), InvalidArgumentError, /pattern\.cron.*5 fields/);
    await refused(
      upsert({ cron: '0 0 30 2 *' }),
      InvalidArgumentError,
      /pattern\.cron "0 0 30 2 \*"/,
    );
    await refused(
      upsert({ cron: '0 3 * * *', tz: 'Mars/Olympus' }),
      InvalidArgumentError,
      /pattern\.tz/,
    );
    await refused(upsert({ everyMs: 0 }), InvalidArgumentError, /pattern\.everyMs 0/);
    await refused(upsert({ everyMs: 1.5 }), InvalidArgumentError, /pattern\.everyMs/);
    await refused(upsert({ everyMs: 100, tz: 'UTC' }), InvalidArgumentError, /pattern\.tz/);
    await refused(upsert({ everyMs: 100, cron: '* * * * *' }), InvalidArgumentError, /pattern/);
    await refused(upsert({}), InvalidArgumentError, /pattern/);
    await refused(upsert({ every: 100 }), InvalidArgumentError, /pattern\.every .*everyMs/);
    await refused(
      upsert({ everyMs: 100 }, { opts: { jobId: 'a' } }),
      InvalidArgumentError,
      /jobId/,
    );
    await refused(
      upsert({ everyMs: 100 }, { opts: { delayMs: 5 } }),
      InvalidArgumentError,
      /delayMs/,
    );
    await refused(
      upsert({ everyMs: 100 }, { opts: { attempts: 0 } }),
      InvalidArgumentError,
      /attempts/,
    );
    await refused(upsert({ everyMs: 100 }, { date: 1 }), InvalidArgumentError, /template\.date/);
    await refused(upsert({ everyMs: 100 }, { name: '' }), InvalidKeyError, /job name/);
    await refused(upsert({ everyMs: 100 }, undefined, ''), InvalidKeyError, /scheduler id/);
    await refused(
      upsert({ everyMs: 100 }, { data: () => 1 }),
      QueuePayloadError,
      /cannot be encoded/,
    );
    assert.equal(await redis.client.exists(keys('bad').schedulers), 0, 'nothing stored');
    await refused(queue.removeScheduler('bad', ''), InvalidKeyError, /scheduler id/);
    assert.throws(
      () => QueueScheduler('bad', 'x', { cron: 'nope' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /pattern\.cron/.test(error.message),
    );
  });

  describe('@QueueScheduler', () => {
    it('upserts at bootstrap and routes its jobs to the method, alone or on a @QueueWorker', async () => {
      const modules = await Promise.all(
        [1, 2].map(() =>
          startModule(
            [RedisCoordinationModule.forRoot({ url: app.redis.url, keyPrefix: app.prefix })],
            { providers: [Reports] },
          ),
        ),
      );
      const queue = modules[0]!.get(QueueService);
      const listed = await queue.schedulers('reports');
      assert.deepEqual(
        listed.map((s) => [s.id, s.template.name, s.template.data]),
        [
          ['named', 'other-name', 'named'],
          ['tick', 'tick', 'scheduled'],
        ],
      );
      const ran = () => modules.flatMap((moduleRef) => moduleRef.get(Reports).ran);
      await waitUntil(
        () =>
          ran().filter(({ job }) => job.name === 'tick').length >= 2 &&
          ran().some(({ job }) => job.name === 'other-name'),
      );
      for (const { method, job } of ran()) {
        const [expected, id, data] =
          job.name === 'tick'
            ? ['tick', /^tick:\d+$/, 'scheduled']
            : ['fallback', /^named:\d+$/, 'named'];
        assert.equal(method, expected, `job ${job.id} named ${job.name} ran in ${method}`);
        assert.match(job.id, id);
        assert.equal(job.data, data);
      }
      assert.equal(new Set(ran().map(({ job }) => job.id)).size, ran().length, 'each job ran once');
    });

    it('on a @QueueWorker of its own job name counts once; one scheduler declared twice fails the start', async () => {
      const coordination = () =>
        RedisCoordinationModule.forRoot({ url: app.redis.url, keyPrefix: app.prefix });
      const stacked = await startModule([coordination()], { providers: [Stacked] });
      const listed = await stacked.get(QueueService).schedulers('stacked');
      assert.deepEqual(
        listed.map((s) => s.id),
        ['hourly'],
      );
      await assert.rejects(
        startModule([coordination()], { providers: [DeclaredTwice] }),
        (error: unknown) =>
          error instanceof QueueWorkerConflictError &&
          /'twice', 'hourly'\) is declared on both DeclaredTwice.a and DeclaredTwice.b/.test(
            error.message,
          ),
      );
    });
  });
});
