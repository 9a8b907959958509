import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { Cached, CacheService } from '../../lib/index.js';
import { stableHash } from '../../lib/cache/stable-hash.js';
import type { NearCache } from '../../lib/cache/near-cache.js';
import { JsonCodec } from '../../lib/common/codec.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';
import type { BenchContext, BenchSuite } from '../support/bench-context.js';
import { compare, percentiles, runLoad, type RunResult } from '../support/measure.js';
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

  /** The same, kept in this process's memory too (each hit decodes its own copy). */
  @Cached({ ttlMs: 600_000, local: { ttlMs: 600_000 } })
  async nearProfile(id: string) {
    return { ...profile, id };
  }

  /** The same, one object shared by every hit. */
  @Cached({ ttlMs: 600_000, local: { ttlMs: 600_000, shared: true } })
  async sharedProfile(id: string) {
    return { ...profile, id };
  }

  @Cached({ ttlMs: 600_000, key: (id: string) => `tagged:${id}`, tags: (id) => [`user:${id}`] })
  async taggedProfile(id: string) {
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
      `@Cached hit with a tag x${HITS}, 1 in flight (GET + MGET, one round trip)`,
      'bench:raw-profile',
      () => catalogue.taggedProfile('u-42'),
    );
    await nearCacheHits(context, catalogue);
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
      name: `@Cached miss x${MISSES}, 1 in flight, 3 round trips (vs raw GET + SET)`,
      ...missOps,
    });
    await cache.invalidate('bench');
    await invalidationPropagation(context, cache);

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

const NEAR_HITS = 200_000;

/**
 * Near-cache hits against a bare `Map` lookup behind an async function that builds the same
 * default key (class, method, hash of the arguments): decoding a copy from the stored text for
 * the default, returning the one stored object for shared values.
 */
async function nearCacheHits(context: BenchContext, catalogue: CatalogueService): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await catalogue.nearProfile('u-42');
    await catalogue.sharedProfile('u-42');
    await sleep(10); // the first near-cached call starts listening to invalidations
  }
  const codec = new JsonCodec();
  const text = codec.encode({ ...profile, id: 'u-42' });
  const texts = new Map([[`CatalogueService.nearProfile:${stableHash(['u-42'])}`, text]]);
  const objects = new Map([[`CatalogueService.sharedProfile:${stableHash(['u-42'])}`, profile]]);
  const rows = [
    {
      name: `@Cached near-cache hit, copy per hit x${NEAR_HITS} (vs Map.get + decode)`,
      baseline: async () =>
        codec.decode(texts.get(`CatalogueService.nearProfile:${stableHash(['u-42'])}`)!),
      candidate: () => catalogue.nearProfile('u-42'),
    },
    {
      name: `@Cached near-cache hit, shared value x${NEAR_HITS} (vs Map.get)`,
      baseline: async () => objects.get(`CatalogueService.sharedProfile:${stableHash(['u-42'])}`),
      candidate: () => catalogue.sharedProfile('u-42'),
    },
  ];
  for (const { name, baseline, candidate } of rows) {
    const result = await compare(
      () => runLoad(baseline, { total: NEAR_HITS }),
      () => runLoad(candidate, { total: NEAR_HITS }),
    );
    context.report({ suite: 'cache', name, goal: 0.8, ...result, note: 'goal also ≥ 1M ops/s' });
  }
}

const RECEIVERS = 10;
const CHANGES = 200;

/**
 * How long a `set()` on one instance takes to evict the entry from the near caches of 10 others
 * (all in this process, so they share one event loop), against a raw PUBLISH reaching 10 raw
 * subscribers. Ratio: the baseline's p99 over ours.
 */
async function invalidationPropagation(context: BenchContext, writer: CacheService) {
  const arrivals: number[] = [];
  let sentAt = 0;
  let arrived = 0;
  const receivers = await Promise.all(
    Array.from({ length: RECEIVERS }, () => context.app().then((app) => app.get(CacheService))),
  );
  for (const receiver of receivers) {
    const near = (receiver as unknown as { near: NearCache }).near;
    const evict = near.evict.bind(near);
    near.evict = (keys, namespaces, tags) => {
      if (keys.includes('bench:{cache:propagated}')) {
        arrivals.push(performance.now() - sentAt);
        arrived++;
      }
      evict(keys, namespaces, tags);
    };
    await receiver.wrap('propagated', () => 0, { ttlMs: 60_000, local: { ttlMs: 60_000 } });
  }
  const admin = await context.rawClient();
  while (
    ((await admin.pubsub('NUMSUB', 'bench:{cache-bus:invalidations}')) as number[])[1]! < RECEIVERS
  ) {
    await sleep(10);
  }
  const candidate = await timeChanges(
    arrivals,
    () => arrived,
    async (i) => {
      sentAt = performance.now();
      await writer.set('propagated', i, { ttlMs: 60_000 });
    },
  );

  const rawArrivals: number[] = [];
  let rawArrived = 0;
  for (let i = 0; i < RECEIVERS; i++) {
    const subscriber = await context.rawClient();
    await subscriber.subscribe('bench:raw-propagation');
    subscriber.on('message', () => {
      rawArrivals.push(performance.now() - sentAt);
      rawArrived++;
    });
  }
  const publisher = await context.rawClient();
  const baseline = await timeChanges(
    rawArrivals,
    () => rawArrived,
    async (i) => {
      sentAt = performance.now();
      await publisher.publish('bench:raw-propagation', String(i));
    },
  );
  context.report({
    suite: 'cache',
    name: `near-cache eviction on ${RECEIVERS} instances after set() x${CHANGES} (p99: raw PUBLISH / ours)`,
    candidate,
    baseline,
    ratio: baseline.p99Ms / candidate.p99Ms,
    note: `latency per receiving instance; raw: PUBLISH to ${RECEIVERS} subscribers; goal p99 ≤ 5 ms`,
  });
}

/** Makes `CHANGES` changes one after the other, each once every receiver heard the last. */
async function timeChanges(
  latencies: number[],
  arrived: () => number,
  change: (i: number) => Promise<void>,
): Promise<RunResult> {
  const started = performance.now();
  for (let i = 0; i < CHANGES; i++) {
    const expected = arrived() + RECEIVERS;
    await change(i);
    while (arrived() < expected) await sleep(0);
  }
  const elapsed = performance.now() - started;
  return { ops: CHANGES, opsPerSec: (CHANGES / elapsed) * 1000, ...percentiles(latencies) };
}

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
