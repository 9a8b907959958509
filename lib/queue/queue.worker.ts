import { EventEmitter } from 'node:events';
import type { LoggerService } from '@nestjs/common';
import { describeValue } from '../common/coordination.error.js';
import type { RedisClient, RedisConnections } from '../connection/redis-connections.js';
import { QueueJobTimeoutError, QueueLeaseLostError, QueueShutdownError } from './queue.errors.js';
import type { Job, JobHandler, WorkerOptions } from './queue.interfaces.js';
import { backoffDelay } from './queue.options.js';
import type { ClaimBatch, ClaimedJob, QueueStore, SettleResult } from './queue.store.js';

/** Longest an idle worker blocks before looking again; bounds the damage of a lost wake-up. */
const MAX_BLOCK_MS = 5000;
/** Pause after a failed claim (Redis down), doubled up to the max while it keeps failing. */
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

/** A job this worker runs right now. */
interface Running {
  claimed: ClaimedJob;
  controller: AbortController;
  /** Handed back at shutdown: the handler's outcome is no longer recorded. */
  released: boolean;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** The events a {@link JobWorker} emits, for logging, metrics and tests. */
export interface JobWorkerEvents {
  completed: [job: Job, result: unknown];
  /** The attempt failed; `outcome` says whether the job will be retried or is now dead. */
  failed: [job: Job, error: unknown, outcome: 'retry' | 'dead'];
  /**
   * The worker no longer held the job when it finished or renewed it (its lease expired, e.g.
   * the process was frozen): Redis refused the completion; another worker runs the job.
   */
  lost: [job: Job];
}

/**
 * Runs a queue's jobs with a handler, `concurrency` at a time, each under a lease renewed while
 * the handler runs. Created by `QueueService.process()`; stop it with {@link close}.
 *
 * Idle, it blocks on the queue's wake-up list on its own connection (no timer polling): adding
 * a job wakes it; the block is bounded by the next delayed job's due time or lease expiry.
 * Completing or failing a job claims the next one in the same round trip.
 */
export class JobWorker extends EventEmitter<JobWorkerEvents> {
  private readonly running = new Map<string, Running>();
  private blocking?: Promise<RedisClient>;
  private readonly renewTimer: NodeJS.Timeout;
  private readonly loop: Promise<void>;
  private stopping = false;
  private closing?: Promise<void>;
  private wakeLoop?: () => void;
  private wakeDrain?: () => void;

  /** @internal Created by `QueueService.process()`. */
  constructor(
    private readonly store: QueueStore,
    private readonly handler: JobHandler,
    private readonly options: Required<WorkerOptions>,
    private readonly connections: RedisConnections,
    private readonly logger: LoggerService,
  ) {
    super();
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.floor(options.leaseMs / 3));
    this.loop = this.fetchLoop();
  }

  /** The queue this worker serves. */
  get queue(): string {
    return this.store.queue;
  }

  /** How many jobs run right now. */
  get activeCount(): number {
    return this.running.size;
  }

  /**
   * Stops claiming, lets running handlers finish within `drainTimeoutMs`, then aborts the rest
   * (signal reason {@link QueueShutdownError}) and hands their jobs back to waiting at once.
   * Safe to call more than once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.wakeLoop?.();
    this.blocking?.then((client) => client.disconnect()).catch(() => undefined);
    await this.loop;
    if (this.running.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => (this.wakeDrain = resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.drainTimeoutMs))),
      ]);
      clearTimeout(timer);
    }
    const left = [...this.running.values()];
    if (left.length > 0) {
      for (const entry of left) {
        entry.released = true;
        entry.controller.abort(
          new QueueShutdownError(this.queue, entry.claimed.job.id, this.options.drainTimeoutMs),
        );
        this.running.delete(entry.claimed.job.id);
      }
      try {
        const released = await this.store.releaseJobs(
          left.map(({ claimed }) => ({ id: claimed.job.id, token: claimed.token })),
        );
        this.logger.log(
          `Queue "${this.queue}": handed ${released} unfinished job(s) back to waiting at shutdown`,
        );
      } catch (error) {
        this.logger.warn(
          `Queue "${this.queue}": could not hand ${left.length} job(s) back at shutdown (${describeError(error)}); they return to waiting when their lease expires`,
        );
      }
    }
    clearInterval(this.renewTimer);
  }

  private async fetchLoop(): Promise<void> {
    let retryMs = RETRY_MIN_MS;
    while (!this.stopping) {
      const free = this.options.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        continue;
      }
      try {
        const batch = await this.store.claimJobs(free, this.options.leaseMs);
        this.startAll(batch);
        if (batch.jobs.length === 0) await this.block(batch.nextDueInMs);
        retryMs = RETRY_MIN_MS;
      } catch (error) {
        if (this.stopping) break;
        if (retryMs === RETRY_MIN_MS) {
          this.logger.warn(
            `Queue "${this.queue}": cannot claim jobs (${describeError(error)}); retrying`,
          );
        }
        await sleep(retryMs);
        retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
      }
    }
  }

  /** Blocks until a job is added (wake token) or something scheduled is due. */
  private async block(nextDueInMs: number): Promise<void> {
    if (nextDueInMs === 0) return;
    const ms = nextDueInMs < 0 ? MAX_BLOCK_MS : Math.min(nextDueInMs, MAX_BLOCK_MS);
    const client = await this.blockingClient();
    if (this.stopping) {
      client.disconnect();
      return;
    }
    await client.blpop(this.store.keys.wake, ms / 1000);
  }

  /** This worker's blocking connection, opened on first idle moment (again if opening failed). */
  private blockingClient(): Promise<RedisClient> {
    this.blocking ??= this.connections.openBlocking(`queue:${this.queue}`).catch((error) => {
      this.blocking = undefined;
      throw error;
    });
    return this.blocking;
  }

  private startAll(batch: ClaimBatch): void {
    for (const claimed of batch.jobs) {
      const entry: Running = { claimed, controller: new AbortController(), released: false };
      this.running.set(claimed.job.id, entry);
      void this.run(entry);
    }
  }

  private async run(entry: Running): Promise<void> {
    const { claimed } = entry;
    const outcome = await this.invoke(entry);
    if (entry.released) return;
    const settled = await this.settle(claimed, outcome);
    if (this.running.get(claimed.job.id) === entry) this.running.delete(claimed.job.id);
    if (settled) {
      this.report(claimed.job, outcome, settled.status);
      this.startAll(settled);
    }
    if (this.running.size < this.options.concurrency) this.wakeLoop?.();
    if (this.running.size === 0) this.wakeDrain?.();
  }

  /** Runs the handler; a timeout, lost lease or shutdown (the signal) ends the attempt at once. */
  private async invoke({ claimed, controller }: Running): Promise<Outcome> {
    const { job, timeoutMs } = claimed;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => controller.abort(new QueueJobTimeoutError(this.queue, job.id, timeoutMs)),
            timeoutMs,
          );
    const aborted = new Promise<Outcome>((resolve) =>
      controller.signal.addEventListener(
        'abort',
        () => resolve({ ok: false, error: controller.signal.reason }),
        { once: true },
      ),
    );
    const handled = Promise.resolve()
      .then(() => this.handler(job, controller.signal))
      .then(
        (value): Outcome => ({ ok: true, value }),
        (error: unknown): Outcome => ({ ok: false, error }),
      );
    try {
      return await Promise.race([handled, aborted]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Records the outcome (claiming this slot's next job in the same call). Retries while Redis is
   * unreachable, up to one lease: after that the job is redone elsewhere anyway.
   */
  private async settle(claimed: ClaimedJob, outcome: Outcome): Promise<SettleResult | undefined> {
    const { job, token } = claimed;
    const claim = { count: this.stopping ? 0 : 1, leaseMs: this.options.leaseMs };
    const giveUpAt = Date.now() + this.options.leaseMs;
    for (let retryMs = RETRY_MIN_MS; ; retryMs = Math.min(retryMs * 2, RETRY_MAX_MS)) {
      try {
        if (outcome.ok) {
          const keep = { count: this.options.keepCompletedCount, ms: this.options.keepCompletedMs };
          return await this.store.completeJob(job.id, token, keep, claim);
        }
        const delay = backoffDelay(claimed.backoff, job.attempt);
        return await this.store.failJob(job.id, token, describeError(outcome.error), delay, claim);
      } catch (error) {
        if (Date.now() + retryMs > giveUpAt) {
          this.logger.warn(
            `Queue "${this.queue}": could not record the outcome of job ${job.id} (${describeError(error)}); it will run again after its lease expires`,
          );
          return undefined;
        }
        await sleep(retryMs);
      }
    }
  }

  private report(job: Job, outcome: Outcome, status: number): void {
    if (status === 0) {
      this.logger.warn(
        `Queue "${this.queue}": job ${job.id} was no longer held by this worker when it finished (lease expired); its outcome was refused and another worker runs it`,
      );
      this.emit('lost', job);
    } else if (outcome.ok) {
      this.emit('completed', job, outcome.value);
    } else {
      const dead = status === 2;
      if (dead) {
        this.logger.warn(
          `Queue "${this.queue}": job ${job.id} moved to the dead-letter list after ${job.attempt} attempt(s): ${describeError(outcome.error)}`,
        );
      }
      this.emit('failed', job, outcome.error, dead ? 'dead' : 'retry');
    }
  }

  private async renewLeases(): Promise<void> {
    const held = [...this.running.values()].map(({ claimed }) => ({
      id: claimed.job.id,
      token: claimed.token,
    }));
    if (held.length === 0) return;
    let lost: Set<string>;
    try {
      lost = await this.store.extendLeases(held, this.options.leaseMs);
    } catch {
      return; // Redis unreachable: the next tick tries again; the lease decides.
    }
    for (const { id, token } of held) {
      const entry = this.running.get(id);
      if (lost.has(id) && entry?.claimed.token === token) {
        entry.controller.abort(new QueueLeaseLostError(this.queue, id));
      }
    }
  }
}

/** Text stored as an attempt's error: the message of an Error, a description of anything else. */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-Error thrown: ${describeValue(error)}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
