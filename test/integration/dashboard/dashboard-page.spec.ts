import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { chromium, type BrowserContext } from 'playwright-core';
import { RedisLockService, SemaphoreService } from '../../../lib/index.js';
import { useTestRedis } from '../../support/hooks.js';
import { eventually } from '../../support/eventually.js';
import {
  closeDashboardAppsAfterEach,
  OPERATOR,
  QUEUE,
  startDashboardApp,
} from './dashboard-app.js';

// Debian's chromium (tools/ensure-chromium.mjs installs it for `npm test`); playwright-core's
// own browser download cannot be fetched everywhere.
const CHROMIUM = '/usr/bin/chromium';
const describeWithChromium = existsSync(CHROMIUM) ? describe : describe.skip;
if (!existsSync(CHROMIUM)) {
  console.warn(
    `${CHROMIUM} not found: the dashboard page test is skipped (run tools/ensure-chromium.mjs)`,
  );
}
// The README's screenshot is taken again only on request (UPDATE_SCREENSHOT=1), so a test run
// leaves the working tree as it was.
const screenshot = process.env.UPDATE_SCREENSHOT
  ? fileURLToPath(new URL('../../../docs/dashboard.png', import.meta.url))
  : join(tmpdir(), `coordination-dashboard-${process.pid}.png`);
const XSS = '<img src=x onerror=globalThis.__xss=1>';

describeWithChromium('CoordinationDashboardModule page in Chromium', () => {
  const redis = useTestRedis();
  closeDashboardAppsAfterEach();
  let profile: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      extraHTTPHeaders: OPERATOR,
      // Without the background-networking flags Chromium keeps calling home on a closed network.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(profile, { recursive: true, force: true });
    if (!process.env.UPDATE_SCREENSHOT) rmSync(screenshot, { force: true });
  });

  it('shows a dead job with its error, runs it again on Retry, and never runs markup from job data', async () => {
    const app = await startDashboardApp(redis.url, {
      guard: { canActivate: () => true },
      sampleEveryMs: 500,
    });
    await app.queue.add(QUEUE, { to: 'ops@example.com' }, { jobId: 'welcome-42' });
    await app.queue.add(QUEUE, { note: XSS }, { jobId: 'hostile' });
    for (const id of ['welcome-42', 'hostile']) {
      await eventually(
        `job ${id} is dead`,
        async () => (await app.queue.getJob(QUEUE, id))?.state === 'dead',
      );
    }
    // For the screenshot: a scheduler and a held lock.
    await app.queue.upsertScheduler(QUEUE, 'weekly-digest', { everyMs: 7 * 24 * 3600_000 });
    const lock = await app.app.get(RedisLockService).acquire('invoice:7', { ttlMs: 60_000 });
    const page = await browser.newPage();
    await page.goto(app.url);

    const row = page.locator('tr', { hasText: 'welcome-42' });
    await row.waitFor();
    assert.match(
      await row.innerText(),
      /#1 at .*: Error: first run fails for \{"to":"ops@example\.com"\}/,
    );
    // The hostile job's data and error are shown as text: no element made of them, nothing ran.
    const hostile = page.locator('tr', { hasText: 'hostile' });
    assert.ok((await hostile.innerText()).includes(XSS));
    assert.equal(await page.locator('main img').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as { __xss?: number }).__xss), undefined);

    await eventually('the chart has points', async () =>
      (await page.locator('svg.chart polyline').first().getAttribute('points'))!.includes(' '),
    );
    mkdirSync(join(screenshot, '..'), { recursive: true });
    await page.locator('#locks td', { hasText: 'invoice:7' }).waitFor();
    await page.screenshot({ path: screenshot, fullPage: true });
    assert.ok(statSync(screenshot).size > 10_000, 'a screenshot of the page was saved');
    await lock.release();

    await row.getByRole('button', { name: 'Retry' }).click();
    await eventually(
      'the retried job completed',
      async () => (await app.queue.getJob(QUEUE, 'welcome-42'))?.state === 'completed',
    );
    assert.ok(app.worker.completed.has('welcome-42'));
    await page.locator('#status', { hasText: 'Done: retry job welcome-42' }).waitFor();
    await page.locator('tr', { hasText: 'welcome-42' }).waitFor({ state: 'detached' });

    // Remove asks first: dismissed, nothing is sent.
    const remove = hostile.getByRole('button', { name: 'Remove' });
    const questions: string[] = [];
    page.once('dialog', (dialog) => void (questions.push(dialog.message()), dialog.dismiss()));
    await remove.click();
    assert.deepEqual(questions, ['Remove dead job hostile for good?']);
    assert.equal((await app.queue.getJob(QUEUE, 'hostile'))?.state, 'dead');
    // Accepted: sent, its button disabled until the answer comes.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    await page.route('**/remove', async (route) => {
      await answered;
      await route.continue();
    });
    page.once('dialog', (dialog) => void dialog.accept());
    await remove.click();
    assert.equal(await remove.isDisabled(), true, 'disabled while in flight');
    answer();
    await page.locator('#status', { hasText: 'Done: remove job hostile' }).waitFor();
    assert.equal(await app.queue.getJob(QUEUE, 'hostile'), undefined);
    await page.close();
  });

  it('asks for one overview at a time, the next once it is answered, and none while hidden', async () => {
    const app = await startDashboardApp(redis.url, {
      guard: { canActivate: () => true },
      semaphores: [{ name: 'pdf-renders', limit: 4 }],
    });
    // A section that cannot be read shows its error; the others are drawn.
    const permit = await app.app.get(SemaphoreService).acquire('pdf-renders', { limit: 2 });
    const page = await browser.newPage();
    // The page's timers run only when the test says (runFor), and its overview requests are
    // counted as the page sends them.
    await page.clock.install();
    await page.addInitScript(() => {
      const scope = globalThis as unknown as { fetch: typeof fetch; overviews: number };
      const { fetch: send } = scope;
      scope.overviews = 0;
      scope.fetch = (input, init) => {
        if (String(input).endsWith('api/overview')) scope.overviews += 1;
        return send(input, init);
      };
    });
    const sent = () => page.evaluate(() => (globalThis as { overviews?: number }).overviews);
    const setHidden = (hidden: boolean) =>
      page.evaluate((value) => {
        const scope = globalThis as unknown as { document: EventTarget };
        Object.defineProperty(scope.document, 'hidden', { configurable: true, get: () => value });
        scope.document.dispatchEvent(new Event('visibilitychange'));
      }, hidden);
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    await page.route('**/api/overview', async (route) => {
      await answered;
      await route.continue();
    });
    await page.goto(app.url);
    await eventually('the first overview is asked for', async () => (await sent()) === 1);

    await page.clock.runFor(10_000);
    assert.equal(await sent(), 1, 'none more while the first is unanswered');
    answer();
    await page.locator('#updated', { hasText: 'Updated' }).waitFor();
    assert.match(
      await page.locator('#semaphores').innerText(),
      /Could not read: Semaphore "pdf-renders" is in use with limit 2, not 4/,
    );
    assert.equal(await page.locator(`#queues [data-queue="${QUEUE}"]`).count(), 1);
    await permit.release();
    await page.clock.runFor(3_000);
    await eventually('the next overview, 3 s after', async () => (await sent()) === 2);

    await setHidden(true);
    await page.clock.runFor(10_000);
    assert.equal(await sent(), 2, 'none while hidden');
    await setHidden(false);
    assert.equal(await sent(), 3, 'one as soon as it shows again');

    // How the page writes durations, counts and moments (its functions are the script's globals).
    const formatted = await page.evaluate(() => {
      const scope = globalThis as unknown as Record<string, (value: number) => string>;
      const day = 86_400_000;
      const now = Date.now();
      return {
        durations: [850, 4200, 200_000, 3_600_000, 2 * day + 5 * 3_600_000 + 60_000].map((ms) =>
          scope.duration!(ms),
        ),
        count: scope.count!(1_234_567),
        today: scope.when!(now),
        yesterday: scope.when!(now - day),
        formats: [new Date(now).toLocaleTimeString(), new Date(now - day).toLocaleString()],
      };
    });
    assert.deepEqual(formatted.durations, ['850 ms', '4.2 s', '3 m 20 s', '1 h', '2 d 5 h']);
    assert.equal(formatted.count, '1,234,567');
    assert.deepEqual([formatted.today, formatted.yesterday], formatted.formats);
    await page.close();
  });
});
