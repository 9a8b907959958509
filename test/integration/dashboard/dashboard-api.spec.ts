import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import {
  CoordinationDashboardModule,
  DashboardOptionsError,
  LeaderElectionService,
  PubSubService,
  RedisLockService,
  SemaphoreService,
  type DashboardOverview,
} from '../../../lib/index.js';
import { useTestRedis } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';
import {
  ACTION,
  closeDashboardAppsAfterEach,
  OPERATOR,
  OperatorGuard,
  QUEUE,
  startDashboardApp,
  type DashboardApp,
} from './dashboard-app.js';

describe('CoordinationDashboardModule API', () => {
  const redis = useTestRedis();
  closeDashboardAppsAfterEach();

  async function overview(app: DashboardApp): Promise<DashboardOverview> {
    const response = await fetch(`${app.url}/api/overview`, { headers: OPERATOR });
    assert.equal(response.status, 200);
    // Parsed here: the fetch's own json() makes objects of another realm than jest's.
    return JSON.parse(await response.text()) as DashboardOverview;
  }

  /** Adds a job and waits until its first run failed it into the dead-letter list. */
  async function deadJob(
    app: DashboardApp,
    data: unknown = { to: 'a@example.com' },
  ): Promise<string> {
    const id = await app.queue.add(QUEUE, data);
    await eventually(
      'the job is dead',
      async () => (await app.queue.getJob(QUEUE, id))?.state === 'dead',
    );
    return id;
  }

  it('refuses to be mounted without a guard or an explicit unguarded: true', () => {
    assert.throws(
      () => CoordinationDashboardModule.register({}),
      (error: unknown) =>
        error instanceof DashboardOptionsError && /no guard: pass `guard`/.test(error.message),
    );
    assert.doesNotThrow(() => CoordinationDashboardModule.register({ unguarded: true }));
  });

  it("answers 403 on the page, the API and the actions when the user's guard says no", async () => {
    const app = await startDashboardApp(redis.url, { guard: { canActivate: () => false } });
    const id = await deadJob(app);
    for (const [path, init] of [
      ['', {}],
      ['/dashboard.js', {}],
      ['/dashboard.css', {}],
      ['/api/overview', {}],
      [`/api/queues/${QUEUE}/jobs/${id}/retry`, { method: 'POST', headers: ACTION, body: '{}' }],
      [`/api/queues/${QUEUE}/jobs/${id}/remove`, { method: 'POST', headers: ACTION, body: '{}' }],
      [`/api/queues/${QUEUE}/pause`, { method: 'POST', headers: ACTION, body: '{}' }],
      [`/api/queues/${QUEUE}/resume`, { method: 'POST', headers: ACTION, body: '{}' }],
    ] as const) {
      const response = await fetch(`${app.url}${path}`, init);
      assert.equal(response.status, 403, `${path}: ${response.status}`);
    }
    assert.equal((await app.queue.getJob(QUEUE, id))?.state, 'dead');
    assert.equal((await app.queue.counts(QUEUE)).paused, false);
  });

  it('serves the page, its script and its style behind a guard that lets the operator in', async () => {
    const app = await startDashboardApp(redis.url);
    assert.equal((await fetch(app.url)).status, 403);
    const page = await fetch(app.url, { headers: OPERATOR });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    // Relative: right behind a proxy that strips a prefix too.
    assert.match(await page.text(), /<base href="\.\/coordination\/" \/>/);
    const withSlash = await fetch(`${app.url}/?view=1`, { headers: OPERATOR });
    assert.match(await withSlash.text(), /<base href="\.\/" \/>/);
    const script = await fetch(`${app.url}/dashboard.js`, { headers: OPERATOR });
    assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(await script.text(), /createTextNode/);
  });

  it('retries a dead job only with the action header and a JSON body type (CSRF)', async () => {
    const app = await startDashboardApp(redis.url);
    const id = await deadJob(app);
    const retry = `${app.url}/api/queues/${QUEUE}/jobs/${id}/retry`;

    // What a cross-site form can send: no custom header, a form body type.
    const form = await fetch(retry, {
      method: 'POST',
      headers: { ...OPERATOR, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    assert.equal(form.status, 403);
    assert.match(((await form.json()) as { message: string }).message, /x-coordination-dashboard/);
    const wrongType = await fetch(retry, {
      method: 'POST',
      headers: { ...ACTION, 'content-type': 'text/plain' },
      body: '{}',
    });
    assert.equal(wrongType.status, 415);
    assert.equal((await fetch(retry, { headers: ACTION })).status, 404, 'no GET route acts');
    assert.equal((await app.queue.getJob(QUEUE, id))?.state, 'dead');

    const accepted = await fetch(retry, { method: 'POST', headers: ACTION, body: '{}' });
    assert.equal(accepted.status, 200);
    await eventually(
      'the retried job completed',
      async () => (await app.queue.getJob(QUEUE, id))?.state === 'completed',
    );
    assert.ok(app.worker.completed.has(id));
  });

  it('refuses actions from another site even when CORS lets every origin in with credentials', async () => {
    const app = await startDashboardApp(redis.url, undefined, (nest) =>
      nest.enableCors({ origin: true, credentials: true }),
    );
    const id = await deadJob(app);
    const post = (path: string, headers: Record<string, string>) =>
      fetch(`${app.url}/api/queues/${QUEUE}/${path}`, {
        method: 'POST',
        headers: { ...ACTION, ...headers },
        body: '{}',
      });
    const own = new URL(app.url).origin;

    // The preflight another site's page would make is approved: only the guard stands in the way.
    const preflight = await fetch(`${app.url}/api/queues/${QUEUE}/pause`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'x-coordination-dashboard,content-type',
      },
    });
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://evil.example');
    for (const headers of [
      { origin: 'https://evil.example' } as Record<string, string>,
      { origin: own.replace('127.0.0.1', 'localhost') },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: own },
    ]) {
      for (const path of [`jobs/${id}/retry`, `jobs/${id}/remove`, 'pause']) {
        const refused = await post(path, headers);
        assert.equal(refused.status, 403, `${path} ${JSON.stringify(headers)}`);
        assert.match(
          ((await refused.json()) as { message: string }).message,
          /only from the dashboard's own origin/,
        );
      }
    }
    assert.equal((await app.queue.getJob(QUEUE, id))?.state, 'dead');
    assert.equal((await app.queue.counts(QUEUE)).paused, false);

    // The page's own requests: same origin (any scheme: a TLS proxy may stand in front).
    const sameOrigin = { origin: own, 'sec-fetch-site': 'same-origin' };
    assert.equal((await post('pause', sameOrigin)).status, 200);
    assert.equal((await post('resume', { origin: own.replace('http:', 'https:') })).status, 200);
    assert.equal((await post(`jobs/${id}/retry`, sameOrigin)).status, 200);
    await eventually(
      'the retried job completed',
      async () => (await app.queue.getJob(QUEUE, id))?.state === 'completed',
    );
  });

  it('removes a dead job, pauses and resumes the queue, and maps library errors to 4xx', async () => {
    const app = await startDashboardApp(redis.url);
    const id = await deadJob(app);
    const post = (path: string) =>
      fetch(`${app.url}/api/queues/${path}`, { method: 'POST', headers: ACTION, body: '{}' });

    assert.equal((await post(`${QUEUE}/jobs/${id}/remove`)).status, 200);
    assert.equal(await app.queue.getJob(QUEUE, id), undefined);
    const gone = await post(`${QUEUE}/jobs/${id}/retry`);
    assert.equal(gone.status, 404);
    assert.match(((await gone.json()) as { message: string }).message, new RegExp(`Job ${id}`));
    assert.equal((await post(`other-queue/pause`)).status, 404, 'only shown queues');

    assert.equal((await post(`${QUEUE}/pause`)).status, 200);
    assert.equal((await app.queue.counts(QUEUE)).paused, true);
    assert.equal((await overview(app)).queues[0]?.counts.paused, true);
    await app.queue.add(QUEUE, 'waits while paused');
    const { oldestWaitingMs } = (await overview(app)).queues[0]!;
    assert.ok(typeof oldestWaitingMs === 'number' && oldestWaitingMs >= 0, String(oldestWaitingMs));
    assert.equal((await post(`${QUEUE}/resume`)).status, 200);
    assert.equal((await app.queue.counts(QUEUE)).paused, false);
  });

  it('lists the queue with its dead jobs (errors, attempts), held locks with their waiters', async () => {
    const app = await startDashboardApp(redis.url);
    const id = await deadJob(app, { to: 'b@example.com' });
    const locks = app.app.get(RedisLockService);
    const held = await locks.acquire('report:{2024}', { ttlMs: 60_000 });
    const waiting = locks.acquire('report:{2024}', { ttlMs: 60_000, waitMs: 60_000 });

    await eventually('the waiter is queued', async () => {
      const { locks: listed } = await overview(app);
      return listed.held.some((lock) => lock.waiters === 1);
    });
    const view = await overview(app);
    const queue = view.queues.find((q) => q.name === QUEUE)!;
    assert.equal(queue.counts.dead, 1);
    assert.equal(queue.oldestWaitingMs, null, 'none waits');
    assert.deepEqual(
      queue.dead.map((job) => [job.id, job.lastError, job.history.map((a) => a.attempt)]),
      [[id, 'Error: first run fails for {"to":"b@example.com"}', [1]]],
    );
    const [lock] = view.locks.held;
    assert.equal(lock?.resource, 'report:{2024}');
    assert.equal(lock?.mode, 'write');
    assert.equal(lock?.fencingToken, held.fencingToken);
    assert.equal(lock?.holders.length, 1);
    assert.ok(lock!.expiresInMs > 0 && lock!.expiresInMs <= 60_000, String(lock?.expiresInMs));

    await held.release();
    await (await waiting).release();
    assert.deepEqual((await overview(app)).locks.held, []);
  });

  it('lists read locks by their live leases only, not by how long their key lives', async () => {
    const app = await startDashboardApp(redis.url);
    const locks = app.app.get(RedisLockService);
    const redisNow = async () => {
      const [seconds, micros] = await redis.client.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    // The readers key lives as long as the longest lease it held (it is never shortened): once
    // the long reader left, it lives a minute more, holding only the short lease, which lapses.
    const long = await locks.acquire('doc', { mode: 'read', ttlMs: 60_000 });
    await locks.acquire('doc', { mode: 'read', ttlMs: 50 });
    const endsBy = (await redisNow()) + 50;
    await long.release();
    // Watched on Redis's clock: isLocked() would drop the lapsed reader (as every script does).
    await eventually('the short read lease lapsed', async () => (await redisNow()) > endsBy);
    assert.deepEqual((await overview(app)).locks.held, []);

    const reader = await locks.acquire('doc', { mode: 'read', ttlMs: 20_000 });
    const [lock, ...others] = (await overview(app)).locks.held;
    assert.deepEqual(others, []);
    assert.equal(lock?.mode, 'read');
    assert.equal(lock?.holders.length, 1);
    assert.ok(lock.expiresInMs > 0 && lock.expiresInMs <= 20_000, String(lock.expiresInMs));
    await reader.release();
  });

  it('counts throughput from queue events, which stay correct when completed jobs are trimmed', async () => {
    const app = await startDashboardApp(redis.url, {
      guard: { canActivate: () => true },
      sampleEveryMs: 100,
      // A window of 1000 s: the 3 completions stay in it however slow the machine.
      samples: 10_000,
    });
    // Each job dies once, then completes on retry: 3 dead, 3 completed in all.
    for (const data of [1, 2, 3]) await app.queue.retryDead(QUEUE, [await deadJob(app, data)]);
    await eventually('3 completions charted', async () => {
      const [queue] = (await overview(app)).queues;
      const sum = (field: 'completed' | 'dead') =>
        queue!.throughput.reduce((total, sample) => total + sample[field], 0);
      return sum('completed') === 3 && sum('dead') === 3;
    });
  });

  it('shows a section that cannot be read with its error, and the others as they are', async () => {
    const app = await startDashboardApp(redis.url, {
      guard: OperatorGuard,
      semaphores: [{ name: 'pdf-renders', limit: 4 }],
    });
    const permit = await app.app.get(SemaphoreService).acquire('pdf-renders', { limit: 2 });
    const id = await deadJob(app);

    const seen = await overview(app);
    assert.equal(seen.errors.semaphores?.code, 'SEMAPHORE_LIMIT_MISMATCH');
    assert.match(seen.errors.semaphores.message, /in use with limit 2, not 4/);
    assert.deepEqual(seen.semaphores, []);
    assert.deepEqual(Object.keys(seen.errors), ['semaphores']);
    assert.deepEqual(
      seen.queues.map((queue) => [queue.name, queue.dead.map((job) => job.id)]),
      [[QUEUE, [id]]],
    );
    await permit.release();
    const drained = await overview(app);
    assert.deepEqual(drained.errors, {});
    assert.deepEqual(drained.semaphores, [{ name: 'pdf-renders', limit: 4, available: 4 }]);
  });

  it('lists durable channels with their groups (lag, pending) and elections with their leader', async () => {
    const app = await startDashboardApp(redis.url, {
      guard: OperatorGuard,
      channels: ['orders'],
      elections: ['sweeper', 'nobody'],
    });
    const pubsub = app.app.get(PubSubService);
    const elections = app.app.get(LeaderElectionService);
    const off = await pubsub.subscribe('orders', () => undefined, { group: 'billing' });
    await off();
    await pubsub.publish('orders', 1, { durable: true });
    await pubsub.publish('orders', 2, { durable: true });
    const election = await elections.join('sweeper');

    const seen = await overview(app);
    const [orders] = seen.channels;
    assert.equal(orders?.name, 'orders');
    assert.deepEqual(
      orders?.groups.map(({ group, lag, pending }) => ({ group, lag, pending })),
      [{ group: 'billing', lag: 2, pending: 0 }],
    );
    assert.deepEqual(seen.elections, [
      { name: 'sweeper', state: { leader: elections.instanceId, term: election.term } },
      { name: 'nobody', state: { leader: null, term: null } },
    ]);
    await election.leave();
  });
});
