import { RedisCoordinationError } from '../common/coordination.error.js';

/** A job payload cannot be stored: the codec refused it, or it is larger than `maxPayloadBytes`. */
export class QueuePayloadError extends RedisCoordinationError {
  constructor(queue: string, problem: string, options?: { cause?: unknown }) {
    super('QUEUE_PAYLOAD', `Cannot add a job to queue "${queue}": ${problem}`, options);
  }
}

/** Reason of a handler's signal when the attempt ran past its `timeoutMs`; the attempt fails. */
export class QueueJobTimeoutError extends RedisCoordinationError {
  constructor(queue: string, jobId: string, timeoutMs: number) {
    super(
      'QUEUE_JOB_TIMEOUT',
      `Job ${jobId} of queue "${queue}" ran past its timeoutMs (${timeoutMs} ms)`,
    );
  }
}

/**
 * Reason of a handler's signal when the worker no longer holds the job: its lease expired (the
 * process was frozen or cut off from Redis) and the job went back to waiting. Whatever the
 * handler does next is not recorded; another worker runs the job again.
 */
export class QueueLeaseLostError extends RedisCoordinationError {
  constructor(queue: string, jobId: string) {
    super(
      'QUEUE_LEASE_LOST',
      `Lost the lease of job ${jobId} of queue "${queue}": it expired and the job was handed to another worker; raise leaseMs if handlers block the event loop`,
    );
  }
}

/** Reason of a handler's signal when shutdown outlasted `drainTimeoutMs`: the job is handed back. */
export class QueueShutdownError extends RedisCoordinationError {
  constructor(queue: string, jobId: string, drainTimeoutMs: number) {
    super(
      'QUEUE_SHUTDOWN',
      `Job ${jobId} of queue "${queue}" was still running after drainTimeoutMs (${drainTimeoutMs} ms) at shutdown; it was handed back to waiting`,
    );
  }
}

/** A job's name has no handler among the `@QueueWorker` methods of its queue. */
export class QueueNoHandlerError extends RedisCoordinationError {
  constructor(queue: string, name: string | undefined, known: readonly string[]) {
    super(
      'QUEUE_NO_HANDLER',
      `No @QueueWorker handles job name ${name === undefined ? '(none)' : `"${name}"`} of queue "${queue}" (handled names: ${known.join(', ') || 'none'}); add a handler for it or one without a name`,
    );
  }
}

/** Two `@QueueWorker` methods claim the same queue and job name, or disagree on worker options. */
export class QueueWorkerConflictError extends RedisCoordinationError {
  constructor(message: string) {
    super('QUEUE_WORKER_CONFLICT', message);
  }
}
