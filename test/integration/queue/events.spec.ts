import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from '@jest/globals';
import { firstValueFrom, filter, take, toArray } from 'rxjs';
import {
  QueueClosedError,
  QueueJobFailedError,
  QueueJobNotFoundError,
  QueueService,
  QueueWaitTimeoutError,
  RedisCommandError,
  RedisCoordinationModule,
  type QueueEvent,
} from '../../../lib/index.js';
import { closeModule, startModule } from '../../support/nest.js';
import { itOnPrivateRedis } from '../../support/redis.js';
import { useQueueApp } from './queue-app.js';

describe('QueueService events and waitUntilFinished', () => {
  const app = useQueueApp();
  const { redis } = app;

  /** Another instance of the app, on the same Redis and key prefix. */
  async function otherInstance() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: app.prefix }),
    ]);
    return { moduleRef, queue: moduleRef.get(QueueService) };
  }

  /** Subscribes and waits until the reader listens, so later events all arrive. */
  async function listen(queue: QueueService, name: string, count: number) {
    const events = firstValueFrom(queue.events(name).pipe(take(count), toArray()));
    await queueReady(queue, name);
    return events;
  }

  /** Resolves once the queue's events reader of this instance listens. */
  async function queueReady(queue: QueueService, name: string): Promise<void> {
    await (queue as unknown as { reader(q: string): { ready(): Promise<void> } })
      .reader(name)
      .ready();
  }

  it("shows every instance each job's lifecycle, in order", async () => {
    const observer = await otherInstance();
    const seen = listen(observer.queue, 'life', 9);
    const worker = app.start('life', async (job) => {
      await job.progress(50);
      if (job.attempt === 1) throw new Error('first try fails');
      return { ok: job.attempt };
    });
    const id = await app.queue.add('life', 'x', { name: 'mail', attempts: 2 });
    const doomed = await app.queue.add('life', 'y', { delayMs: 60_000 });
    await once(worker, 'completed');
    await app.queue.remove('life', doomed);
    const events = await seen;
    const brief = (e: QueueEvent) => [e.event, e.jobId === id ? 'id' : 'doomed', e.data];
    assert.deepEqual(events.map(brief), [
      ['added', 'id', undefined],
      ['added', 'doomed', undefined],
      ['active', 'id', 1],
      ['progress', 'id', 50],
      ['retrying', 'id', 'Error: first try fails'],
      ['active', 'id', 2],
      ['progress', 'id', 50],
      ['completed', 'id', { ok: 2 }],
      ['removed', 'doomed', undefined],
    ]);
    assert.equal(events[0]!.name, 'mail');
    assert.equal(events.at(-1)!.name, undefined);
    for (let i = 1; i < events.length; i++) assert.ok(events[i]!.at >= events[i - 1]!.at);
    await closeModule(observer.moduleRef);
  });

  it('writes no event while nobody listens', async () => {
    const worker = app.start('quiet', () => 'ok');
    await app.queue.add('quiet', 1);
    await once(worker, 'completed');
    assert.equal(await redis.client.exists(`${app.prefix}{queue:quiet}:events`), 0);
  });

  it('resumes after its connection drops, without missing or repeating an event', async () => {
    const observer = await otherInstance();
    const completed: string[] = [];
    const subscription = observer.queue
      .events('resume')
      .pipe(filter((e) => e.event === 'completed'))
      .subscribe((e) => completed.push(e.jobId));
    await queueReady(observer.queue, 'resume');
    const worker = app.start('resume', () => 'ok', { concurrency: 4 });
    let done = 0;
    worker.on('completed', () => done++);
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      ids.push(...(await app.queue.addBulk('resume', [{ data: 1 }, { data: 2 }, { data: 3 }])));
      // Cut the reader's connection while jobs complete.
      const clients = (await redis.client.client('LIST')) as string;
      for (const line of clients.split('\n')) {
        if (!line.includes('queue-events:resume')) continue;
        const clientId = /\bid=(\d+)/.exec(line)![1]!;
        await redis.client.client('KILL', 'ID', clientId);
      }
      while (done < ids.length) await once(worker, 'completed');
    }
    while (completed.length < ids.length) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    subscription.unsubscribe();
    assert.deepEqual([...completed].sort(), [...ids].sort(), 'each completion exactly once');
    await closeModule(observer.moduleRef);
  });

  it('waits for a job to finish on another instance: its result, or its last error', async () => {
    const producer = await otherInstance();
    const ok = await producer.queue.add('wait', { n: 2 });
    const bad = await producer.queue.add('wait', { n: -1 }, { attempts: 2 });
    const waits = [
      producer.queue.waitUntilFinished('wait', ok),
      producer.queue.waitUntilFinished('wait', bad),
    ];
    app.start('wait', (job) => {
      const { n } = job.data as { n: number };
      if (n < 0) throw new Error(`negative: ${n}`);
      return n * 21;
    });
    assert.equal(await waits[0], 42);
    await assert.rejects(waits[1]!, (error: unknown) => {
      assert.ok(error instanceof QueueJobFailedError);
      assert.equal(error.lastError, 'Error: negative: -1');
      return true;
    });
    // Already finished: answered from the record, at once.
    assert.equal(await producer.queue.waitUntilFinished('wait', ok), 42);
    await assert.rejects(producer.queue.waitUntilFinished('wait', bad), QueueJobFailedError);
    await closeModule(producer.moduleRef);
  });

  itOnPrivateRedis(
    'fails a wait and the events with the typed error when Redis refuses XREAD',
    async () => {
      await redis.client.call(
        'ACL',
        'SETUSER',
        'noxread',
        'reset',
        'on',
        '>pw',
        '~*',
        '&*',
        '+@all',
        '-xread',
      );
      try {
        const { hostname, port } = new URL(redis.url);
        const moduleRef = await startModule([
          RedisCoordinationModule.forRoot({
            url: `redis://noxread:pw@${hostname}:${port}`,
            keyPrefix: app.prefix,
          }),
        ]);
        const queue = moduleRef.get(QueueService);
        const id = await queue.add('refused', 1);
        // No worker: without the refusal reaching it, the wait would end only at its timeout.
        const error = await queue
          .waitUntilFinished('refused', id, { timeoutMs: 60_000 })
          .catch((e: unknown) => e);
        assert.ok(error instanceof RedisCommandError, String(error));
        assert.match(error.message, /NOPERM/);
        // A later subscriber starts a new reading session, refused the same way.
        const again = await firstValueFrom(queue.events('refused')).catch((e: unknown) => e);
        assert.ok(again instanceof RedisCommandError, String(again));
      } finally {
        await redis.client.call('ACL', 'DELUSER', 'noxread');
      }
    },
  );

  it('fails a wait for an unknown, removed or slow job, and at shutdown', async () => {
    const { queue } = app;
    await assert.rejects(queue.waitUntilFinished('w2', 'missing'), QueueJobNotFoundError);
    const id = await queue.add('w2', 1);
    await assert.rejects(
      queue.waitUntilFinished('w2', id, { timeoutMs: 50 }),
      QueueWaitTimeoutError,
    );
    const removed = queue.waitUntilFinished('w2', id);
    await queueReady(queue, 'w2');
    await new Promise((r) => setTimeout(r, 50));
    await queue.remove('w2', id);
    await assert.rejects(removed, QueueJobNotFoundError);

    const other = await otherInstance();
    const pending = await other.queue.add('w2', 2);
    const wait = other.queue.waitUntilFinished('w2', pending);
    await queueReady(other.queue, 'w2');
    const closed = assert.rejects(wait, QueueClosedError);
    await closeModule(other.moduleRef);
    await closed;
  });
});
