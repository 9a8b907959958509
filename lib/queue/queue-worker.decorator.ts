import type { PipeTransform, Type } from '@nestjs/common';
import { appendMethodMetadata } from '../common/handler-discovery.js';
import { handlerParam } from '../common/handler-params.js';
import { assertName } from '../common/validate.js';
import { JOB_ARGS_METADATA, QUEUE_WORKER_METADATA } from '../redis-coordination.constants.js';
import type { WorkerOptions } from './queue.interfaces.js';
import { resolveWorkerOptions } from './queue.options.js';

/** Options of `@QueueWorker`: the worker's options plus the job name it handles. */
export interface QueueWorkerOptions extends WorkerOptions {
  /**
   * Handle only jobs added with this `name`. Without it, the method handles every job of the
   * queue that no named handler takes.
   */
  name?: string;
}

/** What `@QueueWorker` records on the method. */
export interface QueueWorkerMetadata {
  queue: string;
  name?: string;
  options: WorkerOptions;
}

/** Which handler argument a `@QueueWorker` parameter decorator stands for. */
export const JobParam = Object.freeze({ Job: 0, Signal: 1, Data: 2 });

/**
 * Makes a provider method the handler of a queue's jobs (or of the jobs with one `name`). The
 * method is called as `(job, signal)`, or with what `@JobData()`/`@CurrentJob()`/`@JobSignal()`
 * parameters ask for; what it returns completes the job, what it throws fails the attempt.
 * Workers start at `onApplicationBootstrap`, once the app is ready, and stop at shutdown.
 * Handlers of one queue share one worker: give worker options (concurrency, leaseMs) on any one
 * of them, or the same on each.
 *
 * Nest guards, interceptors, pipes and exception filters on the method (and global ones) apply;
 * the execution context has type `'redis-queue'`, and `switchToRpc().getData()`/`getContext()`
 * give the job and the signal. A guard that refuses fails the attempt with Nest's
 * `ForbiddenException`. An exception filter may replace the error by throwing another; a job
 * whose handler threw still fails if a filter returns instead.
 *
 * @example
 * @Injectable()
 * class Mailer {
 *   @QueueWorker('emails', { name: 'welcome', concurrency: 16 })
 *   async welcome(job: Job<{ to: string }>, signal: AbortSignal) {
 *     await this.smtp.send(job.data.to, { signal });
 *   }
 *
 *   @QueueWorker('emails', { name: 'digest' })
 *   @UseInterceptors(TracingInterceptor)
 *   async digest(@JobData(new ValidationPipe()) digest: Digest, @JobSignal() signal: AbortSignal) {}
 * }
 */
export function QueueWorker(queue: string, options: QueueWorkerOptions = {}): MethodDecorator {
  assertName('queue name', queue);
  const { name, ...workerOptions } = options ?? {};
  if (name !== undefined) assertName('job name', name);
  // Checked at decoration time so a typo fails where it is written.
  resolveWorkerOptions(workerOptions);
  const entry: QueueWorkerMetadata = { queue, name, options: workerOptions };
  return (_target, _key, descriptor) => {
    appendMethodMetadata(QUEUE_WORKER_METADATA, entry, descriptor.value as object);
  };
}

/**
 * Injects the job's `data` into a `@QueueWorker` handler parameter, through the given pipes (e.g.
 * a `ValidationPipe`); a pipe that refuses fails the attempt with its error. Pass pipe
 * instances: Nest instantiates a pipe class given here only if it is a provider of the handler's
 * module.
 *
 * @example
 * @QueueWorker('resize')
 * resize(@JobData(new ParseIntPipe()) width: number) {}
 */
export function JobData(...pipes: (Type<PipeTransform> | PipeTransform)[]): ParameterDecorator {
  return handlerParam(JOB_ARGS_METADATA, JobParam.Data, pipes);
}

/**
 * Injects the whole `Job` (id, name, attempt, data) into a `@QueueWorker` handler parameter.
 *
 * @example
 * @QueueWorker('emails')
 * send(@JobData() mail: Mail, @CurrentJob() job: Job<Mail>) { log(job.id, job.attempt); }
 */
export function CurrentJob(): ParameterDecorator {
  return handlerParam(JOB_ARGS_METADATA, JobParam.Job, []);
}

/**
 * Injects the attempt's `AbortSignal` into a `@QueueWorker` handler parameter: it aborts on
 * timeout, lost lease or shutdown, its `reason` saying which.
 *
 * @example
 * @QueueWorker('fetch')
 * fetch(@JobData() url: string, @JobSignal() signal: AbortSignal) { return fetch(url, { signal }); }
 */
export function JobSignal(): ParameterDecorator {
  return handlerParam(JOB_ARGS_METADATA, JobParam.Signal, []);
}
