import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, InvalidKeyError } from '../common/coordination.error.js';
import {
  MAX_MILLISECONDS,
  assertInteger,
  assertKnownKeys,
  assertMilliseconds,
  assertName,
  optionNames,
} from '../common/validate.js';
import {
  DEFAULT_JOB_OPTIONS,
  DEFAULT_WORKER_OPTIONS,
  type AddBulkOptions,
  type AddJobOptions,
  type BackoffOptions,
  type JobOptions,
  type WorkerOptions,
} from './queue.interfaces.js';

/** Job options after validation, defaults filled in. */
export interface ResolvedJobOptions {
  id: string;
  name?: string;
  delayMs: number;
  priority: number;
  attempts: number;
  backoff?: Required<BackoffOptions>;
  timeoutMs?: number;
  group?: string;
}

const JOB_OPTION_KEYS = optionNames<JobOptions>({
  jobId: true,
  name: true,
  delayMs: true,
  priority: true,
  attempts: true,
  backoff: true,
  timeoutMs: true,
  group: true,
});
/** The options of `add()`: a job's, and `replicaAcks`. */
export const ADD_JOB_OPTION_KEYS: readonly string[] = Object.freeze([
  ...JOB_OPTION_KEYS,
  'replicaAcks' satisfies keyof AddJobOptions,
]);
/** The options of `addBulk()` as a whole. */
export const ADD_BULK_OPTION_KEYS = optionNames<AddBulkOptions>({ replicaAcks: true });
const BACKOFF_KEYS = optionNames<BackoffOptions>({ type: true, delayMs: true, jitter: true });
const WORKER_OPTION_KEYS = Object.keys(DEFAULT_WORKER_OPTIONS) as (keyof WorkerOptions)[];

export const MAX_PRIORITY = 1000;
export const MAX_ATTEMPTS = 1_000_000;
const MAX_CONCURRENCY = 10_000;

/**
 * Checks a job's options (`names`: those the call takes) and fills in defaults; bad input throws
 * a typed error naming it.
 */
export function resolveJobOptions(
  options: unknown = {},
  names: readonly string[] = JOB_OPTION_KEYS,
): ResolvedJobOptions {
  assertKnownKeys('job options', options, names);
  const o = options as JobOptions;
  if (o.jobId !== undefined) assertName('job id', o.jobId);
  if (o.name !== undefined) assertName('job name', o.name);
  if (o.group !== undefined) {
    assertName('group', o.group);
    // The queue's scripts separate a group from the rest of its entries with NUL.
    if (o.group.includes('\0')) throw new InvalidKeyError('group', o.group, 'must not contain NUL');
  }
  const delayMs = o.delayMs ?? DEFAULT_JOB_OPTIONS.delayMs;
  assertMilliseconds('delayMs', delayMs);
  if (o.timeoutMs !== undefined) assertMilliseconds('timeoutMs', o.timeoutMs, { min: 1 });
  const priority = o.priority ?? DEFAULT_JOB_OPTIONS.priority;
  assertInteger('priority', priority, -MAX_PRIORITY, MAX_PRIORITY);
  const attempts = o.attempts ?? DEFAULT_JOB_OPTIONS.attempts;
  assertInteger('attempts', attempts, 1, MAX_ATTEMPTS);
  const resolved: ResolvedJobOptions = {
    id: o.jobId ?? randomUUID(),
    name: o.name,
    delayMs,
    priority,
    attempts,
    timeoutMs: o.timeoutMs,
    group: o.group,
  };
  if (o.backoff !== undefined) {
    assertKnownKeys('backoff', o.backoff, BACKOFF_KEYS);
    const { type, delayMs: base, jitter = 0 } = o.backoff;
    if (type !== 'fixed' && type !== 'exponential') {
      throw new InvalidArgumentError('backoff.type', type, 'expected "fixed" or "exponential"');
    }
    assertMilliseconds('backoff.delayMs', base);
    if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
      throw new InvalidArgumentError('backoff.jitter', jitter, 'expected a number from 0 to 1');
    }
    resolved.backoff = { type, delayMs: base, jitter };
  }
  return resolved;
}

/** Checks worker options and fills in defaults; bad input throws a typed error naming it. */
export function resolveWorkerOptions(options: unknown = {}): Required<WorkerOptions> {
  assertKnownKeys('worker options', options, WORKER_OPTION_KEYS);
  const o = { ...DEFAULT_WORKER_OPTIONS, ...(options as WorkerOptions) };
  assertInteger('concurrency', o.concurrency, 1, MAX_CONCURRENCY);
  // Renewal runs every third of the lease: below 30 ms timers cannot keep up.
  assertMilliseconds('leaseMs', o.leaseMs, { min: 30 });
  assertMilliseconds('drainTimeoutMs', o.drainTimeoutMs);
  assertInteger('keepCompletedCount', o.keepCompletedCount, 0);
  assertMilliseconds('keepCompletedMs', o.keepCompletedMs);
  assertInteger('keepDeadCount', o.keepDeadCount, 0);
  assertMilliseconds('keepDeadMs', o.keepDeadMs);
  return o;
}

/** Delay before attempt `attempt + 1` after attempt `attempt` failed. */
export function backoffDelay(
  backoff: Required<BackoffOptions> | undefined,
  attempt: number,
): number {
  if (!backoff) return 0;
  const base =
    backoff.type === 'fixed' ? backoff.delayMs : backoff.delayMs * 2 ** Math.max(0, attempt - 1);
  return Math.min(Math.round(base * (1 + backoff.jitter * Math.random())), MAX_MILLISECONDS);
}
