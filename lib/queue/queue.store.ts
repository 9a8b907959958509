import { CodecError } from '../common/codec.js';
import { describeValue } from '../common/coordination.error.js';
import type { RedisClient, RedisConnections } from '../connection/redis-connections.js';
import type { ReplicaAckOptions, ReplicaConfirmation } from '../connection/replica-acks.js';
import { QueueSchedulerStore } from './queue-scheduler.store.js';
import { QueueLeaseLostError, QueuePayloadError } from './queue.errors.js';
import type {
  AttemptError,
  Job,
  JobInfo,
  JobProgress,
  JobState,
  OldestWaitingJob,
  QueueCounts,
  QueueEvent,
  QueueEventName,
} from './queue.interfaces.js';
import { queueKeys, scriptKeysOf, scriptRunners, type QueueKeys } from './queue.keys.js';
import type { ResolvedJobOptions } from './queue.options.js';
import {
  addJobs,
  claimJobs,
  cleanJobs,
  completeJobs,
  countJobs,
  extendLeases,
  failJob,
  headJobs,
  obliterateQueue,
  progressJob,
  readJobs,
  releaseJobs,
  removeJob,
  resumeQueue,
  retryDead,
  setLimits,
} from './scripts/lua.generated.js';

const scripts = {
  addJobs,
  claimJobs,
  completeJobs,
  failJob,
  extendLeases,
  releaseJobs,
  progressJob,
  readJobs,
  headJobs,
  removeJob,
  cleanJobs,
  obliterateQueue,
  retryDead,
  countJobs,
  resumeQueue,
  setLimits,
};
type QueueScript = keyof typeof scripts;
const runners = scriptRunners(scripts);

/** Jobs per `addJobs` script call: one round trip, short enough not to stall Redis. */
const ADD_BATCH = 1000;
/** Most events one read returns. */
const EVENTS_PER_READ = 500;
/** Most jobs first in line (priority levels and groups) read to find the oldest waiting one. */
const MAX_HEADS = 100;

/** The lists of finished jobs. */
export type FinishedState = 'completed' | 'dead';

/** What is stored before the payload in a job record (short keys: one per job in Redis). */
interface RecordHeader {
  /** name */
  n?: string;
  /** max attempts */
  a: number;
  /** backoff: type, delayMs, jitter */
  b?: [BackoffType, number, number];
  /** timeoutMs */
  x?: number;
  /** added at */
  t: number;
  /** delayed at add by (ms) */
  d?: number;
  /** trace context of the add (propagation headers, JSON) */
  p?: string;
  /** group */
  g?: string;
}
type BackoffType = 'fixed' | 'exponential';

/** The fields of a queue's limits hash (includes/queue.lua, readLimits). */
export type LimitField = 'concurrency' | 'rateMax' | 'rateMs' | 'groupConcurrency';

/** A job claimed under a lease, as the worker runs it. */
export interface ClaimedJob {
  job: Job;
  token: string;
  backoff?: { type: BackoffType; delayMs: number; jitter: number };
  timeoutMs?: number;
  /** Trace context of the add that made the job (with the module option `telemetry`). */
  trace?: string;
}

/** How many entries of a bounded list (completed, dead) to keep, and for how long. */
export interface Retention {
  count: number;
  ms: number;
}

/**
 * The jobs to claim in a call, and the dead list's bounds, applied if the call buries jobs
 * (expired leases found while claiming, or the failed job).
 */
export interface ClaimRequest {
  /** How many jobs to claim (0: none). */
  count: number;
  leaseMs: number;
  keepDead: Retention;
}

/** A claimed job whose record cannot be decoded: it must be dead-lettered, not run. */
export interface UndecodableJob {
  id: string;
  token: string;
  error: CodecError;
}

/** A claim's outcome: the jobs, or how long an idle worker may block before looking again. */
export interface ClaimBatch {
  jobs: ClaimedJob[];
  /** Claimed jobs whose record cannot be decoded (corrupt, missing, refused by the codec). */
  undecodable: UndecodableJob[];
  /** -1: nothing scheduled; else ms until a delayed job is due, a lease expires or a slot comes. */
  nextDueInMs: number;
  /** A scheduler's slot has come: the worker fires it (`QueueSchedulerStore.fireDue`). */
  schedulerDue: boolean;
}

/** Outcome of failing a job, plus the caller's next jobs. */
export interface SettleResult extends ClaimBatch {
  /** 1 will retry, 2 dead, 0 refused (lease lost). */
  status: number;
}

/** A job a worker settles as completed, with its handler's return value encoded (or not). */
export interface CompletedJob {
  id: string;
  token: string;
  /** `undefined`: none to keep (the handler returned nothing, or it could not be stored). */
  result?: string;
}

/** Adds waiting for the next flush that ask for the same replicas (or none). */
interface PendingAdds {
  acks: ReplicaAckOptions | undefined;
  adds: {
    job: EncodedJob;
    resolve: (confirmation: ReplicaConfirmation | undefined) => void;
    reject: (error: unknown) => void;
  }[];
}

/** An encoded job, ready for `addJobs`. */
export interface EncodedJob {
  id: string;
  args: (string | number)[];
}

/**
 * One queue's Redis side: builds its keys once and wraps each script in one typed method that
 * parses the reply. Every method is one round trip.
 */
export class QueueStore {
  readonly keys: QueueKeys;
  readonly schedulers: QueueSchedulerStore;
  /** By replicas asked for (`replicas/timeoutMs`; `undefined`: none), in arrival order. */
  private readonly pendingAdds = new Map<string | undefined, PendingAdds>();

  /** Each script's KEYS, in the order its `--- @keys` line names them. */
  private readonly scriptKeys: Record<QueueScript, string[]>;

  constructor(
    private readonly connections: RedisConnections,
    readonly queue: string,
  ) {
    this.keys = queueKeys(connections.keys, queue);
    this.scriptKeys = scriptKeysOf(this.keys, scripts);
    this.schedulers = new QueueSchedulerStore(connections, this);
  }

  private run(script: QueueScript, args: readonly (string | number)[]): Promise<unknown> {
    return runners[script].run(this.connections.command, this.scriptKeys[script], args);
  }

  /**
   * Encodes a value to store (`action` names the call in errors), refusing what the codec
   * cannot store or what exceeds `maxPayloadBytes`.
   */
  encodeValue(action: string, value: unknown): string {
    let encoded: string;
    try {
      encoded = this.connections.codec.encode(value);
    } catch (error) {
      const reason = error instanceof CodecError ? error.message : String(error);
      throw new QueuePayloadError(action, `the value cannot be encoded: ${reason}`, {
        cause: error,
      });
    }
    const size = Buffer.byteLength(encoded);
    if (size > this.connections.maxPayloadBytes) {
      throw new QueuePayloadError(
        action,
        `the encoded value is ${size} bytes, over maxPayloadBytes (${this.connections.maxPayloadBytes}); store large data elsewhere and keep a reference, or raise the module option maxPayloadBytes`,
      );
    }
    return encoded;
  }

  /** Encodes a job for `addJobs`, refusing payloads the codec cannot store or that are too big. */
  encode(data: unknown, options: ResolvedJobOptions, now: number, trace?: string): EncodedJob {
    const payload = this.encodeValue(`add a job to queue "${this.queue}"`, data);
    const header: RecordHeader = { a: options.attempts, t: now };
    if (options.name !== undefined) header.n = options.name;
    if (options.backoff) {
      const { type, delayMs, jitter } = options.backoff;
      header.b = [type, delayMs, jitter];
    }
    if (options.timeoutMs !== undefined) header.x = options.timeoutMs;
    if (options.group !== undefined) header.g = options.group;
    if (options.delayMs > 0) header.d = options.delayMs;
    if (trace !== undefined) header.p = trace;
    // JSON.stringify never emits a raw newline, so the first one ends the header.
    const record = `${JSON.stringify(header)}\n${payload}`;
    return {
      id: options.id,
      args: [
        options.id,
        record,
        options.attempts,
        options.priority,
        options.delayMs,
        options.group ?? '',
      ],
    };
  }

  /**
   * Adds one job. Adds made in the same turn of the event loop (many requests enqueueing at
   * once) go to Redis in one script call: one round trip and one script run for all of them
   * (one per `acks` asked for, whose single `WAIT` then covers them all). The call is atomic, so
   * each add still either happened or rejects. With `acks`, resolves to how many replicas
   * confirmed it.
   */
  addJob(job: EncodedJob, acks?: ReplicaAckOptions): Promise<ReplicaConfirmation | undefined> {
    return new Promise((resolve, reject) => {
      const key = acks && `${acks.replicas}/${acks.timeoutMs}`;
      let pending = this.pendingAdds.get(key);
      if (!pending) {
        if (this.pendingAdds.size === 0) setImmediate(() => this.flushAdds());
        pending = { acks, adds: [] };
        this.pendingAdds.set(key, pending);
      }
      pending.adds.push({ job, resolve, reject });
    });
  }

  private flushAdds(): void {
    const groups = [...this.pendingAdds.values()];
    this.pendingAdds.clear();
    for (const { acks, adds } of groups) {
      for (const batch of chunks(adds, ADD_BATCH)) {
        const args = batch.flatMap(({ job }) => job.args);
        this.addBatch(args, acks).then(
          (confirmation) => batch.forEach(({ resolve }) => resolve(confirmation)),
          (error: unknown) => batch.forEach(({ reject }) => reject(error)),
        );
      }
    }
  }

  /**
   * Adds jobs in one script call per 1000. With `acks`, resolves to the weakest confirmation
   * among those calls (a failed `WAIT` first, else the fewest replicas).
   */
  async addJobs(
    jobs: readonly EncodedJob[],
    acks?: ReplicaAckOptions,
  ): Promise<ReplicaConfirmation | undefined> {
    const confirmations = await Promise.all(
      chunks(jobs, ADD_BATCH).map((batch) =>
        this.addBatch(
          batch.flatMap((job) => job.args),
          acks,
        ),
      ),
    );
    if (!acks) return undefined;
    const failedWait = confirmations.find((c) => c?.waitError !== undefined);
    return failedWait ?? confirmations.sort((a, b) => a!.acknowledged - b!.acknowledged)[0];
  }

  /** One addJobs call; with `acks`, on the connection of such writes and followed by `WAIT`. */
  private addBatch(
    args: readonly (string | number)[],
    acks: ReplicaAckOptions | undefined,
  ): Promise<ReplicaConfirmation | undefined> {
    // Not `async` without acks: the plain add is the queue's hot path.
    if (!acks) return this.run('addJobs', args).then(() => undefined);
    return this.addAcknowledged(args, acks);
  }

  private async addAcknowledged(
    args: readonly (string | number)[],
    acks: ReplicaAckOptions,
  ): Promise<ReplicaConfirmation> {
    const client = await this.connections.acknowledging();
    const { acknowledged, waitError } = await runners.addJobs.runAcknowledged(
      client,
      this.scriptKeys.addJobs,
      args,
      acks,
    );
    return { acknowledged, waitError };
  }

  async claimJobs(claim: ClaimRequest): Promise<ClaimBatch> {
    const reply = await this.run('claimJobs', claimArgs(claim));
    return this.parseClaim(reply as unknown[], 0);
  }

  /** Completes jobs (one status each, in order: 1 done, 0 refused) and claims the next ones. */
  async completeJobs(
    held: readonly CompletedJob[],
    keepCompleted: Retention,
    claim: ClaimRequest,
  ): Promise<ClaimBatch & { statuses: number[] }> {
    const args: (string | number)[] = [keepCompleted.count, keepCompleted.ms, ...claimArgs(claim)];
    for (const { id, token, result } of held) {
      args.push(id, token, result === undefined ? '' : `=${result}`);
    }
    const reply = (await this.run('completeJobs', args)) as unknown[];
    return {
      statuses: reply.slice(0, held.length).map(Number),
      ...this.parseClaim(reply, held.length),
    };
  }

  /** Fails an attempt: retried after `retryDelayMs`, or dead at once with `'never'`. */
  async failJob(
    id: string,
    token: string,
    error: string,
    retryDelayMs: number | 'never',
    claim: ClaimRequest,
  ): Promise<SettleResult> {
    const reply = (await this.run('failJob', [
      id,
      token,
      error,
      retryDelayMs === 'never' ? 0 : retryDelayMs,
      ...claimArgs(claim),
      retryDelayMs === 'never' ? 1 : 0,
    ])) as unknown[];
    return { status: Number(reply[0]), ...this.parseClaim(reply, 1) };
  }

  /** Renews leases; returns the ids whose lease was lost. */
  async extendLeases(
    held: readonly { id: string; token: string }[],
    leaseMs: number,
  ): Promise<Set<string>> {
    const args = [leaseMs, ...held.flatMap(({ id, token }) => [id, token])];
    const lost = await this.run('extendLeases', args);
    return new Set((lost as unknown[]).map(String));
  }

  /** Hands jobs back to the front of wait; returns how many were still held. */
  async releaseJobs(held: readonly { id: string; token: string }[]): Promise<number> {
    const args = held.flatMap(({ id, token }) => [id, token]);
    return Number(await this.run('releaseJobs', args));
  }

  /** Reads jobs by id (`undefined` for an unknown id), in one snapshot. */
  async readJobs(ids: readonly string[]): Promise<(JobInfo | undefined)[]> {
    return this.parseJobs((await this.run('readJobs', ['', ...ids])) as unknown[]);
  }

  /** Reads a page of one list (completed and dead newest first). */
  async pageJobs(state: JobState, offset: number, limit: number): Promise<JobInfo[]> {
    const reply = (await this.run('readJobs', [state, offset, limit])) as unknown[];
    return this.parseJobs(reply) as JobInfo[];
  }

  /**
   * Of the jobs first in line (headJobs-6.lua) and the most overdue delayed job, the one waiting
   * longest and for how long (see {@link waitingSince}); undefined when nothing waits.
   */
  async oldestWaiting(): Promise<OldestWaitingJob | undefined> {
    const reply = (await this.run('headJobs', [MAX_HEADS])) as unknown[];
    const now = Number(reply[0]);
    let oldest: OldestWaitingJob | undefined =
      typeof reply[1] === 'string'
        ? { id: reply[1], waitingMs: Math.max(0, now - Number(reply[2])) }
        : undefined;
    for (let i = 3; i < reply.length; i += 4) {
      const since = waitingSince(reply[i + 1], reply[i + 2], reply[i + 3]);
      const waitingMs = since === undefined ? 0 : Math.max(0, now - since);
      if (!oldest || waitingMs > oldest.waitingMs) oldest = { id: String(reply[i]), waitingMs };
    }
    return oldest;
  }

  /**
   * Removes a job (`onlyIn`: only from that list, in the same step): 1 removed, 0 no such job
   * or not in that list, -1 refused (active, not forced).
   */
  async removeJob(id: string, force: boolean, onlyIn: FinishedState | ''): Promise<number> {
    return Number(await this.run('removeJob', [id, force ? 1 : 0, onlyIn]));
  }

  /** Deletes up to `limit` completed or dead jobs finished `olderThanMs` ago or more. */
  async cleanJobs(list: 'completed' | 'dead', olderThanMs: number, limit: number): Promise<number> {
    return Number(await this.run('cleanJobs', [list, olderThanMs, limit]));
  }

  /** Deletes every key of the queue: how many existed, or -1 when refused (jobs active). */
  async obliterate(force: boolean): Promise<number> {
    return Number(await this.run('obliterateQueue', [force ? 1 : 0]));
  }

  /** Records a job's progress. @throws QueueLeaseLostError when the lease was lost. */
  async reportProgress(id: string, token: string, value: JobProgress): Promise<void> {
    const action = `record the progress of job ${id} of queue "${this.queue}"`;
    const encoded = this.encodeValue(action, value);
    const recorded = await this.run('progressJob', [id, token, encoded]).catch(
      this.connections.rethrow(action),
    );
    if (Number(recorded) !== 1) throw new QueueLeaseLostError(this.queue, id);
  }

  /** Keeps the events written for `ttlMs`: scripts write them only while this key lives. */
  async listen(ttlMs: number): Promise<void> {
    await this.connections.command.set(this.keys.listening, '1', 'PX', ttlMs);
  }

  /** The id of the newest event, or `0-0` when there is none: where a new reader starts. */
  async lastEventId(): Promise<string> {
    const newest = await this.connections.command.xrevrange(this.keys.events, '+', '-', 'COUNT', 1);
    return newest[0]?.[0] ?? '0-0';
  }

  /** Reads events after `after`, blocking up to `blockMs` on `client` (its own connection). */
  async readEvents(client: RedisClient, after: string, blockMs: number): Promise<QueueEvent[]> {
    const reply = await client.xread(
      'COUNT',
      EVENTS_PER_READ,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.keys.events,
      after,
    );
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([eventId, fields]) => this.parseEvent(eventId, fields));
  }

  private parseEvent(eventId: string, fields: string[]): QueueEvent {
    const field: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) field[fields[i]!] = fields[i + 1]!;
    const event = field.e as QueueEventName;
    const raw = field.d ?? '';
    let data: unknown;
    if (event === 'active') data = Number(raw);
    else if (event === 'retrying' || event === 'dead') data = raw;
    else if (raw !== '') data = this.decodeStored(raw);
    return {
      event,
      jobId: field.i ?? '',
      ...(field.n ? { name: field.n } : {}),
      ...(data === undefined ? {} : { data }),
      eventId,
      at: Number(eventId.slice(0, eventId.indexOf('-'))),
    };
  }

  /** A stored value (result, progress); one the codec refuses reads as its raw text. */
  private decodeStored(raw: string): unknown {
    try {
      return this.connections.codec.decode(raw);
    } catch {
      return raw;
    }
  }

  private parseJobs(reply: unknown[]): (JobInfo | undefined)[] {
    const jobs: (JobInfo | undefined)[] = [];
    for (let i = 0; i < reply.length; i += 8) {
      const [id, list, score, record, state, errors, progress, result] = reply
        .slice(i, i + 8)
        .map((value) => (value === null || value === undefined ? undefined : String(value)));
      if (!list || !id) {
        jobs.push(undefined);
        continue;
      }
      jobs.push(
        this.parseJob(id, list as JobState, Number(score), record, state, errors, progress, result),
      );
    }
    return jobs;
  }

  private parseJob(
    id: string,
    state: JobState,
    score: number,
    record: string | undefined,
    stateValue: string | undefined,
    errors: string | undefined,
    progress: string | undefined,
    result: string | undefined,
  ): JobInfo {
    let decoded: { header?: RecordHeader; data?: unknown; decodeError?: string };
    try {
      decoded = this.decodeRecord(id, record);
    } catch (error) {
      decoded = { decodeError: (error as CodecError).message };
    }
    const [made, max, priority, , ...group] = (stateValue ?? '0|0|0|').split('|');
    const history = parseHistory(errors);
    const info: JobInfo = {
      id,
      state,
      ...(decoded.header?.n === undefined ? {} : { name: decoded.header.n }),
      data: decoded.data,
      ...(group.length > 0 ? { group: group.join('|') } : {}),
      attemptsMade: Number(made),
      maxAttempts: Number(max),
      priority: Number(priority),
      history,
    };
    if (decoded.header) info.addedAt = decoded.header.t;
    if (state === 'delayed') info.dueAt = score;
    if (state === 'active') info.leaseExpiresAt = score;
    if (state === 'completed' || state === 'dead') info.finishedAt = score;
    if (progress !== undefined) info.progress = this.decodeStored(progress) as JobProgress;
    if (result !== undefined) info.returnValue = this.decodeStored(result);
    if (history.length > 0) info.lastError = history.at(-1)!.error;
    if (decoded.decodeError !== undefined) info.decodeError = decoded.decodeError;
    return info;
  }

  async retryDead(ids: readonly string[]): Promise<number> {
    return Number(await this.run('retryDead', ids));
  }

  async countJobs(): Promise<QueueCounts> {
    const reply = (await this.run('countJobs', [])) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const [waiting, active, delayed, completed, dead, paused] = reply.map(Number);
    return { waiting, active, delayed, completed, dead, paused: paused === 1 } as QueueCounts;
  }

  /** Sets (a number) or clears (`undefined`) queue-wide limits, and wakes an idle worker. */
  async setLimits(limits: Partial<Record<LimitField, number | undefined>>): Promise<void> {
    const args = Object.entries(limits).flatMap(([field, value]) => [field, value ?? '']);
    await this.run('setLimits', args);
  }

  async readLimits(): Promise<Partial<Record<LimitField, number>>> {
    const fields: LimitField[] = ['concurrency', 'rateMax', 'rateMs', 'groupConcurrency'];
    const values = await this.connections.command.hmget(this.keys.limits, ...fields);
    return Object.fromEntries(
      fields.flatMap((field, i) => (values[i] === null ? [] : [[field, Number(values[i])]])),
    );
  }

  async pause(): Promise<void> {
    await this.connections.command.set(this.keys.paused, '1');
  }

  async resume(): Promise<void> {
    await this.run('resumeQueue', []);
  }

  private parseClaim(reply: unknown[], offset: number): ClaimBatch {
    const jobs: ClaimedJob[] = [];
    const undecodable: UndecodableJob[] = [];
    const startedAt = Number(reply[offset + 1]);
    for (let i = offset + 3; i < reply.length; i += 4) {
      const id = String(reply[i]);
      let decoded: { header: RecordHeader; data: unknown };
      try {
        decoded = this.decodeRecord(id, reply[i + 1]);
      } catch (error) {
        // Already claimed: the worker dead-letters it at once instead of holding its lease.
        undecodable.push({ id, token: String(reply[i + 3]), error: error as CodecError });
        continue;
      }
      const { header, data } = decoded;
      const token = String(reply[i + 3]);
      jobs.push({
        job: {
          queue: this.queue,
          id,
          ...(header.n === undefined ? {} : { name: header.n }),
          ...(header.g === undefined ? {} : { group: header.g }),
          data,
          attempt: Number(reply[i + 2]),
          maxAttempts: header.a,
          addedAt: header.t,
          startedAt,
          progress: (value) => this.reportProgress(id, token, value),
        },
        token,
        ...(header.b
          ? { backoff: { type: header.b[0], delayMs: header.b[1], jitter: header.b[2] } }
          : {}),
        ...(header.x === undefined ? {} : { timeoutMs: header.x }),
        ...(header.p === undefined ? {} : { trace: header.p }),
      });
    }
    return {
      jobs,
      undecodable,
      nextDueInMs: Number(reply[offset]),
      schedulerDue: reply[offset + 2] === 1,
    };
  }

  /**
   * Reads a stored record (nil when missing). Throws {@link CodecError} if it is missing, its
   * header is not one this library wrote, or the codec refuses the payload (written by hand or
   * by another codec): one such record must not stop a whole queue.
   */
  private decodeRecord(id: string, record: unknown): { header: RecordHeader; data: unknown } {
    const fail = (problem: string, cause?: unknown) =>
      new CodecError(`Cannot decode job ${id} of queue "${this.queue}": ${problem}`, { cause });
    if (typeof record !== 'string') throw fail('its record is missing');
    const split = record.indexOf('\n');
    let header: unknown;
    try {
      header = split < 0 ? undefined : JSON.parse(record.slice(0, split));
    } catch {
      header = undefined;
    }
    if (!isRecordHeader(header)) throw fail('its record does not start with a valid header');
    let data: unknown;
    try {
      data = this.connections.codec.decode(record.slice(split + 1));
    } catch (error) {
      const reason = error instanceof Error ? error.message : describeValue(error);
      throw fail(`the codec refused its payload (${reason})`, error);
    }
    return { header, data };
  }
}

/** True for a header this library wrote: the worker relies on each field's type. */
function isRecordHeader(value: unknown): value is RecordHeader {
  if (value === null || typeof value !== 'object') return false;
  const { n, a, b, x, t, g, d, p } = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(a) &&
    typeof t === 'number' &&
    (d === undefined || Number.isSafeInteger(d)) &&
    (p === undefined || typeof p === 'string') &&
    (n === undefined || typeof n === 'string') &&
    (g === undefined || typeof g === 'string') &&
    (x === undefined || Number.isSafeInteger(x)) &&
    (b === undefined ||
      (Array.isArray(b) &&
        (b[0] === 'fixed' || b[0] === 'exponential') &&
        typeof b[1] === 'number' &&
        typeof b[2] === 'number'))
  );
}

/**
 * Since when a job first in line has waited, from its record header, error history and state
 * (`made|max|priority|token[|group]`), at the latest it can be: from its add, or its due time when
 * delayed at add; after a failed attempt, from the failure plus the longest backoff it could get
 * (jitter included). Undefined when that cannot be told: a header this library did not write, or
 * a job retried from the dead-letter list (its attempts start again at 0; when it was retried is
 * not recorded).
 */
export function waitingSince(
  headerText: unknown,
  errors: unknown,
  state: unknown,
): number | undefined {
  let header: unknown;
  try {
    header = typeof headerText === 'string' ? JSON.parse(headerText) : undefined;
  } catch {
    return undefined;
  }
  if (!isRecordHeader(header)) return undefined;
  const due = header.t + (header.d ?? 0);
  const failure = parseHistory(errors).at(-1);
  if (typeof failure?.at !== 'number') return due;
  const made = typeof state === 'string' ? Number(state.split('|', 1)[0]) : NaN;
  if (made === 0) return undefined;
  return Math.max(due, failure.at + longestBackoff(header.b, failure.attempt));
}

/** The longest pause before the retry after failed attempt `attempt` (see backoffDelay). */
function longestBackoff(backoff: RecordHeader['b'], attempt: number): number {
  if (!backoff) return 0;
  const [type, delayMs, jitter] = backoff;
  const base = type === 'fixed' ? delayMs : delayMs * 2 ** Math.max(0, attempt - 1);
  return Math.round(base * (1 + jitter));
}

/** A job's error history; an unreadable one (written by hand) reads as empty. */
function parseHistory(raw: unknown): AttemptError[] {
  if (typeof raw !== 'string') return [];
  try {
    const history: unknown = JSON.parse(raw);
    return Array.isArray(history) ? (history as AttemptError[]) : [];
  } catch {
    return [];
  }
}

/** A claim's ARGV, in the order every claiming script takes them. */
function claimArgs({ count, leaseMs, keepDead }: ClaimRequest): number[] {
  return [count, leaseMs, keepDead.count, keepDead.ms];
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}
