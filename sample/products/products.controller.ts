import {
  BadRequestException,
  Body,
  Controller,
  Get,
  NotFoundException,
  Param,
  Post,
  Put,
} from '@nestjs/common';
import { CacheService, CounterService } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { SEED_PRODUCTS } from './product.js';
import { ProductRepository } from './product.repository.js';
import { ProductsService } from './products.service.js';

@Controller('products')
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    private readonly repository: ProductRepository,
    private readonly counters: CounterService,
    private readonly cache: CacheService,
    private readonly instance: Instance,
  ) {}

  /** A product, with whether this response came from the cache. */
  @Get(':id')
  async findOne(@Param('id') id: string) {
    const requestedAt = Date.now();
    const { product, loadedAt } = await this.products.findOne(id);
    await this.counters.increment('views');
    return {
      product,
      cache: loadedAt.getTime() < requestedAt ? 'hit' : 'miss',
      loadedAt,
      servedBy: this.instance.name,
    };
  }

  /** Changes a price: the product's cached copies, in Redis and in every instance's memory, go. */
  @Put(':id/price')
  async setPrice(@Param('id') id: string, @Body() body: { priceCents?: unknown }) {
    const { priceCents } = body;
    if (typeof priceCents !== 'number' || !Number.isSafeInteger(priceCents) || priceCents < 0) {
      throw new BadRequestException('priceCents must be a non-negative integer');
    }
    await this.products.setPrice(id, priceCents);
    return { id, priceCents };
  }

  /** Demo helper: puts a product back to its seed stock and clears every cached product. */
  @Post(':id/reset')
  async reset(@Param('id') id: string) {
    const seed = SEED_PRODUCTS.find((product) => product.id === id);
    if (!seed) throw new NotFoundException(`No product "${id}"`);
    await this.repository.reset(seed);
    await this.cache.invalidate('products');
    return seed;
  }
}
