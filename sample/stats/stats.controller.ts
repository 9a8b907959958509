import { Controller, Get } from '@nestjs/common';
import { CounterService, QueueService } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { CONFIRMATIONS_QUEUE } from '../orders/order.js';

@Controller('stats')
export class StatsController {
  constructor(
    private readonly counters: CounterService,
    private readonly queue: QueueService,
    private readonly instance: Instance,
  ) {}

  /** Cluster-wide figures: the counters and queue live in Redis, so any instance answers alike. */
  @Get()
  async stats() {
    const [views, orders, jobsDone, billed] = await this.counters.getMany([
      'views',
      'orders',
      'jobs:done',
      'billing:orders',
    ]);
    const confirmations = await this.queue.counts(CONFIRMATIONS_QUEUE);
    return {
      servedBy: this.instance.name,
      views: Number(views),
      orders: Number(orders),
      billedOrders: Number(billed),
      confirmations: { done: Number(jobsDone), ...confirmations },
    };
  }
}
