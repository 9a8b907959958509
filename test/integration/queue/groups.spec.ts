import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { InvalidKeyError, type Job } from '../../../lib/index.js';
import { useQueueApp } from './queue-app.js';

describe('QueueService groups', () => {
  const app = useQueueApp();
  const { redis } = app;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Resolves once the worker has settled `count` jobs (completed, or failed for good). */
  function settled(worker: ReturnType<typeof app.start>, count: number): Promise<void> {
    let seen = 0;
    return new Promise((resolve) => {
      const count1 = () => ++seen === count && resolve();
      worker.on('completed', count1);
      worker.on('failed', (_job, _error, outcome) => outcome === 'dead' && count1());
    });
  }

  it('serves groups round-robin, whatever order their jobs were added in', async () => {
    const { queue } = app;
    await queue.addBulk('rr', [
      ...['a1', 'a2', 'a3'].map((data) => ({ data, opts: { group: 'a' } })),
      ...['b1', 'b2'].map((data) => ({ data, opts: { group: 'b' } })),
      { data: 'c1', opts: { group: 'c', priority: 0 } },
      { data: 'none' },
    ]);
    const order: string[] = [];
    const worker = app.start('rr', (job: Job) => void order.push(job.data as string));
    await settled(worker, 7);
    assert.deepEqual(order, ['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'none']);
  });

  it('runs at most groupConcurrency jobs of a group at once, groups side by side', async () => {
    const { queue } = app;
    await queue.setGroupConcurrency('gc', 1);
    const live = new Map<string, number>();
    let maxPerGroup = 0;
    let maxTotal = 0;
    const worker = app.start(
      'gc',
      async (job: Job) => {
        const group = job.group!;
        live.set(group, (live.get(group) ?? 0) + 1);
        maxPerGroup = Math.max(maxPerGroup, live.get(group)!);
        maxTotal = Math.max(
          maxTotal,
          [...live.values()].reduce((a, b) => a + b, 0),
        );
        await sleep(20);
        live.set(group, live.get(group)! - 1);
        if (job.data === 'fail' && job.attempt === 1) throw new Error('retry me');
      },
      { concurrency: 8 },
    );
    const done = settled(worker, 12);
    await queue.addBulk('gc', [
      ...Array.from({ length: 6 }, (_, i) => ({
        data: i === 0 ? 'fail' : 'ok',
        opts: { group: 'tenant-1', attempts: 2 },
      })),
      ...Array.from({ length: 6 }, () => ({ data: 'ok', opts: { group: 'tenant-2' } })),
    ]);
    await done;
    assert.equal(maxPerGroup, 1, 'one job of a group at a time');
    assert.equal(maxTotal, 2, 'the two groups ran side by side');
    // Every slot was given back: retries and completions alike.
    assert.equal(await redis.client.exists(`${app.prefix}{queue:gc}:gactive`), 0);
    assert.deepEqual(await queue.limits('gc'), { groupConcurrency: 1 });
  });

  it('lets a raised group limit serve a held-back group at once', async () => {
    const { queue } = app;
    await queue.setGroupConcurrency('raise', 1);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let running = 0;
    const worker = app.start(
      'raise',
      async () => {
        running++;
        await released;
      },
      { concurrency: 4 },
    );
    await queue.addBulk('raise', [
      { data: 1, opts: { group: 'g' } },
      { data: 2, opts: { group: 'g' } },
    ]);
    while (running < 1) await sleep(10);
    await sleep(100);
    assert.equal(running, 1, 'held back by the limit');
    await queue.setGroupConcurrency('raise', 2);
    while (running < 2) await sleep(10);
    release();
    await settled(worker, 2);
  });

  it('shows, pages, counts and removes waiting jobs of groups', async () => {
    const { queue } = app;
    const [plain, a, b] = await queue.addBulk('show', [
      { data: 0 },
      { data: 1, opts: { group: 'x' } },
      { data: 2, opts: { group: 'x', priority: 5 } },
    ]);
    const job = await queue.getJob('show', a!);
    assert.deepEqual([job?.state, job?.group], ['waiting', 'x']);
    assert.equal((await queue.counts('show')).waiting, 3);
    const page = await queue.jobs('show', 'waiting');
    assert.deepEqual(
      page.map((j) => j.id),
      [plain, b, a],
      'without a group first, then by group in priority order',
    );
    assert.deepEqual(
      (await queue.jobs('show', 'waiting', { offset: 2 })).map((j) => j.id),
      [a],
    );
    assert.equal(await queue.remove('show', b!), true);
    assert.equal(await queue.getJob('show', b!), undefined);
    const order: unknown[] = [];
    const worker = app.start('show', (j: Job) => void order.push(j.data));
    await settled(worker, 2);
    assert.deepEqual(order, [1, 0]);
  });

  it('refuses a group name the queue cannot store', async () => {
    await assert.rejects(app.queue.add('bad', 1, { group: 'a\0b' }), InvalidKeyError);
    await assert.rejects(app.queue.add('bad', 1, { group: '' }), InvalidKeyError);
  });
});
