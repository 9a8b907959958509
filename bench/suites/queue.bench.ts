import { performance } from 'node:perf_hooks';
import { Queue as BullQueue, Worker as BullWorker, type ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { KeySpace } from '../../lib/connection/key-space.js';
import { QueueService } from '../../lib/index.js';
import { queueKeys } from '../../lib/queue/queue.keys.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const TOTAL = 20_000;
const CONCURRENCY = 16;
const BATCH = 1000;
const RAW_QUEUE = 'bench:raw:queue';
const RAW_PROCESSING = 'bench:raw:processing';

/**
 * The queue against raw ioredis doing the least a reliable list queue must do, and against
 * BullMQ doing the same work (jobs added one at a time and processed at concurrency 16, with the
 * same bound on kept completed jobs):
 * - add: one job per call, 1 and 16 in flight, vs RPUSH;
 * - addBulk: 1000 jobs per call vs RPUSH of 1000 values;
 * - processing: 20 000 queued jobs drained by a no-op handler at concurrency 16 vs 16 loops of
 *   LMOVE (to a processing list) + LREM (ack), the classic reliable-list pattern, which has no
 *   lease, retry, delay or priority.
 * Each raw figure is the harder of ioredis with and without auto-pipelining. Then the cost of
 * the queue's optional features in use, against the same queue with none in use.
 */
export const suite: BenchSuite = {
  description: 'Queue add/addBulk and end-to-end processing vs a raw LMOVE + LREM reliable list',
  async run(context) {
    const app = await context.app();
    const queue = app.get(QueueService);
    const raws = [
      { client: await context.rawClient(), label: 'raw ioredis' },
      {
        client: await context.rawClient({ enableAutoPipelining: true }),
        label: 'raw ioredis + autoPipelining',
      },
    ];
    const cleaner = raws[0]!.client;
    let run = 0;
    const fresh = async () => {
      const name = `q${run++}`;
      await cleaner.del(...queueKeys(new KeySpace('bench:'), name).all, RAW_QUEUE, RAW_PROCESSING);
      return name;
    };
    const payload = (i: number) => ({ i, to: 'user@example.com' });

    const figure = async (
      name: string,
      raw: (client: Redis) => () => Promise<RunResult>,
      ours: () => Promise<RunResult>,
      goal?: number,
    ) => {
      let best: Awaited<ReturnType<typeof compare>> | undefined;
      let bestLabel = '';
      for (const { client, label } of raws) {
        const result = await compare(raw(client), ours);
        if (!best || result.ratio < best.ratio) {
          best = result;
          bestLabel = label;
        }
      }
      context.report({
        suite: 'queue',
        name,
        ...best!,
        goal,
        note: `vs the faster baseline: ${bestLabel}`,
      });
    };

    for (const inFlight of [1, CONCURRENCY]) {
      await figure(
        `add x${TOTAL}, ${inFlight} in flight`,
        (client) => async () => {
          await fresh();
          return runLoad((i) => client.rpush(RAW_QUEUE, JSON.stringify(payload(i))), {
            total: TOTAL,
            concurrency: inFlight,
          });
        },
        async () => {
          const name = await fresh();
          return runLoad((i) => queue.add(name, payload(i)), {
            total: TOTAL,
            concurrency: inFlight,
          });
        },
      );
    }

    const perJob = (result: RunResult): RunResult => ({
      ...result,
      ops: result.ops * BATCH,
      opsPerSec: result.opsPerSec * BATCH,
    });
    await figure(
      `addBulk x${TOTAL} in batches of ${BATCH} (jobs/s)`,
      (client) => async () => {
        await fresh();
        const values = (b: number) =>
          Array.from({ length: BATCH }, (_, i) => JSON.stringify(payload(b * BATCH + i)));
        return perJob(
          await runLoad((b) => client.rpush(RAW_QUEUE, ...values(b)), {
            total: TOTAL / BATCH,
            concurrency: 1,
          }),
        );
      },
      async () => {
        const name = await fresh();
        const batch = (b: number) =>
          Array.from({ length: BATCH }, (_, i) => ({ data: payload(b * BATCH + i) }));
        return perJob(
          await runLoad((b) => queue.addBulk(name, batch(b)), {
            total: TOTAL / BATCH,
            concurrency: 1,
          }),
        );
      },
    );

    /** Our processing run; `setup` turns features on for the queue and returns their undo. */
    const processOurs =
      (setup?: (name: string) => Promise<() => void>) => async (): Promise<RunResult> => {
        const name = await fresh();
        for (let b = 0; b < TOTAL; b += BATCH) {
          await queue.addBulk(
            name,
            Array.from({ length: BATCH }, (_, i) => ({ data: payload(b + i) })),
          );
        }
        const undo = await setup?.(name);
        const latencies: number[] = [];
        const startedAt = new Map<string, number>();
        const started = performance.now();
        const worker = queue.process(name, (job) => void startedAt.set(job.id, performance.now()), {
          concurrency: CONCURRENCY,
        });
        await new Promise<void>((resolve) =>
          worker.on('completed', (job) => {
            latencies.push(performance.now() - startedAt.get(job.id)!);
            if (latencies.length === TOTAL) resolve();
          }),
        );
        const elapsed = performance.now() - started;
        await worker.close();
        undo?.();
        return { ops: TOTAL, opsPerSec: (TOTAL / elapsed) * 1000, ...percentiles(latencies) };
      };

    await figure(
      `process x${TOTAL}, concurrency ${CONCURRENCY} (jobs/s)`,
      (client) => async () => {
        await fresh();
        for (let b = 0; b < TOTAL; b += BATCH) {
          await client.rpush(
            RAW_QUEUE,
            ...Array.from({ length: BATCH }, (_, i) => JSON.stringify(payload(b + i))),
          );
        }
        const latencies: number[] = [];
        const started = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (;;) {
              const t0 = performance.now();
              const item = await client.lmove(RAW_QUEUE, RAW_PROCESSING, 'LEFT', 'RIGHT');
              if (item === null) return;
              JSON.parse(item);
              await client.lrem(RAW_PROCESSING, 1, item);
              latencies.push(performance.now() - t0);
            }
          }),
        );
        const elapsed = performance.now() - started;
        return { ops: TOTAL, opsPerSec: (TOTAL / elapsed) * 1000, ...percentiles(latencies) };
      },
      processOurs(),
      0.8,
    );

    // BullMQ, on its own connections to the same Redis.
    const { hostname, port } = new URL(context.redisUrl);
    const connection: ConnectionOptions = {
      host: hostname,
      port: Number(port),
      maxRetriesPerRequest: null,
    };
    const bullName = () => `bull${run++}`;
    const bullQueues: BullQueue[] = [];
    const bullQueue = (name: string) => {
      const bull = new BullQueue(name, { connection, prefix: 'bench:bull' });
      bullQueues.push(bull);
      return bull;
    };
    context.defer(() => Promise.all(bullQueues.map((bull) => bull.close())));
    const sameRetention = { removeOnComplete: { count: 1000 } };
    const versusBull = async (
      name: string,
      bull: () => Promise<RunResult>,
      ours: () => Promise<RunResult>,
      goal?: number,
    ) => {
      const result = await compare(bull, ours);
      context.report({ suite: 'queue', name, ...result, goal, note: 'baseline: BullMQ' });
    };

    await versusBull(
      `add x${TOTAL}, ${CONCURRENCY} in flight, vs BullMQ`,
      async () => {
        const bull = bullQueue(bullName());
        return runLoad((i) => bull.add('job', payload(i), sameRetention), {
          total: TOTAL,
          concurrency: CONCURRENCY,
        });
      },
      async () => {
        const name = await fresh();
        return runLoad((i) => queue.add(name, payload(i)), {
          total: TOTAL,
          concurrency: CONCURRENCY,
        });
      },
    );

    await versusBull(
      `process x${TOTAL}, concurrency ${CONCURRENCY} (jobs/s), vs BullMQ`,
      async () => {
        const name = bullName();
        const bull = bullQueue(name);
        for (let b = 0; b < TOTAL; b += BATCH) {
          await bull.addBulk(
            Array.from({ length: BATCH }, (_, i) => ({
              name: 'job',
              data: payload(b + i),
              opts: sameRetention,
            })),
          );
        }
        const latencies: number[] = [];
        const startedAt = new Map<string, number>();
        const started = performance.now();
        const worker = new BullWorker(
          name,
          async (job) => void startedAt.set(job.id!, performance.now()),
          { connection, prefix: 'bench:bull', concurrency: CONCURRENCY },
        );
        await new Promise<void>((resolve) =>
          worker.on('completed', (job) => {
            latencies.push(performance.now() - startedAt.get(job.id!)!);
            if (latencies.length === TOTAL) resolve();
          }),
        );
        const elapsed = performance.now() - started;
        await worker.close();
        await bull.obliterate({ force: true });
        return { ops: TOTAL, opsPerSec: (TOTAL / elapsed) * 1000, ...percentiles(latencies) };
      },
      processOurs(),
      1.5,
    );

    // The cost of features in use, against the same queue with none in use.
    const withFeatures = async (name: string) => {
      const listening = queue.events(name).subscribe();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the listener's mark is set
      await queue.setGlobalConcurrency(name, 1000);
      // Its jobs (a few over the run) count among the TOTAL completions awaited.
      await queue.upsertScheduler(name, 'tick', { everyMs: 100 });
      return () => listening.unsubscribe();
    };
    const result = await compare(processOurs(), processOurs(withFeatures));
    context.report({
      suite: 'queue',
      name: `process x${TOTAL}, events listened to + global concurrency set + a scheduler`,
      ...result,
      note: 'baseline: the same queue with no feature in use',
    });
  },
};
