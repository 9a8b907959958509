import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type LoggerService,
} from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertInteger,
  assertKnownKeys,
  assertMilliseconds,
  assertName,
  assertOneOf,
  optionNames,
} from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import {
  unconfirmedWrite,
  type ReplicaAckOptions,
  type ReplicaConfirmation,
} from '../connection/replica-acks.js';
import { Subscription, type Observable } from 'rxjs';
import { QueueEventsReader } from './queue-events.js';
import type {
  QueueSchedulerInfo,
  SchedulePattern,
  SchedulerTemplate,
} from './queue-scheduler.interfaces.js';
import { resolvePattern, resolveTemplate } from './queue-scheduler.js';
import {
  QueueClosedError,
  QueueJobActiveError,
  QueueJobFailedError,
  QueueJobNotFoundError,
  QueueWaitTimeoutError,
} from './queue.errors.js';
import {
  JOB_STATES,
  type AddBulkOptions,
  type AddJobOptions,
  type BulkJob,
  type DeadJob,
  type JobHandler,
  type JobInfo,
  type JobState,
  type QueueCounts,
  type OldestWaitingJob,
  type QueueEvent,
  type QueueLimits,
  type RateLimit,
  type WorkerOptions,
} from './queue.interfaces.js';
import {
  ADD_BULK_OPTION_KEYS,
  ADD_JOB_OPTION_KEYS,
  resolveJobOptions,
  resolveWorkerOptions,
} from './queue.options.js';
import { QueueStore, type EncodedJob } from './queue.store.js';
import { JobWorker } from './queue.worker.js';
import { tracedAdd } from './queue.telemetry.js';
import { telemetryOf, type Telemetry } from '../telemetry/telemetry.js';

/** Largest `limit` of {@link QueueService.dead} and of one {@link QueueService.clean} call. */
const MAX_BATCH = 10_000;
/** Largest page of {@link QueueService.jobs}. */
const MAX_PAGE = 1000;
/** Largest global concurrency or rate limit `max`. */
const MAX_LIMIT = 1_000_000;
const RATE_LIMIT_KEYS = optionNames<RateLimit>({ max: true, durationMs: true });
const REMOVE_OPTION_KEYS = ['force', 'state'];

/**
 * A reliable (at-least-once) job queue on Redis. A claimed job is held under a lease that its
 * worker renews; if the worker dies or freezes, the lease expires and another worker runs the
 * job again, and the late worker's outcome is refused. Failed attempts retry with backoff, then
 * go to a dead-letter list. Workers started here (or by `@QueueWorker`) stop and hand back
 * unfinished jobs at application shutdown.
 *
 * @example
 * constructor(private readonly queue: QueueService) {}
 *
 * await this.queue.add('emails', { to: 'a@example.com' }, { attempts: 3, backoff: { type: 'exponential', delayMs: 1000 } });
 * const worker = this.queue.process('emails', async (job, signal) => send(job.data, { signal }), { concurrency: 16 });
 * await worker.close();
 */
@Injectable()
export class QueueService implements BeforeApplicationShutdown {
  private readonly stores = new Map<string, QueueStore>();
  private readonly readers = new Map<string, QueueEventsReader>();
  private readonly workers = new Set<JobWorker>();
  private readonly logger: LoggerService = new Logger('QueueService');
  private readonly telemetry?: Telemetry;
  /** Stops reporting the queue gauges (with the module option `telemetry`). */
  private readonly stopGauges?: () => void;

  constructor(private readonly connections: RedisConnections) {
    this.telemetry = telemetryOf(connections);
    // Depth and oldest wait of the queues this instance works on, read when the SDK collects.
    this.stopGauges = this.telemetry?.metrics?.addGaugeSource(async (record) => {
      const queues = new Set([...this.workers].map((worker) => worker.queue));
      await Promise.all(
        [...queues].map(async (queue) => {
          const store = this.store(queue);
          const [counts, oldest] = await Promise.all([store.countJobs(), store.oldestWaiting()]);
          for (const state of JOB_STATES) record.queueJobs(queue, state, counts[state]);
          record.oldestWaiting(queue, (oldest?.waitingMs ?? 0) / 1000);
        }),
      );
    });
  }

  /**
   * Adds a job and returns its id once Redis has it (and, with `replicaAcks`, its replicas).
   * With a `jobId` that is still waiting, active or delayed, nothing is added and that id is
   * returned.
   * @throws QueuePayloadError when the codec refuses `data` or it exceeds `maxPayloadBytes`.
   * @throws InvalidArgumentError / InvalidKeyError for bad options or queue name.
   * @throws ReplicaAckError when fewer replicas than asked confirmed the add: the job was added
   * all the same (its id is in `ids`).
   */
  add<T>(queue: string, data: T, options?: AddJobOptions): Promise<string> {
    // Not async: without telemetry, the add's own promise is returned (one step fewer per job).
    try {
      const store = this.store(queue);
      const resolved = resolveJobOptions(options, ADD_JOB_OPTION_KEYS);
      const acks = this.connections.replicaAcks(options?.replicaAcks);
      return tracedAdd(this.telemetry, queue, 1, (trace) =>
        this.addOne(store, store.encode(data, resolved, Date.now(), trace), acks),
      );
    } catch (error) {
      return Promise.reject(error as Error);
    }
  }

  /**
   * Adds many jobs in one round trip per 1000 (all of a batch or none). Every job is checked
   * before anything is sent, so one bad payload adds nothing. Returns the ids in order.
   * `options.replicaAcks` waits for replicas as `add()` does, for all of them.
   */
  async addBulk<T>(
    queue: string,
    jobs: readonly BulkJob<T>[],
    options: AddBulkOptions = {},
  ): Promise<string[]> {
    const store = this.store(queue);
    if (!Array.isArray(jobs)) throw new InvalidArgumentError('jobs', jobs, 'expected an array');
    assertKnownKeys('addBulk options', options, ADD_BULK_OPTION_KEYS);
    const acks = this.connections.replicaAcks(options.replicaAcks);
    const resolved = jobs.map((entry, i) => {
      if (entry === null || typeof entry !== 'object') {
        throw new InvalidArgumentError(`jobs[${i}]`, entry, 'expected { data, opts? }');
      }
      return resolveJobOptions(entry.opts);
    });
    return tracedAdd(this.telemetry, queue, jobs.length, async (trace) => {
      const now = Date.now();
      const encoded = jobs.map((entry, i) => store.encode(entry.data, resolved[i]!, now, trace));
      const confirmation = await store
        .addJobs(encoded, acks)
        .catch(this.connections.rethrow(`add ${encoded.length} jobs to queue "${queue}"`));
      const ids = encoded.map((job) => job.id);
      if (acks && ids.length > 0) {
        this.confirmReplicas(acks, confirmation, `${ids.length} jobs of queue "${queue}"`, ids);
      }
      return ids;
    });
  }

  /** Sends one encoded job (batched with the other adds of this tick); resolves to its id. */
  private async addOne(
    store: QueueStore,
    job: EncodedJob,
    acks: ReplicaAckOptions | undefined,
  ): Promise<string> {
    const confirmation = await store
      .addJob(job, acks)
      .catch(this.connections.rethrow(`add a job to queue "${store.queue}"`));
    if (acks) {
      this.confirmReplicas(acks, confirmation, `Job ${job.id} of queue "${store.queue}"`, [job.id]);
    }
    return job.id;
  }

  /** Throws {@link ReplicaAckError} unless enough replicas confirmed the jobs `ids`. */
  private confirmReplicas(
    acks: ReplicaAckOptions,
    confirmation: ReplicaConfirmation | undefined,
    what: string,
    ids: readonly string[],
  ): void {
    const error = unconfirmedWrite(
      this.connections,
      acks,
      confirmation,
      what,
      'the job(s) were added and stay queued; to add them again without duplicates, retry with the same jobId (the ids are in error.ids)',
      ids,
    );
    if (error) throw error;
  }

  /**
   * Starts a worker that runs `handler` for the queue's jobs; stop it with `close()` (done for
   * you at application shutdown).
   */
  process<T = unknown, R = unknown>(
    queue: string,
    handler: JobHandler<T, R>,
    options?: WorkerOptions,
  ): JobWorker {
    const store = this.store(queue);
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(
        'handler',
        handler,
        'expected a function (job, signal) => result',
      );
    }
    const worker = new JobWorker(
      store,
      handler as JobHandler,
      resolveWorkerOptions(options),
      this.connections,
      this.logger,
      () => this.workers.delete(worker),
    );
    this.workers.add(worker);
    return worker;
  }

  /** How many jobs the queue holds in each state, in one snapshot. */
  async counts(queue: string): Promise<QueueCounts> {
    return this.store(queue)
      .countJobs()
      .catch(this.connections.rethrow(`count the jobs of queue "${queue}"`));
  }

  /**
   * The waiting job that has waited longest, and how long; undefined when none waits. It is
   * found among the jobs first in line (the first of each priority level, without a group and
   * within each group; at most 100 are read) and the most overdue delayed job.
   */
  async oldestWaiting(queue: string): Promise<OldestWaitingJob | undefined> {
    return this.store(queue)
      .oldestWaiting()
      .catch(this.connections.rethrow(`find the oldest waiting job of queue "${queue}"`));
  }

  /** Dead-letter jobs, most recent first, with their last error and attempt history. */
  async dead<T = unknown>(
    queue: string,
    { limit = 100 }: { limit?: number } = {},
  ): Promise<DeadJob<T>[]> {
    const store = this.store(queue);
    assertInteger('limit', limit, 1, MAX_BATCH);
    const dead = await store
      .pageJobs('dead', 0, limit)
      .catch(this.connections.rethrow(`list the dead jobs of queue "${queue}"`));
    return dead.map((job) => ({ ...job, diedAt: job.finishedAt! }) as DeadJob<T>);
  }

  /**
   * A job wherever it is (waiting, active, delayed, completed or dead), with its data, attempts,
   * errors, progress and, once completed, its handler's return value; `undefined` when there is
   * no such job (never added, removed, or trimmed from the completed or dead list).
   */
  async getJob<T = unknown, R = unknown>(
    queue: string,
    id: string,
  ): Promise<JobInfo<T, R> | undefined> {
    const store = this.store(queue);
    assertName('job id', id);
    const [job] = await store
      .readJobs([id])
      .catch(this.connections.rethrow(`read job ${id} of queue "${queue}"`));
    return job as JobInfo<T, R> | undefined;
  }

  /**
   * A page of the jobs in one state: waiting and delayed in the order they will run, active by
   * lease deadline, completed and dead newest first. One snapshot per call; `limit` at most 1000.
   */
  async jobs<T = unknown, R = unknown>(
    queue: string,
    state: JobState,
    { offset = 0, limit = 100 }: { offset?: number; limit?: number } = {},
  ): Promise<JobInfo<T, R>[]> {
    const store = this.store(queue);
    assertOneOf('state', state, JOB_STATES);
    assertInteger('offset', offset, 0);
    assertInteger('limit', limit, 1, MAX_PAGE);
    const jobs = await store
      .pageJobs(state, offset, limit)
      .catch(this.connections.rethrow(`list the ${state} jobs of queue "${queue}"`));
    return jobs as JobInfo<T, R>[];
  }

  /**
   * Deletes a job and every trace of it; `false` when there was none. An active job is refused
   * ({@link QueueJobActiveError}) unless `force`: its worker's outcome is then refused and its
   * handler's signal aborts at the next lease renewal. With `state` (`'completed'` or `'dead'`)
   * the job is deleted only if it is in that list, checked in the same step (`false` otherwise):
   * a dead job retried meanwhile is not deleted.
   */
  async remove(
    queue: string,
    id: string,
    options: { force?: boolean; state?: 'completed' | 'dead' } = {},
  ): Promise<boolean> {
    const store = this.store(queue);
    assertName('job id', id);
    assertKnownKeys('remove options', options, REMOVE_OPTION_KEYS);
    const { force = false, state } = options;
    if (state !== undefined) assertOneOf('state', state, ['completed', 'dead']);
    const removed = await store
      .removeJob(id, force === true, state ?? '')
      .catch(this.connections.rethrow(`remove job ${id} of queue "${queue}"`));
    if (removed === -1) {
      throw new QueueJobActiveError(
        `Job ${id} of queue "${queue}" is running; pass { force: true } to remove it anyway`,
      );
    }
    return removed === 1;
  }

  /**
   * Deletes completed or dead jobs that finished at least `olderThanMs` ago, oldest first, at
   * most `limit` (default 1000, at most 10 000) per call; returns how many. Call again while it
   * returns `limit` to clean more. (Both lists are also trimmed as jobs finish: see the worker
   * options `keepCompletedCount` and `keepDeadCount`.)
   */
  async clean(
    queue: string,
    state: 'completed' | 'dead',
    { olderThanMs = 0, limit = 1000 }: { olderThanMs?: number; limit?: number } = {},
  ): Promise<number> {
    const store = this.store(queue);
    assertOneOf('state', state, ['completed', 'dead']);
    assertMilliseconds('olderThanMs', olderThanMs);
    assertInteger('limit', limit, 1, MAX_BATCH);
    return store
      .cleanJobs(state, olderThanMs, limit)
      .catch(this.connections.rethrow(`clean the ${state} jobs of queue "${queue}"`));
  }

  /**
   * Deletes the whole queue: every job in every state, its pause flag, its events and its
   * schedulers. Refused while jobs are active ({@link QueueJobActiveError}) unless `force` (their
   * workers' outcomes are then refused). Workers still running on the queue keep serving it: jobs
   * added later run.
   */
  async obliterate(queue: string, { force = false }: { force?: boolean } = {}): Promise<void> {
    const store = this.store(queue);
    const deleted = await store
      .obliterate(force === true)
      .catch(this.connections.rethrow(`obliterate queue "${queue}"`));
    if (deleted === -1) {
      throw new QueueJobActiveError(
        `Queue "${queue}" has active jobs; stop its workers first, or pass { force: true }`,
      );
    }
  }

  /**
   * The lifecycle events of every job of the queue, from every instance, as an rxjs stream:
   * `added`, `active`, `progress`, `completed`, `retrying`, `dead`, `removed`. Events are written
   * to a capped Redis stream (about the last 10 000) only while some process listens, so a queue
   * nobody watches pays nothing for them. One connection per queue serves every subscriber of
   * this process; after a lost connection it resumes where it was. When Redis refuses the read
   * (an ACL user without `XREAD`), the stream errors with `RedisCommandError`.
   */
  events(queue: string): Observable<QueueEvent> {
    return this.reader(queue).events();
  }

  /**
   * Waits for a job to finish, from any instance: resolves with its handler's return value once
   * it completed, rejects with {@link QueueJobFailedError} (its last error) once it is dead.
   * @throws QueueJobNotFoundError when there is no such job, or it was removed.
   * @throws QueueWaitTimeoutError after `timeoutMs` (the job may still finish).
   * @throws QueueClosedError when the application shuts down first.
   */
  async waitUntilFinished<R = unknown>(
    queue: string,
    id: string,
    { timeoutMs }: { timeoutMs?: number } = {},
  ): Promise<R> {
    const store = this.store(queue);
    assertName('job id', id);
    if (timeoutMs !== undefined) assertMilliseconds('timeoutMs', timeoutMs, { min: 1 });
    const reader = this.reader(queue);
    const action = `wait for job ${id} of queue "${queue}"`;
    return new Promise<R>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      // Filled below; settle() may run while it is being filled (a reader already shut down).
      const subscription = new Subscription();
      const settle = (outcome: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        subscription.unsubscribe();
        outcome();
      };
      const fail = (error: unknown) =>
        settle(() => reject(this.connections.failure(error, action)));
      /** Settles on a finished (or unknown) job; a job still running is waited for. */
      const settleOn = (job: JobInfo | undefined) => {
        if (!job) settle(() => reject(new QueueJobNotFoundError(queue, id)));
        else if (job.state === 'completed') settle(() => resolve(job.returnValue as R));
        else if (job.state === 'dead') {
          settle(() => reject(new QueueJobFailedError(queue, id, job.lastError)));
        }
      };
      subscription.add(
        reader.events().subscribe({
          next: (event) => {
            if (event.jobId !== id || done) return;
            if (event.event === 'removed') {
              settle(() => reject(new QueueJobNotFoundError(queue, id, 'it was removed')));
            } else if (event.event === 'completed') {
              settle(() => resolve(event.data as R));
            } else if (event.event === 'dead') {
              settle(() => reject(new QueueJobFailedError(queue, id, event.data as string)));
            }
          },
          // Redis refused the read (an ACL user without XREAD): no event can come.
          error: fail,
          complete: () => settle(() => reject(new QueueClosedError(queue, id))),
        }),
      );
      if (done) return; // the application was already shutting down
      if (timeoutMs !== undefined) {
        timer = setTimeout(
          () => settle(() => reject(new QueueWaitTimeoutError(queue, id, timeoutMs))),
          timeoutMs,
        );
      }
      // Listening before reading the job's state: a finish after the read reaches the reader.
      reader
        .ready()
        .then(() => store.readJobs([id]))
        .then(([job]) => settleOn(job), fail);
    });
  }

  /**
   * Moves dead jobs (the given ids, or all) back to waiting with a fresh set of attempts.
   * Returns how many were moved.
   */
  async retryDead(queue: string, ids?: readonly string[]): Promise<number> {
    const store = this.store(queue);
    if (ids !== undefined) {
      if (!Array.isArray(ids))
        throw new InvalidArgumentError('ids', ids, 'expected an array of job ids');
      for (const id of ids) assertName('job id', id);
      if (ids.length === 0) return 0;
    }
    return store
      .retryDead(ids ?? [])
      .catch(this.connections.rethrow(`retry dead jobs of queue "${queue}"`));
  }

  /**
   * At most `concurrency` jobs of the queue active at once, across all workers of all instances
   * (enforced where jobs are claimed, in Redis); `null` removes the limit. Jobs already running
   * go on when it is lowered; no new one starts until the count is under it.
   */
  async setGlobalConcurrency(queue: string, concurrency: number | null): Promise<void> {
    const store = this.store(queue);
    if (concurrency !== null) assertInteger('concurrency', concurrency, 1, MAX_LIMIT);
    await store
      .setLimits({ concurrency: concurrency ?? undefined })
      .catch(this.connections.rethrow(`set the global concurrency of queue "${queue}"`));
  }

  /**
   * At most `max` jobs of the queue start in any window of `durationMs`, across all instances
   * (retries count as starts); `null` removes the limit. Workers that find the limit reached
   * block until the window lets one more start, without polling.
   */
  async setRateLimit(queue: string, limit: RateLimit | null): Promise<void> {
    const store = this.store(queue);
    if (limit !== null) {
      assertKnownKeys('rate limit', limit, RATE_LIMIT_KEYS);
      assertInteger('max', limit.max, 1, MAX_LIMIT);
      assertMilliseconds('durationMs', limit.durationMs, { min: 1 });
    }
    await store
      .setLimits({ rateMax: limit?.max, rateMs: limit?.durationMs })
      .catch(this.connections.rethrow(`set the rate limit of queue "${queue}"`));
  }

  /**
   * At most `concurrency` jobs of any one group (`add(..., { group })`) active at once, across
   * all instances; `null` removes the limit (groups are then only served round-robin).
   */
  async setGroupConcurrency(queue: string, concurrency: number | null): Promise<void> {
    const store = this.store(queue);
    if (concurrency !== null) assertInteger('concurrency', concurrency, 1, MAX_LIMIT);
    await store
      .setLimits({ groupConcurrency: concurrency ?? undefined })
      .catch(this.connections.rethrow(`set the group concurrency of queue "${queue}"`));
  }

  /** The queue-wide limits in force. */
  async limits(queue: string): Promise<QueueLimits> {
    const { concurrency, rateMax, rateMs, groupConcurrency } = await this.store(queue)
      .readLimits()
      .catch(this.connections.rethrow(`read the limits of queue "${queue}"`));
    return {
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(rateMax === undefined || rateMs === undefined
        ? {}
        : { rateLimit: { max: rateMax, durationMs: rateMs } }),
      ...(groupConcurrency === undefined ? {} : { groupConcurrency }),
    };
  }

  /** Stops workers everywhere from claiming the queue's jobs (running ones finish). */
  async pause(queue: string): Promise<void> {
    return this.store(queue)
      .pause()
      .catch(this.connections.rethrow(`pause queue "${queue}"`));
  }

  /** Lets workers claim the queue's jobs again. */
  async resume(queue: string): Promise<void> {
    return this.store(queue)
      .resume()
      .catch(this.connections.rethrow(`resume queue "${queue}"`));
  }

  /**
   * Creates or updates a scheduler, which adds one job to the queue at each slot of `pattern`
   * (`{ cron, tz? }` or `{ everyMs }`), from `template`, with the id `<schedulerId>:<slot>`. The
   * queue's workers create the jobs: exactly one per slot however many instances run or upsert
   * it. Upserting again with the same pattern keeps the next slot (call it at every boot) and
   * replaces the template for the next jobs; a new pattern moves the next slot to its first
   * slot after now. Returns the next slot (ms since the epoch).
   * @throws InvalidArgumentError / InvalidKeyError for a bad pattern, template or name.
   * @throws QueuePayloadError when the codec refuses `template.data` or it is too big.
   */
  async upsertScheduler<T>(
    queue: string,
    schedulerId: string,
    pattern: SchedulePattern,
    template: SchedulerTemplate<T> = {},
  ): Promise<{ nextRunAt: number }> {
    const store = this.store(queue);
    assertName('scheduler id', schedulerId);
    const resolved = resolvePattern(pattern);
    const job = resolveTemplate(template, schedulerId);
    const nextRunAt = await store.schedulers
      .upsert(schedulerId, resolved, job)
      .catch(this.connections.rethrow(`upsert scheduler "${schedulerId}" of queue "${queue}"`));
    return { nextRunAt };
  }

  /** Removes a scheduler (the jobs it created stay); true if it existed. */
  async removeScheduler(queue: string, schedulerId: string): Promise<boolean> {
    const store = this.store(queue);
    assertName('scheduler id', schedulerId);
    return store.schedulers
      .remove(schedulerId)
      .catch(this.connections.rethrow(`remove scheduler "${schedulerId}" of queue "${queue}"`));
  }

  /** The queue's schedulers, by id: pattern, next slot, last job created and template. */
  async schedulers<T = unknown>(queue: string): Promise<QueueSchedulerInfo<T>[]> {
    const list = await this.store(queue)
      .schedulers.list()
      .catch(this.connections.rethrow(`list the schedulers of queue "${queue}"`));
    return list as QueueSchedulerInfo<T>[];
  }

  /**
   * Closes every worker started through this service (they drain, then hand jobs back), and
   * stops reading events (their subscribers complete).
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopGauges?.();
    await Promise.all([
      ...[...this.workers].map((worker) => worker.close()),
      ...[...this.readers.values()].map((reader) => reader.close()),
    ]);
  }

  private reader(queue: string): QueueEventsReader {
    let reader = this.readers.get(queue);
    if (!reader) {
      reader = new QueueEventsReader(this.store(queue), this.connections, this.logger);
      this.readers.set(queue, reader);
    }
    return reader;
  }

  private store(queue: string): QueueStore {
    let store = this.stores.get(queue);
    if (!store) {
      assertName('queue name', queue);
      store = new QueueStore(this.connections, queue);
      this.stores.set(queue, store);
    }
    return store;
  }
}
