import { Injectable, Logger } from '@nestjs/common';
import { CounterService, QueueWorker, type Job } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { CONFIRMATIONS_QUEUE, UNLUCKY_QUANTITY, type Order } from './order.js';

/** Sends order confirmations; any instance may take any job, each job completes once. */
@Injectable()
export class ConfirmationWorker {
  private readonly logger = new Logger(ConfirmationWorker.name);

  constructor(
    private readonly counters: CounterService,
    private readonly instance: Instance,
  ) {}

  @QueueWorker(CONFIRMATIONS_QUEUE, { concurrency: 8 })
  async confirm(job: Job<Order>): Promise<{ confirmedBy: string }> {
    // Any instance's GET /orders/:id shows this while the job runs (getJob).
    await job.progress({ step: 'sending the confirmation mail' });
    if (job.data.quantity === UNLUCKY_QUANTITY) {
      throw new Error(`mail server rejected the confirmation of order ${job.data.id}`);
    }
    // Per-order count: the duo check asserts every order was confirmed exactly once.
    await this.counters.increment(`confirmed:${job.data.id}`);
    await this.counters.increment('jobs:done');
    this.logger.debug(`Confirmed order ${job.data.id} (attempt ${job.attempt})`);
    return { confirmedBy: this.instance.name }; // kept with the completed job
  }
}
