import { EventEmitter } from 'node:events';
import type { LoggerService } from '@nestjs/common';
import type { CodecError } from '../common/codec.js';
import { describeValue } from '../common/coordination.error.js';
import { waitAtMost } from '../common/within.js';
import {
  SHUTDOWN_WAIT_MS,
  type RedisClient,
  type RedisConnections,
} from '../connection/redis-connections.js';
import { QueueJobTimeoutError, QueueLeaseLostError, QueueShutdownError } from './queue.errors.js';
import type { Job, JobHandler, WorkerOptions } from './queue.interfaces.js';
import { backoffDelay } from './queue.options.js';
import { telemetryOf, type Telemetry } from '../telemetry/telemetry.js';
import { AttemptTelemetry, type AttemptOutcome } from './queue.telemetry.js';
import { RetryBackoff, sleep } from './retry-backoff.js';
import type {
  ClaimBatch,
  ClaimRequest,
  ClaimedJob,
  QueueStore,
  UndecodableJob,
} from './queue.store.js';

/** Longest an idle worker blocks before looking again; bounds the damage of a lost wake-up. */
const MAX_BLOCK_MS = 5000;
/** Most jobs claimed or completed per script call (Lua's unpack() has a stack limit). */
const MAX_CLAIM = 1000;

/** A failed attempt's outcome by failJob's status (0 lost, 2 dead; unrecorded counts as lost). */
function failureOutcome(status: number | undefined): AttemptOutcome {
  if (status === 2) return 'dead';
  return status === undefined || status === 0 ? 'lost' : 'retrying';
}

/** A job this worker runs right now. */
interface Running {
  claimed: ClaimedJob;
  controller: AbortController;
  /** Ends the attempt with this outcome (set while the handler runs). */
  settle?: (outcome: Outcome) => void;
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
  /**
   * A claimed job's stored record could not be decoded (corrupt, missing, or refused by the
   * codec): it went to the dead-letter list at once, without running, with this error.
   */
  undecodable: [jobId: string, error: CodecError];
}

/**
 * Runs a queue's jobs with a handler, `concurrency` at a time, each under a lease renewed while
 * the handler runs. Created by `QueueService.process()`; stop it with {@link close}.
 *
 * Idle, it blocks on the queue's wake-up list on its own connection (no timer polling): adding
 * a job wakes it; the block is bounded by the next delayed job's due time or lease expiry.
 * Completing or failing jobs claims the next ones in the same round trip.
 *
 * @example
 * const worker = queue.process('emails', (job, signal) => send(job.data, { signal }), { concurrency: 16 });
 * worker.on('failed', (job, error, outcome) => metrics.failed(job.queue, outcome));
 * await worker.close(); // drain, then hand unfinished jobs back
 */
export class JobWorker extends EventEmitter<JobWorkerEvents> {
  private readonly running = new Map<string, Running>();
  /** Successful handlers whose completion waits for the next batched flush. */
  private readonly acks: { entry: Running; value: unknown; attempt?: AttemptTelemetry }[] = [];
  private blocking?: Promise<RedisClient>;
  private readonly renewTimer: NodeJS.Timeout;
  private readonly loop: Promise<void>;
  private stopping = false;
  /** Shutdown finished: outcomes still in flight are no longer retried. */
  private closed = false;
  private closing?: Promise<void>;
  private wakeLoop?: () => void;
  private wakeDrain?: () => void;
  /** Handlers running now; their jobs stay in `running` until the outcome is recorded. */
  private handlersRunning = 0;
  private wakeHandled?: () => void;
  /** A return value could not be kept: warned once. */
  private resultRefusedWarned = false;
  /** Undecodable jobs being dead-lettered; shutdown waits for them a while. */
  private readonly burials = new Set<Promise<void>>();

  /** @internal Created by `QueueService.process()`. */
  /** With the module option `telemetry`: each attempt's span and duration. */
  private readonly telemetry?: Telemetry;

  constructor(
    private readonly store: QueueStore,
    private readonly handler: JobHandler,
    private readonly options: Required<WorkerOptions>,
    private readonly connections: RedisConnections,
    private readonly logger: LoggerService,
    private readonly onClosed: () => void,
  ) {
    super();
    this.telemetry = telemetryOf(connections);
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
    // A wait sent while Redis was down is never settled, even by that disconnect (ioredis): wait
    // for the loop a while, no longer. Jobs it claims later still drain below, or, once closed,
    // are not started and return to waiting when their lease expires.
    await waitAtMost(this.loop, SHUTDOWN_WAIT_MS);
    if (this.handlersRunning > 0) {
      const handled = new Promise<void>((resolve) => (this.wakeHandled = resolve));
      await waitAtMost(handled, this.options.drainTimeoutMs);
    }
    if (this.running.size > 0 && this.handlersRunning === 0) {
      // The outcomes of finished handlers are being recorded: a moment, unless Redis is out;
      // then their jobs run again after their lease, as after a crash.
      const recorded = new Promise<void>((resolve) => (this.wakeDrain = resolve));
      await waitAtMost(recorded, SHUTDOWN_WAIT_MS);
    }
    const left = [...this.running.values()];
    if (left.length > 0) {
      for (const entry of left) {
        entry.released = true;
        this.abort(
          entry,
          new QueueShutdownError(this.queue, entry.claimed.job.id, this.options.drainTimeoutMs),
        );
        this.running.delete(entry.claimed.job.id);
      }
      try {
        const released = await this.connections.atShutdown('handing jobs back', () =>
          this.store.releaseJobs(
            left.map(({ claimed }) => ({ id: claimed.job.id, token: claimed.token })),
          ),
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
    await waitAtMost(Promise.all(this.burials), SHUTDOWN_WAIT_MS);
    clearInterval(this.renewTimer);
    this.closed = true;
    this.onClosed();
  }

  private async fetchLoop(): Promise<void> {
    const backoff = new RetryBackoff();
    while (!this.stopping) {
      const free = this.options.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.wakeLoop = resolve));
        continue;
      }
      try {
        const batch = await this.store.claimJobs(this.claimFor(Math.min(free, MAX_CLAIM)));
        this.startAll(batch);
        if (batch.jobs.length === 0 && batch.undecodable.length === 0) {
          // A due slot makes nextDueInMs 0: wait for its firing instead of claiming in a loop.
          await (batch.schedulerDue
            ? this.store.schedulers.fireDue(this.logger)
            : this.block(batch.nextDueInMs));
        }
        backoff.succeeded();
      } catch (error) {
        if (this.stopping) break;
        if (backoff.firstFailure) {
          this.logger.warn(
            `Queue "${this.queue}": cannot claim jobs (${describeError(error)}); retrying`,
          );
        }
        await backoff.pause();
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
    if (this.closed) return;
    if (batch.schedulerDue) void this.store.schedulers.fireDue(this.logger);
    for (const claimed of batch.jobs) {
      const entry: Running = { claimed, controller: new AbortController(), released: false };
      this.running.set(claimed.job.id, entry);
      void this.run(entry);
    }
    for (const job of batch.undecodable) {
      const burial = this.buryUndecodable(job).finally(() => this.burials.delete(burial));
      this.burials.add(burial);
    }
  }

  /**
   * Dead-letters a claimed job whose record cannot be decoded, at once: no attempt could read it,
   * and holding it until its lease expired would only delay the jobs behind it. It takes no slot.
   */
  private async buryUndecodable({ id, token, error }: UndecodableJob): Promise<void> {
    const settled = await this.untilRecorded(`the decode failure of job ${id}`, () =>
      this.store.failJob(id, token, describeError(error), 'never', this.claimFor(0)),
    );
    if (settled?.status !== 2) return;
    this.logger.warn(
      `Queue "${this.queue}": job ${id} moved to the dead-letter list without running: ${error.message}`,
    );
    this.emit('undecodable', id, error);
  }

  private async run(entry: Running): Promise<void> {
    const { job, token, backoff } = entry.claimed;
    this.handlersRunning++;
    const attempt =
      this.telemetry && AttemptTelemetry.start(this.telemetry, this.queue, entry.claimed);
    const outcome = attempt
      ? await attempt.run(() => this.invoke(entry))
      : await this.invoke(entry);
    if (--this.handlersRunning === 0) this.wakeHandled?.();
    if (entry.released) {
      attempt?.end('released');
      return;
    }
    if (outcome.ok) {
      this.queueAck(entry, outcome.value, attempt);
      return;
    }
    const error = describeError(outcome.error);
    const delay = backoffDelay(backoff, job.attempt);
    const settled = await this.untilRecorded(`the failure of job ${job.id}`, () =>
      this.store.failJob(job.id, token, error, delay, this.claimFor(1)),
    );
    this.finish([entry], settled);
    attempt?.end(failureOutcome(settled?.status), outcome.error);
    if (settled?.status === 0) this.reportLost(job);
    else if (settled) this.reportFailure(job, outcome.error, settled.status === 2);
  }

  /**
   * Completions are sent in batches: every handler that finished since the last flush (replies
   * to pipelined calls arrive together) is recorded in one script call, which also claims as
   * many new jobs. This halves round trips and Redis work per job under load.
   */
  private queueAck(entry: Running, value: unknown, attempt?: AttemptTelemetry): void {
    this.acks.push({ entry, value, attempt });
    if (this.acks.length === 1) setImmediate(() => void this.flushAcks());
  }

  private async flushAcks(): Promise<void> {
    const acks = this.acks.splice(0, MAX_CLAIM);
    if (this.acks.length > 0) setImmediate(() => void this.flushAcks());
    const held = acks.map(({ entry, value }) => ({
      id: entry.claimed.job.id,
      token: entry.claimed.token,
      result: value === undefined ? undefined : this.encodeResult(entry.claimed.job, value),
    }));
    const keep = { count: this.options.keepCompletedCount, ms: this.options.keepCompletedMs };
    const result = await this.untilRecorded(`the completion of ${acks.length} job(s)`, () =>
      this.store.completeJobs(held, keep, this.claimFor(acks.length)),
    );
    this.finish(
      acks.map(({ entry }) => entry),
      result,
    );
    // An attempt's telemetry ends once its completion is recorded, or refused (lost).
    acks.forEach(({ attempt }, i) =>
      attempt?.end(result?.statuses[i] === 1 ? 'completed' : 'lost'),
    );
    if (!result) return;
    acks.forEach(({ entry, value }, i) => {
      if (result.statuses[i] === 1) this.emit('completed', entry.claimed.job, value);
      else this.reportLost(entry.claimed.job);
    });
  }

  /**
   * A return value as stored with the completed job; one the codec refuses or that is too big is
   * not kept (the job still completes), said once per worker.
   */
  private encodeResult(job: Job, value: unknown): string | undefined {
    try {
      return this.store.encodeValue(`keep the return value of job ${job.id}`, value);
    } catch (error) {
      if (!this.resultRefusedWarned) {
        this.resultRefusedWarned = true;
        this.logger.warn(
          `Queue "${this.queue}": ${(error as Error).message}; the job completed without it (said once per worker)`,
        );
      }
      return undefined;
    }
  }

  private claimFor(slots: number): ClaimRequest {
    return {
      count: this.stopping ? 0 : slots,
      leaseMs: this.options.leaseMs,
      keepDead: { count: this.options.keepDeadCount, ms: this.options.keepDeadMs },
    };
  }

  /** Frees the slots of settled jobs and fills them with the jobs claimed in the same call. */
  private finish(entries: readonly Running[], next: ClaimBatch | undefined): void {
    for (const entry of entries) {
      const { id } = entry.claimed.job;
      if (this.running.get(id) === entry) this.running.delete(id);
    }
    if (next) this.startAll(next);
    if (this.running.size < this.options.concurrency) this.wakeLoop?.();
    if (this.running.size === 0) this.wakeDrain?.();
  }

  /** Runs the handler; a timeout, lost lease or shutdown (the signal) ends the attempt at once. */
  private async invoke(entry: Running): Promise<Outcome> {
    const { job, timeoutMs } = entry.claimed;
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(
            () => this.abort(entry, new QueueJobTimeoutError(this.queue, job.id, timeoutMs)),
            timeoutMs,
          );
    try {
      return await new Promise<Outcome>((resolve) => {
        entry.settle = resolve;
        Promise.resolve()
          .then(() => this.handler(job, entry.controller.signal))
          .then(
            (value) => resolve({ ok: true, value }),
            (error: unknown) => resolve({ ok: false, error }),
          );
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Aborts the handler's signal and ends the attempt at once, whether or not the handler
   * listens. (Called directly rather than through an 'abort' listener: AbortSignal listeners
   * cost microseconds per job on the hot path.)
   */
  private abort(entry: Running, reason: Error): void {
    entry.controller.abort(reason);
    entry.settle?.({ ok: false, error: reason });
  }

  /**
   * Sends an outcome, retrying while Redis is unreachable, up to one lease: after that the job
   * is redone elsewhere anyway (at-least-once), so giving up loses nothing.
   */
  private async untilRecorded<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
    const giveUpAt = Date.now() + this.options.leaseMs;
    const backoff = new RetryBackoff();
    for (;;) {
      try {
        return await call();
      } catch (error) {
        const retryMs = backoff.next();
        if (this.closed || Date.now() + retryMs > giveUpAt) {
          this.logger.warn(
            `Queue "${this.queue}": could not record ${what} (${describeError(error)}); the job(s) will run again after their lease expires`,
          );
          return undefined;
        }
        await sleep(retryMs);
      }
    }
  }

  private reportLost(job: Job): void {
    this.logger.warn(
      `Queue "${this.queue}": job ${job.id} was no longer held by this worker when it finished (lease expired); its outcome was refused and another worker runs it`,
    );
    this.emit('lost', job);
  }

  private reportFailure(job: Job, error: unknown, dead: boolean): void {
    if (dead) {
      this.logger.warn(
        `Queue "${this.queue}": job ${job.id} moved to the dead-letter list after ${job.attempt} attempt(s): ${describeError(error)}`,
      );
    }
    this.emit('failed', job, error, dead ? 'dead' : 'retry');
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
      if (entry && lost.has(id) && entry.claimed.token === token) {
        this.abort(entry, new QueueLeaseLostError(this.queue, id));
      }
    }
  }
}

/** Text stored as an attempt's error: the message of an Error, a description of anything else. */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-Error thrown: ${describeValue(error)}`;
}
