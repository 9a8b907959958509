import { CronExpressionParser } from 'cron-parser';
import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertKnownKeys,
  assertMilliseconds,
  assertName,
  optionNames,
} from '../common/validate.js';
import type {
  CronSchedule,
  EverySchedule,
  QueueSchedulerInfo,
  SchedulerJobOptions,
  SchedulerTemplate,
} from './queue-scheduler.interfaces.js';
import { resolveJobOptions, type ResolvedJobOptions } from './queue.options.js';

// Slot arithmetic of queue schedulers. A slot is a time (ms since the epoch) at which a
// scheduler creates one job, `<scheduler id>:<slot>`. Slots are computed from the pattern alone,
// never from when an instance started or a job ran, so every instance computes the same ones.

/** A checked pattern, defaults filled in. */
export type ResolvedPattern = QueueSchedulerInfo['pattern'];

const PATTERN_KEYS = optionNames<CronSchedule & EverySchedule>({
  cron: true,
  tz: true,
  everyMs: true,
});
const DEFAULT_TIME_ZONE = 'UTC';
const EXPECTED_PATTERN = 'expected { cron, tz? } or { everyMs }';

/**
 * Checks a pattern and fills in its defaults; a bad one throws {@link InvalidArgumentError}
 * naming the field (a cron expression that cannot be read, or never matches, names the pattern).
 */
export function resolvePattern(pattern: unknown): ResolvedPattern {
  assertKnownKeys('pattern', pattern, PATTERN_KEYS);
  const { cron, tz, everyMs } = pattern as Partial<CronSchedule & EverySchedule>;
  if ((cron === undefined) === (everyMs === undefined)) {
    throw new InvalidArgumentError('pattern', pattern, EXPECTED_PATTERN);
  }
  if (everyMs !== undefined) {
    if (tz !== undefined) {
      throw new InvalidArgumentError('pattern.tz', tz, 'a time zone applies to cron patterns only');
    }
    assertMilliseconds('pattern.everyMs', everyMs, { min: 1 });
    return { everyMs };
  }
  if (typeof cron !== 'string')
    throw new InvalidArgumentError('pattern.cron', cron, 'expected a string');
  const zone = canonicalTimeZone(tz ?? DEFAULT_TIME_ZONE);
  // One spelling per expression, so that re-upserting it with other spacing keeps its slot.
  const fields = cron.trim().split(/\s+/);
  const resolved = { cron: fields.join(' '), tz: zone };
  // cron-parser fills in missing fields ('* * *' reads as every minute): a typo must not.
  if (
    !(fields.length === 1 && fields[0]!.startsWith('@')) &&
    fields.length !== 5 &&
    fields.length !== 6
  ) {
    throw new InvalidArgumentError(
      'pattern.cron',
      cron,
      'expected 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or an alias such as @daily',
    );
  }
  try {
    nextSlot(resolved, Date.now());
  } catch (error) {
    throw new InvalidArgumentError(
      'pattern.cron',
      cron,
      `not a cron expression that matches any time (${(error as Error).message})`,
    );
  }
  return resolved;
}

/**
 * The first slot strictly after `afterMs`. `everyMs`: the next multiple of the period. Cron: the
 * next time the expression matches in its time zone, as cron-parser computes it; across DST
 * changes (tested in test/unit/queue-scheduler.spec.ts) a local time skipped by the spring
 * change fires an hour later (02:30 → 03:30), and one repeated by the autumn change fires once,
 * at its first occurrence (summer time).
 */
export function nextSlot(pattern: ResolvedPattern, afterMs: number): number {
  if ('everyMs' in pattern) {
    return (Math.floor(afterMs / pattern.everyMs) + 1) * pattern.everyMs;
  }
  return CronExpressionParser.parse(pattern.cron, { currentDate: afterMs, tz: pattern.tz })
    .next()
    .getTime();
}

/** A pattern's canonical text: two patterns are the same if and only if their keys are equal. */
export function patternKey(pattern: ResolvedPattern): string {
  return 'everyMs' in pattern ? `every ${pattern.everyMs}` : `cron ${pattern.cron} ${pattern.tz}`;
}

/** The zone's canonical name ('europe/paris' → 'Europe/Paris'); an unknown zone is refused. */
function canonicalTimeZone(tz: unknown): string {
  if (typeof tz === 'string' && tz !== '') {
    try {
      // Throws RangeError for a zone the runtime's time zone database does not know.
      return Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    } catch {
      // refused below
    }
  }
  throw new InvalidArgumentError(
    'pattern.tz',
    tz,
    'expected an IANA time zone such as "Europe/Paris"',
  );
}

const TEMPLATE_KEYS = optionNames<SchedulerTemplate>({ name: true, data: true, opts: true });
const TEMPLATE_OPTION_KEYS = optionNames<SchedulerJobOptions>({
  priority: true,
  attempts: true,
  backoff: true,
  timeoutMs: true,
  group: true,
});

/** A checked template: the jobs' name, data, options as given and as resolved. */
export interface ResolvedTemplate {
  name: string;
  data: unknown;
  opts: SchedulerJobOptions;
  job: ResolvedJobOptions;
}

/** Checks a scheduler's job template; the jobs' name defaults to the scheduler id. */
export function resolveTemplate(template: unknown, schedulerId: string): ResolvedTemplate {
  assertKnownKeys('template', template, TEMPLATE_KEYS);
  const { name = schedulerId, data, opts = {} } = template as SchedulerTemplate;
  assertName('job name', name);
  assertKnownKeys('template.opts', opts, TEMPLATE_OPTION_KEYS);
  const job = resolveJobOptions(opts, TEMPLATE_OPTION_KEYS);
  // Only the options given, as given: what schedulers() lists.
  const given = Object.fromEntries(
    Object.entries(opts as Record<string, unknown>).filter(([, value]) => value !== undefined),
  ) as SchedulerJobOptions;
  return { name, data, opts: given, job: { ...job, name } };
}
