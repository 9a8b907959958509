import { Inject, Injectable } from '@nestjs/common';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import { RedisConnections } from '../connection/redis-connections.js';
import type { OnMessageMetadata } from '../pubsub/on-message.decorator.js';
import type { QueueSchedulerMetadata } from '../queue/queue-scheduler.decorator.js';
import type { QueueWorkerMetadata } from '../queue/queue-worker.decorator.js';
import {
  ON_MESSAGE_METADATA,
  QUEUE_SCHEDULER_METADATA,
  QUEUE_WORKER_METADATA,
} from '../redis-coordination.constants.js';
import { DASHBOARD_OPTIONS } from './dashboard.constants.js';
import type { ResolvedDashboardOptions } from './dashboard.options.js';

/**
 * What the dashboard shows: the queues and durable channels this app handles (found from its
 * `@QueueWorker`, `@QueueScheduler` and `@OnMessage(channel, { group })` methods, as the
 * library's explorers find them) plus those named in the options. Not a SCAN of Redis: that
 * would walk the whole key space (of every Cluster master) on each refresh, and list queues of
 * other apps sharing the Redis.
 */
@Injectable()
export class DashboardTargets {
  private found?: { queues: string[]; channels: string[] };

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly connections: RedisConnections,
    @Inject(DASHBOARD_OPTIONS) private readonly options: ResolvedDashboardOptions,
  ) {}

  get queues(): readonly string[] {
    return this.discover().queues;
  }

  get channels(): readonly string[] {
    return this.discover().channels;
  }

  /** The services named in the options, and this app's own registration. */
  get services(): readonly string[] {
    const own = this.connections.registry?.service;
    return sortedUnique([...this.options.services, ...(own ? [own] : [])]);
  }

  /** The module option `liveConfig.keys`. */
  get configKeys(): readonly string[] {
    return this.connections.liveConfig.keys;
  }

  /** Looked up once, on first use (after the app's providers exist). */
  private discover(): { queues: string[]; channels: string[] } {
    this.found ??= {
      queues: sortedUnique([
        ...this.options.queues,
        ...this.metadata<QueueWorkerMetadata>(QUEUE_WORKER_METADATA, 'QueueWorker').map(
          (worker) => worker.queue,
        ),
        ...this.metadata<QueueSchedulerMetadata>(QUEUE_SCHEDULER_METADATA, 'QueueScheduler').map(
          (scheduler) => scheduler.queue,
        ),
      ]),
      channels: sortedUnique([
        ...this.options.channels,
        ...this.metadata<OnMessageMetadata>(ON_MESSAGE_METADATA, 'OnMessage')
          .filter(({ selector, options }) => typeof selector === 'string' && 'group' in options)
          .map(({ selector }) => selector as string),
      ]),
    };
    return this.found;
  }

  private metadata<M>(key: string, decorator: string): M[] {
    return this.discovery.find<M>(key, decorator).flatMap((found) => [...found.metadata]);
  }
}

function sortedUnique(names: readonly string[]): string[] {
  return [...new Set(names)].sort();
}
