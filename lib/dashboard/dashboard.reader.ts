import { Inject, Injectable, Logger } from '@nestjs/common';
import { RedisCoordinationError } from '../common/coordination.error.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { LiveConfigService } from '../config/live-config.service.js';
import { LockStore } from '../lock/lock.store.js';
import { PubSubService } from '../pubsub/pubsub.service.js';
import { QueueService } from '../queue/queue.service.js';
import { ServiceRegistry } from '../registry/registry.service.js';
import { SemaphoreService } from '../semaphore/semaphore.service.js';
import { LeaderElectionService } from '../election/election.service.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type {
  ChannelView,
  DashboardOverview,
  DashboardSection,
  DashboardSectionError,
  QueueView,
} from './dashboard.interfaces.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';
import { DashboardTargets } from './dashboard.targets.js';
import { QueueThroughputSampler } from './dashboard.throughput.js';

/** Dead jobs and dead letters listed per queue or channel: the newest, enough to act on. */
const DEAD_SHOWN = 20;
/** Held locks listed at most. */
const LOCKS_SHOWN = 200;

/** Reads one snapshot of everything the page shows, through the library's services. */
@Injectable()
export class DashboardReader {
  private readonly locks: LockStore;
  private readonly logger = new Logger('CoordinationDashboard');

  constructor(
    private readonly targets: DashboardTargets,
    private readonly sampler: QueueThroughputSampler,
    private readonly queues: QueueService,
    private readonly pubsub: PubSubService,
    private readonly semaphores: SemaphoreService,
    private readonly elections: LeaderElectionService,
    private readonly registry: ServiceRegistry,
    private readonly liveConfig: LiveConfigService,
    private readonly connections: RedisConnections,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {
    this.locks = new LockStore(connections);
  }

  /** Whether the dashboard shows (and so acts on) this queue. */
  shows(queue: string): boolean {
    return this.targets.queues.includes(queue);
  }

  async overview(): Promise<DashboardOverview> {
    const errors: Partial<Record<DashboardSection, DashboardSectionError>> = {};
    // Each section read on its own: one that fails (Redis refusing a command, a semaphore in use
    // with another limit) is shown empty with its error, the others as they are.
    const read = <T>(section: DashboardSection, empty: T, work: () => Promise<T>): Promise<T> =>
      work().catch((error: unknown) => {
        errors[section] = this.describe(section, error);
        return empty;
      });
    const [queues, channels, locks, elections, semaphores, services] = await Promise.all([
      read('queues', [], () => Promise.all(this.targets.queues.map((queue) => this.queue(queue)))),
      read('channels', [], () =>
        Promise.all(this.targets.channels.map((channel) => this.channel(channel))),
      ),
      read('locks', { locks: [], truncated: false }, () =>
        this.locks.listHeld(LOCKS_SHOWN).catch(this.connections.rethrow('list the held locks')),
      ),
      read('elections', [], () =>
        Promise.all(
          this.options.elections.map(async (name) => ({
            name,
            state: await this.elections.leader(name),
          })),
        ),
      ),
      read('semaphores', [], () =>
        Promise.all(
          this.options.semaphores.map(async ({ name, limit }) => ({
            name,
            limit,
            available: await this.semaphores.available(name, { limit }),
          })),
        ),
      ),
      read('services', [], () =>
        Promise.all(
          this.targets.services.map(async (name) => ({
            name,
            instances: await this.registry.instances(name, { includeDown: true }),
          })),
        ),
      ),
    ]);
    const config = this.targets.configKeys.map((name) => ({
      name,
      version: this.liveConfig.entry(name).version,
    }));
    return {
      at: Date.now(),
      sampleEveryMs: this.options.sampleEveryMs,
      queues,
      channels,
      locks: { held: locks.locks, truncated: locks.truncated },
      elections,
      semaphores,
      services,
      config,
      errors,
    };
  }

  /**
   * The library's errors are shown as they are (their messages carry no secrets); anything else
   * is logged here and only named on the page, as the error filter does for whole requests.
   */
  private describe(section: DashboardSection, error: unknown): DashboardSectionError {
    if (error instanceof RedisCoordinationError)
      return { code: error.code, message: error.message };
    this.logger.error(
      `Could not read the ${section}`,
      error instanceof Error ? error.stack : error,
    );
    return { code: 'UNEXPECTED', message: `Could not read the ${section} (see the server log)` };
  }

  private async queue(name: string): Promise<QueueView> {
    const [counts, oldest, dead, schedulers] = await Promise.all([
      this.queues.counts(name),
      this.queues.oldestWaiting(name),
      this.queues.dead(name, { limit: DEAD_SHOWN }),
      this.queues.schedulers(name),
    ]);
    return {
      name,
      counts,
      oldestWaitingMs: oldest?.waitingMs ?? null,
      dead,
      schedulers,
      throughput: this.sampler.samplesOf(name),
    };
  }

  private async channel(name: string): Promise<ChannelView> {
    const [groups, deadLetters] = await Promise.all([
      this.pubsub.groups(name),
      this.pubsub.deadLetters(name, DEAD_SHOWN),
    ]);
    return { name, groups, deadLetters };
  }
}
