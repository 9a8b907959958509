import { INVOICE_RENDERS, type RenderedInvoice } from './invoices/invoice-renderer.js';

/**
 * The two-instance scenario, run against instances at `baseUrls` (processes from `duo.ts`, or
 * in-process apps in the e2e test): 200 concurrent orders for a product with stock 50, spread
 * over the instances, then checks of everything the library promises.
 */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const PRODUCT = 'lamp';
const STOCK = 50;
const ORDERS = 200;
const CLIENTS = 40; // 5 orders each: under the limit of 10 per window
const INVOICES = 8; // invoice renders sent at once
const INVOICE_LIMIT = INVOICE_RENDERS.limit;

export async function runDuoScenario(
  baseUrls: string[],
  log: (line: string) => void = () => {},
): Promise<Check[]> {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
  };
  const url = (i: number, path: string) => `${baseUrls[i % baseUrls.length]}${path}`;

  await post(url(0, `/products/${PRODUCT}/reset`), {});
  const before = await Promise.all(baseUrls.map((_, i) => getJson(url(i, `/products/${PRODUCT}`))));
  check(
    'every instance sees the reset stock',
    before.every((b) => b.product.stock === STOCK),
    before.map((b) => b.product.stock).join(', '),
  );

  log(
    `placing ${ORDERS} orders for "${PRODUCT}" (stock ${STOCK}) over ${baseUrls.length} instances...`,
  );
  const order = (i: number) =>
    post(
      url(i, '/orders'),
      { productId: PRODUCT, quantity: 1 },
      { 'x-client-id': `client-${i % CLIENTS}` },
    );
  // The first round, one order per instance in turn, so every instance places some whatever the
  // scheduling of the concurrent rest (which one wins each race is up to the machine).
  const responses = [];
  for (let i = 0; i < baseUrls.length; i++) responses.push(await order(i));
  responses.push(
    ...(await Promise.all(
      Array.from({ length: ORDERS - baseUrls.length }, (_, i) => order(i + baseUrls.length)),
    )),
  );
  const byStatus = new Map<number, number>();
  for (const r of responses) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
  const accepted = responses.filter((r) => r.status === 201);
  const summary = [...byStatus].map(([status, n]) => `${n}×${status}`).join(', ');
  check(`exactly ${STOCK} orders accepted`, accepted.length === STOCK, summary);
  check('the rest refused as out of stock (409)', byStatus.get(409) === ORDERS - STOCK, summary);
  const servers = new Set(accepted.map((r) => (r.body as { placedBy: string }).placedBy));
  check(
    'orders were placed through every instance',
    servers.size === baseUrls.length,
    [...servers].join(', '),
  );

  const after = await eventually(
    () => Promise.all(baseUrls.map((_, i) => getJson(url(i, `/products/${PRODUCT}`)))),
    (views) => views.every((v) => v.product.stock === 0),
  );
  check(
    "stock is 0, never negative, and every instance's cache shows it",
    after.every((v) => v.product.stock === 0),
    after.map((v) => `${v.servedBy}: ${v.product.stock} (${v.cache})`).join('; '),
  );

  const ids = accepted.map((r) => (r.body as { id: string }).id);
  const statuses = await eventually(
    () => Promise.all(ids.map((id, i) => getJson(url(i, `/orders/${id}`)))),
    (all) => all.every((s) => s.confirmations >= 1 && s.billed >= 1),
  );
  check(
    'every confirmation job done exactly once',
    statuses.every((s) => s.confirmations === 1),
    countValues(statuses.map((s) => s.confirmations)),
  );
  check(
    "every confirmation job is completed, with its handler's result, as any instance sees it",
    statuses.every(
      (s) => s.confirmation?.state === 'completed' && s.confirmation.result?.confirmedBy,
    ),
    countValues(statuses.map((s) => s.confirmation?.state ?? 'missing')),
  );
  check(
    'billing (durable group) recorded every order once',
    statuses.every((s) => s.billed === 1),
    countValues(statuses.map((s) => s.billed)),
  );

  const limited = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      post(url(i, '/orders'), { productId: 'mug', quantity: 1 }, { 'x-client-id': 'eager-client' }),
    ),
  );
  const tooMany = limited.filter((r) => r.status === 429);
  check(
    'rate limit holds across instances (10 per window per client)',
    limited.filter((r) => r.status === 201).length === 10 &&
      tooMany.length === 2 &&
      tooMany.every((r) => Number(r.headers.get('retry-after')) >= 1),
    `${limited.filter((r) => r.status === 201).length} accepted, ${tooMany.length}×429 with Retry-After ${tooMany.map((r) => r.headers.get('retry-after')).join(',')}`,
  );
  // The instances find each other in the registry, at the addresses they listen on.
  const views = await eventually(
    () => Promise.all(baseUrls.map((_, i) => getJson(url(i, '/peers')))),
    (all) => all.every((v) => v.peers.length === baseUrls.length),
  );
  const expected = baseUrls.map((u) => u.replace('localhost', '127.0.0.1')).sort();
  check(
    'every instance finds all the others in the service registry',
    views.every((v) => JSON.stringify(v.peers) === JSON.stringify(expected)),
    views.map((v) => `${v.servedBy}: ${v.peers.join(' ')}`).join('; '),
  );

  // One instance leads "sales-report": it alone compiles the report every second, and every
  // instance knows which one leads.
  const leaders = await eventually(
    () => Promise.all(baseUrls.map((_, i) => getJson(url(i, '/leader')))),
    (all) =>
      all.every((v) => v.leader !== null && v.leader === all[0].leader && v.report !== null) &&
      all.some((v) => v.isLeader && v.compiledHere > 0),
  );
  const leading = leaders.filter((v) => v.isLeader);
  check(
    'exactly one instance leads, and every instance agrees which one and its term',
    leading.length === 1 &&
      leaders.every((v) => v.leader === leading[0].me && v.term === leading[0].term),
    leaders
      .map((v) => `${v.servedBy}: ${v.isLeader ? 'leads' : 'follows'} ${v.leader} (term ${v.term})`)
      .join('; '),
  );
  check(
    'the leader-only sweeper ran on the leader and nowhere else',
    leading.length === 1 &&
      leaders.every((v) => (v.isLeader ? v.compiledHere > 0 : v.compiledHere === 0)) &&
      leaders.every((v) => v.report.compiledBy === leading[0].servedBy),
    leaders
      .map((v) => `${v.servedBy}: compiled ${v.compiledHere}, serves ${v.report?.compiledBy}'s`)
      .join('; '),
  );

  // More invoice renders at once than the semaphore's 2 permits, over both instances.
  const renders = await Promise.all(
    ids.slice(0, INVOICES).map((id, i) => get(url(i, `/orders/${id}/invoice`))),
  );
  const rendered = renders.filter((r) => r.status === 200).map((r) => r.body as RenderedInvoice);
  const busy = renders.filter((r) => r.status === 409);
  const atOnce = rendered.map((r) => r.rendersAtOnce);
  check(
    `at most ${INVOICE_LIMIT} invoices render at once over all instances, the others refused (409)`,
    rendered.length + busy.length === INVOICES &&
      rendered.length >= 1 &&
      busy.length >= 1 &&
      atOnce.every((n) => n <= INVOICE_LIMIT),
    `${rendered.length}×200 (renders at once: ${atOnce.join(', ')}), ${busy.length}×409, ${renders.length - rendered.length - busy.length} other`,
  );
  const again = await get(url(1, `/orders/${ids[0]}/invoice`));
  check(
    'the permits are free again once the renders are done',
    again.status === 200,
    `render → ${again.status}`,
  );

  // A live setting changed through one instance is in force on every other one.
  const closed = await put(url(0, '/settings'), { ordersOpen: false });
  const closedEverywhere = await eventually(
    () => Promise.all(baseUrls.map((_, i) => getJson(url(i, '/settings')))),
    (views) => views.every((v) => v.version === closed.version),
  );
  const refused = await post(url(1, '/orders'), { productId: 'mug', quantity: 1 });
  await put(url(1, '/settings'), { ordersOpen: true });
  check(
    'a setting changed on one instance is in force on the others (orders closed: 503)',
    closedEverywhere.every((v) => v.settings.ordersOpen === false) && refused.status === 503,
    `${closedEverywhere.map((v) => `${v.servedBy}: v${v.version} open=${v.settings.ordersOpen}`).join('; ')}; order → ${refused.status}`,
  );

  // Near cache: instance 1 keeps the mug in memory for 30 s; a price change through instance 0
  // evicts the product's tag, which reaches instance 1's memory over the invalidation channel.
  await getJson(url(1, '/products/mug'));
  const kept = await getJson(url(1, '/products/mug'));
  const price = 1000 + (Date.now() % 1000);
  await put(url(0, '/products/mug/price'), { priceCents: price });
  const seen = await eventually(
    () => getJson(url(1, '/products/mug')),
    (view) => view.product.priceCents === price,
    2000,
  );
  check(
    'a price changed through one instance is served by the other within 2 s (its near cache keeps products 30 s)',
    kept.cache === 'hit' && seen.product.priceCents === price,
    `before: ${kept.product.priceCents} (${kept.cache}); after: ${seen.product.priceCents} (${seen.cache})`,
  );

  const health = await Promise.all(baseUrls.map((_, i) => getJson(url(i, '/health'))));
  check(
    'health is ok on every instance',
    health.every((h) => h.status === 'ok'),
    health.map((h) => h.status).join(', '),
  );
  return checks;
}

interface HttpResult {
  status: number;
  body: unknown;
  headers: Headers;
}

function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

function get(url: string): Promise<HttpResult> {
  return send(url, { method: 'GET' });
}

async function send(url: string, init: RequestInit): Promise<HttpResult> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: await response.json().catch(() => undefined),
    headers: response.headers,
  };
}

/** PUTs JSON and returns the reply's JSON (the settings endpoint answers `{ version }`). */
async function put(url: string, body: unknown): Promise<{ version: number }> {
  const response = await fetch(url, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`PUT ${url}: ${response.status}`);
  return response.json() as Promise<{ version: number }>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loosely typed JSON of the sample's own API
async function getJson(url: string): Promise<any> {
  const response = await fetch(url);
  return response.json();
}

/** Polls `read` until `done` holds (asynchronous effects: eviction messages, queue, billing), 30 s at most. */
async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  withinMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function countValues(values: number[]): string {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([value, n]) => `${n} order(s) × ${value}`).join(', ');
}
