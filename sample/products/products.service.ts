import { Injectable, NotFoundException } from '@nestjs/common';
import { CacheEvict, Cached } from 'nestjs-redis-coordination';
import type { Product } from './product.js';
import { ProductRepository } from './product.repository.js';

/** A product as served: `loadedAt` (a Date, kept a Date by the cache codec) tells cache age. */
export interface LoadedProduct {
  product: Product;
  loadedAt: Date;
}

@Injectable()
export class ProductsService {
  constructor(private readonly repository: ProductRepository) {}

  /**
   * Reads through the cache: every instance shares one entry per product, and concurrent misses
   * (on any instance) load from the slow repository only once. Each instance also keeps it in
   * memory for up to 30 s; evicting the product's tag on any instance drops every copy.
   */
  @Cached({
    namespace: 'products',
    key: (id: string) => `product:${id}`,
    tags: (id: string) => [`product:${id}`],
    ttlMs: 60_000,
    local: { ttlMs: 30_000 },
  })
  async findOne(id: string): Promise<LoadedProduct> {
    const product = await this.repository.findById(id);
    if (!product) throw new NotFoundException(`No product "${id}"`);
    return { product, loadedAt: new Date() };
  }

  /** Drops the cached entry of one product (called when its stock changes anywhere). */
  @CacheEvict({ tags: (id: string) => [`product:${id}`] })
  async evict(_id: string): Promise<void> {}

  /** Changes a price on this instance; every instance's memory drops the old one at once. */
  @CacheEvict({ tags: (id: string) => [`product:${id}`] })
  async setPrice(id: string, priceCents: number): Promise<void> {
    if (!(await this.repository.setPrice(id, priceCents))) {
      throw new NotFoundException(`No product "${id}"`);
    }
  }
}
