import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import {
  CacheService,
  CounterService,
  InvalidOptionsError,
  PubSubService,
  QueueService,
  RedisCoordinationModule,
  RedisLockService,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { eventually } from '../../support/eventually.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';
import { startModule } from '../../support/nest.js';
import { itOnPrivateRedis, uniqueKeyPrefix } from '../../support/redis.js';
import { registerTestTelemetry } from '../../support/telemetry.js';

describe('OpenTelemetry (module option telemetry)', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();
  let telemetry: ReturnType<typeof registerTestTelemetry>;
  beforeAll(() => {
    telemetry = registerTestTelemetry();
  });
  afterAll(() => telemetry.dispose());

  const app = async (options: Partial<RedisCoordinationModuleOptions> = { telemetry: true }) => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix(), ...options }),
    ]);
    return {
      locks: moduleRef.get(RedisLockService),
      queue: moduleRef.get(QueueService),
      pubsub: moduleRef.get(PubSubService),
      cache: moduleRef.get(CacheService),
      counters: moduleRef.get(CounterService),
    };
  };
  const appTracer = () => trace.getTracer('the-app');
  /** Runs `work` in an active span of the app's own, as a request handler would be. */
  const inRequest = <T>(work: () => Promise<T>) =>
    appTracer().startActiveSpan('request', async (span) => {
      try {
        return await work();
      } finally {
        span.end();
      }
    });
  const spanNamed = (name: string, where: (span: ReadableSpan) => boolean = () => true) => {
    const found = telemetry.spans().filter((span) => span.name === name && where(span));
    assert.equal(found.length, 1, `one span "${name}", found ${found.length}`);
    return found[0]!;
  };
  const isChildOf = (child: ReadableSpan, parent: ReadableSpan) =>
    child.spanContext().traceId === parent.spanContext().traceId &&
    child.parentSpanContext?.spanId === parent.spanContext().spanId;
  const withAttribute = (name: string, value: unknown) => (span: ReadableSpan) =>
    span.attributes[name] === value;

  it('a job: the worker span is a child of the add span, the handler runs inside it; duration by outcome', async () => {
    const { queue } = await app();
    const handlerSpans = new Map<string, string | undefined>();
    queue.process('mail', (job) => {
      handlerSpans.set(job.id, activeSpanId());
      if (job.data === 'bad') throw new Error('cannot send');
    });
    const id = await inRequest(() => queue.add('mail', 'good'));
    const badId = await queue.add('mail', 'bad', { attempts: 1 });
    await eventually('both jobs ran', () =>
      telemetry
        .spans()
        .some(
          (span) =>
            span.attributes['messaging.message.id'] === badId && span.name === 'process mail',
        ),
    );
    const send = spanNamed('send mail', withAttribute('messaging.message.id', id));
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.ok(isChildOf(send, spanNamed('request')));
    const run = spanNamed('process mail', withAttribute('messaging.message.id', id));
    assert.equal(run.kind, SpanKind.CONSUMER);
    assert.ok(isChildOf(run, send), 'process is a child of send');
    assert.equal(run.attributes['coordination.job.outcome'], 'completed');
    const failed = spanNamed('process mail', withAttribute('messaging.message.id', badId));
    assert.equal(failed.attributes['coordination.job.outcome'], 'dead');
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.status.message, 'cannot send');
    assert.equal(handlerSpans.get(id), run.spanContext().spanId, 'the handler runs in its span');

    const durations = await telemetry.points('coordination.queue.job.duration');
    const mail = durations.filter((p) => p.attributes['messaging.destination.name'] === 'mail');
    assert.deepEqual(mail.map((p) => [p.attributes['coordination.job.outcome'], p.value]).sort(), [
      ['completed', 1],
      ['dead', 1],
    ]);
  });

  it('a job whose completion is refused (removed while it ran) ends its span as lost', async () => {
    const { queue } = await app();
    let release!: () => void;
    const running = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const began = new Promise<void>((resolve) => (started = resolve));
    const worker = queue.process('removed', async () => {
      started();
      await running;
    });
    const id = await queue.add('removed', 'x');
    await began;
    assert.equal(await queue.remove('removed', id, { force: true }), true);
    const lost = new Promise((resolve) => worker.once('lost', resolve));
    release();
    await lost;
    const run = spanNamed('process removed', withAttribute('messaging.message.id', id));
    assert.equal(run.attributes['coordination.job.outcome'], 'lost');
  });

  it('durable and broadcast messages: the handler span is a child of the publish span', async () => {
    const { pubsub } = await app();
    const seen: Record<string, string | undefined> = {};
    await pubsub.subscribe('orders', () => void (seen.durable = activeSpanId()), { group: 'g' });
    await pubsub.subscribe('news', () => void (seen.broadcast = activeSpanId()));
    const entryId = await inRequest(() => pubsub.publish('orders', 1, { durable: true }));
    await inRequest(() => pubsub.publish('news', 2));
    await eventually(
      'both handled',
      () => seen.durable !== undefined && seen.broadcast !== undefined,
    );
    await eventually('both handler spans ended', () =>
      ['orders', 'news'].every((c) => telemetry.spans().some((s) => s.name === `process ${c}`)),
    );
    for (const channel of ['orders', 'news']) {
      const send = spanNamed(`send ${channel}`);
      const handle = spanNamed(`process ${channel}`);
      assert.ok(isChildOf(handle, send), `${channel}: process is a child of send`);
      assert.equal(
        seen[channel === 'orders' ? 'durable' : 'broadcast'],
        handle.spanContext().spanId,
      );
    }
    assert.equal(spanNamed('send orders').attributes['messaging.message.id'], entryId);
    assert.equal(spanNamed('process orders').attributes['messaging.consumer.group.name'], 'g');
  });

  it('a broadcast with trace context reaches a subscriber that has telemetry off, as the plain message', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const publisher = await app({ telemetry: true, keyPrefix });
    const subscriber = await app({ keyPrefix });
    const got: unknown[] = [];
    await subscriber.pubsub.subscribe('news', (message) => void got.push(message));
    await inRequest(() => publisher.pubsub.publish('news', { headline: 'x' }));
    await eventually('received', () => got.length === 1);
    assert.deepEqual(got, [{ headline: 'x' }]);
  });

  it('a raw broadcast that starts with NUL reaches a raw subscriber unchanged', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const subscriber = await app({ keyPrefix });
    const got: unknown[] = [];
    await subscriber.pubsub.subscribe('frames', (message) => void got.push(message), {
      onUndecodable: 'raw',
    });
    const frame = '\u0000binary\u0000frame';
    await redis.client.publish(`${keyPrefix}{pubsub:frames}`, frame);
    await eventually('received', () => got.length === 1);
    assert.deepEqual(got, [frame]);
  });

  it('stores trace context with a job, never the request baggage', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const { queue } = await app({ telemetry: true, keyPrefix });
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
      }),
    );
    try {
      const bag = propagation.createBaggage({ 'user.email': { value: 'a@example.com' } });
      const id = await context.with(propagation.setBaggage(context.active(), bag), () =>
        inRequest(() => queue.add('mail', 'x')),
      );
      const record = await redis.client.hget(`${keyPrefix}{queue:mail}:jobs`, id);
      const header = JSON.parse(record!.slice(0, record!.indexOf('\n'))) as { p: string };
      assert.deepEqual(Object.keys(JSON.parse(header.p) as object), ['traceparent']);
    } finally {
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    }
  });

  it('locks: acquire with its outcome and wait, hold until release, release; lost locks counted', async () => {
    const { locks } = await app();
    const lock = await locks.acquire('stock');
    assert.equal(await locks.tryAcquire('stock'), null);
    await lock.release();
    const acquires = telemetry.spans().filter((span) => span.name === 'lock.acquire');
    const acquired = acquires.find(
      (s) => s.attributes['coordination.lock.outcome'] === 'acquired',
    )!;
    assert.equal(acquired.attributes['coordination.lock.fencing_token'], lock.fencingToken);
    assert.deepEqual(acquired.attributes['coordination.lock.resources'], ['stock']);
    assert.ok(acquires.some((s) => s.attributes['coordination.lock.outcome'] === 'busy'));
    const hold = spanNamed('lock.hold', withAttribute('coordination.lock.outcome', 'released'));
    assert.equal(hold.links[0]?.context.spanId, acquired.spanContext().spanId);
    spanNamed('lock.release');

    const { signal } = await locks.acquire('brief', { ttlMs: 50 });
    await eventually('the unrenewed lock is lost', () => signal.aborted);
    const lost = await telemetry.points('coordination.lock.lost');
    assert.equal(lost[0]?.value, 1);
    const lostHold = spanNamed('lock.hold', withAttribute('coordination.lock.outcome', 'lost'));
    assert.equal(lostHold.status.code, SpanStatusCode.ERROR);
    assert.match(lostHold.status.message!, /brief/);
    const waits = await telemetry.points('coordination.lock.wait.duration');
    const byOutcome = Object.fromEntries(
      waits.map((p) => [p.attributes['coordination.lock.outcome'], p.value]),
    );
    assert.deepEqual(byOutcome, { acquired: 2, busy: 1 });
  });

  it('cache reads: miss, Redis hit and near-cache hit, as spans and lookups by level', async () => {
    const { cache } = await app();
    const read = () => cache.wrap('k', () => 'v', { ttlMs: 60_000, local: { ttlMs: 60_000 } });
    await read();
    await cache.wrap('k', () => 'v', { ttlMs: 60_000 }); // no near cache: from Redis
    // The near cache keeps values once its invalidation channel listens.
    await eventually('a near-cache hit', async () => {
      await read();
      return telemetry.spans().at(-1)?.attributes['coordination.cache.result'] === 'local-hit';
    });
    const results = telemetry
      .spans()
      .filter((span) => span.name === 'cache.get')
      .map((span) => span.attributes['coordination.cache.result']);
    assert.deepEqual(results.slice(0, 2), ['miss', 'hit']);
    const lookups = await telemetry.points('coordination.cache.lookups');
    const count = (level: string, result: string) =>
      lookups.find(
        (p) =>
          p.attributes['coordination.cache.level'] === level &&
          p.attributes['coordination.cache.result'] === result,
      )?.value ?? 0;
    const nearReads = results.length - 1; // all but the second
    assert.equal(count('local', 'hit'), 1);
    assert.equal(count('local', 'miss'), nearReads - 1);
    assert.equal(count('redis', 'miss'), 1);
    assert.equal(count('redis', 'hit'), results.length - 2);
  });

  it("cache reads that wait for a fill, another instance's or one running here, say fill-wait", async () => {
    const keyPrefix = uniqueKeyPrefix();
    const [a, b] = [
      await app({ telemetry: true, keyPrefix }),
      await app({ telemetry: true, keyPrefix }),
    ];
    let release!: () => void;
    const slow = new Promise<string>((resolve) => (release = () => resolve('v')));
    const options = { ttlMs: 60_000 };
    const filling = a.cache.wrap('shared', () => slow, options);
    const joining = a.cache.wrap('shared', () => 'other', options);
    await eventually(
      'the fill lease is taken',
      async () => (await redis.client.exists(`${keyPrefix}{cache:shared}:lease`)) === 1,
    );
    const waiting = b.cache.wrap('shared', () => 'other', options);
    await eventually('the other instance waits for the fill', async () => {
      const [, count] = (await redis.client.pubsub(
        'NUMSUB',
        `${keyPrefix}{cache:shared}:filled`,
      )) as [string, number];
      return count === 1;
    });
    release();
    assert.deepEqual(await Promise.all([filling, joining, waiting]), ['v', 'v', 'v']);
    const results = telemetry
      .spans()
      .filter((span) => span.name === 'cache.get')
      .slice(-3)
      .map((span) => span.attributes['coordination.cache.result'])
      .sort();
    assert.deepEqual(results, ['fill-wait', 'fill-wait', 'miss']);
  });

  it('gauges: queue depth and oldest wait of the queues worked here, lag and pending of the groups consumed here', async () => {
    const { queue, pubsub, counters } = await app();
    queue.process('gauged', () => undefined);
    await queue.pause('gauged');
    await queue.addBulk('gauged', [{ data: 1 }, { data: 2 }, { data: 3 }]);
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    await pubsub.subscribe('slow', () => blocked, { group: 'g' });
    // Points of this test's queue and channel: the SDK keeps reporting earlier tests' too.
    const of = async (metric: string, destination: string) =>
      (await telemetry.points(metric)).filter(
        (p) => p.attributes['messaging.destination.name'] === destination,
      );
    try {
      await pubsub.publish('slow', 0, { durable: true });
      await eventually('the first message is being handled', async () => {
        return (await pubsub.groups('slow'))[0]?.pending === 1;
      });
      await pubsub.publish('slow', 1, { durable: true });
      await pubsub.publish('slow', 2, { durable: true });

      const waiting = (await of('coordination.queue.jobs', 'gauged')).find(
        (p) => p.attributes['coordination.job.state'] === 'waiting',
      );
      assert.equal(waiting?.value, 3);
      await eventually('the oldest job has waited a while', async () => {
        const [oldest] = await of('coordination.queue.oldest_waiting.age', 'gauged');
        return oldest !== undefined && oldest.value > 0;
      });
      const lag = await of('coordination.pubsub.group.lag', 'slow');
      assert.deepEqual(
        lag.map((p) => p.value),
        [2],
      );
      const pending = await of('coordination.pubsub.group.pending', 'slow');
      assert.deepEqual(
        pending.map((p) => p.value),
        [1],
      );
    } finally {
      release();
    }

    await counters.hit('login', { limit: 1, windowMs: 60_000 });
    await counters.hit('login', { limit: 1, windowMs: 60_000 });
    const denied = await telemetry.points('coordination.rate_limit.denied');
    assert.deepEqual(
      denied.map((p) => [p.attributes['coordination.rate_limit.source'], p.value]),
      [['hit', 1]],
    );
  });

  itOnPrivateRedis(
    'while Redis is down: a cache read served by its loader says unavailable; the gauges report nothing',
    async () => {
      const { cache, queue } = await app();
      queue.process('down', () => undefined);
      await redis.server!.stop();
      try {
        assert.equal(await cache.wrap('down', () => 'computed', { ttlMs: 1000 }), 'computed');
        const read = telemetry
          .spans()
          .filter((span) => span.name === 'cache.get')
          .at(-1);
        assert.equal(read?.attributes['coordination.cache.result'], 'unavailable');
        // The collection does not wait out the commands' timeout (about 5 s): 1 s at most.
        const collecting = performance.now();
        const depth = await telemetry.points('coordination.queue.jobs');
        assert.ok(performance.now() - collecting < 4000, 'the gauges stopped waiting for Redis');
        assert.deepEqual(
          depth.filter((p) => p.attributes['messaging.destination.name'] === 'down'),
          [],
        );
      } finally {
        await redis.server!.restart();
      }
    },
  );

  it('without the option, nothing is traced; a bad option fails app start', async () => {
    const { queue, locks } = await app({});
    const before = telemetry.spans().length;
    await inRequest(async () => {
      await queue.add('quiet', 1);
      await (await locks.acquire('quiet')).release();
    });
    assert.deepEqual(
      telemetry
        .spans()
        .slice(before)
        .map((span) => span.name),
      ['request'],
    );
    await assert.rejects(
      app({ telemetry: { traces: 'yes' } as never }),
      (error: unknown) =>
        error instanceof InvalidOptionsError &&
        error.message.includes('telemetry.traces must be a boolean, got "yes"'),
    );
  });
});

function activeSpanId(): string | undefined {
  return trace.getActiveSpan()?.spanContext().spanId;
}
