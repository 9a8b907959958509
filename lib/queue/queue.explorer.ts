import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { HandlerDiscovery } from '../common/handler-discovery.js';
import { QUEUE_WORKER_METADATA } from '../redis-coordination.constants.js';
import type { QueueWorkerMetadata } from './queue-worker.decorator.js';
import { QueueNoHandlerError, QueueWorkerConflictError } from './queue.errors.js';
import type { JobHandler, WorkerOptions } from './queue.interfaces.js';
import { QueueService } from './queue.service.js';

/** The handlers of one queue, by job name ('' = the one without a name). */
interface QueuePlan {
  handlers: Map<string, { name: string; handler: JobHandler }>;
  options: Record<string, unknown>;
  /** Which method set each option, for conflict messages. */
  optionSources: Map<string, string>;
}

/**
 * Finds `@QueueWorker` methods and starts one worker per queue at `onApplicationBootstrap`
 * (after every module is initialised, so handlers never run in a half-started app). The workers
 * belong to {@link QueueService}, which stops them at shutdown.
 */
@Injectable()
export class QueueExplorer implements OnApplicationBootstrap {
  private readonly logger = new Logger('QueueService');

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly queues: QueueService,
  ) {}

  onApplicationBootstrap(): void {
    const plans = new Map<string, QueuePlan>();
    for (const found of this.discovery.find<QueueWorkerMetadata>(
      QUEUE_WORKER_METADATA,
      'QueueWorker',
    )) {
      for (const { queue, name, options } of found.metadata) {
        let plan = plans.get(queue);
        if (!plan) {
          plan = { handlers: new Map(), options: {}, optionSources: new Map() };
          plans.set(queue, plan);
        }
        const slot = name ?? '';
        const taken = plan.handlers.get(slot);
        if (taken) {
          throw new QueueWorkerConflictError(
            `@QueueWorker('${queue}'${name === undefined ? '' : `, { name: '${name}' }`}) is on both ${taken.name} and ${found.name}; keep one`,
          );
        }
        plan.handlers.set(slot, { name: found.name, handler: found.handler as JobHandler });
        for (const [key, value] of Object.entries(options)) {
          const source = plan.optionSources.get(key);
          if (source && plan.options[key] !== value) {
            throw new QueueWorkerConflictError(
              `@QueueWorker('${queue}') handlers disagree on ${key}: ${source} sets ${String(plan.options[key])}, ${found.name} sets ${String(value)}; handlers of one queue share one worker`,
            );
          }
          plan.options[key] = value;
          plan.optionSources.set(key, found.name);
        }
      }
    }
    for (const [queue, plan] of plans) {
      this.queues.process(queue, dispatcher(queue, plan), plan.options as WorkerOptions);
      for (const { name } of plan.handlers.values()) {
        this.logger.log(`${name} {@QueueWorker} -> queue "${queue}"`);
      }
    }
  }
}

/** Routes each job to the handler of its name, else to the queue's unnamed handler. */
function dispatcher(queue: string, plan: QueuePlan): JobHandler {
  const { handlers } = plan;
  const only = handlers.size === 1 ? handlers.get('') : undefined;
  if (only) return only.handler;
  return (job, signal) => {
    const entry = handlers.get(job.name ?? '') ?? handlers.get('');
    if (!entry) {
      throw new QueueNoHandlerError(
        queue,
        job.name,
        [...handlers.keys()].filter((key) => key !== ''),
      );
    }
    return entry.handler(job, signal);
  };
}
