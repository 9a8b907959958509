import { Logger, type LoggerService } from '@nestjs/common';
import { describeValue } from '../common/coordination.error.js';
import type { RedisConnections } from '../connection/redis-connections.js';
import type { QueueSchedulerInfo, SchedulerJobOptions } from './queue-scheduler.interfaces.js';
import {
  nextSlot,
  patternKey,
  type ResolvedPattern,
  type ResolvedTemplate,
} from './queue-scheduler.js';
import { scriptKeysOf, scriptRunners } from './queue.keys.js';
import type { QueueStore } from './queue.store.js';
import { RetryBackoff } from './retry-backoff.js';
import {
  dueSchedulers,
  fireSchedulers,
  listSchedulers,
  removeScheduler,
  upsertScheduler,
} from './scripts/lua.generated.js';

const scripts = { upsertScheduler, removeScheduler, listSchedulers, dueSchedulers, fireSchedulers };
type SchedulerScript = keyof typeof scripts;
const runners = scriptRunners(scripts);

/** Due schedulers fired per round trip. */
const FIRE_BATCH = 100;
/** A scheduler whose next slot cannot be computed (pattern edited by hand) is tried again after. */
const UNREADABLE_RETRY_MS = 60_000;

/**
 * A scheduler as stored (JSON in the `schedulers` hash). `key` and `job` are read by the Lua
 * scripts (upsertScheduler compares keys; fireSchedulers creates the job from `job`), which also
 * write `lastSlot` and `lastJobId`.
 */
interface SchedulerDefinition {
  key: string;
  pattern: ResolvedPattern;
  template: { name: string; opts: SchedulerJobOptions };
  /** The job record as `add()` encodes it (fireSchedulers stamps its time) and its state. */
  job: { record: string; attempts: number; priority: number; group: string };
  lastSlot?: number;
  lastJobId?: string;
}

/** A due scheduler: its slot exactly as Redis returned it (fireSchedulers compares it). */
interface DueScheduler {
  id: string;
  slot: string;
  definition: string | null;
}

/**
 * A queue's schedulers in Redis: one typed method per script, and the firing of due ones, which
 * the queue's workers start when a claim reports a scheduler due.
 */
export class QueueSchedulerStore {
  private readonly logger: LoggerService = new Logger('QueueService');
  private readonly scriptKeys: Record<SchedulerScript, string[]>;
  /** The firing in progress: one at a time per queue and process, whatever the workers. */
  private firing?: Promise<void>;
  /** Pauses firings while Redis fails; warned once per outage. */
  private readonly backoff = new RetryBackoff();

  constructor(
    private readonly connections: RedisConnections,
    private readonly jobs: QueueStore,
  ) {
    this.scriptKeys = scriptKeysOf(jobs.keys, scripts);
  }

  private run(script: SchedulerScript, args: readonly (string | number)[]): Promise<unknown> {
    return runners[script].run(this.connections.command, this.scriptKeys[script], args);
  }

  /**
   * Creates or updates a scheduler: its next slot is kept while the pattern stays the same, else
   * it is the first slot after now (Redis clock). Returns the next slot.
   * @throws QueuePayloadError when the codec refuses the template's data or it is too big.
   */
  async upsert(id: string, pattern: ResolvedPattern, template: ResolvedTemplate): Promise<number> {
    const now = await this.redisNow();
    const encoded = this.jobs.encode(template.data, template.job, now);
    const [, record, attempts, priority, , group] = encoded.args;
    const definition: SchedulerDefinition = {
      key: patternKey(pattern),
      pattern,
      template: { name: template.name, opts: template.opts },
      job: {
        record: record as string,
        attempts: attempts as number,
        priority: priority as number,
        group: group as string,
      },
    };
    const reply = (await this.run('upsertScheduler', [
      id,
      JSON.stringify(definition),
      nextSlot(pattern, now),
    ])) as [string, number];
    return Number(reply[0]);
  }

  /** Removes a scheduler; true if it existed. */
  async remove(id: string): Promise<boolean> {
    return Number(await this.run('removeScheduler', [id])) === 1;
  }

  /** The queue's schedulers, by id; one whose definition cannot be read is skipped and logged. */
  async list(): Promise<QueueSchedulerInfo[]> {
    const reply = (await this.run('listSchedulers', [])) as (string | null)[];
    const found: QueueSchedulerInfo[] = [];
    for (let i = 0; i < reply.length; i += 3) {
      const id = reply[i]!;
      try {
        const definition = JSON.parse(reply[i + 1]!) as SchedulerDefinition;
        const { record } = definition.job;
        found.push({
          id,
          pattern: definition.pattern,
          nextRunAt: Number(reply[i + 2]),
          ...(definition.lastSlot === undefined ? {} : { lastRunAt: definition.lastSlot }),
          ...(definition.lastJobId === undefined ? {} : { lastJobId: definition.lastJobId }),
          template: {
            ...definition.template,
            data: this.connections.codec.decode(record.slice(record.indexOf('\n') + 1)),
          },
        });
      } catch (error) {
        this.logger.warn(
          `Queue "${this.jobs.queue}": skipped scheduler "${id}" in the list: its stored definition cannot be read (${describeError(error)})`,
        );
      }
    }
    return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /**
   * Fires the due schedulers: creates the job of each one's slot and moves it to its next slot,
   * computed from the later of now and the slot, so slots missed while no worker ran are not
   * replayed. Shares the firing in progress, if any; never rejects (a failure is logged, then
   * waited out a moment, so a worker does not spin on it).
   */
  fireDue(logger: LoggerService): Promise<void> {
    this.firing ??= this.fireOnce(logger).finally(() => (this.firing = undefined));
    return this.firing;
  }

  private async fireOnce(logger: LoggerService): Promise<void> {
    try {
      const { now, due } = await this.due();
      if (due.length === 0) return;
      const args = due.flatMap(({ id, slot, definition }) => [
        id,
        slot,
        this.slotAfter(id, definition, Math.max(now, Number(slot)), logger),
      ]);
      const statuses = (await this.run('fireSchedulers', args)) as number[];
      statuses.forEach((status, i) => {
        if (status === 3) {
          logger.warn(
            `Queue "${this.jobs.queue}": scheduler "${due[i]!.id}" created no job for slot ${due[i]!.slot}: its stored definition cannot be read; upsert it again`,
          );
        }
      });
      this.backoff.succeeded();
    } catch (error) {
      if (this.backoff.firstFailure) {
        logger.warn(
          `Queue "${this.jobs.queue}": cannot fire due schedulers (${describeError(error)}); retrying`,
        );
      }
      await this.backoff.pause();
    }
  }

  private async due(): Promise<{ now: number; due: DueScheduler[] }> {
    const reply = (await this.run('dueSchedulers', [FIRE_BATCH])) as (string | number | null)[];
    const due: DueScheduler[] = [];
    for (let i = 1; i < reply.length; i += 3) {
      due.push({
        id: String(reply[i]),
        slot: String(reply[i + 1]),
        definition: reply[i + 2] as string | null,
      });
    }
    return { now: Number(reply[0]), due };
  }

  /** The scheduler's first slot after `afterMs`; if its pattern cannot be read, a minute on. */
  private slotAfter(
    id: string,
    definition: string | null,
    afterMs: number,
    logger: LoggerService,
  ): number {
    // Deleted by hand, not by removeScheduler: fireSchedulers drops it whatever the slot.
    if (definition === null) return afterMs;
    try {
      return nextSlot((JSON.parse(definition) as SchedulerDefinition).pattern, afterMs);
    } catch (error) {
      logger.warn(
        `Queue "${this.jobs.queue}": cannot compute the next slot of scheduler "${id}" (${describeError(error)}); trying again in ${UNREADABLE_RETRY_MS} ms`,
      );
      return afterMs + UNREADABLE_RETRY_MS;
    }
  }

  /** Redis's clock, which decides when slots are due (as it decides due times and leases). */
  private async redisNow(): Promise<number> {
    const [seconds, micros] = await this.connections.command.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : describeValue(error);
}
