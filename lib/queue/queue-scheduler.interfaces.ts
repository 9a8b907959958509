import type { JobOptions } from './queue.interfaces.js';

/**
 * When a scheduler creates jobs: at the times a cron expression matches, in a time zone, or
 * every `everyMs` milliseconds.
 */
export type SchedulePattern = CronSchedule | EverySchedule;

/** A cron schedule. */
export interface CronSchedule {
  /**
   * 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, as
   * `cron-parser` reads them (ranges, lists, steps, names, `L`, `#`); or `@daily`, `@hourly`...
   */
  cron: string;
  /** IANA time zone the expression is read in. @default 'UTC' */
  tz?: string;
}

/** A fixed-period schedule. */
export interface EverySchedule {
  /**
   * Period in ms. Slots are the multiples of it since the Unix epoch (every 60 000 ms: on each
   * minute), so every instance and every restart computes the same slots.
   */
  everyMs: number;
}

/** Options of the jobs a scheduler creates: a job's options, less those a slot decides. */
export type SchedulerJobOptions = Omit<JobOptions, 'jobId' | 'delayMs' | 'name'>;

/** The job a scheduler creates at each slot. */
export interface SchedulerTemplate<T = unknown> {
  /**
   * The jobs' name, which routes them to `@QueueWorker(queue, { name })`.
   * @default the scheduler id
   */
  name?: string;
  /** The jobs' payload (encoded once, at upsert, by the module codec). */
  data?: T;
  opts?: SchedulerJobOptions;
}

/** A scheduler, as `QueueService.schedulers()` lists it. */
export interface QueueSchedulerInfo<T = unknown> {
  id: string;
  /** The pattern, with its defaults filled in. */
  pattern: Required<CronSchedule> | EverySchedule;
  /** The next slot: when the next job is due (ms since the epoch, Redis clock). */
  nextRunAt: number;
  /** The slot of the last job created (ms since the epoch), if any. */
  lastRunAt?: number;
  /** The id of the last job created, `<scheduler id>:<slot>`, if any. */
  lastJobId?: string;
  template: { name: string; data: T; opts: SchedulerJobOptions };
}
