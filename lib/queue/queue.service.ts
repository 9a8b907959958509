import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type LoggerService,
} from '@nestjs/common';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertKnownKeys, assertName } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import {
  unconfirmedWrite,
  type ReplicaAckOptions,
  type ReplicaConfirmation,
} from '../connection/replica-acks.js';
import type {
  AddBulkOptions,
  AddJobOptions,
  BulkJob,
  DeadJob,
  JobHandler,
  QueueCounts,
  WorkerOptions,
} from './queue.interfaces.js';
import {
  ADD_BULK_OPTION_KEYS,
  ADD_JOB_OPTION_KEYS,
  resolveJobOptions,
  resolveWorkerOptions,
} from './queue.options.js';
import { QueueStore, type EncodedJob } from './queue.store.js';
import { JobWorker } from './queue.worker.js';

/** Largest `limit` of {@link QueueService.dead}. */
const MAX_DEAD_LIMIT = 10_000;

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
  private readonly workers = new Set<JobWorker>();
  private readonly logger: LoggerService = new Logger('QueueService');

  constructor(private readonly connections: RedisConnections) {}

  /**
   * Adds a job and returns its id once Redis has it (and, with `replicaAcks`, its replicas).
   * With a `jobId` that is still waiting, active or delayed, nothing is added and that id is
   * returned.
   * @throws QueuePayloadError when the codec refuses `data` or it exceeds `maxPayloadBytes`.
   * @throws InvalidArgumentError / InvalidKeyError for bad options or queue name.
   * @throws ReplicaAckError when fewer replicas than asked confirmed the add: the job was added
   * all the same (its id is in `ids`).
   */
  async add<T>(queue: string, data: T, options?: AddJobOptions): Promise<string> {
    const store = this.store(queue);
    const job = store.encode(data, resolveJobOptions(options, ADD_JOB_OPTION_KEYS), Date.now());
    const acks = this.connections.replicaAcks(options?.replicaAcks);
    const confirmation = await store
      .addJob(job, acks)
      .catch(this.connections.rethrow(`add a job to queue "${queue}"`));
    if (acks)
      this.confirmReplicas(acks, confirmation, `Job ${job.id} of queue "${queue}"`, [job.id]);
    return job.id;
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
    const now = Date.now();
    const encoded: EncodedJob[] = jobs.map((entry, i) => {
      if (entry === null || typeof entry !== 'object') {
        throw new InvalidArgumentError(`jobs[${i}]`, entry, 'expected { data, opts? }');
      }
      return store.encode(entry.data, resolveJobOptions(entry.opts), now);
    });
    const confirmation = await store
      .addJobs(encoded, acks)
      .catch(this.connections.rethrow(`add ${encoded.length} jobs to queue "${queue}"`));
    const ids = encoded.map((job) => job.id);
    if (acks && ids.length > 0) {
      this.confirmReplicas(acks, confirmation, `${ids.length} jobs of queue "${queue}"`, ids);
    }
    return ids;
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

  /** Dead-letter jobs, most recent first, with their last error and attempt history. */
  async dead<T = unknown>(
    queue: string,
    { limit = 100 }: { limit?: number } = {},
  ): Promise<DeadJob<T>[]> {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_DEAD_LIMIT) {
      throw new InvalidArgumentError(
        'limit',
        limit,
        `expected an integer from 1 to ${MAX_DEAD_LIMIT}`,
      );
    }
    const dead = await this.store(queue)
      .listDead(limit)
      .catch(this.connections.rethrow(`list the dead jobs of queue "${queue}"`));
    return dead as DeadJob<T>[];
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

  /** Closes every worker started through this service (they drain, then hand jobs back). */
  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all([...this.workers].map((worker) => worker.close()));
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
