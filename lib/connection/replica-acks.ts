import { Cluster, type ChainableCommander } from 'ioredis';
import { InvalidArgumentError } from '../common/coordination.error.js';
import {
  assertCount,
  assertKnownKeys,
  assertMilliseconds,
  optionNames,
} from '../common/validate.js';
import { ReplicaAckError } from './connection.errors.js';
import type { RedisClient, RedisConnections } from './redis-connections.js';

/**
 * Wait for replicas to confirm a write (Redis `WAIT numreplicas timeout`) before the call
 * returns, so that a failover right after it cannot lose it. Redis replication is asynchronous:
 * without it a write acknowledged by a master that fails before its replicas received it is
 * gone (a lock granted twice, a job lost).
 *
 * Such writes go over a connection of their own, opened on first use, because `WAIT` blocks the
 * connection it is sent on until enough replicas confirm or `timeoutMs` ends: the app's other
 * commands never wait behind a slow replica, but acknowledged writes wait behind each other
 * (each one's `WAIT` in turn). With the replicas down, each one takes `timeoutMs` and those
 * queued behind it longer: keep `timeoutMs` short.
 *
 * A script's first run on a server (after a start, restart, failover or `SCRIPT FLUSH`) is
 * refused with `NOSCRIPT` and sent again in full: the `WAIT` sent with the refused one still
 * waits for the replicas to catch up, so such a call may take up to twice `timeoutMs`.
 *
 * `WAIT` confirms that replicas received the write, not that they wrote it to disk, and a
 * failover may still promote a replica that did not confirm it (Sentinel and Cluster prefer the
 * most up to date, they do not require it). `WAITAOF` (Redis 7.2+) is not used.
 */
export interface ReplicaAckOptions {
  /** Replicas that must confirm each write (a positive integer). */
  replicas: number;
  /**
   * How long to wait for them, in ms (from 1, below the connection's command timeout: 5000 ms
   * by default). Past it the call fails with `ReplicaAckError`; the write itself happened.
   */
  timeoutMs: number;
}

const REPLICA_ACK_OPTION_NAMES = optionNames<ReplicaAckOptions>({
  replicas: true,
  timeoutMs: true,
});

/**
 * Checks a `replicaAcks` value (`argument` names it in errors): `undefined` stays unset, `false`
 * turns acknowledgements off, an object is checked and returned frozen. `commandTimeoutMs` is the
 * connection's client-side timeout, which a `WAIT` must end before (none: no bound).
 */
export function resolveReplicaAcks(
  argument: string,
  value: unknown,
  commandTimeoutMs: number | undefined,
): Readonly<ReplicaAckOptions> | false | undefined {
  if (value === undefined || value === false) return value;
  assertKnownKeys(argument, value, REPLICA_ACK_OPTION_NAMES);
  const { replicas, timeoutMs } = value as Partial<ReplicaAckOptions>;
  assertCount(`${argument}.replicas`, replicas);
  assertMilliseconds(`${argument}.timeoutMs`, timeoutMs, { min: 1 });
  if (commandTimeoutMs !== undefined && timeoutMs >= commandTimeoutMs) {
    throw new InvalidArgumentError(
      `${argument}.timeoutMs`,
      timeoutMs,
      `must be below the command timeout (${commandTimeoutMs} ms), or ioredis gives up on WAIT first; lower it or raise the ioredis option commandTimeout`,
    );
  }
  return Object.freeze({ replicas, timeoutMs });
}

/** How many replicas confirmed a write. */
export interface ReplicaConfirmation {
  /** Replicas that confirmed the write within the timeout (0 when `WAIT` itself failed). */
  readonly acknowledged: number;
  /** Why `WAIT` failed after the write succeeded (e.g. `NOPERM`), when it did. */
  readonly waitError?: unknown;
}

/** A write's reply and how many replicas confirmed it. */
export interface Acknowledged<T = unknown> extends ReplicaConfirmation {
  readonly reply: T;
}

/** A write refused by a Cluster node that no longer serves its slot. */
const REDIRECTED = /^(?:MOVED|ASK) /;
/**
 * Slot map refreshes and resends after a redirect. The map comes from any node, which may not
 * have heard of the failover yet: each retry waits twice as long as the last, from
 * {@link FIRST_REDIRECT_PAUSE_MS} (about 1.5 s in all).
 */
const MAX_REDIRECTIONS = 6;
const FIRST_REDIRECT_PAUSE_MS = 25;

/**
 * Sends the write that `write` adds to a pipeline, then `WAIT`, in one pipeline: on a Cluster
 * it goes to the node of the write's key, and `WAIT` counts the replication of the writes made
 * on that very connection, so it must follow the write there. Rejects with the write's own error
 * when the write failed; a failed `WAIT` comes back as {@link Acknowledged.waitError}.
 *
 * ioredis's Cluster pipelines do not follow a `MOVED` when another command of the pipeline did
 * not fail the same way (`WAIT` on a demoted master fails otherwise), and leave the slot map
 * stale: the map is refreshed here and the pipeline sent again, so a failover is followed.
 */
export async function writeThenWait(
  client: RedisClient,
  write: (pipeline: ChainableCommander) => void,
  { replicas, timeoutMs }: ReplicaAckOptions,
): Promise<Acknowledged> {
  for (let redirections = 0; ; redirections++) {
    const pipeline = client.pipeline();
    write(pipeline);
    pipeline.wait(replicas, timeoutMs);
    const [[writeError, reply], [waitError, count]] = (await pipeline.exec()) as [
      [Error | null, unknown],
      [Error | null, unknown],
    ];
    if (writeError) {
      if (
        client instanceof Cluster &&
        redirections < MAX_REDIRECTIONS &&
        REDIRECTED.test(writeError.message)
      ) {
        await new Promise((resolve) =>
          setTimeout(resolve, FIRST_REDIRECT_PAUSE_MS << redirections),
        );
        await refreshSlots(client);
        continue;
      }
      throw writeError;
    }
    return waitError
      ? { reply, acknowledged: 0, waitError }
      : { reply, acknowledged: Number(count) };
  }
}

/**
 * The {@link ReplicaAckError} for a write that fewer than `acks.replicas` replicas confirmed
 * (none known: `confirmation` absent), or `undefined` when enough did. `what`, `outcome` and
 * `ids` are the error's (what was written, what the caller is left with, what stays written).
 */
export function unconfirmedWrite(
  connections: Pick<RedisConnections, 'failure'>,
  acks: ReplicaAckOptions,
  confirmation: ReplicaConfirmation | undefined,
  what: string,
  outcome: string,
  ids: readonly string[] = [],
): ReplicaAckError | undefined {
  if (confirmation && !confirmation.waitError && confirmation.acknowledged >= acks.replicas) {
    return undefined;
  }
  const waitError = confirmation?.waitError;
  const cause =
    waitError === undefined
      ? undefined
      : connections.failure(waitError, 'wait for replicas (WAIT)', 'grant +wait to the ACL user');
  return new ReplicaAckError(
    what,
    outcome,
    acks.replicas,
    confirmation?.acknowledged ?? 0,
    acks.timeoutMs,
    ids,
    cause === undefined ? undefined : { cause },
  );
}

function refreshSlots(cluster: Cluster): Promise<void> {
  // A failed refresh leaves the old map: the next send fails as it did, and is reported.
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}
