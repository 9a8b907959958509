import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InvalidArgumentError,
  QueueService,
  QueueWorker,
  QueueWorkerConflictError,
  RedisCoordinationModule,
  type Job,
} from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await sleep(10);
}

@Injectable()
class Mailer {
  readonly handled: string[] = [];

  @QueueWorker('mail', { name: 'welcome', concurrency: 4 })
  welcome(job: Job<string>) {
    this.handled.push(`welcome:${job.data}`);
  }

  @QueueWorker('mail')
  other(job: Job<string>) {
    this.handled.push(`other:${job.data}`);
  }

  @QueueWorker('audit', { name: 'only' })
  audit(job: Job<string>) {
    this.handled.push(`audit:${job.data}`);
  }
}

describe('@QueueWorker', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  function coordination(prefix = uniqueKeyPrefix()) {
    return RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix });
  }

  it('routes jobs by name to decorated methods, falling back to the unnamed one', async () => {
    const moduleRef = await startModule([coordination()], { providers: [Mailer] });
    const queue = moduleRef.get(QueueService);
    const mailer = moduleRef.get(Mailer);
    await queue.add('mail', 'a', { name: 'welcome' });
    await queue.add('mail', 'b', { name: 'reset' });
    await queue.add('mail', 'c');
    await waitUntil(() => mailer.handled.length === 3);
    assert.deepEqual(mailer.handled.sort(), ['other:b', 'other:c', 'welcome:a']);
  });

  it('dead-letters a job whose name no handler takes', async () => {
    const moduleRef = await startModule([coordination()], { providers: [Mailer] });
    const queue = moduleRef.get(QueueService);
    await queue.add('audit', 'x', { name: 'unknown' });
    await waitUntil(async () => (await queue.counts('audit')).dead === 1);
    const [dead] = await queue.dead('audit');
    assert.match(dead!.lastError!, /QueueNoHandlerError.*"unknown".*handled names: only/);
  });

  it('starts workers at application bootstrap, not before, and stops them at shutdown', async () => {
    const prefix = uniqueKeyPrefix();
    const builder = Test.createTestingModule({
      imports: [coordination(prefix)],
      providers: [Mailer],
    });
    builder.setLogger(new CapturingLogger());
    const moduleRef = await builder.compile();
    try {
      const queue = moduleRef.get(QueueService);
      const mailer = moduleRef.get(Mailer);
      await queue.add('mail', 'early');
      await sleep(200);
      assert.deepEqual(mailer.handled, [], 'no worker before the app is initialised');
      await moduleRef.init();
      await waitUntil(() => mailer.handled.length === 1);
    } finally {
      await moduleRef.close();
    }
    // After close, jobs are no longer taken.
    const probe = await startModule([coordination(prefix)]);
    const queue = probe.get(QueueService);
    await queue.add('mail', 'late');
    await sleep(200);
    assert.equal((await queue.counts('mail')).waiting, 1);
  });

  it('refuses two handlers for the same queue and name, naming both', async () => {
    @Injectable()
    class Twice {
      @QueueWorker('dup')
      a() {}
      @QueueWorker('dup')
      b() {}
    }
    await assert.rejects(
      startModule([coordination()], { providers: [Twice] }),
      (error: unknown) =>
        error instanceof QueueWorkerConflictError && /Twice\.a and Twice\.b/.test(error.message),
    );
  });

  it('refuses handlers of one queue that disagree on worker options', async () => {
    @Injectable()
    class Disagree {
      @QueueWorker('opts', { name: 'x', concurrency: 2 })
      a() {}
      @QueueWorker('opts', { name: 'y', concurrency: 3 })
      b() {}
    }
    await assert.rejects(
      startModule([coordination()], { providers: [Disagree] }),
      /disagree on concurrency/,
    );
  });

  it('checks its options where it is written', () => {
    assert.throws(() => QueueWorker('q', { concurrency: 0 }), InvalidArgumentError);
    assert.throws(() => QueueWorker('q', { leaseMs: 10 }), /leaseMs/);
    assert.throws(() => QueueWorker('q', { nmae: 'x' } as never), /worker options\.nmae/);
  });
});
