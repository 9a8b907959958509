import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { PubSubService } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, type RunResult } from '../support/measure.js';

const BROADCAST_TOTAL = 50_000;
const DURABLE_TOTAL = 20_000;
/** Publishes in flight at once: one publisher that does not wait for each reply. */
const IN_FLIGHT = 64;
const BATCH = 32;
/** Pads each message to about 100 bytes encoded. */
const PAD = 'x'.repeat(70);

interface Sample {
  t: number;
  pad: string;
}

/**
 * Publishes `total` messages (IN_FLIGHT at a time) and resolves when the subscriber side has
 * received them all: throughput is delivered messages per second, latency is publish → handler.
 */
async function deliver(
  total: number,
  publish: (message: Sample) => Promise<unknown>,
  subscribe: (onMessage: (message: Sample) => void) => Promise<() => Promise<unknown>>,
): Promise<RunResult> {
  const latencies = new Float64Array(total);
  let received = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const off = await subscribe((message) => {
    latencies[received++] = performance.now() - message.t;
    if (received === total) done();
  });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < total) {
        next++;
        await publish({ t: performance.now(), pad: PAD });
      }
    }),
  );
  await all;
  const elapsed = performance.now() - started;
  await off();
  return { ops: total, opsPerSec: (total / elapsed) * 1000, ...percentiles(latencies) };
}

/** Raw XREADGROUP/XACK consumer loop, batch by batch, as a hand-written consumer would do. */
function rawConsumer(
  reader: Redis,
  acker: Redis,
  stream: string,
  onMessage: (message: Sample) => void,
): () => Promise<void> {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const reply = (await reader.xreadgroup(
        'GROUP',
        'g',
        'c',
        'COUNT',
        BATCH,
        'BLOCK',
        100,
        'STREAMS',
        stream,
        '>',
      )) as [string, [string, string[]][]][] | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      for (const [, fields] of entries) onMessage(JSON.parse(fields[1]!) as Sample);
      await acker.xack(stream, 'g', ...entries.map(([id]) => id));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

/**
 * Broadcast: 50 000 messages of ~100 bytes, one publisher, one subscriber, through
 * PubSubService vs raw ioredis PUBLISH/SUBSCRIBE. Durable: publish + consume through a consumer
 * group vs raw XADD/XREADGROUP/XACK. The raw publisher is the better of ioredis with and
 * without auto-pipelining.
 */
export const suite: BenchSuite = {
  description: 'pub/sub broadcast and durable: raw ioredis vs PubSubService',
  async run(context) {
    const pubsub = (await context.app()).get(PubSubService);
    // The same, on a command connection using ioredis auto-pipelining instead of the default
    // 'adaptive' batching: shows what that choice is worth for this workload.
    const pipelinedPubsub = (await context.app({ autoPipelining: true })).get(PubSubService);
    const plain = await context.rawClient();
    const pipelined = await context.rawClient({ enableAutoPipelining: true });
    const subscriber = await context.rawClient();
    const reader = await context.rawClient();

    const rawBroadcast = (publisher: Redis) => () =>
      deliver(
        BROADCAST_TOTAL,
        (message) => publisher.publish('bench:raw', JSON.stringify(message)),
        async (onMessage) => {
          const listener = (_channel: string, text: string) =>
            onMessage(JSON.parse(text) as Sample);
          subscriber.on('message', listener);
          await subscriber.subscribe('bench:raw');
          return async () => {
            await subscriber.unsubscribe('bench:raw');
            subscriber.off('message', listener);
          };
        },
      );
    const ourBroadcast = (service: PubSubService) => () =>
      deliver(
        BROADCAST_TOTAL,
        (message) => service.publish('bench', message),
        (onMessage) => service.subscribe<Sample>('bench', onMessage),
      );

    let run = 0;
    const rawDurable = (publisher: Redis) => async () => {
      const stream = `bench:raw-stream:${run++}`;
      await plain.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
      const result = await deliver(
        DURABLE_TOTAL,
        (message) =>
          publisher.xadd(stream, 'MAXLEN', '~', 100_000, '*', 'd', JSON.stringify(message)),
        async (onMessage) => rawConsumer(reader, plain, stream, onMessage),
      );
      await plain.del(stream);
      return result;
    };
    const ourDurable = async () => {
      const channel = `bench-durable-${run++}`;
      const result = await deliver(
        DURABLE_TOTAL,
        (message) => pubsub.publish(channel, message, { durable: true }),
        (onMessage) =>
          pubsub.subscribe<Sample>(channel, onMessage, { group: 'g', batchSize: BATCH }),
      );
      await plain.del(`bench:{pubsub:${channel}}:stream`);
      return result;
    };

    const workloads = [
      {
        name: `broadcast ${BROADCAST_TOTAL} msgs ~100 B, 1 publisher (${IN_FLIGHT} in flight) → 1 subscriber`,
        raw: rawBroadcast,
        ours: ourBroadcast(pubsub),
        goal: 0.9,
      },
      {
        name: `broadcast ${BROADCAST_TOTAL} msgs ~100 B, as above, module option autoPipelining: true`,
        raw: rawBroadcast,
        ours: ourBroadcast(pipelinedPubsub),
        goal: 0.9,
      },
      {
        name: `durable ${DURABLE_TOTAL} msgs ~100 B, publish + consume (group, batch ${BATCH})`,
        raw: rawDurable,
        ours: ourDurable,
        goal: undefined,
      },
    ];
    for (const workload of workloads) {
      let best = { ratio: Infinity } as Awaited<ReturnType<typeof compare>>;
      let bestRaw = '';
      for (const [i, publisher] of [plain, pipelined].entries()) {
        const result = await compare(workload.raw(publisher), workload.ours);
        // The harder baseline is the one with the lower ratio.
        if (result.ratio < best.ratio) {
          best = result;
          bestRaw = i === 0 ? 'raw ioredis' : 'raw ioredis + autoPipelining';
        }
      }
      context.report({
        suite: 'pubsub',
        name: workload.name,
        ...best,
        goal: workload.goal,
        note: `msgs/s delivered, latency publish → handler; vs the faster baseline: ${bestRaw}`,
      });
    }
  },
};
