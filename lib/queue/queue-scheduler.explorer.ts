import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import { QUEUE_SCHEDULER_METADATA } from '../redis-coordination.constants.js';
import type { QueueSchedulerMetadata } from './queue-scheduler.decorator.js';
import { QueueWorkerConflictError } from './queue.errors.js';
import { QueueService } from './queue.service.js';

/**
 * Finds `@QueueScheduler` methods and upserts their schedulers at `onApplicationBootstrap`
 * (their handlers are started by the queue explorer, like `@QueueWorker` ones). A scheduler
 * that cannot be upserted (Redis unreachable) fails the start, as a declared schedule that
 * silently did not exist would go unnoticed.
 */
@Injectable()
export class QueueSchedulerExplorer implements OnApplicationBootstrap {
  private readonly logger = new Logger('QueueService');

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly queues: QueueService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const declared = new Map<string, { name: string; scheduler: QueueSchedulerMetadata }>();
    for (const found of this.discovery.find<QueueSchedulerMetadata>(
      QUEUE_SCHEDULER_METADATA,
      'QueueScheduler',
    )) {
      for (const scheduler of found.metadata) {
        // Two declarations would replace each other's template at every boot.
        const key = JSON.stringify([scheduler.queue, scheduler.id]);
        const taken = declared.get(key);
        if (taken) {
          throw new QueueWorkerConflictError(
            `@QueueScheduler('${scheduler.queue}', '${scheduler.id}') is declared on both ${taken.name} and ${found.name}; keep one`,
          );
        }
        declared.set(key, { name: found.name, scheduler });
      }
    }
    await Promise.all(
      [...declared.values()].map(async ({ name, scheduler: { queue, id, pattern, template } }) => {
        const { nextRunAt } = await this.queues.upsertScheduler(queue, id, pattern, template);
        this.logger.log(
          `${name} {@QueueScheduler "${id}"} -> queue "${queue}", next at ${new Date(nextRunAt).toISOString()}`,
        );
      }),
    );
  }
}
