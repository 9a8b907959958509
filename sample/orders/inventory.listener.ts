import { Injectable } from '@nestjs/common';
import { CounterService, MessagePayload, OnMessage } from 'nestjs-redis-coordination';
import { ProductsService } from '../products/products.service.js';
import type { Order } from './order.js';

@Injectable()
export class InventoryListener {
  constructor(
    private readonly products: ProductsService,
    private readonly counters: CounterService,
  ) {}

  /** Broadcast: every instance hears every stock change and drops the cached product. */
  @OnMessage('inventory.changed')
  async onInventoryChanged(@MessagePayload() change: { productId: string }): Promise<void> {
    await this.products.evict(change.productId);
  }

  /**
   * Durable, group "billing": each order is handled by one instance, at least once; the
   * per-order counter makes a redelivery harmless (billing counts an order only the first time).
   */
  @OnMessage('orders.placed', { group: 'billing' })
  async bill(@MessagePayload() order: Order): Promise<void> {
    if ((await this.counters.increment(`billed:${order.id}`)) === 1) {
      await this.counters.increment('billing:orders');
    }
  }
}
