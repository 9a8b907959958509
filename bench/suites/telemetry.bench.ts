import { performance } from 'node:perf_hooks';
import type { INestApplicationContext } from '@nestjs/common';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  NoopSpanProcessor,
  AlwaysOnSampler,
} from '@opentelemetry/sdk-trace-base';
import { CacheService, CounterService, QueueService, RedisLockService } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';

const JOBS = 10_000;

/** One workload, run on an app instance. */
type Workload = (app: INestApplicationContext, run: number) => Promise<RunResult>;

/**
 * What the module option `telemetry` costs: each workload on an app with it against the same
 * workload on an app without it (the baseline here is the library itself, not raw ioredis: the
 * question is the option's cost). First with no OpenTelemetry SDK registered (the API's no-op
 * tracer and meter: the issue's ≤ 2 % budget), then, for information, with an SDK that records
 * every span and metric and exports nothing.
 */
export const suite: BenchSuite = {
  description: 'The module option telemetry: with vs without, no SDK and then an SDK recording',
  async run(bench) {
    // Apps are made after the providers are registered: the API binds instruments at start.
    const apps = async (phase: string) => ({
      without: await bench.app({ keyPrefix: `bench:otel-off-${phase}:` }),
      withTelemetry: await bench.app({ keyPrefix: `bench:otel-on-${phase}:`, telemetry: true }),
    });
    const workloads: [string, Workload][] = [
      ['lock acquire + release x5000, 1 in flight', lockCycle],
      ['cache hit (wrap, constant key) x20000, 1 in flight', cacheHit],
      ['counter hit (rate limit, allowed) x20000, 1 in flight', rateLimitHit],
      [`queue: process x${JOBS}, concurrency 16 (jobs/s)`, processJobs],
    ];
    const measure = async (label: string, phase: string, goal?: number) => {
      const { without, withTelemetry } = await apps(phase);
      for (const [name, workload] of workloads) {
        let runs = 0;
        const result = await compare(
          () => workload(without, runs++),
          () => workload(withTelemetry, runs++),
          name.startsWith('queue') ? 5 : 9,
        );
        bench.report({
          suite: 'telemetry',
          name: `${name}, ${label}`,
          goal,
          note: 'baseline: the same app without the option telemetry',
          ...result,
        });
      }
    };
    await measure('no SDK registered', 'bare', 0.98);

    const tracerProvider = new BasicTracerProvider({
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new NoopSpanProcessor()],
    });
    const meterProvider = new MeterProvider();
    trace.setGlobalTracerProvider(tracerProvider);
    metrics.setGlobalMeterProvider(meterProvider);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    bench.defer(async () => {
      trace.disable();
      metrics.disable();
      context.disable();
      await Promise.all([tracerProvider.shutdown(), meterProvider.shutdown()]);
    });
    await measure('an SDK recording every span and metric (info)', 'sdk');
  },
};

const lockCycle: Workload = (app) => {
  const locks = app.get(RedisLockService);
  return runLoad(async (i) => (await locks.acquire(`r${i % 64}`)).release(), { total: 5000 });
};

const cacheHit: Workload = async (app) => {
  const cache = app.get(CacheService);
  const options = { ttlMs: 600_000 };
  await cache.wrap('hot', () => ({ id: 1, name: 'product' }), options);
  return runLoad(() => cache.wrap('hot', () => undefined, options), { total: 20_000 });
};

const rateLimitHit: Workload = (app) => {
  const counters = app.get(CounterService);
  const limit = { limit: 1_000_000, windowMs: 60_000 };
  return runLoad((i) => counters.hit(`client-${i % 1000}`, limit), { total: 20_000 });
};

const processJobs: Workload = async (app, run) => {
  const queue = app.get(QueueService);
  const name = `otel-${run}`;
  for (let b = 0; b < JOBS; b += 1000) {
    await queue.addBulk(
      name,
      Array.from({ length: 1000 }, (_, i) => ({ data: { i: b + i } })),
    );
  }
  const latencies: number[] = [];
  const started = performance.now();
  const worker = queue.process(name, () => undefined, { concurrency: 16 });
  await new Promise<void>((resolve) =>
    worker.on('completed', () => {
      latencies.push(performance.now() - started);
      if (latencies.length === JOBS) resolve();
    }),
  );
  const elapsed = performance.now() - started;
  await worker.close();
  await queue.obliterate(name);
  return { ops: JOBS, opsPerSec: (JOBS / elapsed) * 1000, ...percentiles(latencies) };
};
