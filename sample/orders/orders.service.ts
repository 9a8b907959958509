import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  CounterService,
  PubSubService,
  QueueService,
  WithLock,
  currentLock,
} from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { ProductRepository } from '../products/product.repository.js';
import { CONFIRMATIONS_QUEUE, type Order } from './order.js';

@Injectable()
export class OrdersService {
  constructor(
    private readonly repository: ProductRepository,
    private readonly queue: QueueService,
    private readonly pubsub: PubSubService,
    private readonly counters: CounterService,
    private readonly instance: Instance,
  ) {}

  /**
   * Reserves stock under a per-product lock held across all instances. The stock write carries
   * the lock's fencing token, so even a holder paused past its lease cannot overwrite a newer
   * write: the repository refuses stale tokens.
   */
  @WithLock((productId: string) => `product:${productId}`, { ttlMs: 5_000, waitMs: 30_000 })
  async place(productId: string, quantity: number): Promise<Order> {
    const product = await this.repository.findById(productId);
    if (!product) throw new NotFoundException(`No product "${productId}"`);
    if (product.stock < quantity) {
      throw new ConflictException(`Only ${product.stock} of "${productId}" left`);
    }
    const stock = product.stock - quantity;
    await this.repository.saveStock(productId, stock, currentLock()!.fencingToken);

    const order: Order = {
      id: randomUUID(),
      productId,
      quantity,
      placedAt: new Date(),
      placedBy: this.instance.name,
    };
    await Promise.all([
      this.queue.add(CONFIRMATIONS_QUEUE, order, {
        jobId: order.id,
        attempts: 3,
        backoff: { type: 'exponential', delayMs: 100 },
      }),
      // Every instance drops its view of this product...
      this.pubsub.publish('inventory.changed', { productId, stock }),
      // ...and billing (one consumer group across instances) records the order once.
      this.pubsub.publish('orders.placed', order, { durable: true }),
      this.counters.increment('orders'),
    ]);
    return order;
  }
}
