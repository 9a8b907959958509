import { appendMethodMetadata } from '../common/handler-discovery.js';
import { assertName } from '../common/validate.js';
import { QUEUE_WORKER_METADATA } from '../redis-coordination.constants.js';
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

/**
 * Makes a provider method the handler of a queue's jobs (or of the jobs with one `name`). The
 * method is called as `(job, signal)`; what it returns completes the job, what it throws fails
 * the attempt. Workers start at `onApplicationBootstrap`, once the app is ready, and stop at
 * shutdown. Handlers of one queue share one worker: give worker options (concurrency, leaseMs)
 * on any one of them, or the same on each.
 *
 * @example
 * @Injectable()
 * class Mailer {
 *   @QueueWorker('emails', { name: 'welcome', concurrency: 16 })
 *   async welcome(job: Job<{ to: string }>, signal: AbortSignal) {
 *     await this.smtp.send(job.data.to, { signal });
 *   }
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
