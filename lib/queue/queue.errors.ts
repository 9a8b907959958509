import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * A job payload (or a progress value) cannot be stored: the codec refused it, or it is larger
 * than `maxPayloadBytes`.
 */
export class QueuePayloadError extends RedisCoordinationError {
  /** `action` says what could not be stored, e.g. `add a job to queue "emails"`. */
  constructor(action: string, problem: string, options?: { cause?: unknown }) {
    super('QUEUE_PAYLOAD', `Cannot ${action}: ${problem}`, options);
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

/** A job a caller waits for or asked about does not exist (never added, removed, or trimmed). */
export class QueueJobNotFoundError extends RedisCoordinationError {
  constructor(queue: string, jobId: string, detail = 'no such job') {
    super('QUEUE_JOB_NOT_FOUND', `Job ${jobId} of queue "${queue}": ${detail}`);
  }
}

/** The job `waitUntilFinished()` waited for went to the dead-letter list; `lastError` says why. */
export class QueueJobFailedError extends RedisCoordinationError {
  constructor(
    readonly queue: string,
    readonly jobId: string,
    readonly lastError: string | undefined,
  ) {
    super(
      'QUEUE_JOB_FAILED',
      `Job ${jobId} of queue "${queue}" failed and is in the dead-letter list: ${lastError ?? '(no error recorded)'}`,
    );
  }
}

/** `waitUntilFinished()` gave up: the job had not finished within `timeoutMs`. */
export class QueueWaitTimeoutError extends RedisCoordinationError {
  constructor(queue: string, jobId: string, timeoutMs: number) {
    super(
      'QUEUE_WAIT_TIMEOUT',
      `Job ${jobId} of queue "${queue}" had not finished after ${timeoutMs} ms of waiting (it may still run)`,
    );
  }
}

/** `remove()` or `obliterate()` refused: a worker runs the job(s) now; pass `{ force: true }`. */
export class QueueJobActiveError extends RedisCoordinationError {
  constructor(message: string) {
    super('QUEUE_JOB_ACTIVE', message);
  }
}

/** A wait for a job (`waitUntilFinished()`) ended because the application is shutting down. */
export class QueueClosedError extends RedisCoordinationError {
  constructor(queue: string, jobId: string) {
    super(
      'QUEUE_CLOSED',
      `Stopped waiting for job ${jobId} of queue "${queue}": the application is shutting down`,
    );
  }
}
