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

/**
 * Redis answered a command with an error that is not about reaching it: a permission the ACL
 * user lacks (`NOPERM`), a full Redis (`OOM`), a key of the wrong type, a failed script. The
 * message says what could not be done and Redis' reply; the `cause` carries that reply's text
 * only, never the command or its arguments.
 */
export class RedisCommandError extends RedisCoordinationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('REDIS_COMMAND', message, options);
  }
}

/**
 * ioredis error texts that mean the connection, not the command, failed. A refused password
 * (rotated under a running app) is one: no command can run until the app is given the new one.
 */
const CONNECTION_FAILURE =
  /WRONGPASS|NOAUTH|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Reached the max retries per request|Command timed out|CLUSTERDOWN|LOADING|MASTERDOWN|None of startup nodes is available|Failed to refresh slots cache/;

/** True when `error` says Redis was unreachable rather than that a command was wrong. */
export function isConnectionFailure(error: unknown): boolean {
  return (
    error instanceof RedisConnectionError ||
    (error instanceof Error && CONNECTION_FAILURE.test(error.message))
  );
}

/**
 * Redis may evict the module's keys (its `maxmemory-policy` is not `noeviction`): an evicted
 * lock lets a second holder in, and evicted jobs and messages vanish without a trace. App start
 * fails with it unless the module option `allowEviction` is set.
 */
export class RedisEvictionPolicyError extends RedisCoordinationError {
  constructor(
    /** Where the module was connecting, password redacted. */
    readonly target: string,
    /** Each evicting server (`host:port` on a Cluster) and its policy. */
    readonly servers: ReadonlyArray<{ readonly node: string | undefined; readonly policy: string }>,
  ) {
    const policies = servers
      .map(({ node, policy }) => (node ? `${node}: ${policy}` : policy))
      .join(', ');
    super(
      'REDIS_EVICTION_POLICY',
      `Redis at ${target} may evict keys (maxmemory-policy ${policies}): an evicted lock lets a second holder in, and evicted jobs and messages vanish without a trace. Set maxmemory-policy noeviction (redis.conf, CONFIG SET maxmemory-policy noeviction, or your provider's parameter group), or set the module option allowEviction: true to accept the risk`,
    );
  }
}
