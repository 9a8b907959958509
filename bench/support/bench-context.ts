import type { INestApplicationContext } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import { RedisCoordinationModule, type RedisCoordinationModuleOptions } from '../../lib/index.js';
import type { RunResult } from './measure.js';

/** One printed figure: a workload through the library next to raw ioredis doing the same work. */
export interface Figure {
  suite: string;
  name: string;
  /** Library throughput and latencies. */
  candidate: RunResult;
  /** Raw ioredis doing the same Redis work, measured in the same run. */
  baseline: RunResult;
  ratio: number;
  /** The ratio the issue asks for, when it sets one. */
  goal?: number;
  note?: string;
}

/** What a suite gets: the private Redis and ways to open clients and apps on it. */
export class BenchContext {
  readonly figures: Figure[] = [];
  private readonly closers: Array<() => Promise<unknown>> = [];

  constructor(readonly redisUrl: string) {}

  /** A raw ioredis client, as a user wiring Redis by hand would have. */
  async rawClient(options: { enableAutoPipelining?: boolean } = {}): Promise<Redis> {
    const client = new Redis(this.redisUrl, { lazyConnect: true, ...options });
    await client.connect();
    this.closers.push(() => client.quit());
    return client;
  }

  /**
   * A Nest application context importing the module (plus `providers`), like a user's app: on the
   * private Redis unless `options` name a `cluster`.
   */
  async app(
    options: RedisCoordinationModuleOptions = {},
    providers: NonNullable<Parameters<typeof Module>[0]>['providers'] = [],
  ): Promise<INestApplicationContext> {
    const target = options.cluster ? {} : { url: this.redisUrl };
    @Module({
      imports: [RedisCoordinationModule.forRoot({ ...target, keyPrefix: 'bench:', ...options })],
      providers,
    })
    class BenchModule {}
    const app = await NestFactory.createApplicationContext(BenchModule, {
      logger: ['error', 'warn'],
    });
    this.closers.push(() => app.close());
    return app;
  }

  /** Runs `close` when the suite's run ends (servers and clients a suite started itself). */
  defer(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  report(figure: Figure): void {
    this.figures.push(figure);
    console.log(JSON.stringify(figure));
  }

  async close(): Promise<void> {
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
  }
}

/** A benchmark suite: `bench/suites/<name>.bench.ts` exports `suite`. */
export interface BenchSuite {
  readonly description: string;
  run(context: BenchContext): Promise<void>;
}
