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
 * user lacks (`NOPERM`), a key of the wrong type, a failed script; a full Redis is its subclass
 * {@link RedisOutOfMemoryError}. The message says what could not be done and Redis' reply; the
 * `cause` carries that reply's text only, never the command or its arguments.
 */
export class RedisCommandError extends RedisCoordinationError {
  constructor(message: string, options?: { cause?: unknown }, code = 'REDIS_COMMAND') {
    super(code, message, options);
  }
}

/**
 * Redis refused a write because it is full: `maxmemory` reached under `maxmemory-policy
 * noeviction` (`OOM command not allowed when used memory > 'maxmemory'`). The refused command or
 * script changed nothing: Redis checks a command before running it, and a script at its first
 * write, only while the script has written nothing yet. Retrying helps once memory is freed or
 * `maxmemory` raised.
 *
 * A subclass of {@link RedisCommandError} (Redis answered and refused this command; the
 * connection is fine), so code that catches that keeps catching a full Redis as it did before
 * this class existed; its own `code` tells the two apart.
 */
export class RedisOutOfMemoryError extends RedisCommandError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options, 'REDIS_OUT_OF_MEMORY');
  }
}

/**
 * A write asked to wait for replicas (`replicaAcks`) was applied on the Redis master, but fewer
 * replicas than `required` confirmed it within `timeoutMs`: a failover now could lose it. What
 * became of the write depends on the call, and the message says it:
 * - a lock acquire frees the lock again (best effort) before throwing: the caller does not hold
 *   it, so it never works under a lock that a failover could grant twice;
 * - a job add or a durable publish stays written: `ids` names the jobs (retry with the same
 *   `jobId` to avoid a duplicate) or the stream entry (publishing again delivers it twice).
 */
export class ReplicaAckError extends RedisCoordinationError {
  constructor(
    /** What was written, for the message: `Lock "a"`, `Job 42 of queue "emails"`. */
    what: string,
    /** What the caller is left with, for the message. */
    outcome: string,
    /** Replicas asked for. */
    readonly required: number,
    /** Replicas that confirmed within the timeout (0 when `WAIT` failed: see `cause`). */
    readonly acknowledged: number,
    readonly timeoutMs: number,
    /** Ids of what stays written on the master: job ids, a stream entry id; none for a lock. */
    readonly ids: readonly string[],
    options?: { cause?: unknown },
  ) {
    const confirmed = options?.cause
      ? `waiting for ${required} replica(s) to confirm it failed (${(options.cause as Error).message})`
      : `only ${acknowledged} of ${required} replica(s) confirmed it within ${timeoutMs} ms`;
    super(
      'REDIS_REPLICA_ACK',
      `${what} was written on the Redis master, but ${confirmed}, so a failover may lose it: ${outcome}`,
      options,
    );
  }
}

/**
 * ioredis error texts that mean the connection, not the command, failed. A refused password
 * (rotated under a running app) is one: no command can run until the app is given the new one.
 */
const UNREACHABLE =
  /WRONGPASS|NOAUTH|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Reached the max retries per request|Command timed out|None of startup nodes is available|Failed to refresh slots cache/;

/**
 * Replies of a Redis that is failing over, resharding or restarting: the command went to a node
 * that no longer serves its slot (`MOVED`, `ASK`, or ioredis giving up after following them),
 * whose slot is migrating (`TRYAGAIN`), that was demoted to a replica (`READONLY`, and
 * `UNBLOCKED` for a blocked command), whose cluster or master is down (`CLUSTERDOWN`,
 * `MASTERDOWN`), or that is loading its data (`LOADING`). Anchored: matched against Redis' reply
 * ({@link redisReply}), whose first word is its error code.
 */
const FAILING_OVER =
  /^(?:(?:MOVED|ASK|TRYAGAIN|READONLY|UNBLOCKED|CLUSTERDOWN|MASTERDOWN|LOADING) |Too many Cluster redirections)/;

/** Redis' reply to a write it refused because `maxmemory` is reached. */
const OUT_OF_MEMORY = /^OOM /;

/** What kind of failure an error from ioredis is, as far as the caller can act on it. */
export type RedisFailureKind = 'unreachable' | 'failing-over' | 'out-of-memory' | 'refused';

/** Classifies an ioredis error by its text ({@link redisReply}: script plumbing removed). */
export function redisFailureKind(reply: string): RedisFailureKind {
  if (FAILING_OVER.test(reply)) return 'failing-over';
  if (UNREACHABLE.test(reply)) return 'unreachable';
  return OUT_OF_MEMORY.test(reply) ? 'out-of-memory' : 'refused';
}

/** True when `error` says Redis was unreachable rather than that a command was wrong. */
export function isConnectionFailure(error: unknown): boolean {
  if (error instanceof RedisConnectionError) return true;
  if (!(error instanceof Error)) return false;
  const kind = redisFailureKind(redisReply(error.message));
  return kind === 'unreachable' || kind === 'failing-over';
}

/**
 * How Redis wraps an error raised in a script, to be cut away so messages carry Redis' reply
 * alone (the script's SHA and line numbers mean nothing to a caller):
 * - Redis 6: `ERR Error running script (call to f_<sha>): @user_script:12: WRONGTYPE …`, with
 *   `@user_script: 12: -OOM …` for a write refused when full and `user_script:12: <Lua error>`
 *   for an error in the Lua itself (then the reply keeps its `ERR`);
 * - Redis 7: `WRONGTYPE … script: <sha>, on @user_script:12.`, with `ERR user_script:12: …` for
 *   an error in the Lua itself.
 */
const SCRIPT_PLUMBING: readonly RegExp[] = [
  // Redis 6, a command's reply: its code leads once the wrapper is gone.
  /ERR Error running script \(call to f_[0-9a-f]{40}\): (?:@?user_script: ?\d+: )*-?(?=[A-Z]+ )/g,
  // Redis 6, an error in the Lua: `ERR` stays.
  /Error running script \(call to f_[0-9a-f]{40}\): /g,
  / script: [0-9a-f]{40}(?:, on @user_script:\d+)?\./g,
  /@?user_script: ?\d+: /g,
];

/** Redis' reply as an ioredis error's message has it, without the plumbing of a script. */
export function redisReply(message: string): string {
  let reply = message;
  for (const plumbing of SCRIPT_PLUMBING) reply = reply.replace(plumbing, '');
  return reply.trimEnd();
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
