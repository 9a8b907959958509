import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import type { ChildApp } from '../../support/child-process.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';

const EVERY_MS = 500;
const WORKERS = 3;
/** How long workers are killed and restarted. */
const CHAOS_MS = 20_000;
/** Pause between kills, at random up to twice this. */
const KILL_EVERY_MS = 700;
/** The wait for the last slots' jobs fails if none of them completes for this long. */
const STALL_MS = 60_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedisServer('Queue scheduler while its workers are killed and restarted', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  it(`creates exactly one job per ${EVERY_MS} ms slot while ${WORKERS} workers that upsert it at boot are SIGKILLed and restarted for ${CHAOS_MS / 1000} s`, async () => {
    const prefix = `${uniqueKeyPrefix()}sched:`;
    const runsKey = `${prefix}runs`;
    const spawnWorker = (): ChildApp =>
      spawnChild('queue-scheduler-worker', {
        env: {
          REDIS_URL: redis.url,
          KEY_PREFIX: prefix,
          QUEUE: 'ticks',
          EVERY_MS: String(EVERY_MS),
          LEASE_MS: '1000',
          WORK_MS: '300',
          RUNS_KEY: runsKey,
        },
      });
    const isReady = (child: ChildApp) => child.messages.some((m) => m.type === 'ready');
    let live = Array.from({ length: WORKERS }, spawnWorker);
    const killed = new Set<number>();
    // Only a booted worker is killed, and only while another booted one stays up: never all
    // dead at once. A slow boot (busy machine) means fewer kills, never a wrong result.
    const chaosEnd = Date.now() + CHAOS_MS;
    while (Date.now() < chaosEnd) {
      await sleep(KILL_EVERY_MS * (0.5 + Math.random()));
      const ready = live.filter(isReady);
      if (ready.length < 2) continue;
      const victim = ready[Math.floor(Math.random() * ready.length)]!;
      killed.add(victim.pid);
      await victim.kill();
      live = [...live.filter((child) => child !== victim), spawnWorker()];
    }

    // Every slot from the first fired to the last fired by now must run to completion once.
    const queue = (
      await startModule([RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix })])
    ).get(QueueService);
    const [tick] = await queue.schedulers('ticks');
    const lastSlot = tick!.lastRunAt!;
    const runsNow = await redis.client.lrange(runsKey, 0, -1);
    const firstSlot = Math.min(...runsNow.map((entry) => slotOf(entry.split('|')[0]!)));
    const expected: string[] = [];
    for (let slot = firstSlot; slot <= lastSlot; slot += EVERY_MS) expected.push(`tick:${slot}`);
    const stateKey = `${prefix}{queue:ticks}:state`;
    const completedKey = `${prefix}{queue:ticks}:completed`;
    let waiting = expected;
    let progressAt = Date.now();
    while (waiting.length > 0) {
      // State first: a job completing in between is then found completed.
      const states = await redis.client.hmget(stateKey, ...waiting);
      const scores = await redis.client.zmscore(completedKey, ...waiting);
      const never = waiting.filter((_, i) => states[i] === null && scores[i] === null);
      assert.deepEqual(never, [], `slots ${firstSlot}..${lastSlot}: no job was created for some`);
      const left = waiting.filter((_, i) => scores[i] === null);
      if (left.length < waiting.length) progressAt = Date.now();
      waiting = left;
      assert.ok(
        Date.now() - progressAt < STALL_MS,
        `no job of slots ${firstSlot}..${lastSlot} completed for ${STALL_MS} ms; never completed: ${waiting.join(' ')}`,
      );
      if (waiting.length > 0) await sleep(100);
    }
    await Promise.all(live.map((child) => child.kill()));

    const runs = new Map<string, { attempt: number; pid: number }[]>();
    for (const entry of await redis.client.lrange(runsKey, 0, -1)) {
      const [id, attempt, pid] = entry.split('|') as [string, string, string];
      assert.match(id, /^tick:\d+$/);
      assert.equal(slotOf(id) % EVERY_MS, 0, `${id} is on a slot`);
      if (slotOf(id) > lastSlot) continue;
      runs.set(id, [...(runs.get(id) ?? []), { attempt: Number(attempt), pid: Number(pid) }]);
    }
    // Ids are `tick:<slot>`: one id per slot, so two jobs for one slot would be one id run twice.
    const missing = expected.filter((id) => !runs.has(id));
    assert.deepEqual(missing, [], 'a job for every slot');
    assert.equal(runs.size, expected.length, 'no job outside the slots');
    let rerun = 0;
    for (const [id, attempts] of runs) {
      const numbers = attempts.map(({ attempt }) => attempt);
      assert.equal(new Set(numbers).size, numbers.length, `${id} doubled: attempts ${numbers}`);
      if (attempts.length > 1) rerun++;
      // A job runs again only when the worker running it was killed.
      for (const { pid } of attempts.slice(0, -1)) {
        assert.ok(killed.has(pid), `${id} ran again after pid ${pid}, which was not killed`);
      }
    }
    const counts = await queue.counts('ticks');
    assert.equal(counts.dead, 0);
    console.info(
      `${killed.size} workers killed; ${expected.length} slots, each with one job; ${rerun} re-run after a kill`,
    );
    assert.ok(killed.size >= 1, 'the test killed at least one worker');
  });
});

function slotOf(jobId: string): number {
  return Number(jobId.slice(jobId.lastIndexOf(':') + 1));
}
