import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { PubSubService, QueueService, RedisLockService } from '../../lib/index.js';
import { RedisServer } from '../../lib/testing/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, runLoad, type RunResult } from '../support/measure.js';

const TOTAL = 5000;
const ACKS = { replicas: 1, timeoutMs: 1000 };
/** The textbook raw release: delete only if the value is still our token. */
const COMPARE_AND_DELETE =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** Sends `write`'s command and `WAIT` in one pipeline; throws unless the replica confirmed. */
async function rawWriteThenWait(
  client: Redis,
  write: (pipeline: ReturnType<Redis['pipeline']>) => void,
): Promise<unknown> {
  const pipeline = client.pipeline();
  write(pipeline);
  const [[error, reply], [, acknowledged]] = (await pipeline
    .wait(ACKS.replicas, ACKS.timeoutMs)
    .exec()) as [[Error | null, unknown], [Error | null, number]];
  if (error) throw error;
  if (acknowledged < ACKS.replicas) throw new Error('the replica did not confirm');
  return reply;
}

/**
 * What `replicaAcks: { replicas: 1 }` costs. The suite starts a replica of the bench's
 * redis-server, pinned to the same CPU (so each WAIT includes a switch to the replica process;
 * a replica on another machine adds the network round trip instead), and measures:
 * - lock acquire+release and queue add with `replicaAcks` against the same calls without it;
 * - the same with `replicaAcks` against raw ioredis doing the same writes, each followed by
 *   `WAIT` in one pipeline (a lock: `SET NX PX` + `WAIT`, then compare-and-delete; an add:
 *   `RPUSH` + `WAIT`).
 * Acknowledged writes share one connection whose WAITs Redis runs one after another, so loops
 * in flight mostly queue there: the 16-in-flight figures show it.
 */
export const suite: BenchSuite = {
  description:
    'replicaAcks: lock acquire+release, queue add and durable publish, with WAIT for 1 replica',
  async run(context) {
    const { hostname, port } = new URL(context.redisUrl);
    const replica = await RedisServer.start({
      replicaOf: { host: hostname, port: Number(port) },
      cpus: process.env.BENCH_PINNED,
    });
    context.defer(() => replica.dispose());
    const plainApp = await context.app();
    const ackedApp = await context.app({ keyPrefix: 'bench:acked:', replicaAcks: ACKS });
    const raw = await context.rawClient();
    const sha = String(await raw.script('LOAD', COMPARE_AND_DELETE));
    const tokenPrefix = randomBytes(8).toString('hex');

    const report = (name: string, result: Awaited<ReturnType<typeof compare>>, note: string) =>
      context.report({ suite: 'replica-acks', name, ...result, note });
    const timed =
      (op: (i: number) => Promise<unknown>, concurrency: number) => (): Promise<RunResult> =>
        runLoad(op, { total: TOTAL, concurrency });

    const lockLoop = (locks: RedisLockService) => async (i: number) => {
      const lock = await locks.acquire(`ra:${i}`);
      await lock.release();
    };
    const plainLocks = lockLoop(plainApp.get(RedisLockService));
    const ackedLocks = lockLoop(ackedApp.get(RedisLockService));
    const rawLocks = async (i: number) => {
      const key = `raw:ra:${i}`;
      const token = `${tokenPrefix}:${i}`;
      const taken = await rawWriteThenWait(raw, (p) => p.set(key, token, 'PX', 10_000, 'NX'));
      if (taken !== 'OK') throw new Error('raw lock busy');
      await raw.evalsha(sha, 1, key, token);
    };
    for (const concurrency of [1, 8]) {
      const loops = `${concurrency} loop(s)`;
      report(
        `lock acquire+release x${TOTAL}, ${loops}: replicaAcks vs without`,
        await compare(timed(plainLocks, concurrency), timed(ackedLocks, concurrency)),
        'baseline: the same calls without replicaAcks',
      );
      report(
        `lock acquire+release x${TOTAL}, ${loops}: replicaAcks vs raw SET NX PX + WAIT`,
        await compare(timed(rawLocks, concurrency), timed(ackedLocks, concurrency)),
        'baseline: raw ioredis pipeline [SET NX PX, WAIT 1], then compare-and-delete',
      );
    }

    const plainQueue = plainApp.get(QueueService);
    const ackedQueue = ackedApp.get(QueueService);
    const job = (i: number) => ({ i, to: 'user@example.com' });
    const rawAdd = (i: number) =>
      rawWriteThenWait(raw, (p) => p.rpush('raw:ra:queue', JSON.stringify(job(i))));
    for (const concurrency of [1, 16]) {
      const inFlight = `${concurrency} in flight`;
      const plainAdd = (i: number) => plainQueue.add('ra', job(i));
      const ackedAdd = (i: number) => ackedQueue.add('ra', job(i));
      report(
        `queue add x${TOTAL}, ${inFlight}: replicaAcks vs without`,
        await compare(timed(plainAdd, concurrency), timed(ackedAdd, concurrency)),
        'baseline: the same calls without replicaAcks',
      );
      report(
        `queue add x${TOTAL}, ${inFlight}: replicaAcks vs raw RPUSH + WAIT`,
        await compare(timed(rawAdd, concurrency), timed(ackedAdd, concurrency)),
        'baseline: raw ioredis pipeline [RPUSH, WAIT 1]',
      );
    }

    const plainPubSub = plainApp.get(PubSubService);
    const ackedPubSub = ackedApp.get(PubSubService);
    report(
      `durable publish x${TOTAL}, 1 in flight: replicaAcks vs without`,
      await compare(
        timed((i) => plainPubSub.publish('ra', i, { durable: true }), 1),
        timed((i) => ackedPubSub.publish('ra', i, { durable: true }), 1),
      ),
      'baseline: the same calls without replicaAcks',
    );
    await raw.del('raw:ra:queue', 'bench:{pubsub:ra}:stream', 'bench:acked:{pubsub:ra}:stream');
  },
};
