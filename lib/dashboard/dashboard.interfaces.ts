import type { DeadLetter, DurableGroupInfo } from '../pubsub/pubsub.interfaces.js';
import type { DeadJob, QueueCounts } from '../queue/queue.interfaces.js';
import type { QueueSchedulerInfo } from '../queue/queue-scheduler.interfaces.js';
import type { CurrentLeader } from '../election/election.interfaces.js';
import type { LockHolding } from '../lock/lock.store.js';
import type { ServiceInstance } from '../registry/registry.interfaces.js';

// What GET <path>/api/overview answers.

/** One point of a queue's chart: jobs finished during the interval that ended `at`, and the backlog then. */
export interface ThroughputSample {
  /** End of the interval (ms since the epoch, this instance's clock). */
  readonly at: number;
  readonly completed: number;
  /** Jobs that went to the dead-letter list. */
  readonly dead: number;
  /** Jobs waiting at `at`; `null` when Redis could not be read. */
  readonly waiting: number | null;
}

export interface QueueView {
  readonly name: string;
  readonly counts: QueueCounts;
  /** How long the oldest waiting job has waited (ms); `null` when none waits. */
  readonly oldestWaitingMs: number | null;
  /** The newest dead jobs, with their errors and attempt history. */
  readonly dead: readonly DeadJob[];
  readonly schedulers: readonly QueueSchedulerInfo[];
  readonly throughput: readonly ThroughputSample[];
}

export interface ChannelView {
  readonly name: string;
  /** Consumer groups with their consumers, pending and lag. */
  readonly groups: readonly DurableGroupInfo[];
  readonly deadLetters: readonly DeadLetter[];
}

/** The parts of the overview read on their own: one that fails leaves the others shown. */
export type DashboardSection =
  'queues' | 'channels' | 'locks' | 'elections' | 'semaphores' | 'services';

/** Why a section could not be read: a library error's code and (redacted) message. */
export interface DashboardSectionError {
  readonly code: string;
  readonly message: string;
}

export interface DashboardOverview {
  /** When this snapshot was read (ms since the epoch). */
  readonly at: number;
  /** Sampling interval of the throughput charts (ms). */
  readonly sampleEveryMs: number;
  readonly queues: readonly QueueView[];
  readonly channels: readonly ChannelView[];
  readonly locks: {
    readonly held: readonly LockHolding[];
    /** The bounded SCAN stopped before the end of the key space: more locks may be held. */
    readonly truncated: boolean;
  };
  readonly elections: readonly { readonly name: string; readonly state: CurrentLeader }[];
  readonly semaphores: readonly {
    readonly name: string;
    readonly limit: number;
    readonly available: number;
  }[];
  readonly services: readonly {
    readonly name: string;
    readonly instances: readonly ServiceInstance[];
  }[];
  /** Live configuration keys and their versions; values are not shown (they may hold secrets). */
  readonly config: readonly { readonly name: string; readonly version: number }[];
  /** The sections that could not be read (shown empty), and why. */
  readonly errors: Partial<Record<DashboardSection, DashboardSectionError>>;
}
