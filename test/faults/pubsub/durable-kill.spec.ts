import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { PubSubService, RedisCoordinationModule } from '../../../lib/index.js';
import { ChildApp } from '../../support/child-process.js';
import { closeStartedModules, startModule } from '../../support/nest.js';
import { startTestRedis, uniquePrefix, type TestRedis } from '../../support/redis.js';

const TOTAL = 5000;

describe('Durable group when a consumer process is SIGKILLed', () => {
  let redis: TestRedis;
  let children: ChildApp[] = [];
  before(async () => {
    redis = await startTestRedis();
  });
  after(() => redis.dispose());
  afterEach(async () => {
    await Promise.all(children.map((child) => child.kill()));
    children = [];
    await closeStartedModules();
  });

  it("handles every one of 5000 messages at least once; the dead one's pending are reclaimed", async () => {
    const prefix = uniquePrefix();
    const env = { REDIS_URL: redis.url, KEY_PREFIX: prefix, CHANNEL: 'orders', GROUP: 'workers' };
    children = [0, 1, 2].map(() => ChildApp.spawn('pubsub-consumer', { env }));
    await Promise.all(children.map((child) => child.waitFor('ready')));
    const handledBy = children.map(() => [] as Array<[number, number]>);
    const handledCount = () => handledBy.reduce((sum, list) => sum + list.length, 0);
    const collect = () => {
      for (const [i, child] of children.entries()) {
        handledBy[i] = child.messages
          .filter((m) => m.type === 'handled')
          .flatMap((m) => m.items as Array<[number, number]>);
      }
    };

    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: prefix }),
    ]);
    const pubsub = moduleRef.get(PubSubService);
    const publishing = Promise.all(
      Array.from({ length: TOTAL }, (_, n) => pubsub.publish('orders', n, { durable: true })),
    );
    const [victim, ...survivors] = children;
    // Kill the victim once it is well into the stream: it has read batches not yet acknowledged.
    await victim!.waitFor(
      'handled',
      () => victim!.messages.filter((m) => m.type === 'handled').length >= 5,
    );
    victim!.signal('SIGKILL');
    await victim!.exited;
    await publishing;

    const key = `${prefix}{pubsub:orders}:stream`;
    const unique = () => new Set(handledBy.flat().map(([n]) => n));
    while (
      unique().size < TOTAL ||
      Number(((await redis.client.xpending(key, 'workers')) as [number])[0]) > 0
    ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      collect();
    }
    assert.equal(unique().size, TOTAL, '0 lost');
    const reclaimed = survivors.flatMap((_, i) =>
      handledBy[i + 1]!.filter(([, deliveries]) => deliveries > 1),
    );
    assert.ok(reclaimed.length > 0, 'the victim had pending messages, reclaimed by a survivor');
    assert.ok(handledCount() >= TOTAL);
    console.log(
      `handled ${handledCount()} times for ${TOTAL} messages; victim ${handledBy[0]!.length}, reclaimed ${reclaimed.length}`,
    );
  });
});
