import type { CanActivate, Type } from '@nestjs/common';
import { describeValue } from '../common/coordination.error.js';
import { collectProblems } from '../common/validate.js';
import { assertName } from '../common/validate.js';
import { DashboardOptionsError } from './dashboard.errors.js';

/** A Nest guard, as `@UseGuards()` takes it: a class (built by Nest, with its dependencies) or an instance. */
export type DashboardGuard = CanActivate | Type<CanActivate>;

/** A semaphore to show: its name and its permit count (every caller gives the same). */
export interface DashboardSemaphore {
  name: string;
  limit: number;
}

/** Options of `CoordinationDashboardModule.register()`. */
export interface CoordinationDashboardOptions {
  /** Where the page is served; the JSON API is under `<path>/api`. @default 'coordination' */
  path?: string;
  /**
   * Who may see and act: a Nest guard run before every route of the dashboard (page, API and
   * actions). Required unless `unguarded: true`.
   */
  guard?: DashboardGuard;
  /** Serve the dashboard to anyone who reaches the app: for local use only. @default false */
  unguarded?: boolean;
  /** Queues to show besides those with `@QueueWorker`/`@QueueScheduler` handlers in the app. */
  queues?: string[];
  /** Durable channels to show besides those with `@OnMessage(channel, { group })` handlers. */
  channels?: string[];
  /** Elections to show. */
  elections?: string[];
  /** Semaphores to show, with their limits. */
  semaphores?: DashboardSemaphore[];
  /** Registry services to show besides this app's own (module option `registry`). */
  services?: string[];
  /** How often queue throughput and backlog are sampled for the chart (ms, 100 to an hour). @default 5000 */
  sampleEveryMs?: number;
  /** How many samples the chart keeps (2 to 10000; at the default interval, 60 are 5 minutes). @default 60 */
  samples?: number;
}

/** Checked options with their defaults. */
export interface ResolvedDashboardOptions {
  readonly path: string;
  readonly guards: readonly DashboardGuard[];
  readonly queues: readonly string[];
  readonly channels: readonly string[];
  readonly elections: readonly string[];
  readonly semaphores: readonly DashboardSemaphore[];
  readonly services: readonly string[];
  readonly sampleEveryMs: number;
  readonly samples: number;
}

export const DEFAULT_DASHBOARD_OPTIONS = Object.freeze({
  path: 'coordination',
  sampleEveryMs: 5000,
  samples: 60,
});

/** Longest sampling interval: an hour (a timer of over 2^31 ms would fire at once). */
const MAX_SAMPLE_EVERY_MS = 3_600_000;

const KNOWN = new Set<string>([
  'path',
  'guard',
  'unguarded',
  'queues',
  'channels',
  'elections',
  'semaphores',
  'services',
  'sampleEveryMs',
  'samples',
]);

/** Checks the options, throwing {@link DashboardOptionsError} with every problem found. */
export function resolveDashboardOptions(input: unknown): ResolvedDashboardOptions {
  if (input === null || typeof input !== 'object') {
    throw new DashboardOptionsError([`expected an options object, got ${describeValue(input)}`]);
  }
  const options = input as CoordinationDashboardOptions;
  const problems: string[] = Object.keys(options)
    .filter((key) => !KNOWN.has(key))
    .map((key) => `unknown option "${key}"`);
  const { guard, unguarded = false } = options;
  if (guard === undefined && unguarded !== true) {
    problems.push(
      'no guard: pass `guard` (a Nest guard that lets only operators in), or `unguarded: true` for local use; the dashboard can retry, remove and pause jobs',
    );
  }
  if (guard !== undefined && unguarded === true) {
    problems.push('both `guard` and `unguarded: true` given: keep one');
  }
  if (
    guard !== undefined &&
    typeof guard !== 'function' &&
    typeof guard?.canActivate !== 'function'
  ) {
    problems.push(
      `guard must be a guard class or an object with canActivate(), got ${describeValue(guard)}`,
    );
  }
  const path = options.path ?? DEFAULT_DASHBOARD_OPTIONS.path;
  if (typeof path !== 'string' || !/^\/?[\w\-./]*$/.test(path)) {
    problems.push(
      `path must be a URL path of letters, digits, "-", "_", "." and "/", got ${describeValue(path)}`,
    );
  } else {
    const segments = path.split('/').filter((segment) => segment !== '');
    // At the app's root the page's relative URLs (dashboard.js, api/...) would be the app's own.
    if (segments.length === 0)
      problems.push(`path must name a segment, got ${describeValue(path)}`);
    // A browser resolves "." and ".." away, so the page could not reach its own routes.
    if (segments.some((segment) => segment === '.' || segment === '..')) {
      problems.push(`path must not have "." or ".." segments, got ${describeValue(path)}`);
    }
  }
  const names = (option: 'queues' | 'channels' | 'elections' | 'services', kind: string) => {
    const list = options[option] ?? [];
    if (!Array.isArray(list)) {
      problems.push(`${option} must be an array of names, got ${describeValue(list)}`);
      return [];
    }
    const check = collectProblems(option, problems);
    for (const name of list) check(() => assertName(kind, name));
    return [...new Set(list)];
  };
  const semaphores = (() => {
    const list = options.semaphores ?? [];
    if (
      !Array.isArray(list) ||
      !list.every((entry) => Number.isInteger(entry?.limit) && entry.limit > 0)
    ) {
      problems.push('semaphores must be an array of { name, limit } (limit a positive integer)');
      return [];
    }
    const check = collectProblems('semaphores', problems);
    const byName = new Map<string, DashboardSemaphore>();
    for (const { name, limit } of list) {
      check(() => assertName('semaphore name', name));
      const seen = byName.get(name);
      if (seen !== undefined && seen.limit !== limit) {
        problems.push(
          `semaphores: "${name}" is given twice, with limits ${seen.limit} and ${limit}`,
        );
      }
      if (seen === undefined) byName.set(name, { name, limit });
    }
    return [...byName.values()];
  })();
  const { sampleEveryMs = DEFAULT_DASHBOARD_OPTIONS.sampleEveryMs } = options;
  const { samples = DEFAULT_DASHBOARD_OPTIONS.samples } = options;
  if (
    !Number.isInteger(sampleEveryMs) ||
    sampleEveryMs < 100 ||
    sampleEveryMs > MAX_SAMPLE_EVERY_MS
  ) {
    problems.push(
      `sampleEveryMs must be an integer from 100 to ${MAX_SAMPLE_EVERY_MS} (an hour), got ${describeValue(sampleEveryMs)}`,
    );
  }
  if (!Number.isInteger(samples) || samples < 2 || samples > 10_000) {
    problems.push(`samples must be an integer from 2 to 10000, got ${describeValue(samples)}`);
  }
  const resolved: ResolvedDashboardOptions = {
    path: typeof path === 'string' ? path : DEFAULT_DASHBOARD_OPTIONS.path,
    guards: guard === undefined ? [] : [guard],
    queues: names('queues', 'queue name'),
    channels: names('channels', 'channel name'),
    elections: names('elections', 'election name'),
    services: names('services', 'service name'),
    semaphores,
    sampleEveryMs,
    samples,
  };
  if (problems.length > 0) throw new DashboardOptionsError(problems);
  return resolved;
}
