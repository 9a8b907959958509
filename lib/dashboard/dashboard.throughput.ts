import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { Subscription } from 'rxjs';
import { RedisConnections } from '../connection/redis-connections.js';
import { QueueService } from '../queue/queue.service.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ThroughputSample } from './dashboard.interfaces.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import { DashboardTargets } from './dashboard.targets.js';

/** One queue's chart: the finishes counted since the last sample, and the last samples. */
interface Series {
  completed: number;
  dead: number;
  readonly samples: ThroughputSample[];
}

/**
 * Samples each shown queue every `sampleEveryMs` into a ring of `samples` points: jobs finished
 * since the last point, counted from the queue's events (every instance's), and the waiting
 * count. Throughput is not derived from the completed count, which the workers trim as jobs
 * complete (`keepCompletedCount`): its deltas would read zero on a busy queue. Started at
 * bootstrap, stopped (timer cleared, event readers unsubscribed) before shutdown.
 */
@Injectable()
export class QueueThroughputSampler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('CoordinationDashboard');
  private readonly series = new Map<string, Series>();
  private readonly subscriptions = new Subscription();
  private timer?: NodeJS.Timeout;
  private sampling = false;

  constructor(
    private readonly targets: DashboardTargets,
    private readonly queues: QueueService,
    private readonly connections: RedisConnections,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  onApplicationBootstrap(): void {
    for (const queue of this.targets.queues) {
      const series: Series = { completed: 0, dead: 0, samples: [] };
      this.series.set(queue, series);
      this.subscriptions.add(
        this.queues.events(queue).subscribe({
          next: ({ event }) => {
            // Not 'retrying': retryDead() emits it too, for jobs that did not fail again.
            if (event === 'completed') series.completed++;
            else if (event === 'dead') series.dead++;
          },
          error: (error: unknown) =>
            this.logger.warn(
              `Throughput of queue "${queue}" is not counted: ${this.connections.redact((error as Error).message)}`,
            ),
        }),
      );
    }
    this.timer = setInterval(() => void this.sample(), this.options.sampleEveryMs);
  }

  /** The queue's points, oldest first (empty for a queue not shown). */
  samplesOf(queue: string): readonly ThroughputSample[] {
    return this.series.get(queue)?.samples ?? [];
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
    this.subscriptions.unsubscribe();
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // Redis slower than the interval: skip a point rather than pile up
    this.sampling = true;
    try {
      await Promise.all(
        [...this.series].map(async ([queue, series]) => {
          const waiting = await this.queues.counts(queue).then(
            (counts) => counts.waiting,
            () => null,
          );
          const { completed, dead } = series;
          series.completed = 0;
          series.dead = 0;
          series.samples.push({ at: Date.now(), completed, dead, waiting });
          if (series.samples.length > this.options.samples) series.samples.shift();
        }),
      );
    } finally {
      this.sampling = false;
    }
  }
}
