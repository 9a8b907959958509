import { Controller, Get } from '@nestjs/common';
import { CounterService, QueueService } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { MAINTENANCE_QUEUE } from '../maintenance/stock-audit.job.js';
import { CONFIRMATIONS_QUEUE } from '../orders/order.js';

@Controller('stats')
export class StatsController {
  constructor(
    private readonly counters: CounterService,
    private readonly queue: QueueService,
    private readonly instance: Instance,
  ) {}

  /**
   * Cluster-wide figures: the counters and queues live in Redis, so any instance answers alike;
   * with the stock audit's next run and its last audit (job, result) as getJob() reads it.
   */
  @Get()
  async stats() {
    const [views, orders, jobsDone, billed] = await this.counters.getMany([
      'views',
      'orders',
      'jobs:done',
      'billing:orders',
    ]);
    const [confirmations, [audit]] = await Promise.all([
      this.queue.counts(CONFIRMATIONS_QUEUE),
      this.queue.schedulers(MAINTENANCE_QUEUE),
    ]);
    const lastAudit =
      audit?.lastJobId && (await this.queue.getJob(MAINTENANCE_QUEUE, audit.lastJobId));
    return {
      servedBy: this.instance.name,
      views: Number(views),
      orders: Number(orders),
      billedOrders: Number(billed),
      confirmations: { done: Number(jobsDone), ...confirmations },
      stockAudit: {
        nextRunAt: audit && new Date(audit.nextRunAt).toISOString(),
        last: lastAudit && {
          jobId: lastAudit.id,
          state: lastAudit.state,
          progress: lastAudit.progress,
          result: lastAudit.returnValue,
        },
      },
    };
  }
}
