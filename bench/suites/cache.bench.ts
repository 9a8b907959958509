import { Injectable } from '@nestjs/common';
import { Cached, CacheService } from '../../lib/index.js';
import { JsonCodec } from '../../lib/common/codec.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';
import type { BenchSuite } from '../support/bench-context.js';
import { compare, runLoad } from '../support/measure.js';
import { againstBestRaw } from './counter.bench.js';

const HITS = 20_000;
const MISSES = 5_000;

/** A small product record, the kind of value a cache holds. */
const product = {
  id: 'p-123',
  name: 'Espresso machine',
  price: 249.9,
  tags: ['kitchen', 'coffee'],
  stock: { warehouse: 12, shop: 3 },
};

/** A user profile as an app caches it: about 300 B, with nested objects and arrays. */
const profile = {
  id: 'u-42',
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  roles: ['admin', 'editor'],
  address: { street: '12 Analytical Row', city: 'London', postcode: 'W1 1AA', country: 'GB' },
  preferences: { theme: 'dark', locale: 'en-GB', notifications: { email: true, sms: false } },
  teams: [
    { id: 't-1', name: 'Engines' },
    { id: 't-2', name: 'Notes' },
  ],
  createdAt: '2024-01-15T10:00:00.000Z',
};

@Injectable()
class CatalogueService {
  /** As a new user writes it: the default key, the arguments hashed. */
  @Cached({ ttlMs: 600_000 })
  async userProfile(id: string) {
    return { ...profile, id };
  }

  @Cached({ ttlMs: 600_000, key: 'bench:product' })
  async product() {
    return product;
  }

  @Cached({ ttlMs: 600_000, namespace: 'bench', key: (id: string) => id })
  async inNamespace(id: string) {
    return { ...product, id };
  }

  /** Every call is a miss: a fresh key each time. */
  @Cached({ ttlMs: 60_000, key: (i: number) => `bench:miss:${i}` })
  async miss(i: number) {
    return { ...product, i };
  }
}

/**
 * Cache hits through `@Cached` against raw `GET` + `JSON.parse`; the namespaced hit (one MGET
 * of version and entry); the miss path against raw GET-miss + SET; and the codec alone.
 */
export const suite: BenchSuite = {
  description: '@Cached hits and misses vs raw GET + JSON.parse (+ SET on a miss); codec cost',
  async run(context) {
    const app = await context.app({}, [CatalogueService]);
    const catalogue = app.get(CatalogueService);
    const cache = app.get(CacheService);
    const text = JSON.stringify(product);
    const setup = await context.rawClient();
    await setup.set('bench:raw-product', text);
    await catalogue.product();
    await catalogue.inNamespace('p-1');

    const { command } = app.get(RedisConnections);
    await command.set('bench:command-product', text);
    for (const concurrency of [1, 64]) {
      // The module's command connection alone: the bound any service on it can reach.
      const bound = await againstBestRaw(
        context,
        (client) => async () => JSON.parse((await client.get('bench:raw-product'))!) as unknown,
        async () => JSON.parse((await command.get('bench:command-product'))!) as unknown,
        { total: HITS, concurrency },
      );
      context.report({
        suite: 'cache',
        name: `(bound) command connection GET + JSON.parse x${HITS}, ${concurrency} in flight`,
        ...bound,
      });
      const hit = await againstBestRaw(
        context,
        (client) => async () => JSON.parse((await client.get('bench:raw-product'))!) as unknown,
        () => catalogue.product(),
        { total: HITS, concurrency },
      );
      context.report({
        suite: 'cache',
        name: `@Cached hit x${HITS}, ${concurrency} in flight`,
        goal: 0.95,
        ...hit,
      });
    }
    /** A single-caller hit against raw GET + JSON.parse of the same stored text. */
    const hitAtOneInFlight = async (
      name: string,
      rawKey: string,
      hit: () => Promise<unknown>,
      goal?: number,
    ) => {
      const result = await againstBestRaw(
        context,
        (client) => async () => JSON.parse((await client.get(rawKey))!) as unknown,
        hit,
        { total: HITS, concurrency: 1 },
      );
      context.report({ suite: 'cache', name, goal, ...result });
    };
    // The default key (class, method and a hash of the arguments) and a realistic value.
    await setup.set('bench:raw-profile', JSON.stringify({ ...profile, id: 'u-42' }));
    await catalogue.userProfile('u-42');
    await hitAtOneInFlight(
      `@Cached({ ttlMs }) hit, default key, ~300 B nested value x${HITS}, 1 in flight`,
      'bench:raw-profile',
      () => catalogue.userProfile('u-42'),
      0.95,
    );
    await hitAtOneInFlight(
      `@Cached hit with namespace x${HITS}, 1 in flight (MGET version+entry)`,
      'bench:raw-product',
      () => catalogue.inNamespace('p-1'),
    );

    // Miss path: ours is claim lease (script) + method + store & publish (script); raw is
    // GET (miss) + compute + SET PX, the seed-style get-then-set without stampede protection.
    let round = 0;
    const missOps = await againstBestRaw(
      context,
      (client) => {
        const base = `bench:raw-miss:${round++}:`;
        return async (i: number) => {
          const key = `${base}${i}`;
          if ((await client.get(key)) === null) {
            await client.set(key, JSON.stringify({ ...product, i }), 'PX', 60_000);
          }
        };
      },
      (i) => catalogue.miss(i + MISSES * 1000 * ++round),
      { total: MISSES, concurrency: 1 },
    );
    context.report({
      suite: 'cache',
      name: `@Cached miss x${MISSES}, 1 in flight (vs raw GET + SET)`,
      ...missOps,
    });
    await cache.invalidate('bench');

    const codec = new JsonCodec();
    const rich = { ...product, at: new Date(), ids: new Set([1, 2, 3]) };
    const richText = codec.encode(rich);
    for (const [name, value, stored] of [
      ['plain JSON', product, text],
      ['Date + Set (tagged)', rich, richText],
    ] as const) {
      const result = await compare(
        () => runLoad(async () => JSON.parse(JSON.stringify(value)) as unknown, { total: 200_000 }),
        () => runLoad(async () => codec.decode(codec.encode(value)), { total: 200_000 }),
      );
      context.report({
        suite: 'cache',
        name: `JsonCodec encode+decode, ${name} (${stored.length} B) vs JSON.stringify+parse`,
        ...result,
      });
    }

    // What a writer to Redis can make one decode cost, against parsing plain JSON of that size.
    const worst = worstTaggedText(1024 * 1024);
    const plain = JSON.stringify(
      Array.from({ length: Math.floor(worst.length / (text.length + 1)) }, () => product),
    );
    const worstResult = await compare(
      () => runLoad(async () => JSON.parse(plain) as unknown, { total: 5 }),
      () => runLoad(async () => codec.decode(worst), { total: 5 }),
    );
    context.report({
      suite: 'cache',
      name: `JsonCodec decode, worst tagged text (${worst.length} B) vs JSON.parse (${plain.length} B)`,
      ...worstResult,
      note: 'before the limits: 2.6 s for 1 MB of colliding BigInts in a Set',
    });
  },
};

/**
 * The costliest tagged text within the codec's limits that we know of, `bytes` long: a Set of
 * 256 long BigInts and one of as many numbers as the limits then allow (4096² - 256² ≥ n²),
 * each set's keys sharing one V8 hash bucket, then empty objects (about the dearest node per
 * byte for JSON.parse).
 */
function worstTaggedText(bytes: number): string {
  const numbers: number[] = [];
  for (let k = 1; numbers.length < Math.floor(Math.sqrt(4096 ** 2 - 256 ** 2)); k++) {
    if ((v8NumberHash(k) & 0x3fff) === 0) numbers.push(k); // one bucket of up to 16 384
  }
  // V8 hashes a BigInt by its lowest 64-bit digit: these share all but the top ones.
  const low = (1n << 3300n) - 12345n;
  const bigints = Array.from(
    { length: 256 },
    (_, i) => `{"$t":"n","v":"${(BigInt(i + 1) << 3300n) + low}"}`,
  );
  const head = `#[{"$t":"s","v":[${bigints.join(',')}]},{"$t":"s","v":[${numbers.join(',')}]}`;
  return `${head}${',{}'.repeat(Math.floor((bytes - head.length - 1) / 3))}]`;
}

/** V8's ComputeUnseededHash, which it uses for small integers in a Map or Set. */
function v8NumberHash(key: number): number {
  let hash = key >>> 0;
  hash = (~hash + (hash << 15)) >>> 0;
  hash = (hash ^ (hash >>> 12)) >>> 0;
  hash = (hash + (hash << 2)) >>> 0;
  hash = (hash ^ (hash >>> 4)) >>> 0;
  hash = Math.imul(hash, 2057) >>> 0;
  hash = (hash ^ (hash >>> 16)) >>> 0;
  return hash & 0x3fffffff;
}
