import { RedisCoordinationError } from '../common/coordination.error.js';

/**
 * Redis could not be reached, or the connection failed while a command was in flight. The
 * message names the target (`redis://user:***@host:port`, password redacted) and the cause.
 * Kept apart from "busy"/"timeout" errors: this one means "Redis is down", not "someone else
 * holds it".
 */
export class RedisConnectionError extends RedisCoordinationError {
  constructor(
    /** Where the module was connecting, password redacted. */
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('REDIS_CONNECTION', `${message} (Redis at ${target})`, options);
  }
}

/** ioredis error texts that mean the connection, not the command, failed. */
const CONNECTION_FAILURE =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Reached the max retries per request|Command timed out|CLUSTERDOWN|LOADING|MASTERDOWN|None of startup nodes is available|Failed to refresh slots cache/;

/** True when `error` says Redis was unreachable rather than that a command was wrong. */
export function isConnectionFailure(error: unknown): boolean {
  return (
    error instanceof RedisConnectionError ||
    (error instanceof Error && CONNECTION_FAILURE.test(error.message))
  );
}
