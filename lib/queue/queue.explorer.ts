import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ExternalContextCreator } from '@nestjs/core';
import type { ParamsFactory } from '@nestjs/core/helpers/external-context-creator.js';
import { HandlerDiscovery, type DiscoveredHandler } from '../common/handler-discovery.js';
import { copyMethodMetadata } from '../common/method-wrapper.js';
import { JOB_ARGS_METADATA, QUEUE_WORKER_METADATA } from '../redis-coordination.constants.js';
import { JobParam, type QueueWorkerMetadata } from './queue-worker.decorator.js';
import { QueueNoHandlerError, QueueWorkerConflictError } from './queue.errors.js';
import type { Job, JobHandler, WorkerOptions } from './queue.interfaces.js';
import { QueueService } from './queue.service.js';

/** The `ExecutionContext` type guards, interceptors and filters see for a `@QueueWorker` handler. */
export const QUEUE_CONTEXT_TYPE = 'redis-queue';

/** Maps `@JobData()`/`@CurrentJob()`/`@JobSignal()` to the handler's `(job, signal)` arguments. */
const jobParamsFactory: ParamsFactory = {
  exchangeKeyForValue: (type: number, _data: unknown, [job, signal]: [Job, AbortSignal]) =>
    type === JobParam.Data
      ? job.data
      : type === JobParam.Job
        ? job
        : type === JobParam.Signal
          ? signal
          : undefined,
};

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
 * belong to {@link QueueService}, which stops them at shutdown. Each handler runs through Nest's
 * guards, interceptors, pipes and exception filters (see {@link throughNest}).
 */
@Injectable()
export class QueueExplorer implements OnApplicationBootstrap {
  private readonly logger = new Logger('QueueService');

  constructor(
    private readonly discovery: HandlerDiscovery,
    private readonly queues: QueueService,
    private readonly contextCreator: ExternalContextCreator,
  ) {}

  onApplicationBootstrap(): void {
    const plans = new Map<string, QueuePlan>();
    for (const found of this.discovery.find<QueueWorkerMetadata>(
      QUEUE_WORKER_METADATA,
      'QueueWorker',
    )) {
      const handler = this.throughNest(found);
      for (const { queue, name, options } of found.metadata) {
        let plan = plans.get(queue);
        if (!plan) {
          plan = { handlers: new Map(), options: {}, optionSources: new Map() };
          plans.set(queue, plan);
        }
        const slot = name ?? '';
        const taken = plan.handlers.get(slot);
        // The same method twice (`@QueueScheduler` on a `@QueueWorker` of its job name) is one.
        if (taken && taken.name !== found.name) {
          throw new QueueWorkerConflictError(
            `@QueueWorker('${queue}'${name === undefined ? '' : `, { name: '${name}' }`}) is on both ${taken.name} and ${found.name}; keep one`,
          );
        }
        plan.handlers.set(slot, { name: found.name, handler });
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

  /**
   * The method as a job handler run by Nest: guards, interceptors and pipes (the method's, its
   * class's and global ones), then, if anything threw, exception filters. Nest would take a value
   * a filter returns as the call's result, which here would complete a job whose handler failed;
   * so filters run apart, on a stand-in method that rethrows the attempt's error, and may only
   * replace that error (by throwing another): the attempt fails either way.
   */
  private throughNest({ instance, methodName }: DiscoveredHandler<unknown>): JobHandler {
    // The unbound method carries the metadata Nest reads (@UseGuards, @UseFilters...).
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName]!;
    const run = this.contextCreator.create(
      instance,
      method,
      methodName,
      JOB_ARGS_METADATA,
      jobParamsFactory,
      undefined,
      undefined,
      { guards: true, interceptors: true, filters: false },
      QUEUE_CONTEXT_TYPE,
    );
    // Each attempt has its own job object: the stand-in finds the error by it, and filters see
    // the same (job, signal) arguments as the handler.
    const failures = new WeakMap<Job, unknown>();
    const rethrow = (job: unknown) => {
      throw failures.get(job as Job);
    };
    copyMethodMetadata(method, rethrow);
    const filter = this.contextCreator.create(
      instance,
      rethrow,
      methodName,
      undefined,
      undefined,
      undefined,
      undefined,
      { guards: false, interceptors: false, filters: true },
      QUEUE_CONTEXT_TYPE,
    );
    return async (job, signal) => {
      try {
        return await run(job, signal);
      } catch (error) {
        failures.set(job, error);
        await filter(job, signal); // throws the error, or the one a filter threw instead
        throw error; // a filter returned: the attempt fails all the same
      }
    };
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
