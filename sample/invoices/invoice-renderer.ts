import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import {
  CounterService,
  WithSemaphore,
  currentPermit,
  type WithSemaphoreOptions,
} from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';

/**
 * At most 2 renders at once over every instance (the PDF engine's licence, or its memory,
 * allows no more); a third caller is told to retry later (HTTP 409) instead of queueing.
 */
export const INVOICE_RENDERS: WithSemaphoreOptions = { limit: 2, onBusy: 'throw', ttlMs: 5_000 };

/** How many renders run right now over every instance: counted apart from the semaphore. */
const RENDERING = 'invoices:rendering';

export interface RenderedInvoice {
  orderId: string;
  renderedBy: string;
  /** Renders running over every instance while this one did, itself included. */
  rendersAtOnce: number;
}

/** Renders invoice PDFs: slow and heavy, so only a few at a time across the whole shop. */
@Injectable()
export class InvoiceRenderer {
  private readonly renderMs: number;

  constructor(
    private readonly counters: CounterService,
    private readonly instance: Instance,
    config: ConfigService,
  ) {
    this.renderMs = Number(config.get('INVOICE_RENDER_MS', 1_000));
  }

  @WithSemaphore('invoice-pdf', INVOICE_RENDERS)
  async render(orderId: string): Promise<RenderedInvoice> {
    // Stops rendering if the permit is lost (its lease ran out while this instance was frozen).
    const { signal } = currentPermit()!;
    const rendersAtOnce = Number(await this.counters.increment(RENDERING));
    try {
      await sleep(this.renderMs, undefined, { signal }); // the PDF engine at work
      return { orderId, renderedBy: this.instance.name, rendersAtOnce };
    } finally {
      await this.counters.decrement(RENDERING);
    }
  }
}
