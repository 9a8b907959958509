import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { Module, type LoggerService } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  CacheService,
  CounterService,
  LiveConfigService,
  LeaderElectionService,
  PubSubService,
  QueueService,
  RedisCommandError,
  RedisCoordinationModule,
  RedisHealthIndicator,
  RedisLockService,
  RedisThrottlerStorage,
  SemaphoreService,
  ServiceRegistry,
  type DurableMessageMeta,
  type Job,
  type MessageMeta,
} from '../../../lib/index.js';
import { CallLog, ProductService } from '../../fixtures/cache-app.js';
import { closeModule, closeStartedModules, startModule } from '../../support/nest.js';
import { filter, firstValueFrom, take } from 'rxjs';
import { describeWithRedisServer } from '../../support/redis.js';
import { useRedisServer } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';

// The least-privilege ACL user of README.md ("ACL: a least-privilege user") runs every
// capability. The user is created from the README's own `ACL SETUSER` line, and its grants are
// checked against the README's list by capability and against the commands the Lua scripts
// call, so none of the three can drift from what the library sends.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const README_HEADING = '#### ACL: a least-privilege user';
/** Where each capability of the README list keeps its scripts (lib/<folder>/scripts). */
const SCRIPT_FOLDERS: Record<string, string> = {
  locks: 'lock',
  semaphores: 'semaphore',
  queues: 'queue',
  'pub/sub': 'pubsub',
  counters: 'counter',
  cache: 'cache',
  live: 'config',
  service: 'registry',
  elections: 'election',
};
/** The pattern subscribed below, and the channel rule it needs (see the README). */
const PATTERN = 'orders.*';
const PATTERN_RULE = `&coord:{pubsub:${PATTERN}}`;

interface ReadmeAcl {
  /** The `ACL SETUSER` arguments, as written in the README. */
  readonly setuser: readonly string[];
  readonly user: string;
  readonly password: string;
  /** The commands the line grants (`+name` without the `+`). */
  readonly grants: ReadonlySet<string>;
  /** The commands granted by subcommand: `xgroup` for `+xgroup|create`. */
  readonly bySubcommand: ReadonlySet<string>;
  /** The list by capability: label → commands sent directly and by its scripts. */
  readonly byCapability: ReadonlyMap<string, { direct: string[]; scripts: string[] }>;
}

function readReadmeAcl(): ReadmeAcl {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf(README_HEADING);
  assert.ok(start >= 0, `README.md has no "${README_HEADING}" section`);
  const rest = readme.slice(start + README_HEADING.length);
  const section = rest.slice(0, rest.search(/^#{1,4} /m));
  const lines = section.match(/^ACL SETUSER .*$/gm) ?? [];
  assert.equal(lines.length, 1, 'the section holds one ACL SETUSER line');
  const setuser = lines[0]!.trim().split(/\s+/).slice(2);
  const password = setuser.find((rule) => rule.startsWith('>'));
  assert.ok(password, 'the ACL SETUSER line sets a password');
  const grants = new Set(setuser.filter((r) => r.startsWith('+')).map((r) => r.slice(1)));
  assert.equal(grants.size, setuser.filter((r) => r.startsWith('+')).length, 'no grant twice');

  const listStart = section.indexOf('The commands by capability');
  assert.ok(listStart >= 0, 'the section lists "The commands by capability"');
  const list = section.slice(listStart).split(/\n\n/)[1] ?? '';
  const byCapability = new Map<string, { direct: string[]; scripts: string[] }>();
  // Bullets start at column 0, their continuation lines are indented.
  for (const bullet of list.split(/\n(?=- )/)) {
    const text = bullet.replace(/^- /, '').replace(/\s+/g, ' ');
    const colon = text.indexOf(': ');
    const [direct = '', scripts = ''] = text.slice(colon + 2).split('; in scripts ');
    byCapability.set(text.slice(0, colon), {
      direct: commandsIn(direct),
      scripts: commandsIn(scripts),
    });
  }
  const bySubcommand = new Set(
    [...grants].flatMap((g) => (g.includes('|') ? [g.split('|')[0]!] : [])),
  );
  return {
    setuser,
    user: setuser[0]!,
    password: password.slice(1),
    grants,
    bySubcommand,
    byCapability,
  };
}

/** The command names written in backticks (`get`, `xgroup|create`); other code spans are not. */
function commandsIn(text: string): string[] {
  return [...text.matchAll(/`([a-z]+(?:\|[a-z]+)?)`/g)].map((match) => match[1]!);
}

function luaFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return luaFiles(path);
    return entry.name.endsWith('.lua') ? [path] : [];
  });
}

/** The .lua files of a scripts folder and the shared ones they include (tools/build-lua.mjs). */
function scriptsWithIncludes(folder: string): string[] {
  const files = new Set(luaFiles(folder));
  for (const file of files) {
    for (const [, name] of readFileSync(file, 'utf8').matchAll(/^--- @include "([^"]+)"/gm)) {
      files.add(join(folder, `${name}.lua`));
    }
  }
  return [...files];
}

/**
 * The commands the Lua scripts of lib/<folder>/scripts call, named as an ACL rule names them:
 * `xgroup|delconsumer` for a subcommand of a command the README grants by subcommand.
 */
function scriptCommands(folder: string, bySubcommand: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  for (const file of scriptsWithIncludes(join(root, 'lib', folder, 'scripts'))) {
    const lua = readFileSync(file, 'utf8');
    const calls = [...lua.matchAll(/redis\.p?call\(\s*'([A-Za-z]+)'(?:\s*,\s*'([A-Za-z]+)')?/g)];
    // A command name that is not a literal would escape this check.
    assert.equal(
      calls.length,
      lua.match(/redis\.p?call\(/g)?.length ?? 0,
      `${file}: literal names`,
    );
    for (const [, command, sub] of calls) {
      const name = command!.toLowerCase();
      found.add(bySubcommand.has(name) && sub ? `${name}|${sub.toLowerCase()}` : name);
    }
  }
  return found;
}

/** Keeps every log line with its level. */
class LevelLogger implements LoggerService {
  readonly entries: { level: string; text: string }[] = [];
  log(message: unknown, ...rest: unknown[]) {
    this.add('log', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]) {
    this.add('warn', message, rest);
  }
  error(message: unknown, ...rest: unknown[]) {
    this.add('error', message, rest);
  }
  debug = this.log;
  verbose = this.log;
  fatal = this.error;
  private add(level: string, message: unknown, rest: unknown[]) {
    this.entries.push({ level, text: [message, ...rest].map(String).join(' ') });
  }
}

describe('README ACL section', () => {
  const acl = readReadmeAcl();

  it('the ACL SETUSER line grants exactly the commands listed by capability', () => {
    const listed = new Set(
      [...acl.byCapability.values()].flatMap(({ direct, scripts }) => [...direct, ...scripts]),
    );
    assert.deepEqual([...listed].sort(), [...acl.grants].sort());
    // Nothing else: no key, channel or category rule wider than these.
    assert.deepEqual(
      acl.setuser.filter((rule) => !rule.startsWith('+')),
      [acl.user, 'reset', 'on', `>${acl.password}`, '~coord:*', '&coord:*', '-@all'],
    );
  });

  it('lists for each capability what its Lua scripts call', () => {
    const withScripts = [...acl.byCapability].filter(([, { scripts }]) => scripts.length > 0);
    assert.deepEqual(
      withScripts.map(([label]) => SCRIPT_FOLDERS[label.split(/[ ,]/)[0]!]).sort(),
      Object.values(SCRIPT_FOLDERS).sort(),
      'one "in scripts" list per folder with scripts',
    );
    for (const [label, { scripts }] of withScripts) {
      const folder = SCRIPT_FOLDERS[label.split(/[ ,]/)[0]!]!;
      assert.deepEqual(
        [...new Set(scripts)].sort(),
        [...scriptCommands(folder, acl.bySubcommand)].sort(),
        `README "${label}" vs lib/${folder}/scripts`,
      );
    }
  });
});

describeWithRedisServer('every capability as the README ACL user', () => {
  const acl = readReadmeAcl();
  const server = useRedisServer();
  let admin: Redis;
  beforeAll(async () => {
    admin = new Redis(server.url, { lazyConnect: true, disconnectTimeout: 0 });
    await admin.connect();
  });
  afterAll(async () => {
    await closeStartedModules();
    admin.disconnect();
  });

  /** (Re)creates the user from the README line, plus `extra` rules. */
  function applyReadmeAcl(...extra: string[]) {
    // As the README says: ioredis sends CLIENT SETINFO, which Redis knows from 7.2 on.
    const [major = 0, minor = 0] = /redis_version:(\d+)\.(\d+)/
      .exec(server.cli('INFO', 'server'))!
      .slice(1)
      .map(Number);
    if (major * 100 + minor >= 702) extra.push('+client|setinfo');
    assert.equal(server.cli('ACL', 'SETUSER', ...acl.setuser, ...extra), 'OK');
    server.cli('ACL', 'LOG', 'RESET');
  }

  /** One app instance connected as the README user, with a @Cached provider. */
  async function instance(logger: LevelLogger) {
    @Module({
      imports: [
        RedisCoordinationModule.forRoot({
          url: `redis://${acl.user}:${acl.password}@127.0.0.1:${server.port}`,
        }),
      ],
      providers: [CallLog, ProductService],
    })
    class AppModule {}
    const moduleRef = await startModule([AppModule], { logger });
    return {
      moduleRef,
      locks: moduleRef.get(RedisLockService),
      semaphores: moduleRef.get(SemaphoreService),
      queue: moduleRef.get(QueueService),
      pubsub: moduleRef.get(PubSubService),
      counters: moduleRef.get(CounterService),
      throttler: moduleRef.get(RedisThrottlerStorage),
      cache: moduleRef.get(CacheService),
      products: moduleRef.get(ProductService),
      calls: moduleRef.get(CallLog),
      health: moduleRef.get(RedisHealthIndicator),
      config: moduleRef.get(LiveConfigService),
      elections: moduleRef.get(LeaderElectionService),
    };
  }

  describe('without a rule for the pattern', () => {
    beforeAll(() => applyReadmeAcl());

    it('a pattern subscription fails with a RedisCommandError naming NOPERM and the rule to add; channels still work', async () => {
      const app = await instance(new LevelLogger());
      await assert.rejects(
        app.pubsub.subscribe({ pattern: PATTERN }, () => undefined),
        (error: unknown) => {
          assert.ok(error instanceof RedisCommandError, String(error));
          assert.match(error.message, /NOPERM/);
          assert.ok(error.message.includes(`add the rule ${PATTERN_RULE}`), error.message);
          return true;
        },
      );
      const got: unknown[] = [];
      await app.pubsub.subscribe('orders.placed', (message) => void got.push(message));
      assert.equal(await app.pubsub.publish('orders.placed', 'after'), 1);
      await eventually('the message', () => got.length === 1);
      assert.deepEqual(got, ['after']);
      await closeModule(app.moduleRef);
    });
  });

  describe('with the rule for the pattern', () => {
    const logger = new LevelLogger();
    let a: Awaited<ReturnType<typeof instance>>;
    let b: Awaited<ReturnType<typeof instance>>;
    /** Failures made on purpose below: the only warnings and errors allowed. */
    const expectedFailures: string[] = [];

    beforeAll(async () => {
      applyReadmeAcl(PATTERN_RULE);
      server.cli('CONFIG', 'RESETSTAT');
      a = await instance(logger);
      b = await instance(logger);
    });

    it('locks: acquire, isLocked, tryAcquire, extend, a waiter woken by the release, using', async () => {
      const held = await a.locks.acquire('stock', { ttlMs: 10_000 });
      assert.equal(await b.locks.isLocked('stock'), true);
      assert.equal(await b.locks.tryAcquire('stock'), null);
      await held.extend(20_000);
      assert.ok((await admin.pttl('coord:{lock:stock}:owner')) > 10_000);
      const waiter = b.locks.acquire('stock', { ttlMs: 10_000, waitMs: 5000 });
      await eventually(
        'b queued',
        async () => (await admin.zcard('coord:{lock:stock}:queue')) === 1,
      );
      await held.release();
      const next = await waiter;
      assert.ok(next.fencingToken > held.fencingToken);
      await next.release();
      assert.equal(await a.locks.isLocked('stock'), false);
      const result = await a.locks.using(
        'report',
        async (signal) => {
          assert.equal(signal.aborted, false);
          return (await b.locks.isLocked('report')) ? 'held' : 'free';
        },
        { ttlMs: 3000 },
      );
      assert.equal(result, 'held');
      assert.equal(await b.locks.isLocked('report'), false);
    });

    it('semaphores: acquire, available, extend, a waiter woken by the release, using', async () => {
      const options = { limit: 1, ttlMs: 10_000 };
      const held = await a.semaphores.acquire('render', options);
      assert.equal(await b.semaphores.available('render', options), 0);
      await held.extend(20_000);
      assert.ok((await admin.pttl('coord:{semaphore:render}:holders')) > 10_000);
      const waiter = b.semaphores.acquire('render', { ...options, waitMs: 5000 });
      await eventually(
        'b queued',
        async () => (await admin.zcard('coord:{semaphore:render}:queue')) === 1,
      );
      await held.release();
      await (await waiter).release();
      assert.equal(
        await a.semaphores.using('render', { limit: 1 }, async () =>
          b.semaphores.available('render', { limit: 1 }),
        ),
        0,
      );
      assert.equal(await b.semaphores.available('render', { limit: 1 }), 1);
    });

    it('queues: add, addBulk, pause, resume, a job done, one retried, one dead, retryDead', async () => {
      await a.queue.pause('jobs');
      let fixed = false;
      const seen: number[] = [];
      const done = new Set<number>();
      const dead: Job[] = [];
      const worker = b.queue.process<number>(
        'jobs',
        async (job) => {
          seen.push(job.data);
          await job.progress(job.data);
          // Long enough for lease renewals (every leaseMs / 3).
          if (job.data === 1) await new Promise((resolve) => setTimeout(resolve, 250));
          if (job.data === 2 && job.attempt === 1) throw new Error('first attempt fails');
          if (job.data === 3 && !fixed) throw new Error('always fails');
          return job.data;
        },
        { concurrency: 3, leaseMs: 300 },
      );
      worker.on('completed', (job) => done.add(job.data as number));
      worker.on('failed', (job, _error, outcome) => {
        if (outcome === 'dead') dead.push(job);
      });
      await a.queue.add('jobs', 1);
      const ids = await a.queue.addBulk('jobs', [
        { data: 2, opts: { attempts: 2, backoff: { type: 'fixed', delayMs: 10 } } },
        { data: 3 },
      ]);
      assert.equal(ids.length, 2);
      const paused = await a.queue.counts('jobs');
      assert.deepEqual([paused.waiting, paused.paused], [3, true]);
      await a.queue.resume('jobs');
      await eventually('2 done, 1 dead', () => done.size === 2 && dead.length === 1);
      expectedFailures.push(`job ${ids[1]!}`);
      assert.deepEqual([...done].sort(), [1, 2]);
      assert.equal(seen.filter((n) => n === 2).length, 2, 'job 2 retried');
      const listed = await a.queue.dead<number>('jobs');
      assert.deepEqual(
        listed.map((job) => [job.id, job.data, job.lastError]),
        [[ids[1], 3, 'Error: always fails']],
      );
      fixed = true;
      assert.equal(await a.queue.retryDead('jobs'), 1);
      await eventually('job 3 done', () => done.has(3));
      const counts = await a.queue.counts('jobs');
      assert.deepEqual(counts, {
        waiting: 0,
        active: 0,
        delayed: 0,
        completed: 3,
        dead: 0,
        paused: false,
      });
      // Job management and events.
      const completions = firstValueFrom(
        a.queue.events('jobs').pipe(
          filter((event) => event.event === 'completed'),
          take(1),
        ),
      );
      // Already finished: answered once this instance listens for events.
      assert.equal(await a.queue.waitUntilFinished('jobs', ids[0]!), 2);
      const extra = await a.queue.add('jobs', 4);
      assert.equal((await completions).jobId, extra);
      assert.equal((await a.queue.getJob('jobs', extra))?.returnValue, 4);
      assert.equal((await a.queue.jobs('jobs', 'completed')).length, 4);
      assert.equal(await a.queue.remove('jobs', 'no-such-job'), false);
      assert.equal(await a.queue.clean('jobs', 'completed', { limit: 1 }), 1);
      // Groups, with a per-group limit.
      await a.queue.setGroupConcurrency('jobs', 1);
      const grouped = await a.queue.add('jobs', 5, { group: 'tenant' });
      assert.equal(await a.queue.waitUntilFinished('jobs', grouped), 5);
      await worker.close();
      await a.queue.obliterate('jobs');
      assert.equal((await a.queue.counts('jobs')).completed, 0);
    });

    it('queues: a scheduler upserted, fired, listed and removed', async () => {
      const ran: Job[] = [];
      const worker = b.queue.process('ticks', (job) => void ran.push(job));
      await a.queue.upsertScheduler('ticks', 'tick', { everyMs: 100 }, { data: 'x' });
      await eventually('a scheduled job', () => ran.length > 0);
      await worker.close();
      const [listed] = await a.queue.schedulers('ticks');
      // The scheduler keeps firing every 100 ms: its last job is the first one run, or a later slot.
      const slotOf = (id: string | undefined) => Number(/^tick:(\d+)$/.exec(id ?? '')?.[1]);
      assert.ok(slotOf(listed!.lastJobId) >= slotOf(ran[0]!.id), `${listed!.lastJobId}`);
      assert.equal(await a.queue.removeScheduler('ticks', 'tick'), true);
    });

    it('pub/sub: broadcast, a pattern, durable with a dead letter', async () => {
      const broadcast: unknown[] = [];
      await b.pubsub.subscribe('orders.placed', (message) => void broadcast.push(message));
      assert.equal(await a.pubsub.publish('orders.placed', { id: 1 }), 1);
      await eventually('the broadcast', () => broadcast.length === 1);
      assert.deepEqual(broadcast, [{ id: 1 }]);

      const matched: [unknown, MessageMeta][] = [];
      const off = await a.pubsub.subscribe({ pattern: PATTERN }, (message, meta) => {
        matched.push([message, meta]);
      });
      assert.equal(await b.pubsub.publish('orders.shipped', { id: 2 }), 1);
      await eventually('the pattern message', () => matched.length === 1);
      assert.deepEqual(matched[0]![0], { id: 2 });
      assert.equal(matched[0]![1].channel, 'orders.shipped');
      assert.equal(matched[0]![1].pattern, PATTERN);
      await off();

      const handled: string[] = [];
      const failedOn: DurableMessageMeta[] = [];
      await b.pubsub.subscribe<string>(
        'payments',
        (message, meta) => {
          if (message === 'bad') {
            failedOn.push(meta);
            throw new Error('card declined');
          }
          handled.push(message);
        },
        { group: 'billing', maxDeliveries: 2, retryDelayMs: 20 },
      );
      const badId = await a.pubsub.publish('payments', 'bad', { durable: true });
      await a.pubsub.publish('payments', 'good', { durable: true });
      expectedFailures.push(`message ${badId}`, `Message ${badId}`);
      await eventually(
        'the dead letter',
        async () => (await a.pubsub.deadLetters('payments')).length === 1,
      );
      const [letter] = await a.pubsub.deadLetters('payments');
      assert.deepEqual(
        [letter!.originalId, letter!.group, letter!.error, letter!.deliveries],
        [badId, 'billing', 'card declined', 2],
      );
      assert.deepEqual(
        failedOn.map((meta) => meta.deliveries),
        [1, 2],
      );
      await eventually('the good message', () => handled.length === 1);
      assert.deepEqual(handled, ['good']);
    });

    it('counters, rate limits and the throttler storage', async () => {
      const { counters } = a;
      assert.equal(await counters.increment('hits'), 1);
      assert.equal(await counters.increment('hits', 5), 6);
      assert.equal(await counters.decrement('hits'), 5);
      assert.equal(await counters.increment('visits', 1, { ttlMs: 60_000 }), 1);
      assert.ok((await admin.pttl('coord:{counter:visits}')) > 0, 'the script path set the TTL');
      assert.equal(await b.counters.get('hits'), 5);
      assert.deepEqual(await b.counters.getMany(['hits', 'visits', 'none']), [5, 1, 0]);
      assert.equal(await counters.reset('hits'), true);
      assert.equal(await counters.get('hits'), 0);
      const hits = [];
      for (let i = 0; i < 3; i++)
        hits.push(await counters.hit('login', { limit: 2, windowMs: 60_000 }));
      assert.deepEqual(
        hits.map((hit) => hit.allowed),
        [true, true, false],
      );
      const records = [];
      for (let i = 0; i < 3; i++) {
        records.push(await b.throttler.increment('10.0.0.1', 60_000, 2, 60_000, 'default'));
      }
      assert.deepEqual(
        records.map((r) => [r.totalHits, r.isBlocked]),
        [
          [1, false],
          [2, false],
          [3, true],
        ],
      );
    });

    it('cache: set, get, delete, a namespace and a tag invalidated, near cache, wrap filled for another instance, @Cached', async () => {
      await a.cache.set('plain', { n: 1 }, { ttlMs: 60_000 });
      assert.deepEqual(await b.cache.get('plain'), { value: { n: 1 } });
      assert.equal(await b.cache.delete('plain'), true);
      assert.equal(await a.cache.get('plain'), undefined);

      await a.cache.set('item', 'v1', { ttlMs: 60_000, namespace: 'catalog' });
      assert.deepEqual(await b.cache.get('item', { namespace: 'catalog' }), { value: 'v1' });
      await b.cache.invalidate('catalog');
      assert.equal(await a.cache.get('item', { namespace: 'catalog' }), undefined);

      // Tags and near caches: b's invalidation reaches a's memory over the invalidation channel.
      let version = 1;
      const tagged = { ttlMs: 60_000, tags: ['acl-tag'], local: { ttlMs: 60_000 } };
      assert.equal(await a.cache.wrap('tagged', () => version, tagged), 1);
      version = 2;
      await b.cache.set('other', 'x', { ttlMs: 60_000, tags: ['acl-tag'] });
      await b.cache.invalidateTags(['acl-tag']);
      await eventually('a sees the new value', async () => {
        return (await a.cache.wrap('tagged', () => version, tagged)) === 2;
      });
      assert.equal(await b.cache.get('other'), undefined);

      // a holds the fill lease; b waits on the fill channel and gets what a stored.
      let finish!: (value: string) => void;
      const fromA = a.cache.wrap('report', () => new Promise<string>((r) => (finish = r)), {
        ttlMs: 60_000,
      });
      await eventually(
        'a leased',
        async () => (await admin.exists('coord:{cache:report}:lease')) === 1,
      );
      let bLoaded = false;
      const fromB = b.cache.wrap('report', () => ((bLoaded = true), 'from b'), { ttlMs: 60_000 });
      await eventually('b listening', async () => {
        const [, count] = (await admin.pubsub('NUMSUB', 'coord:{cache:report}:filled')) as [
          string,
          number,
        ];
        return count === 1;
      });
      finish('from a');
      assert.deepEqual(await Promise.all([fromA, fromB]), ['from a', 'from a']);
      assert.equal(bLoaded, false);

      const first = await a.products.find('1');
      assert.deepEqual(await b.products.find('1'), first);
      assert.equal(a.calls.count('find') + b.calls.count('find'), 1);
    });

    it('live configuration: load, compare-and-set, seen on the other instance', async () => {
      await Promise.all([a.config.load('flags'), b.config.load('flags')]);
      const version = await a.config.set('flags', { on: true }, { expectVersion: 0 });
      await eventually('b sees it', () => b.config.entry('flags').version === version);
      assert.deepEqual(b.config.get('flags'), { on: true });
    });

    it('service registry: an instance registers, is listed and picked, and deregisters', async () => {
      const registered = await startModule([
        RedisCoordinationModule.forRoot({
          url: `redis://${acl.user}:${acl.password}@127.0.0.1:${server.port}`,
          registry: { service: 'billing', address: 'http://10.0.0.1:3000' },
        }),
      ]);
      const registry = a.moduleRef.get(ServiceRegistry);
      const id = registered.get(ServiceRegistry).instanceId;
      assert.deepEqual(
        (await registry.instances('billing')).map((i) => i.id),
        [id],
      );
      assert.equal((await registry.pick('billing')).address, 'http://10.0.0.1:3000');
      await closeModule(registered);
      assert.deepEqual(await registry.instances('billing'), []);
    });

    it('elections: join, observe, a hand-over on leave', async () => {
      const seen: (string | null)[] = [];
      const watching = b.elections
        .observe('sweeper')
        .subscribe(({ leader }) => void seen.push(leader));
      const first = await a.elections.join('sweeper', { leaseMs: 60_000 });
      const second = await b.elections.join('sweeper', { leaseMs: 60_000 });
      assert.equal(first.isLeader, true);
      await eventually('a seen leading', () => seen.at(-1) === a.elections.instanceId);
      const term = first.term!;
      await first.leave();
      await eventually('b elected', () => second.isLeader);
      await eventually('b seen leading', () => seen.at(-1) === b.elections.instanceId);
      assert.ok(second.term! > term);
      watching.unsubscribe();
      await second.leave();
    });

    it('health checks', async () => {
      assert.equal((await a.health.isHealthy('redis')).redis?.status, 'up');
      await a.queue.add('health', 'waiting');
      const backlog = await a.health.queueBacklog('health', 'health', { maxWaitingMs: 60_000 });
      assert.equal(backlog.health?.status, 'up');
      assert.equal((await a.health.leaderElected('sweeper', 'sweeper')).sweeper?.status, 'down');
      // An entry deleted after the group's position: Redis cannot tell the lag, so it is counted.
      const unsubscribe = await a.pubsub.subscribe('health', () => undefined, { group: 'lag' });
      await unsubscribe();
      const ids = [];
      for (const n of [1, 2, 3]) ids.push(await a.pubsub.publish('health', n, { durable: true }));
      await admin.xdel('coord:{pubsub:health}:stream', ids[1]!);
      assert.deepEqual(await a.health.durableGroupLag('lag', 'health', 'lag', { maxLag: 5 }), {
        lag: { status: 'up', lag: 2, pending: 0 },
      });
    });

    it('logged no NOPERM and no warning but for the failures made on purpose; Redis refused nothing; every grant was used', async () => {
      await closeModule(a.moduleRef);
      await closeModule(b.moduleRef);
      const all = logger.entries.map(({ level, text }) => `${level}: ${text}`);
      assert.deepEqual(
        all.filter((line) => /NOPERM|no permissions/i.test(line)),
        [],
      );
      assert.deepEqual(
        logger.entries
          .filter(({ level }) => level !== 'log')
          .filter(({ text }) => !expectedFailures.some((failure) => text.includes(failure)))
          .map(({ level, text }) => `${level}: ${text}`),
        [],
      );
      assert.equal(server.cli('ACL', 'LOG'), '', 'ACL LOG is empty');
      // Surplus grants: each one ran, or is called by a script in a branch the run did not take.
      const ran = new Set(
        [...(await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)]
          .filter(([, , calls]) => Number(calls) > 0)
          .map(([, name]) => name!),
      );
      const inScripts = new Set(
        Object.values(SCRIPT_FOLDERS).flatMap((folder) => [
          ...scriptCommands(folder, acl.bySubcommand),
        ]),
      );
      assert.deepEqual(
        [...acl.grants].filter((grant) => !ran.has(grant) && !inScripts.has(grant)),
        [],
        'granted but never sent',
      );
    });
  });
});
