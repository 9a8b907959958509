import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import { ChildApp } from '../../support/child-process.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';

const JOBS = 10_000;
const WORKERS = 4;
const KILL_EVERY_MS = 300;
/** The crash test fails if no job completes for this long. */
const STALL_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedisServer('Queue workers killed, frozen and terminated', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  /** Env of a `queue-worker` fixture on queue "jobs" under its own key prefix. */
  function workerEnv(name: string, extra: Record<string, string>) {
    const prefix = `${uniqueKeyPrefix()}${name}:`;
    return { KEY_PREFIX: prefix, QUEUE: 'jobs', DONE_KEY: `${prefix}done`, ...extra };
  }

  async function queueUnder(keyPrefix: string): Promise<QueueService> {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    return moduleRef.get(QueueService);
  }

  function spawnWorker(env: Record<string, string>): ChildApp {
    return spawnChild('queue-worker', { env: { REDIS_URL: redis.url, ...env } });
  }

  it(`loses none of ${JOBS} jobs while a random working worker is SIGKILLed every ${KILL_EVERY_MS} ms`, async () => {
    const env = workerEnv('crash', { LEASE_MS: '2000', CONCURRENCY: '16' });
    const queue = await queueUnder(env.KEY_PREFIX);
    // Crashes count as attempts; give every job plenty so none is dead-lettered.
    const ids = await queue.addBulk(
      'jobs',
      Array.from({ length: JOBS }, (_, i) => ({ data: i, opts: { attempts: 1000 } })),
    );
    let live = Array.from({ length: WORKERS }, () => spawnWorker(env));
    const killed = new Set<number>();
    // Only a worker that has booted and completed a job is killed: on a busy machine a worker
    // can take seconds to boot, and killing replacements before they work would stall the queue
    // however long the test ran. The test is bounded by progress, not by rounds: it fails if no
    // job completes for STALL_MS.
    let lastProgressAt = Date.now();
    let lastRemaining = JOBS;
    for (;;) {
      const counts = await queue.counts('jobs');
      const remaining = counts.waiting + counts.active + counts.delayed;
      if (remaining === 0) break;
      if (remaining < lastRemaining) {
        lastRemaining = remaining;
        lastProgressAt = Date.now();
      }
      assert.ok(
        Date.now() - lastProgressAt < STALL_MS,
        `no job completed for ${STALL_MS} ms with ${remaining} left`,
      );
      await sleep(KILL_EVERY_MS);
      const working = live.filter((child) => child.messages.some((m) => m.type === 'completed'));
      if (working.length === 0) continue;
      const victim = working[Math.floor(Math.random() * working.length)]!;
      killed.add(victim.pid);
      await victim.kill();
      live = [...live.filter((child) => child !== victim), spawnWorker(env)];
    }
    const counts = await queue.counts('jobs');
    assert.deepEqual([counts.waiting, counts.active, counts.delayed, counts.dead], [0, 0, 0, 0]);

    const byJob = new Map<string, number[]>();
    for (const entry of await redis.client.lrange(env.DONE_KEY, 0, -1)) {
      const [id, pid] = entry.split(':');
      byJob.set(id!, [...(byJob.get(id!) ?? []), Number(pid)]);
    }
    const lost = ids.filter((id) => !byJob.has(id));
    assert.deepEqual(lost, [], 'every job completed');
    let redone = 0;
    for (const [id, pids] of byJob) {
      if (pids.length === 1) continue;
      redone++;
      // Every run but the last was by a worker that was killed before it acknowledged.
      for (const pid of pids.slice(0, -1)) {
        assert.ok(killed.has(pid), `job ${id} ran twice, first by pid ${pid} which was not killed`);
      }
    }
    console.info(
      `${killed.size} workers killed; ${redone} of ${JOBS} jobs ran more than once (all after a kill); 0 lost`,
    );
    assert.ok(killed.size >= 1, 'the test killed at least one worker');
  });

  it('refuses the late completion of a worker frozen past its lease; the job is redone elsewhere', async () => {
    const env = workerEnv('stall', { LEASE_MS: '500', WORK_MS: 'parent' });
    const queue = await queueUnder(env.KEY_PREFIX);
    const frozen = spawnWorker(env);
    await frozen.waitFor('ready');
    const id = await queue.add('jobs', 'x', { attempts: 3 });
    await frozen.waitFor('started', (m) => m.id === id);
    frozen.signal('SIGSTOP');

    // Another worker takes the job once the lease expires, and holds it while the frozen one
    // wakes up, so Redis must tell the two claims apart by their tokens.
    let redoneStarted!: (attempt: number) => void;
    const redone = new Promise<number>((resolve) => (redoneStarted = resolve));
    let finishRedo!: () => void;
    const worker = queue.process(
      'jobs',
      (job) => {
        redoneStarted(job.attempt);
        return new Promise<void>((resolve) => (finishRedo = resolve));
      },
      { leaseMs: 5000 },
    );
    assert.equal(await redone, 2, 'redone as attempt 2 after the lease expired');

    // The handler finishes as soon as the process runs again (the message waits in the IPC
    // pipe). Its late outcome (a completion, or a failure if the overdue lease renewal answers
    // first) must be refused: the job now belongs to the other worker's claim. Token checks for
    // each path are proven one by one in test/integration/queue/queue.spec.ts.
    frozen.send({ type: 'finish' });
    frozen.signal('SIGCONT');
    await frozen.waitFor('lost', (m) => m.id === id);
    assert.equal(
      frozen.messages.some((m) => m.type === 'completed' && m.id === id),
      false,
      'the frozen worker never recorded a completion',
    );
    assert.equal((await queue.counts('jobs')).active, 1, 'still held by the second worker');

    const completed = new Promise((resolve) => worker.once('completed', resolve));
    finishRedo();
    await completed;
    await worker.close();
    const counts = await queue.counts('jobs');
    assert.deepEqual([counts.completed, counts.active, counts.waiting], [1, 0, 0]);
    const [attempt] = await queue.dead('jobs');
    assert.equal(attempt, undefined);
  });

  it('SIGTERM: the app drains, then hands the unfinished job back at once, attempt not counted', async () => {
    const env = workerEnv('term', { LEASE_MS: '60000', WORK_MS: 'parent', DRAIN_MS: '200' });
    const queue = await queueUnder(env.KEY_PREFIX);
    const child = spawnWorker(env);
    await child.waitFor('ready');
    const id = await queue.add('jobs', 'x', { attempts: 1 });
    await child.waitFor('started', (m) => m.id === id);
    child.signal('SIGTERM');
    await child.exited;
    // Back in waiting long before the 60 s lease would have expired, not dead-lettered
    // although it had a single attempt.
    const counts = await queue.counts('jobs');
    assert.deepEqual([counts.waiting, counts.active, counts.dead], [1, 0, 0]);
    const worker = queue.process('jobs', (job) => job.attempt);
    const attempt = await new Promise((resolve) =>
      worker.once('completed', (_job, result) => resolve(result)),
    );
    assert.equal(attempt, 1);
    await worker.close();
  });
});
