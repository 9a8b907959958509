import assert from 'node:assert/strict';
import { once } from 'node:events';
import { it } from '@jest/globals';
import { QueueService, RedisCoordinationModule, type Job } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../../support/hooks.js';

describeWithRedisServer('Queue on Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  it('runs every queue script on queues spread over the masters', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    const queue = moduleRef.get(QueueService);
    for (let q = 0; q < 6; q++) {
      const name = `cluster-${q}`;
      await queue.pause(name);
      await queue.addBulk(name, [{ data: 'a' }, { data: 'b', opts: { priority: 5 } }]);
      await queue.add(name, 'late', { delayMs: 50 });
      await queue.add(name, 'bad', { attempts: 1 });
      const seen: string[] = [];
      const worker = queue.process(name, (job) => {
        seen.push(job.data as string);
        if (job.data === 'bad') throw new Error('bad job');
      });
      await queue.resume(name);
      await new Promise<void>((resolve) => {
        let settled = 0;
        const count = () => ++settled === 4 && resolve();
        worker.on('completed', count).on('failed', count);
      });
      assert.equal(seen[0], 'b', 'priority first');
      assert.deepEqual([...seen].sort(), ['a', 'b', 'bad', 'late']);
      const [dead] = await queue.dead(name);
      assert.equal(dead!.lastError, 'Error: bad job');
      assert.equal(await queue.retryDead(name), 1);
      await once(worker, 'failed');
      const counts = await queue.counts(name);
      assert.deepEqual(
        [counts.waiting, counts.active, counts.completed, counts.dead],
        [0, 0, 3, 1],
      );
      await queue.upsertScheduler(name, 'tick', { everyMs: 100 });
      const [scheduled] = (await once(worker, 'completed')) as [Job];
      assert.equal(scheduled.name, 'tick');
      assert.ok(
        (await queue.schedulers(name))[0]!.lastRunAt! >= Number(scheduled.id.split(':')[1]),
      );
      assert.equal(await queue.removeScheduler(name, 'tick'), true);
      await worker.close();
    }
  });
});
