import type { INestApplicationContext } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import zookeeper from 'node-zookeeper-client';
import {
  LiveConfigService,
  RedisLockService,
  SemaphoreService,
  type Lock,
} from '../../lib/index.js';
import { ZooKeeperServer } from '../../lib/testing/index.js';
import { ZooKeeperConnection } from '../../lib/zookeeper/zookeeper.connection.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const UNCONTENDED_TOTAL = 500;
const HANDOVERS = 200;
/** Instances that each apply every config change (as config.bench.ts's Redis figure). */
const CONFIG_INSTANCES = 10;
/** Timed changes per side, run in {@link CONFIG_BLOCKS} blocks, the sides alternating. */
const CONFIG_CHANGES = 200;
const CONFIG_BLOCKS = 4;
/** Untimed changes per side first: JIT, watches, the node's creation. */
const CONFIG_WARMUP = 20;
/** Changes of the instrumented pass that splits a change's latency into its steps. */
const BREAKDOWN_CHANGES = 100;
/** A change not seen everywhere by then is a bug in the bench, not a figure. */
const CHANGE_TIMEOUT_MS = 10_000;
const SEMAPHORE_LIMIT = 4;

/** A raw node-zookeeper-client call as a promise. */
function call<T>(run: (done: (error: unknown, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) =>
    run((error, result) => (error ? reject(error as Error) : resolve(result))),
  );
}

/** A raw node-zookeeper-client client, connected. */
async function rawClient(connectString: string): Promise<zookeeper.Client> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000 });
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  await connected;
  return client;
}

/** One side of the config figures: a way to make change `n` that every instance must see. */
type ConfigSide = 'zookeeper' | 'raw' | 'redis';

/**
 * Times config changes: a change is sent, then each of {@link CONFIG_INSTANCES} instances calls
 * {@link seen} as it has applied it; the next change goes once all did. Only the side being
 * timed counts, so every side's instances can stay subscribed throughout.
 */
class ChangeTimer {
  readonly samples: Record<ConfigSide, number[]> = { zookeeper: [], raw: [], redis: [] };
  readonly elapsedMs: Record<ConfigSide, number> = { zookeeper: 0, raw: 0, redis: 0 };
  sentAt = 0;
  private active: ConfigSide | undefined;
  private recording = false;
  private pending = 0;
  private done: () => void = () => undefined;
  private next = 0;

  seen(side: ConfigSide): void {
    if (side !== this.active || this.pending === 0) return;
    if (this.recording) this.samples[side].push(performance.now() - this.sentAt);
    if (--this.pending === 0) this.done();
  }

  /** Makes `count` changes through `change(n)` (`n` never repeats, so every value is new). */
  async run(
    side: ConfigSide,
    count: number,
    change: (n: number) => Promise<void>,
    record = true,
  ): Promise<void> {
    this.active = side;
    this.recording = record;
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      let timer: NodeJS.Timeout | undefined;
      const all = new Promise<void>((resolve, reject) => {
        this.done = resolve;
        timer = setTimeout(
          () =>
            reject(
              new Error(
                `${side}: a change was seen by ${CONFIG_INSTANCES - this.pending} of ${CONFIG_INSTANCES} instances after ${CHANGE_TIMEOUT_MS} ms`,
              ),
            ),
          CHANGE_TIMEOUT_MS,
        );
      });
      this.pending = CONFIG_INSTANCES;
      this.sentAt = performance.now();
      await change(this.next++);
      await all.finally(() => clearTimeout(timer));
    }
    if (record) this.elapsedMs[side] += performance.now() - started;
    this.active = undefined;
  }

  result(side: ConfigSide): RunResult {
    const ops = this.samples[side].length / CONFIG_INSTANCES;
    return {
      ops,
      opsPerSec: (ops / this.elapsedMs[side]) * 1000,
      ...percentiles(this.samples[side]),
    };
  }
}

/** p50/p99 of a step's samples, as text. */
function step(samples: number[]): string {
  const { p50Ms, p99Ms } = percentiles(samples);
  return `${p50Ms.toFixed(2)}/${p99Ms.toFixed(2)}`;
}

/** Timestamps of a change's steps on each instance, for the instrumented pass. */
class StepTrace {
  active = false;
  readonly commit: number[] = [];
  readonly event: number[] = [];
  readonly reread: number[] = [];
  readonly apply: number[] = [];
  private readonly eventAt = new Map<number, number>();
  private readonly readAt = new Map<number, number>();

  constructor(private readonly timer: ChangeTimer) {}

  /** A change is sent: what the last one left is not this one's. */
  reset(): void {
    this.eventAt.clear();
    this.readAt.clear();
  }

  /** The write was acknowledged (committed: synced to disk, as the server runs). */
  committed(): void {
    if (this.active) this.commit.push(performance.now() - this.timer.sentAt);
  }

  /** Instance `k`'s watch fired. */
  fired(k: number): void {
    if (!this.active) return;
    const now = performance.now();
    this.eventAt.set(k, now);
    this.event.push(now - this.timer.sentAt);
  }

  /** Instance `k` read the node (the re-read when its watch fired first). */
  read(k: number): void {
    const firedAt = this.eventAt.get(k);
    if (!this.active || firedAt === undefined) return;
    const now = performance.now();
    this.eventAt.delete(k);
    this.readAt.set(k, now);
    this.reread.push(now - firedAt);
  }

  /** Instance `k` applied the value it re-read. */
  applied(k: number): void {
    const readAt = this.readAt.get(k);
    if (!this.active || readAt === undefined) return;
    this.readAt.delete(k);
    this.apply.push(performance.now() - readAt);
  }

  describe(): string {
    return `setData acknowledged ${step(this.commit)}, watch event at each instance ${step(this.event)} after the call, re-read getData ${step(this.reread)}, then applied in ${step(this.apply)}`;
  }
}

/**
 * The raw client's side of a watching instance: getData with a watch, again on every firing;
 * a newer version is parsed and counts as applied. Resolves after the first read.
 */
function keepReading(
  client: zookeeper.Client,
  path: string,
  k: number,
  trace: StepTrace,
  onApplied: () => void,
): Promise<void> {
  let version = -1;
  return new Promise<void>((resolve, reject) => {
    const read = () =>
      client.getData(
        path,
        () => {
          trace.fired(k);
          read();
        },
        (error, data, stat) => {
          if (error) {
            reject(error);
            return;
          }
          trace.read(k);
          if (stat.version > version) {
            version = stat.version;
            JSON.parse(data?.toString() ?? 'null');
            trace.applied(k);
            onApplied();
          }
          resolve();
        },
      );
    read();
  });
}

/**
 * Marks the steps of a change on a library instance: the writer's setData acknowledged
 * (`k` 0), or instance `k`'s watch firing and its re-read.
 */
function instrument(app: INestApplicationContext, k: number, trace: StepTrace): void {
  const session = app.get(ZooKeeperConnection).session;
  if (k === 0) {
    const setData = session.setData.bind(session);
    session.setData = async (path, data, version) => {
      const written = await setData(path, data, version);
      trace.committed();
      return written;
    };
    return;
  }
  const getData = session.getData.bind(session);
  session.getData = async (path, watch) => {
    const found = await getData(
      path,
      watch &&
        ((change) => {
          trace.fired(k);
          watch(change);
        }),
    );
    trace.read(k);
    return found;
  };
}

/**
 * Hand-over latency: `holder` holds the lock, `waiter` waits for it; the time from the release
 * call to the waiter holding it, over `rounds` rounds.
 */
async function handOvers(
  holder: RedisLockService,
  waiter: RedisLockService,
  backend: 'redis' | 'zookeeper',
  rounds: number,
): Promise<RunResult> {
  const samples: number[] = [];
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    const held = await holder.acquire('handover', { backend });
    const waiting: Promise<Lock> = waiter.acquire('handover', { backend, waitMs: 10_000 });
    // Let the waiter register (its node, or its queue entry) before the release.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    samples.push(performance.now() - releasedAt);
    await next.release();
  }
  const elapsed = performance.now() - started;
  return { ops: rounds, opsPerSec: (rounds / elapsed) * 1000, ...percentiles(samples) };
}

/**
 * Locks on ZooKeeper (one private standalone server, fsync on, as in production) against the
 * client's raw create-ephemeral-sequential + delete, and the hand-over between two app instances
 * on ZooKeeper against the Redis backend; semaphore acquire+release against raw create +
 * getChildren + delete; a live config set() seen by 10 instances on ZooKeeper against raw
 * clients doing the same ZooKeeper work (setData; 10 clients each re-reading with a getData watch
 * on every firing) and against the Redis backend, then once more instrumented, to show where the
 * time goes.
 */
export const suite: BenchSuite = {
  description:
    'ZooKeeper backend: lock and semaphore acquire+release vs the raw client, hand-over vs Redis, config set() seen by 10 instances vs raw watches and vs Redis',
  async run(context) {
    const server = await ZooKeeperServer.start({ syncWrites: true });
    context.defer(() => server.dispose());
    const options = {
      zookeeper: { connectString: server.connectString, root: '/bench' },
    };
    const [a, b] = await Promise.all([context.app(options), context.app(options)]);
    const locks = a.get(RedisLockService);
    const other = b.get(RedisLockService);

    const raw = await rawClient(server.connectString);
    context.defer(async () => raw.close());
    await call<string>((done) => raw.mkdirp('/raw/lock', done));

    context.report({
      suite: 'zookeeper',
      name: `lock acquire+release x${UNCONTENDED_TOTAL}, 1 loop`,
      ...(await compare(
        () =>
          runLoad(
            async () => {
              const path = await call<string>((done) =>
                raw.create('/raw/lock/n-', zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, done),
              );
              await call<void>((done) => raw.remove(path, (error) => done(error, undefined)));
            },
            { total: UNCONTENDED_TOTAL },
          ),
        () =>
          runLoad(
            async () => {
              const lock = await locks.acquire('u', { backend: 'zookeeper' });
              await lock.release();
            },
            { total: UNCONTENDED_TOTAL },
          ),
        3,
      )),
      note: 'baseline: node-zookeeper-client create (ephemeral sequential) + delete, no lock logic',
    });

    context.report({
      suite: 'zookeeper',
      name: `hand-over to a waiting instance x${HANDOVERS}, ZooKeeper vs Redis backend`,
      ...(await compare(
        () => handOvers(locks, other, 'redis', HANDOVERS),
        () => handOvers(locks, other, 'zookeeper', HANDOVERS),
        1,
      )),
      note: 'latency from release() to the waiter holding the lock; baseline: the Redis backend',
    });

    const semaphores = a.get(SemaphoreService);
    await call<string>((done) => raw.mkdirp('/raw/semaphore', done));
    context.report({
      suite: 'zookeeper',
      name: `semaphore acquire+release x${UNCONTENDED_TOTAL}, limit ${SEMAPHORE_LIMIT}, 1 loop`,
      ...(await compare(
        () =>
          runLoad(
            async () => {
              const path = await call<string>((done) =>
                raw.create(
                  `/raw/semaphore/${SEMAPHORE_LIMIT}-raw-`,
                  zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
                  done,
                ),
              );
              const line = await call<string[]>((done) => raw.getChildren('/raw/semaphore', done));
              const rank = line.sort().indexOf(path.slice('/raw/semaphore/'.length));
              if (rank < 0 || rank >= SEMAPHORE_LIMIT) throw new Error(`raw permit at ${rank}`);
              await call<void>((done) => raw.remove(path, (error) => done(error, undefined)));
            },
            { total: UNCONTENDED_TOTAL },
          ),
        () =>
          runLoad(
            async () => {
              const permit = await semaphores.acquire('u', {
                backend: 'zookeeper',
                limit: SEMAPHORE_LIMIT,
              });
              await permit.release();
            },
            { total: UNCONTENDED_TOTAL },
          ),
        3,
      )),
      note: 'baseline: node-zookeeper-client create (ephemeral sequential) + getChildren + delete, no semaphore logic',
    });

    // A config set() seen by every instance. The keys differ: Redis refuses writes to a key whose
    // record is in ZooKeeper (it only caches it).
    const zkApps = await Promise.all(
      Array.from({ length: CONFIG_INSTANCES }, () =>
        context.app({ ...options, liveConfig: { backend: 'zookeeper', keys: ['zk-flags'] } }),
      ),
    );
    const redisApps = await Promise.all(
      Array.from({ length: CONFIG_INSTANCES }, () =>
        context.app({ liveConfig: { keys: ['flags'] } }),
      ),
    );
    const timer = new ChangeTimer();
    const zkTrace = new StepTrace(timer);
    const rawTrace = new StepTrace(timer);
    zkApps.forEach((app, k) =>
      app
        .get(LiveConfigService)
        .changesOf('zk-flags')
        .subscribe(() => {
          zkTrace.applied(k);
          timer.seen('zookeeper');
        }),
    );
    for (const app of redisApps) {
      app
        .get(LiveConfigService)
        .changesOf('flags')
        .subscribe(() => timer.seen('redis'));
    }
    const RAW_CONFIG = '/raw/config/flags';
    await call<string>((done) => raw.mkdirp(RAW_CONFIG, done));
    const watchers = await Promise.all(
      Array.from({ length: CONFIG_INSTANCES }, () => rawClient(server.connectString)),
    );
    for (const watcher of watchers) context.defer(async () => watcher.close());
    await Promise.all(
      watchers.map((watcher, k) =>
        keepReading(watcher, RAW_CONFIG, k, rawTrace, () => timer.seen('raw')),
      ),
    );

    const zkWriter = zkApps[0]!.get(LiveConfigService);
    const redisWriter = redisApps[0]!.get(LiveConfigService);
    const sides: Record<ConfigSide, (n: number) => Promise<void>> = {
      zookeeper: async (n) => {
        zkTrace.reset();
        await zkWriter.set('zk-flags', { n });
      },
      raw: async (n) => {
        rawTrace.reset();
        await call<unknown>((done) =>
          raw.setData(RAW_CONFIG, Buffer.from(JSON.stringify({ n })), -1, done),
        );
        rawTrace.committed();
      },
      redis: async (n) => {
        await redisWriter.set('flags', { n });
      },
    };
    const order: ConfigSide[] = ['zookeeper', 'raw', 'redis'];
    for (const side of order) await timer.run(side, CONFIG_WARMUP, sides[side], false);
    for (let block = 0; block < CONFIG_BLOCKS; block++) {
      for (const side of block % 2 === 0 ? order : [...order].reverse()) {
        await timer.run(side, CONFIG_CHANGES / CONFIG_BLOCKS, sides[side]);
      }
    }
    const onZooKeeper = timer.result('zookeeper');
    const throughRaw = timer.result('raw');
    const onRedis = timer.result('redis');
    const seenBy = `config set() seen by ${CONFIG_INSTANCES} instances x${CONFIG_CHANGES}`;
    context.report({
      suite: 'zookeeper',
      name: `${seenBy}, vs raw setData + getData watches`,
      candidate: onZooKeeper,
      baseline: throughRaw,
      ratio: throughRaw.p99Ms / onZooKeeper.p99Ms,
      note: `latency from the call until each instance has it; ratio of p99 latencies (raw / library); baseline: node-zookeeper-client setData, ${CONFIG_INSTANCES} clients each re-reading (getData with a watch) on every firing`,
    });
    context.report({
      suite: 'zookeeper',
      name: `${seenBy}, ZooKeeper vs Redis backend`,
      candidate: onZooKeeper,
      baseline: onRedis,
      ratio: onRedis.p99Ms / onZooKeeper.p99Ms,
      note: 'ratio of p99 latencies (Redis backend / ZooKeeper backend); baseline: liveConfig on Redis (HSET + PUBLISH in one script, 10 subscribed instances)',
    });

    // Once more, instrumented (not part of the figures above): where a change's time goes.
    zkApps.forEach((app, k) => instrument(app, k, zkTrace));
    for (const [side, trace] of [
      ['zookeeper', zkTrace],
      ['raw', rawTrace],
    ] as const) {
      trace.active = true;
      await timer.run(side, BREAKDOWN_CHANGES, sides[side], false);
      trace.active = false;
    }
    console.log(
      `# config on ZooKeeper, where the time goes (p50/p99 ms, ${BREAKDOWN_CHANGES} changes, instrumented; the library's writer applies on the acknowledgement, the other ${CONFIG_INSTANCES - 1} instances on the re-read): library: ${zkTrace.describe()} | raw client (${CONFIG_INSTANCES} watching clients): ${rawTrace.describe()}`,
    );
  },
};
