import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import type { Product } from './product.js';

/** A write carried an older fencing token than one already accepted: its lock had expired. */
export class StaleWriteError extends Error {
  override name = 'StaleWriteError';
}

/**
 * Stores stock only if the fencing token is newer than the last accepted one, atomically.
 * This is what makes a lock safe against a paused holder: its late write carries an old token.
 */
const FENCED_SET_STOCK = `
local last = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0')
if tonumber(ARGV[2]) <= last then return 0 end
redis.call('HSET', KEYS[1], 'stock', ARGV[1], 'fence', ARGV[2])
return 1`;

/**
 * The shop's "database". It lives in the same Redis for the sample's convenience, under its own
 * keys and its own connection, and is deliberately slow (like a real database across a network)
 * so that caching shows.
 */
@Injectable()
export class ProductRepository implements OnApplicationShutdown {
  private readonly db: Redis;
  private readonly latencyMs: number;

  constructor(config: ConfigService) {
    this.db = new Redis(config.get<string>('REDIS_URL', 'redis://127.0.0.1:6379'));
    this.latencyMs = Number(config.get('DB_LATENCY_MS', 50));
  }

  /** Inserts the products that do not exist yet (several instances may seed at once). */
  async seed(products: readonly Product[]): Promise<void> {
    for (const { id, name, priceCents, stock } of products) {
      await this.db.hsetnx(`shopdb:product:${id}`, 'name', name);
      await this.db.hsetnx(`shopdb:product:${id}`, 'priceCents', priceCents);
      await this.db.hsetnx(`shopdb:product:${id}`, 'stock', stock);
    }
  }

  /** Sets a product's stock (admin use: resets the demo); fencing restarts from this write. */
  async reset(product: Product): Promise<void> {
    await this.db.hset(`shopdb:product:${product.id}`, {
      name: product.name,
      priceCents: product.priceCents,
      stock: product.stock,
      fence: 0,
    });
  }

  async findById(id: string): Promise<Product | undefined> {
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const row = await this.db.hgetall(`shopdb:product:${id}`);
    if (!row.name) return undefined;
    return { id, name: row.name, priceCents: Number(row.priceCents), stock: Number(row.stock) };
  }

  /** Sets a product's price; false when there is no such product. */
  async setPrice(id: string, priceCents: number): Promise<boolean> {
    if (!(await this.db.exists(`shopdb:product:${id}`))) return false;
    await this.db.hset(`shopdb:product:${id}`, 'priceCents', priceCents);
    return true;
  }

  /** Writes a new stock level; refuses a write whose fencing token is not the newest. */
  async saveStock(id: string, stock: number, fencingToken: number | bigint): Promise<void> {
    const accepted = await this.db.eval(
      FENCED_SET_STOCK,
      1,
      `shopdb:product:${id}`,
      stock,
      String(fencingToken),
    );
    if (accepted !== 1) {
      throw new StaleWriteError(
        `stock write for ${id} with fencing token ${fencingToken} is stale`,
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.db.quit();
  }
}
