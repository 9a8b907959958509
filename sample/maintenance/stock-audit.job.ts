import { Injectable } from '@nestjs/common';
import { QueueScheduler, type Job } from 'nestjs-redis-coordination';
import { SEED_PRODUCTS } from '../products/product.js';
import { ProductRepository } from '../products/product.repository.js';
import { Instance } from '../instance.js';

/** The queue of the shop's periodic chores. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** What one stock audit found. */
export interface StockAuditResult {
  auditedBy: string;
  products: number;
  /** Products whose stock is negative: must stay 0 (the stock lock's fencing forbids it). */
  negative: string[];
}

/**
 * Audits the stock every 10 s. Every instance declares the scheduler; each slot still makes one
 * job (its id is `stock-audit:<slot>`), which one worker of any instance runs.
 */
@Injectable()
export class StockAuditJob {
  constructor(
    private readonly repository: ProductRepository,
    private readonly instance: Instance,
  ) {}

  @QueueScheduler(MAINTENANCE_QUEUE, 'stock-audit', { everyMs: 10_000 })
  async audit(job: Job): Promise<StockAuditResult> {
    const negative: string[] = [];
    for (const [i, { id }] of SEED_PRODUCTS.entries()) {
      const product = await this.repository.findById(id);
      if (product && product.stock < 0) negative.push(id);
      await job.progress(Math.round(((i + 1) / SEED_PRODUCTS.length) * 100));
    }
    return { auditedBy: this.instance.name, products: SEED_PRODUCTS.length, negative };
  }
}
