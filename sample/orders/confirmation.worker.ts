import { Injectable, Logger } from '@nestjs/common';
import { CounterService, QueueWorker, type Job } from 'nestjs-redis-coordination';
import { CONFIRMATIONS_QUEUE, UNLUCKY_QUANTITY, type Order } from './order.js';

/** Sends order confirmations; any instance may take any job, each job completes once. */
@Injectable()
export class ConfirmationWorker {
  private readonly logger = new Logger(ConfirmationWorker.name);

  constructor(private readonly counters: CounterService) {}

  @QueueWorker(CONFIRMATIONS_QUEUE, { concurrency: 8 })
  async confirm(job: Job<Order>): Promise<void> {
    if (job.data.quantity === UNLUCKY_QUANTITY) {
      throw new Error(`mail server rejected the confirmation of order ${job.data.id}`);
    }
    // Per-order count: the duo check asserts every order was confirmed exactly once.
    await this.counters.increment(`confirmed:${job.data.id}`);
    await this.counters.increment('jobs:done');
    this.logger.debug(`Confirmed order ${job.data.id} (attempt ${job.attempt})`);
  }
}
