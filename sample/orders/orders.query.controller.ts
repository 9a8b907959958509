import { Controller, Get, Param } from '@nestjs/common';
import { CounterService, QueueService } from 'nestjs-redis-coordination';
import { CONFIRMATIONS_QUEUE } from './order.js';

@Controller('orders')
export class OrdersQueryController {
  constructor(
    private readonly counters: CounterService,
    private readonly queue: QueueService,
  ) {}

  /**
   * How often an order was confirmed (queue) and billed (durable group): both should be 1; and
   * its confirmation job as any instance sees it: state, progress, attempts, result or error.
   */
  @Get(':id')
  async status(@Param('id') id: string) {
    const [[confirmations, billed], job] = await Promise.all([
      this.counters.getMany([`confirmed:${id}`, `billed:${id}`]),
      this.queue.getJob(CONFIRMATIONS_QUEUE, id),
    ]);
    const confirmation = job && {
      state: job.state,
      progress: job.progress,
      attempts: job.attemptsMade,
      result: job.returnValue,
      lastError: job.lastError,
    };
    return { id, confirmations: Number(confirmations), billed: Number(billed), confirmation };
  }
}
