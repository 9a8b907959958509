// The mixed workload the failover tests run while Redis fails over: queue adds and a worker,
// durable publishes and a consumer group, broadcasts, counters, and lock loops on two app
// instances that write through a fenced store. It records what was acknowledged, what arrived
// and every failed call, so a test can assert that nothing acknowledged was lost, that no two
// holders overlapped, and that every failure was one of the library's typed errors.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { afterEach } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import {
  CacheService,
  CounterService,
  PubSubService,
  QueueService,
  RedisCoordinationError,
  RedisLockService,
  SemaphoreService,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';

/** Bounded only so that what never happens fails the test instead of hanging it. */
export const bounded = <T>(what: string, work: Promise<T>, ms = 60_000) =>
  within(work, ms, () => new Error(`${what}: not within ${ms / 1000} s`));

/**
 * The errors a failover may cause: Redis unreachable or failing over (`RedisConnectionError`),
 * and a write its replicas did not confirm in time (`ReplicaAckError`).
 */
const FAILOVER_ERROR_CODES = new Set(['REDIS_CONNECTION', 'REDIS_REPLICA_ACK']);

/** What every failover must keep, whatever failed meanwhile. */
function assertNothingLost(report: WorkloadReport): void {
  assert.deepEqual(
    report.untyped.map(String),
    [],
    "every failed call is the library's typed error",
  );
  assert.deepEqual(
    Object.keys(report.errorCodes).filter((code) => !FAILOVER_ERROR_CODES.has(code)),
    [],
    'every failed call says Redis is failing over or unreachable, or its replicas did not confirm',
  );
  assert.equal(report.jobsLost, 0, 'acknowledged jobs lost');
  assert.deepEqual(report.messagesLost, [], 'acknowledged durable messages lost');
  assert.equal(report.overlaps, 0, 'two lock holders at once');
  assert.equal(report.semaphoreOverruns, 0, 'more semaphore holders than its limit');
  assert.equal(report.staleWritesRefused, 0, 'writes with a stale fencing token');
  assert.equal(report.broadcastsMissedAfterRecovery, 0, 'broadcasts lost after recovery');
  assert.ok(report.jobsAcknowledged > 0 && report.messagesAcknowledged > 0 && report.lockHolds > 0);
  assert.ok(report.broadcastsAfterRecovery > 0, 'broadcasts published after the recovery');
}

function summary(what: string, ms: number, report: WorkloadReport): string {
  return `${what}: recovered in ${Math.round(ms)} ms; ${report.done} calls, ${report.errors.length} failed (${JSON.stringify(report.errorCodes)}); ${report.jobsAcknowledged} jobs (${report.jobsNotRun} not yet run at the end) and ${report.messagesAcknowledged} durable messages acknowledged, none lost; ${report.lockHolds} lock holds, no overlap`;
}

/**
 * What the SIGKILL tests ask of acknowledged writes (lock acquires, job adds, durable
 * publishes): one replica has them before the call resolves.
 */
export const REPLICA_ACKS = { replicaAcks: { replicas: 1, timeoutMs: 1000 } } as const;

/**
 * How long lock and semaphore acquires wait: longer than any failover here takes (a master
 * SIGKILLed under a busy machine was replaced after 6 s), so a wait ends with the holder's
 * release, never with the failover still going.
 */
const WAIT_MS = 20_000;

/** How long a broadcast loop waits for its message to arrive before it publishes the next. */
const BROADCAST_ARRIVAL_MS = 1000;

/** Names spread over many hash slots, so every master of a Cluster takes part. */
const NAMES = Array.from({ length: 6 }, (_, i) => `fo-${i}`);

export interface WorkloadReport {
  /** Calls that succeeded. */
  readonly done: number;
  /** Every failed call's error. */
  readonly errors: readonly unknown[];
  /** Failed calls whose error is not one of the library's (a raw client error). */
  readonly untyped: readonly unknown[];
  /** How many failed calls each error code accounts for. */
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly jobsAcknowledged: number;
  /** Jobs whose add resolved and that no worker ran by the end (lost, or still in Redis). */
  readonly jobsNotRun: number;
  /** Of those, how many Redis no longer holds either (waiting, active or delayed): lost. */
  readonly jobsLost: number;
  readonly messagesAcknowledged: number;
  /** Durable messages whose publish resolved but that the group never handled. */
  readonly messagesLost: readonly number[];
  /** Times a lock holder found another holder of the same resource inside. */
  readonly overlaps: number;
  /** Times a semaphore holder found the semaphore's limit already reached by others inside. */
  readonly semaphoreOverruns: number;
  /** Writes the fenced store refused (a stale fencing token). */
  readonly staleWritesRefused: number;
  /** Lock holds completed. */
  readonly lockHolds: number;
  /** Broadcasts published after the recovery, and how many of them never arrived. */
  readonly broadcastsAfterRecovery: number;
  readonly broadcastsMissedAfterRecovery: number;
}

/** Workloads started and not stopped yet: their loops may still run. */
const unstopped = new Set<FailoverWorkload>();

/**
 * Registers an `afterEach` hook that stops the loops of a workload its test left running (it
 * failed before `stop()`): they would go on calling closed modules. Register it before the hook
 * that closes the modules.
 */
export function haltWorkloadsAfterEach(): void {
  afterEach(() => {
    for (const workload of unstopped) workload.halt();
    unstopped.clear();
  });
}

/**
 * Runs the workload on `producer` and `consumer` (two instances of one app, same key prefix)
 * until `stop()`. Call {@link markFault} when the fault starts: `recoveryMs()` is then the time
 * until every kind of call has succeeded again.
 */
export class FailoverWorkload {
  private running = true;
  private done = 0;
  private readonly errors: unknown[] = [];
  private readonly loops: Promise<void>[] = [];
  /** What each loop calls, by loop index: named when a loop does not recover. */
  private readonly loopNames: string[] = [];
  private readonly jobsAdded = new Set<number>();
  private readonly jobsRun = new Set<number>();
  private readonly messagesPublished = new Set<number>();
  private readonly messagesHandled = new Set<number>();
  private readonly inside = new Map<string, number>();
  private readonly fencedStore = new Map<string, number>();
  private overlaps = 0;
  private semaphoreOverruns = 0;
  private staleWritesRefused = 0;
  private lockHolds = 0;
  /** Per broadcast channel: numbers published after the recovery, and numbers received. */
  private readonly broadcastsAfterRecovery = new Map<string, number[]>();
  private readonly broadcastsReceived = new Map<string, Set<number>>();
  /** Per broadcast channel: the broadcast its loop waits to see arrive, and how to wake it. */
  private readonly awaitedBroadcasts = new Map<string, { n: number; arrived: () => void }>();
  private faultAt?: number;
  private recoveredAt?: number;
  /** Per loop, when a call it started after the fault first succeeded. */
  private readonly firstSuccessAfterFault = new Map<number, number>();
  private sequence = 0;

  private constructor(
    private readonly producer: TestingModule,
    private readonly consumer: TestingModule,
  ) {}

  static async start(producer: TestingModule, consumer: TestingModule): Promise<FailoverWorkload> {
    const workload = new FailoverWorkload(producer, consumer);
    await workload.subscribe();
    workload.run();
    unstopped.add(workload);
    return workload;
  }

  /** Stops the loops without waiting for them. */
  halt(): void {
    this.running = false;
  }

  /** Calls that succeeded so far. */
  get succeeded(): number {
    return this.done;
  }

  markFault(): void {
    this.faultAt = performance.now();
  }

  /**
   * Resolves once every loop (each kind of call on each name, so on every master) had a call
   * started after the fault succeed; returns the time from the fault until the last one did.
   */
  async recovered(): Promise<number> {
    await bounded(
      'every loop succeeding again',
      waitUntil(() => this.firstSuccessAfterFault.size === this.loops.length),
    ).catch((error: unknown) => {
      const stuck = this.loopNames.filter((_, id) => !this.firstSuccessAfterFault.has(id));
      throw new Error(`${(error as Error).message}; not recovered: ${stuck.join(', ')}`);
    });
    this.recoveredAt = performance.now();
    const recoveryMs = Math.max(...this.firstSuccessAfterFault.values()) - this.faultAt!;
    // Then some more work, so that what follows a failover (re-subscriptions) is exercised too.
    const target = this.done + 1000;
    await bounded(
      '1000 more calls after the recovery',
      waitUntil(() => this.done >= target),
    );
    return recoveryMs;
  }

  /**
   * Once every kind of call succeeds again ({@link recovered}), stops ({@link stop}), prints
   * what happened (`what`, then `detail`) and asserts that nothing was lost.
   */
  async finish(what: string, detail: string): Promise<WorkloadReport> {
    const recoveredMs = await this.recovered();
    const report = await this.stop();
    console.info(`${summary(what, recoveredMs, report)}; ${detail}`);
    assertNothingLost(report);
    return report;
  }

  /**
   * Stops producing, then waits until the worker and the group have caught up with what was
   * acknowledged (or the bound passes, and what is missing is reported as lost).
   */
  async stop(): Promise<WorkloadReport> {
    this.halt();
    unstopped.delete(this);
    await bounded('every call in flight settling', Promise.all(this.loops));
    await bounded(
      'workers catching up',
      waitUntil(
        () =>
          [...this.jobsAdded].every((n) => this.jobsRun.has(n)) &&
          [...this.messagesPublished].every((n) => this.messagesHandled.has(n)) &&
          [...this.broadcastsAfterRecovery].every(([channel, sent]) =>
            sent.every((n) => this.broadcastsReceived.get(channel)!.has(n)),
          ),
      ),
      30_000,
    ).catch(() => undefined); // what is still missing is reported below
    const jobsNotRun = [...this.jobsAdded].filter((n) => !this.jobsRun.has(n)).length;
    let jobsStillQueued = 0;
    if (jobsNotRun > 0) {
      const queue = this.consumer.get(QueueService);
      for (const name of NAMES) {
        const counts = await queue.counts(`jobs-${name}`);
        jobsStillQueued += counts.waiting + counts.active + counts.delayed;
      }
    }
    let broadcastsAfterRecovery = 0;
    let broadcastsMissed = 0;
    for (const [channel, sent] of this.broadcastsAfterRecovery) {
      const received = this.broadcastsReceived.get(channel)!;
      broadcastsAfterRecovery += sent.length;
      broadcastsMissed += sent.filter((n) => !received.has(n)).length;
    }
    return {
      done: this.done,
      errors: this.errors,
      untyped: this.errors.filter((error) => !(error instanceof RedisCoordinationError)),
      errorCodes: countCodes(this.errors),
      jobsAcknowledged: this.jobsAdded.size,
      jobsNotRun,
      jobsLost: Math.max(0, jobsNotRun - jobsStillQueued),
      messagesAcknowledged: this.messagesPublished.size,
      messagesLost: [...this.messagesPublished].filter((n) => !this.messagesHandled.has(n)),
      overlaps: this.overlaps,
      semaphoreOverruns: this.semaphoreOverruns,
      staleWritesRefused: this.staleWritesRefused,
      lockHolds: this.lockHolds,
      broadcastsAfterRecovery,
      broadcastsMissedAfterRecovery: broadcastsMissed,
    };
  }

  private async subscribe(): Promise<void> {
    const queue = this.consumer.get(QueueService);
    const pubsub = this.consumer.get(PubSubService);
    for (const name of NAMES) {
      queue.process<{ n: number }>(`jobs-${name}`, (job) => void this.jobsRun.add(job.data.n), {
        concurrency: 4,
      });
      await pubsub.subscribe<{ n: number }>(
        `durable-${name}`,
        (message) => void this.messagesHandled.add(message.n),
        { group: 'failover', claimIdleMs: 2000 },
      );
      const channel = `news-${name}`;
      const received = new Set<number>();
      this.broadcastsReceived.set(channel, received);
      this.broadcastsAfterRecovery.set(channel, []);
      await pubsub.subscribe<{ n: number }>(channel, (message) => {
        received.add(message.n);
        const awaited = this.awaitedBroadcasts.get(channel);
        if (awaited?.n === message.n) awaited.arrived();
      });
    }
  }

  private run(): void {
    const queue = this.producer.get(QueueService);
    const pubsub = this.producer.get(PubSubService);
    const counters = this.producer.get(CounterService);
    const cache = this.producer.get(CacheService);
    for (const name of NAMES) {
      this.loop(`queue.add jobs-${name}`, async () => {
        const n = this.sequence++;
        // A claim whose reply the failover cuts leaves its job held until the lease expires,
        // which counts as an attempt: with one attempt (the default) it is dead-lettered, not
        // run (1 job in about 8 graceful failovers under jest).
        await queue.add(`jobs-${name}`, { n }, { attempts: 3 });
        this.jobsAdded.add(n);
      });
      this.loop(`durable publish durable-${name}`, async () => {
        const n = this.sequence++;
        await pubsub.publish(`durable-${name}`, { n }, { durable: true });
        this.messagesPublished.add(n);
      });
      // A broadcast counts as done once the subscriber got it: a subscriber whose connection
      // the failover cut misses what is published until it is back (pub/sub is at most once),
      // and on a Cluster the receivers publish() counts are those of one node only.
      const channel = `news-${name}`;
      this.loop(`broadcast ${channel}`, async () => {
        const n = this.sequence++;
        const afterRecovery = this.recoveredAt !== undefined;
        const arrived = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), BROADCAST_ARRIVAL_MS).unref();
          this.awaitedBroadcasts.set(channel, {
            n,
            arrived: () => {
              clearTimeout(timer);
              resolve(true);
            },
          });
        });
        await pubsub.publish(channel, { n });
        if (afterRecovery) this.broadcastsAfterRecovery.get(channel)!.push(n);
        return arrived;
      });
      this.loop(`counter count-${name}`, () => counters.increment(`count-${name}`));
      this.loop(`cache page-${name}`, async () => {
        const key = `page-${name}-${this.sequence++ % 20}`;
        await cache.wrap(key, () => key, { ttlMs: 200 });
      });
    }
    for (const [app, instance] of [
      [this.producer, 'producer'],
      [this.consumer, 'consumer'],
    ] as const) {
      const semaphores = app.get(SemaphoreService);
      for (const name of NAMES.slice(0, 3)) {
        const semaphore = `sem-${name}`;
        this.loop(`${instance} semaphore ${semaphore}`, () =>
          semaphores.using(semaphore, { limit: 2, ttlMs: 2000, waitMs: WAIT_MS }, async () => {
            const inside = (this.inside.get(semaphore) ?? 0) + 1;
            if (inside > 2) this.semaphoreOverruns++;
            this.inside.set(semaphore, inside);
            await new Promise((resolve) => setTimeout(resolve, 2));
            this.inside.set(semaphore, this.inside.get(semaphore)! - 1);
          }),
        );
      }
      const locks = app.get(RedisLockService);
      for (const name of NAMES.slice(0, 3)) {
        this.loop(`${instance} lock lock-${name}`, async () => {
          const resource = `lock-${name}`;
          const lock = await locks.acquire(resource, { ttlMs: 2000, waitMs: WAIT_MS });
          try {
            if ((this.inside.get(resource) ?? 0) > 0) this.overlaps++;
            this.inside.set(resource, (this.inside.get(resource) ?? 0) + 1);
            await new Promise((resolve) => setTimeout(resolve, 2));
            // The downstream store accepts a write only with a token above every earlier one.
            if (lock.fencingToken > (this.fencedStore.get(resource) ?? 0)) {
              this.fencedStore.set(resource, lock.fencingToken);
            } else {
              this.staleWritesRefused++;
            }
            this.inside.set(resource, this.inside.get(resource)! - 1);
            this.lockHolds++;
          } finally {
            await lock.release().catch(() => undefined); // a lost lock is not a failed hold
          }
        });
      }
    }
  }

  /** Runs `call` until stopped; a call that resolves to `false` did not succeed (nor fail). */
  private loop(name: string, call: () => Promise<unknown>): void {
    const id = this.loops.length;
    this.loopNames.push(name);
    this.loops.push(
      (async () => {
        while (this.running) {
          // A call may resolve without I/O (the cache serving its loader while Redis is down):
          // without a turn of the event loop per call such a loop would starve every timer.
          await new Promise((resolve) => setImmediate(resolve));
          const startedAt = performance.now();
          try {
            if ((await call()) === false) continue;
            this.done++;
            const { faultAt } = this;
            if (
              faultAt !== undefined &&
              startedAt > faultAt &&
              !this.firstSuccessAfterFault.has(id)
            ) {
              this.firstSuccessAfterFault.set(id, performance.now());
            }
          } catch (error) {
            this.errors.push(error);
            // A failed call during the fault must not spin: Redis may answer at once with an error.
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      })(),
    );
  }
}

function countCodes(errors: readonly unknown[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const error of errors) {
    const code = error instanceof RedisCoordinationError ? error.code : 'untyped';
    counts[code] = (counts[code] ?? 0) + 1;
  }
  return counts;
}
