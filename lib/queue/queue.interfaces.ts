import type { ReplicaAckOptions } from '../connection/replica-acks.js';

/** How a failed attempt waits before the next one. */
export interface BackoffOptions {
  /** `fixed`: `delayMs` each time; `exponential`: `delayMs * 2^(attempt - 1)`. */
  type: 'fixed' | 'exponential';
  /** Base delay in ms. */
  delayMs: number;
  /**
   * Adds up to this fraction of the delay at random (0 to 1), so jobs that failed together do
   * not all retry at the same moment. The delay is never shortened.
   * @default 0
   */
  jitter?: number;
}

/** Options of one job, given to `QueueService.add()`/`addBulk()`. */
export interface JobOptions {
  /**
   * Deduplication: adding an id that is still waiting, active or delayed is a no-op that returns
   * it. Default: a random UUID.
   */
  jobId?: string;
  /** Job name, to route the job to a `@QueueWorker(queue, { name })` handler. */
  name?: string;
  /** Run no earlier than this many ms from now. @default 0 */
  delayMs?: number;
  /** Integer from -1000 to 1000; higher runs first, FIFO within a priority. @default 0 */
  priority?: number;
  /** Attempts in all (first run included) before the job goes to the dead-letter list. @default 1 */
  attempts?: number;
  /** Wait between attempts. Default: retry at once. */
  backoff?: BackoffOptions;
  /** An attempt running longer fails: the handler's signal aborts with `QueueJobTimeoutError`. */
  timeoutMs?: number;
  /**
   * The job's group (e.g. a tenant): groups are served round-robin, each with at most
   * `setGroupConcurrency()` jobs active at once. Jobs of groups are served before jobs without
   * one; priority orders jobs within a group. Default: none.
   */
  group?: string;
}

/** Options of `QueueService.add()`: the job's own, and whether to wait for replicas. */
export interface AddJobOptions extends JobOptions {
  /**
   * Wait for this many replicas to confirm the add (Redis `WAIT`) before `add()` resolves;
   * `false`: not for this call. When fewer confirm within `timeoutMs`, `add()` fails with
   * `ReplicaAckError`, but the job was added and stays queued: its `ids` holds the job id, so a
   * retry with that `jobId` adds no duplicate while the job waits or runs. See
   * {@link ReplicaAckOptions}.
   * @default the module option `replicaAcks`, else off
   */
  replicaAcks?: ReplicaAckOptions | false;
}

/** Options of `QueueService.addBulk()` as a whole. */
export interface AddBulkOptions {
  /** As {@link AddJobOptions.replicaAcks}, for all the jobs (its error lists every job id). */
  replicaAcks?: ReplicaAckOptions | false;
}

/** The defaults of {@link JobOptions}. */
export const DEFAULT_JOB_OPTIONS = Object.freeze({
  delayMs: 0,
  priority: 0,
  attempts: 1,
});

/** What a handler may report as its job's progress: a percentage, or any codec-encodable object. */
export type JobProgress = number | object;

/** A job as its handler sees it. */
export interface Job<T = unknown> {
  readonly queue: string;
  readonly id: string;
  /** The job name given at `add()`, if any. */
  readonly name?: string;
  /** The job's group, if any. */
  readonly group?: string;
  readonly data: T;
  /** This attempt's number, from 1. Lease expiries count as attempts. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** When the job was added (ms since the epoch, producer's clock). */
  readonly addedAt: number;
  /** When this attempt was claimed (ms since the epoch, Redis clock). */
  readonly startedAt: number;
  /**
   * Records the job's progress (`getJob()` shows the last one; `events()` listeners get a
   * `progress` event). Resolves once Redis has it.
   * @throws QueueLeaseLostError when this worker no longer holds the job.
   * @throws QueuePayloadError when the codec refuses the value or it exceeds `maxPayloadBytes`.
   */
  progress(value: JobProgress): Promise<void>;
}

/**
 * Processes one job. `signal` aborts when the attempt's `timeoutMs` passes, when the worker
 * lost the job's lease, or when shutdown outlasted `drainTimeoutMs`; its `reason` says which.
 * A thrown value or rejected promise fails the attempt.
 */
export type JobHandler<T = unknown, R = unknown> = (
  job: Job<T>,
  signal: AbortSignal,
) => R | Promise<R>;

/** Options of a worker, given to `QueueService.process()` or `@QueueWorker()`. */
export interface WorkerOptions {
  /** Jobs handled at once by this worker. @default 1 */
  concurrency?: number;
  /**
   * The lease (visibility timeout): a job whose worker does not renew it within this time goes
   * back to waiting for another worker. Renewed every third of it while the handler runs.
   * @default 30000
   */
  leaseMs?: number;
  /**
   * At shutdown, how long in-flight handlers may run before their jobs are handed back (their
   * outcomes then get up to 2 s more to be recorded). @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * How many completed jobs to keep (record, return value, progress, errors) for `getJob()`,
   * `jobs()` and `waitUntilFinished()`: when jobs complete, the oldest beyond this count are
   * deleted, in batches (like a stream's `MAXLEN ~`): up to a tenth more (at most 100) may be
   * kept between trims. 0 keeps none. @default 1000
   */
  keepCompletedCount?: number;
  /**
   * Completed jobs finished this long ago (ms) or longer are deleted when other jobs complete
   * (no sweeper runs). @default 86400000 (one day)
   */
  keepCompletedMs?: number;
  /**
   * How many dead-letter jobs to keep (record, state and errors): when a job dies, the oldest
   * beyond this count are deleted, so a failing queue cannot fill Redis. @default 10000
   */
  keepDeadCount?: number;
  /**
   * Dead-letter jobs that died this long ago (ms) or longer are deleted when another job dies
   * (no sweeper runs). @default 15552000000 (180 days)
   */
  keepDeadMs?: number;
}

/** The defaults of {@link WorkerOptions}. */
export const DEFAULT_WORKER_OPTIONS: Readonly<Required<WorkerOptions>> = Object.freeze({
  concurrency: 1,
  leaseMs: 30_000,
  drainTimeoutMs: 10_000,
  keepCompletedCount: 1000,
  keepCompletedMs: 24 * 3600 * 1000,
  // Sidekiq's bounds for its dead set: enough to inspect an incident, never unbounded.
  keepDeadCount: 10_000,
  keepDeadMs: 180 * 24 * 3600 * 1000,
});

/** Queue-wide limits, enforced in Redis for every worker of every instance. */
export interface QueueLimits {
  /** At most this many jobs of the queue active at once; absent: no limit. */
  concurrency?: number;
  /** At most `max` jobs start in any window of `durationMs`; absent: no limit. */
  rateLimit?: RateLimit;
  /** At most this many jobs of any one group active at once; absent: no limit. */
  groupConcurrency?: number;
}

/** A start rate: at most `max` jobs start in any window of `durationMs`. */
export interface RateLimit {
  max: number;
  durationMs: number;
}

/** How many jobs a queue holds in each state. */
export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  /** Completed jobs still recorded (bounded by `keepCompletedCount`/`keepCompletedMs`). */
  completed: number;
  /** Dead-letter jobs (bounded by `keepDeadCount`/`keepDeadMs`). */
  dead: number;
  paused: boolean;
}

/** One failed attempt, as kept with the job (the last 10). */
export interface AttemptError {
  attempt: number;
  error: string;
  /** When it failed (ms since the epoch, Redis clock). */
  at: number;
}

/** The waiting job that has waited longest (`QueueService.oldestWaiting()`). */
export interface OldestWaitingJob {
  readonly id: string;
  /**
   * How long it has waited: since it was added, came due (delayed) or last failed, whichever is
   * latest, on the Redis clock (an add's time is the producer's clock).
   */
  readonly waitingMs: number;
}

/** Where a job is: its list. */
export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'dead';

/** The lists `QueueService.jobs()` pages through and `clean()` (completed, dead) trims. */
export const JOB_STATES: readonly JobState[] = Object.freeze([
  'waiting',
  'active',
  'delayed',
  'completed',
  'dead',
]);

/** A job as `QueueService.getJob()` and `jobs()` show it. */
export interface JobInfo<T = unknown, R = unknown> {
  id: string;
  state: JobState;
  name?: string;
  group?: string;
  /** The payload; `undefined` when the record cannot be decoded (see `decodeError`). */
  data: T | undefined;
  /** Attempts started so far (a handed-back attempt at shutdown is not counted). */
  attemptsMade: number;
  maxAttempts: number;
  priority: number;
  /** When it was added (ms since the epoch, producer's clock); absent when undecodable. */
  addedAt?: number;
  /** Delayed (or waiting for a retry's backoff): when it is due (Redis clock). */
  dueAt?: number;
  /** Active: when its lease expires unless renewed (Redis clock). */
  leaseExpiresAt?: number;
  /** Completed or dead: when (Redis clock). */
  finishedAt?: number;
  /** The last progress its handler reported, if any. */
  progress?: JobProgress;
  /**
   * Completed: what its handler returned (absent for `undefined`, or when the codec refused
   * the value or it exceeded `maxPayloadBytes`: the worker then logs a warning).
   */
  returnValue?: R;
  /** The error of the last failed attempt, if any. */
  lastError?: string;
  /** The last 10 failed attempts, oldest first. */
  history: AttemptError[];
  /**
   * Set when the stored record cannot be decoded (missing, corrupt, or refused by the codec): a
   * `CodecError` message. `data` and `name` are then absent; the rest is listed as usual.
   */
  decodeError?: string;
}

/** A job in the dead-letter list. */
export interface DeadJob<T = unknown> extends JobInfo<T, never> {
  state: 'dead';
  /** When it died (ms since the epoch, Redis clock); the same as `finishedAt`. */
  diedAt: number;
}

/** The lifecycle events of `QueueService.events()`. */
export type QueueEventName =
  'added' | 'active' | 'progress' | 'completed' | 'retrying' | 'dead' | 'removed';

/** One lifecycle event of a job, as every instance sees it. */
export interface QueueEvent {
  event: QueueEventName;
  jobId: string;
  /** The job's name, if it has one. */
  name?: string;
  /**
   * `active`: the attempt number; `progress`: the reported value; `completed`: the return value
   * (absent for none); `retrying`, `dead`: the error.
   */
  data?: unknown;
  /** The stream entry's id (ordered): where a reader is. */
  eventId: string;
  /** When it happened (ms since the epoch, Redis clock). */
  at: number;
}

/** An entry of `QueueService.addBulk()`. */
export interface BulkJob<T = unknown> {
  data: T;
  opts?: JobOptions;
}
