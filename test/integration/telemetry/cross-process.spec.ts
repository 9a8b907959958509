import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { PubSubService, QueueService, RedisCoordinationModule } from '../../../lib/index.js';
import type { ChildMessage } from '../../support/child-process.js';
import { closeModulesAfterEach, useChildApps, useTestRedis } from '../../support/hooks.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { registerTestTelemetry } from '../../support/telemetry.js';

// The trace context travels inside the job record, the stream entry and the broadcast message:
// the other process's spans join the producer's trace as children of its spans.
describe('OpenTelemetry across processes', () => {
  const redis = useTestRedis();
  const spawn = useChildApps();
  closeModulesAfterEach();
  let telemetry: ReturnType<typeof registerTestTelemetry>;
  beforeAll(() => {
    telemetry = registerTestTelemetry();
  });
  afterAll(() => telemetry.dispose());

  it('a job, a durable message and a broadcast are handled in spans that are children of the sending spans', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const names = { QUEUE: 'mail', DURABLE: 'orders', BROADCAST: 'news' };
    const consumer = spawn('traced-consumer', {
      env: { REDIS_URL: redis.url, KEY_PREFIX: keyPrefix, ...names },
    });
    await consumer.reportOf('ready');
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix, telemetry: true }),
    ]);
    const queue = moduleRef.get(QueueService);
    const pubsub = moduleRef.get(PubSubService);
    await trace.getTracer('the-app').startActiveSpan('request', async (request) => {
      await queue.add(names.QUEUE, 'x');
      await pubsub.publish(names.DURABLE, 'y', { durable: true });
      await pubsub.publish(names.BROADCAST, 'z');
      request.end();
    });

    const sent = (name: string): ReadableSpan => {
      const span = telemetry.spans().find((s) => s.name === `send ${name}`);
      assert.ok(span, `the span "send ${name}" was recorded here`);
      return span;
    };
    for (const name of Object.values(names)) {
      const send = sent(name);
      const handled = await consumer
        .reportOf(`span`)
        .then(() => consumer.waitFor('span', (m) => m.name === `process ${name}`));
      assert.equal(handled.traceId, send.spanContext().traceId, `${name}: one trace`);
      assert.equal(handled.parentSpanId, send.spanContext().spanId, `${name}: child of send`);
      const work: ChildMessage = await consumer.waitFor(
        'span',
        (m) => m.name === 'handler work' && m.parentSpanId === handled.spanId,
      );
      assert.equal(work.traceId, send.spanContext().traceId, `${name}: the handler's own span`);
    }
  });
});
