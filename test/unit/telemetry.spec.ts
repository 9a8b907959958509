import assert from 'node:assert/strict';
import { afterEach, describe, it, jest } from '@jest/globals';
import { metrics } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { splitTraceContext, withTraceContext } from '../../lib/pubsub/pubsub.telemetry.js';
import { CoordinationMetrics } from '../../lib/telemetry/coordination-metrics.js';
import { Telemetry } from '../../lib/telemetry/telemetry.js';
import { resolveTelemetryOptions } from '../../lib/telemetry/telemetry.options.js';
import { CapturingLogger } from '../support/nest.js';
import { CollectingReader } from '../support/telemetry.js';

describe('telemetry', () => {
  afterEach(() => metrics.disable());

  it('reports no metrics, and says so, when no meter provider is registered at start', async () => {
    const logger = new CapturingLogger();
    const without = await Telemetry.load({ traces: true, metrics: true }, logger);
    assert.equal(without.metrics, undefined);
    assert.ok(without.tracer, 'traces follow a provider registered later');
    assert.match(logger.lines.join('\n'), /no OpenTelemetry meter provider is registered/);

    metrics.setGlobalMeterProvider(new MeterProvider());
    const withProvider = await Telemetry.load({ traces: false, metrics: true }, logger);
    assert.ok(withProvider.metrics);
    assert.equal(withProvider.tracer, undefined);
  });

  it('a collection waits for the gauges at most 1 s (their Redis reads may hang while it is down)', async () => {
    jest.useFakeTimers();
    try {
      const reader = new CollectingReader();
      metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
      const api = await import('@opentelemetry/api');
      new CoordinationMetrics(api).addGaugeSource(() => new Promise<void>(() => undefined));
      let collected = false;
      const collection = reader.collect().then(() => (collected = true));
      await jest.advanceTimersByTimeAsync(999);
      assert.equal(collected, false);
      await jest.advanceTimersByTimeAsync(1);
      await collection;
      assert.equal(collected, true);
    } finally {
      jest.useRealTimers();
    }
  });

  it('a broadcast message carries its trace context in front, and only then', () => {
    const trace = '{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}';
    assert.deepEqual(splitTraceContext(withTraceContext('{"a":1}', trace)), {
      payload: '{"a":1}',
      trace,
    });
    assert.equal(withTraceContext('"x"', undefined), '"x"');
    assert.deepEqual(splitTraceContext('"x"'), { payload: '"x"' });
    // Text that merely starts with NUL (a raw binary frame, another codec) passes as it is.
    for (const text of ['\u0000no end', '\u0000binary\u0000frame', '\u0000otel:[1]\u0000x']) {
      assert.deepEqual(splitTraceContext(text), { payload: text });
    }
  });

  it('resolves the module option', () => {
    const problems: string[] = [];
    assert.deepEqual(resolveTelemetryOptions(true, problems), { traces: true, metrics: true });
    assert.deepEqual(resolveTelemetryOptions({ metrics: false }, problems), {
      traces: true,
      metrics: false,
    });
    assert.equal(resolveTelemetryOptions(undefined, problems), undefined);
    assert.equal(resolveTelemetryOptions({ traces: false, metrics: false }, problems), undefined);
    assert.deepEqual(problems, []);
    resolveTelemetryOptions({ trace: true }, problems);
    assert.match(problems[0]!, /telemetry\.trace true: unknown option \(did you mean "traces"\?/);
  });
});
