import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until `condition` holds; fails after 60 s (a stuck test, not a time budget). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 60_000) assert.fail(`still waiting for ${what}`);
    await sleep(20);
  }
}

describeWithRedisServer('Queue across a Redis crash with AOF', () => {
  const server = useRedisServer({ appendOnly: true });
  closeModulesAfterEach();

  it('completes every job acknowledged more than a second before Redis was killed', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: 'aof:' }),
    ]);
    const queue = moduleRef.get(QueueService);
    const done = new Set<string>();
    const worker = queue.process(
      'jobs',
      async (job) => {
        await sleep(5);
        done.add(job.id);
      },
      { concurrency: 8, leaseMs: 1000 },
    );

    const acked: { id: string; at: number }[] = [];
    let producing = true;
    const producer = (async () => {
      for (let i = 0; producing; i++) {
        try {
          const id = await queue.add('jobs', i, { attempts: 100 });
          acked.push({ id, at: Date.now() });
        } catch {
          await sleep(20); // Redis down: this add was not acknowledged
        }
        await sleep(2);
      }
    })();

    // Waits for progress, not for a time: a busy machine acknowledges fewer jobs per second.
    const ackedBefore = (ms: number) => acked.filter(({ at }) => at < Date.now() - ms).length;
    await until(() => ackedBefore(1000) > 50, 'more than 50 jobs acknowledged a second ago');
    const killedAt = Date.now();
    await server.kill(); // SIGKILL: what AOF had not fsynced yet is lost
    await server.restart();
    await until(
      () => acked.filter(({ at }) => at > killedAt).length >= 10,
      'jobs acknowledged after the restart',
    );
    producing = false;
    await producer;

    const mustComplete = acked.filter(({ at }) => at < killedAt - 1000).map(({ id }) => id);
    const after = acked.filter(({ at }) => at > killedAt).map(({ id }) => id);
    // Bounded so a lost job fails the test instead of hanging it; the bound is generous (leases
    // are 1 s) and not a performance claim.
    const missing = () => [...mustComplete, ...after].filter((id) => !done.has(id));
    for (let waited = 0; missing().length > 0 && waited < 30_000; waited += 50) await sleep(50);
    assert.deepEqual(missing(), [], 'acknowledged jobs that never completed');
    console.info(
      `${acked.length} jobs acknowledged; ${mustComplete.length} before the last second before the crash all completed, ${after.length} added after the restart all completed`,
    );
    await worker.close();
  });
});
