import { appendMethodMetadata } from '../common/handler-discovery.js';
import { assertName } from '../common/validate.js';
import {
  QUEUE_SCHEDULER_METADATA,
  QUEUE_WORKER_METADATA,
} from '../redis-coordination.constants.js';
import type { QueueWorkerMetadata } from './queue-worker.decorator.js';
import type { SchedulePattern, SchedulerTemplate } from './queue-scheduler.interfaces.js';
import { resolvePattern, resolveTemplate } from './queue-scheduler.js';

/** What `@QueueScheduler` records on the method. */
export interface QueueSchedulerMetadata {
  queue: string;
  id: string;
  pattern: SchedulePattern;
  template: SchedulerTemplate;
}

/**
 * Declares a scheduler of a queue (see `QueueService.upsertScheduler`), upserted at
 * `onApplicationBootstrap` by every instance (the next slot is kept, nothing is duplicated),
 * and makes the method the handler of the jobs it creates: those of job name `template.name`,
 * by default the scheduler id, as `@QueueWorker(queue, { name })` would. Stack it on a
 * `@QueueWorker` method to give the queue's worker options, or use it alone (the queue's worker
 * then starts with default options, or those another `@QueueWorker` of the queue gives).
 * Removing the decorator does not remove the scheduler from Redis: call `removeScheduler`.
 *
 * @example
 * @Injectable()
 * class Reports {
 *   @QueueScheduler('reports', 'nightly', { cron: '0 3 * * *', tz: 'Europe/Paris' }, { opts: { attempts: 3 } })
 *   async nightly(job: Job, signal: AbortSignal) {
 *     await this.build('full', { signal });
 *   }
 * }
 */
export function QueueScheduler(
  queue: string,
  schedulerId: string,
  pattern: SchedulePattern,
  template: SchedulerTemplate = {},
): MethodDecorator {
  assertName('queue name', queue);
  assertName('scheduler id', schedulerId);
  // Checked at decoration time so a typo fails where it is written.
  resolvePattern(pattern);
  const { name } = resolveTemplate(template, schedulerId);
  const scheduler: QueueSchedulerMetadata = { queue, id: schedulerId, pattern, template };
  const handler: QueueWorkerMetadata = { queue, name, options: {} };
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object;
    appendMethodMetadata(QUEUE_SCHEDULER_METADATA, scheduler, method);
    appendMethodMetadata(QUEUE_WORKER_METADATA, handler, method);
  };
}
