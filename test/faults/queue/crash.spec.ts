import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import { ChildApp } from '../../support/child-process.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { RedisServer, skipWithoutRedisServer } from '../../support/redis.js';
import { Redis } from 'ioredis';

const JOBS = 10_000;
const WORKERS = 4;
const KILL_EVERY_MS = 300;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('Queue workers killed and frozen', { skip: skipWithoutRedisServer() }, () => {
  let server: RedisServer;
  let client: Redis;
  const children = new Set<ChildApp>();
  before(async () => {
    server = await RedisServer.start();
    client = new Redis(server.url);
  });
  after(async () => {
    client.disconnect();
    await server.dispose();
  });
  afterEach(async () => {
    await Promise.all([...children].map((child) => child.kill()));
    children.clear();
    await closeStartedModules();
  });

  function spawnWorker(env: Record<string, string>): ChildApp {
    const child = ChildApp.spawn('queue-worker', { env: { REDIS_URL: server.url, ...env } });
    children.add(child);
    return child;
  }

  it(`loses none of ${JOBS} jobs while a random worker is SIGKILLed every ${KILL_EVERY_MS} ms`, async (t) => {
    const env = {
      KEY_PREFIX: 'crash:',
      QUEUE: 'jobs',
      LEASE_MS: '2000',
      CONCURRENCY: '16',
      DONE_KEY: 'crash:done',
    };
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: env.KEY_PREFIX }),
    ]);
    const queue = moduleRef.get(QueueService);
    // Crashes count as attempts; give every job plenty so none is dead-lettered.
    const ids = await queue.addBulk(
      'jobs',
      Array.from({ length: JOBS }, (_, i) => ({ data: i, opts: { attempts: 1000 } })),
    );
    let live = Array.from({ length: WORKERS }, () => spawnWorker(env));
    await Promise.all(live.map((child) => child.waitFor('ready')));
    const killed = new Set<number>();
    // Bounded so a stuck job fails the test (below) instead of hanging it.
    for (let round = 0; round < 300; round++) {
      const counts = await queue.counts('jobs');
      if (counts.waiting + counts.active + counts.delayed === 0) break;
      await sleep(KILL_EVERY_MS);
      const victim = live[Math.floor(Math.random() * live.length)]!;
      killed.add(victim.pid);
      await victim.kill();
      children.delete(victim);
      live = [...live.filter((child) => child !== victim), spawnWorker(env)];
    }
    const counts = await queue.counts('jobs');
    assert.deepEqual([counts.waiting, counts.active, counts.delayed, counts.dead], [0, 0, 0, 0]);

    const byJob = new Map<string, number[]>();
    for (const entry of await client.lrange(env.DONE_KEY, 0, -1)) {
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
    t.diagnostic(
      `${killed.size} workers killed; ${redone} of ${JOBS} jobs ran more than once (all after a kill); 0 lost`,
    );
    assert.ok(killed.size >= 1, 'the test killed at least one worker');
  });

  it('refuses the late completion of a worker frozen past its lease; the job is redone elsewhere', async () => {
    const env = {
      KEY_PREFIX: 'stall:',
      QUEUE: 'jobs',
      LEASE_MS: '500',
      WORK_MS: '1000',
      DONE_KEY: 'stall:done',
    };
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: server.url, keyPrefix: env.KEY_PREFIX }),
    ]);
    const queue = moduleRef.get(QueueService);
    const frozen = spawnWorker(env);
    await frozen.waitFor('ready');
    const id = await queue.add('jobs', 'x', { attempts: 3 });
    await frozen.waitFor('started', (m) => m.id === id);
    frozen.signal('SIGSTOP');

    const redoneBy: number[] = [];
    const worker = queue.process(
      'jobs',
      (job) => {
        redoneBy.push(job.attempt);
      },
      { leaseMs: 500 },
    );
    await new Promise((resolve) => worker.once('completed', resolve));
    assert.deepEqual(redoneBy, [2], 'redone as attempt 2 after the lease expired');
    await worker.close();

    frozen.signal('SIGCONT');
    await frozen.waitFor('lost', (m) => m.id === id);
    const counts = await queue.counts('jobs');
    assert.deepEqual([counts.completed, counts.active, counts.waiting], [1, 0, 0]);
    assert.equal(
      frozen.messages.some((m) => m.type === 'completed' && m.id === id),
      false,
      'the frozen worker never recorded a completion',
    );
    const [attempt] = await queue.dead('jobs');
    assert.equal(attempt, undefined);
  });
});
