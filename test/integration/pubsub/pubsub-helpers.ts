// Helpers shared by the pub/sub specs (integration and faults).
import type { Redis } from 'ioredis';
import {
  PubSubService,
  RedisCoordinationModule,
  type DurableSubscribeOptions,
} from '../../../lib/index.js';
import { CapturingLogger, startModule } from '../../support/nest.js';

/** Boots an app importing the module on `url`; returns its PubSubService and logger. */
export async function startPubSubApp(
  url: string,
  keyPrefix?: string,
  {
    logger = new CapturingLogger(),
    maxPayloadBytes,
    shardedPubSub,
  }: { logger?: CapturingLogger; maxPayloadBytes?: number; shardedPubSub?: boolean } = {},
) {
  const moduleRef = await startModule(
    [RedisCoordinationModule.forRoot({ url, keyPrefix, maxPayloadBytes, shardedPubSub })],
    { logger },
  );
  return { moduleRef, pubsub: moduleRef.get(PubSubService), logger };
}

/** Resolves once `condition()` holds, checking every few milliseconds. */
export async function waitUntil(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** The stream key of a durable channel under `prefix`, as the library names it. */
export function streamKey(prefix: string, channel: string): string {
  return `${prefix}{pubsub:${channel}}:stream`;
}

/** The consumers of a group as XINFO CONSUMERS lists them. */
export async function consumersOf(client: Redis, key: string, group: string) {
  const reply = (await client.xinfo('CONSUMERS', key, group)) as unknown[][];
  return reply.map((fields) => {
    const info = new Map(fields.flatMap((field, i) => (i % 2 ? [] : [[field, fields[i + 1]]])));
    return { name: String(info.get('name')), idle: Number(info.get('idle')) };
  });
}

/**
 * Subscribes to a durable channel and records each handled message with its delivery count, and
 * the consumer (this app's) that handled them.
 */
export async function recordDeliveries(
  pubsub: PubSubService,
  channel: string,
  options: DurableSubscribeOptions,
) {
  const record = { got: [] as Array<[string, number]>, consumer: '' };
  await pubsub.subscribe<string>(
    channel,
    (message, meta) => {
      record.got.push([message, meta.deliveries]);
      record.consumer = meta.consumer;
    },
    options,
  );
  return record;
}
