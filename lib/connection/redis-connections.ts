import {
  Logger,
  type LoggerService,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Codec } from '../common/codec.js';
import type { ResolvedCacheOptions } from '../cache/cache.options.js';
import type { ResolvedLiveConfigOptions } from '../config/live-config.options.js';
import type { ResolvedRegistryOptions } from '../registry/registry.options.js';
import type { ResolvedZooKeeperOptions } from '../zookeeper/zookeeper.options.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import { waitAtMost, within } from '../common/within.js';
import type { ResolvedCoordinationOptions } from '../redis-coordination.options.js';
import {
  redisFailureKind,
  redisReply,
  RedisCommandError,
  RedisConnectionError,
  RedisEvictionPolicyError,
  RedisOutOfMemoryError,
} from './connection.errors.js';
import { describeValue, RedisCoordinationError } from '../common/coordination.error.js';
import { KeySpace } from './key-space.js';
import { redactSecrets } from './redis-target.js';
import { evictingServers, onNewServers, readEvictionPolicies } from './eviction-guard.js';
import { batchEachNodeWhileBusy, batchWhileBusy } from './adaptive-batching.js';
import { resolveShardedPubSub } from './sharded-pubsub.js';
import { StartupHold } from './startup-hold.js';
import { SubscriptionHub } from './subscription-hub.js';
import { resolveReplicaAcks, type ReplicaAckOptions } from './replica-acks.js';
import { bindTelemetry, Telemetry } from '../telemetry/telemetry.js';

/** A standalone/Sentinel connection or a Cluster: the library runs on both. */
export type RedisClient = Redis | Cluster;

/** Why a connection exists; shown as its `CLIENT SETNAME` and in logs. */
type ConnectionRole = 'command' | 'acks' | 'subscriber' | `blocking:${string}`;

/** Errors that no amount of retrying fixes: fail start-up at once instead of at the timeout. */
const FATAL_CONNECT_ERROR = /WRONGPASS|NOAUTH|NOPERM|invalid password|ERR AUTH/i;

/**
 * How long shutdown waits for one best-effort Redis call (freeing a lock, handing jobs back,
 * `QUIT`) or for a consumer loop to notice it must stop, before it moves on.
 */
export const SHUTDOWN_WAIT_MS = 2000;

/**
 * ioredis `commandTimeout` of the connections the module opens, unless the `redis` options set
 * one: without it a command waits in ioredis's offline queue through 20 reconnect attempts
 * (over a minute and a half) while Redis is down, and forever while it is frozen. Long enough
 * that no command the library sends (scripts on at most a few thousand entries) comes near it.
 */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/**
 * Owns the module's Redis connections, by role:
 * - `command`: one shared connection for every non-blocking command and script;
 * - `acks`: one shared connection for writes that wait for replicas (`replicaAcks`), opened on
 *   first use: their `WAIT` blocks it, which would hold up every command behind it;
 * - `subscriber`: one dedicated connection in subscriber mode, opened on first subscription and
 *   shared through {@link SubscriptionHub};
 * - `blocking`: one per consumer that blocks (e.g. BLMOVE), with `maxRetriesPerRequest: null` so
 *   a long block is never mistaken for a failed request.
 *
 * Capabilities reach Redis only through this provider. It also carries the key space and codec,
 * so a capability needs one injection. Connections it opened are closed at application shutdown
 * (after every capability has stopped, in `beforeApplicationShutdown`); a client given by the
 * user is never closed. Until the app has started, they keep the process alive only while a
 * command awaits its reply ({@link StartupHold}), so an app whose start failed can exit.
 */
export class RedisConnections implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly keys: KeySpace;
  readonly codec: Codec;
  readonly maxPayloadBytes: number;
  /** The module option `liveConfig`, checked. */
  readonly liveConfig: ResolvedLiveConfigOptions;
  /** The module option `cache`, checked. */
  readonly cache: ResolvedCacheOptions;
  /** The module option `registry`, checked: this app's own registration, if any. */
  readonly registry: ResolvedRegistryOptions | undefined;
  /** The module option `zookeeper`, checked. */
  readonly zookeeper: ResolvedZooKeeperOptions | undefined;
  /** Where locks live unless a call says otherwise (module option `locks.backend`). */
  readonly lockBackend: CoordinationBackend;
  /** Where elections are held unless a call says otherwise (module option `elections.backend`). */
  readonly electionBackend: CoordinationBackend;
  /** Where semaphores keep permits unless a call says otherwise (module option `semaphores.backend`). */
  readonly semaphoreBackend: CoordinationBackend;
  private readonly owned = new Map<RedisClient, ConnectionRole>();
  private hub?: Promise<SubscriptionHub>;
  private acks?: Promise<RedisClient>;
  private closing?: Promise<void>;
  private readonly startupHold = new StartupHold();
  private evictionAllowedWarned = false;
  private sharded = false;

  private constructor(
    private readonly options: ResolvedCoordinationOptions,
    readonly command: RedisClient,
    private readonly logger: LoggerService,
  ) {
    this.keys = new KeySpace(options.keyPrefix);
    this.codec = options.codec;
    this.maxPayloadBytes = options.maxPayloadBytes;
    this.liveConfig = options.liveConfig;
    this.cache = options.cache;
    this.registry = options.registry;
    this.zookeeper = options.zookeeper;
    this.lockBackend = options.lockBackend;
    this.electionBackend = options.electionBackend;
    this.semaphoreBackend = options.semaphoreBackend;
  }

  /**
   * The replicas a write must wait for: the call's `replicaAcks` (`false`: none), else the
   * module option's. Throws InvalidArgumentError for a bad value.
   */
  replicaAcks(perCall: unknown): Readonly<ReplicaAckOptions> | undefined {
    if (perCall === undefined) return this.options.replicaAcks;
    return resolveReplicaAcks('replicaAcks', perCall, this.options.commandTimeoutMs) || undefined;
  }

  /**
   * The connection of writes that wait for replicas, opened on first use. `WAIT` counts what
   * was written on its own connection and blocks it until the replicas confirm or it times out,
   * so these writes and their `WAIT` share a connection that nothing else waits behind.
   */
  acknowledging(): Promise<RedisClient> {
    this.acks ??= this.openOwned('acks').catch((error: unknown) => {
      this.acks = undefined;
      throw error;
    });
    return this.acks;
  }

  /** Opens the command connection and waits until Redis is ready (or fails with the cause). */
  static async open(
    options: ResolvedCoordinationOptions,
    logger: LoggerService = new Logger('RedisCoordination'),
  ): Promise<RedisConnections> {
    const { connection } = options;
    // Before connecting: a missing @opentelemetry/api fails app start at once.
    const telemetry = options.telemetry && (await Telemetry.load(options.telemetry, logger));
    const command =
      connection.kind === 'client'
        ? connection.client
        : createClient(options, 'command', logger, false);
    const connections = new RedisConnections(options, command, logger);
    if (telemetry) bindTelemetry(connections, telemetry);
    if (connection.kind !== 'client') {
      connections.adopt(command, 'command');
      connections.startupHold.track(command);
    }
    try {
      await connections.waitUntilReady(command, 'command');
      await connections.guardAgainstEviction();
      connections.sharded = await resolveShardedPubSub(command, options.shardedPubSub).catch(
        (error: unknown) => {
          throw connections.failure(
            error,
            "read Redis's version (INFO server)",
            'grant +info to the ACL user',
          );
        },
      );
    } catch (error) {
      await connections.onApplicationShutdown();
      throw error;
    }
    // A failover or restart may bring a server with another policy: checked again, but the app
    // runs by then, so it can only say so.
    onNewServers(command, () => {
      connections.guardAgainstEviction().catch((error: unknown) => {
        logger.error(connections.redact((error as Error).message));
      });
    });
    logger.log(`Connected to ${options.target}`);
    return connections;
  }

  /** Where the module is connected, password redacted. */
  get target(): string {
    return this.options.target;
  }

  /**
   * Runs a best-effort call at shutdown (freeing locks, leaving a consumer group, handing jobs
   * back) without letting a Redis outage hold the shutdown: it fails at once with
   * RedisConnectionError while the command connection is down, and after SHUTDOWN_WAIT_MS
   * otherwise. Waiting is no use: ioredis would hold a queued command through its 20 reconnect
   * attempts (over a minute), and never settles one whose connection is then closed.
   */
  atShutdown<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (this.command.status !== 'ready') {
      return Promise.reject(
        new RedisConnectionError(this.target, `Redis is unreachable at shutdown: ${what} skipped`),
      );
    }
    return within(
      call(),
      SHUTDOWN_WAIT_MS,
      () =>
        new RedisConnectionError(
          this.target,
          `No reply within ${SHUTDOWN_WAIT_MS} ms at shutdown: ${what} given up`,
        ),
    );
  }

  /**
   * Whether channels use Redis 7's sharded pub/sub (`SPUBLISH`/`SSUBSCRIBE`): the module option
   * `shardedPubSub` (off by default).
   */
  get shardedPubSub(): boolean {
    return this.sharded;
  }

  /** The command a script publishes with (`PUBLISH`, or `SPUBLISH` with sharded pub/sub). */
  get publishCommand(): 'PUBLISH' | 'SPUBLISH' {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  /**
   * Publishes on a Redis channel the way every subscriber of the module listens; resolves to the
   * number of connections subscribed to it (with plain pub/sub on a Cluster: on the node that took
   * the message only). Raw errors: callers map them with the action they were doing.
   */
  publish(channel: string, message: string): Promise<number> {
    return this.sharded
      ? (this.command.spublish(channel, message) as Promise<number>)
      : this.command.publish(channel, message);
  }

  /** The shared subscriber connection, opened on first use. */
  subscriptions(): Promise<SubscriptionHub> {
    this.hub ??= this.openOwned('subscriber').then(
      (client) =>
        new SubscriptionHub(client, this.logger, this.sharded, (error, action, ifNoPerm) =>
          this.failure(error, action, ifNoPerm),
        ),
      (error: unknown) => {
        this.hub = undefined;
        throw error;
      },
    );
    return this.hub;
  }

  /**
   * A new connection for blocking commands, owned by the caller: close it with `disconnect()`
   * to interrupt a block at once. Whatever is still open is closed at shutdown.
   */
  openBlocking(purpose: string): Promise<RedisClient> {
    return this.openOwned(`blocking:${purpose}`);
  }

  /** Text safe to log or throw: every configured secret replaced by `***`. */
  redact(text: string): string {
    return redactSecrets(text, this.options.secrets);
  }

  /**
   * The error a capability should throw for `error`, so that no raw client error reaches a
   * caller: a connection failure (Redis down, frozen, failing over, resharding, refusing the
   * credentials) becomes a {@link RedisConnectionError}, a write refused by a full Redis a
   * {@link RedisOutOfMemoryError} and any other Redis error a {@link RedisCommandError}, each
   * saying what could not be done; the library's own errors pass as they are. The cause keeps
   * only Redis' reply, redacted and without the plumbing of the script that raised it (SHA, line):
   * ioredis errors carry the failed command's arguments, which for a reconnect are
   * `HELLO 3 AUTH <user> <password>`. `ifNoPerm` is appended when the ACL refused the command
   * (`NOPERM`): what the user must grant.
   */
  failure(error: unknown, action: string, ifNoPerm?: string): unknown {
    if (error instanceof RedisCoordinationError) return error;
    const reply = redisReply(
      this.redact(error instanceof Error ? error.message : describeValue(error)),
    );
    const cause = new Error(reply);
    switch (redisFailureKind(reply)) {
      case 'unreachable':
        return new RedisConnectionError(
          this.target,
          `Could not ${action}: Redis unreachable (${reply})`,
          { cause },
        );
      case 'failing-over':
        return new RedisConnectionError(
          this.target,
          `Could not ${action}: Redis is failing over, resharding or restarting (${reply}); retry once it settles`,
          { cause },
        );
      case 'out-of-memory':
        return new RedisOutOfMemoryError(
          `Could not ${action}: Redis is out of memory and refused the write, which changed nothing (${reply}); free memory or raise maxmemory, then retry`,
          { cause },
        );
      case 'refused': {
        const advice = ifNoPerm && reply.startsWith('NOPERM') ? `; ${ifNoPerm}` : '';
        return new RedisCommandError(`Could not ${action}: Redis refused it (${reply})${advice}`, {
          cause,
        });
      }
    }
  }

  /**
   * Throws {@link RedisEvictionPolicyError} when a server holding the module's keys may evict
   * them, unless the module option `allowEviction` is set (then it warns, once).
   */
  private async guardAgainstEviction(): Promise<void> {
    const { allowEviction } = this.options;
    const policies = await readEvictionPolicies(this.command).catch((error: unknown) => {
      if (allowEviction) return [];
      throw this.failure(
        error,
        "read Redis's maxmemory-policy (INFO memory)",
        'grant +info to the ACL user, or set the module option allowEviction: true to skip this check',
      );
    });
    const evicting = evictingServers(policies);
    if (evicting.length === 0) return;
    const error = new RedisEvictionPolicyError(
      this.target,
      evicting.map(({ node, policy }) => ({ node, policy: policy! })),
    );
    if (!allowEviction) throw error;
    if (this.evictionAllowedWarned) return;
    this.evictionAllowedWarned = true;
    this.logger.warn(`allowEviction is set: ${error.message.split(': an evicted')[0]}`);
  }

  /** For `.catch()` off the hot path: rethrows what {@link failure} makes of the error. */
  rethrow(action: string): (error: unknown) => never {
    return (error) => {
      throw this.failure(error, action);
    };
  }

  onApplicationBootstrap(): void {
    this.startupHold.appStarted();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing ??= Promise.all(
      [...this.owned].map(([client, role]) => closeClient(client, role)),
    ).then(() => {
      this.owned.clear();
    });
    return this.closing;
  }

  private async openOwned(role: ConnectionRole): Promise<RedisClient> {
    if (this.closing) throw new RedisConnectionError(this.target, 'The module is shutting down');
    const { connection } = this.options;
    const client =
      connection.kind === 'client'
        ? duplicateClient(connection.client, role, this.sharded)
        : createClient(this.options, role, this.logger, this.sharded);
    this.adopt(client, role);
    this.startupHold.track(client);
    try {
      await this.waitUntilReady(client, role);
    } catch (error) {
      this.owned.delete(client);
      client.disconnect();
      throw error;
    }
    return client;
  }

  /** Tracks a connection we opened and logs its outages once each, not once per retry. */
  private adopt(client: RedisClient, role: ConnectionRole): void {
    this.owned.set(client, role);
    let down = false;
    client.on('error', (error: Error) => {
      if (down || client.status === 'wait') return;
      down = true;
      this.logger.warn(
        `Redis ${role} connection to ${this.target} failed: ${this.redact(error.message)}; retrying`,
      );
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.log(`Redis ${role} connection to ${this.target} restored`);
    });
    client.on('end', () => this.owned.delete(client));
  }

  private waitUntilReady(client: RedisClient, role: ConnectionRole): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    const timeoutMs = this.options.connectTimeoutMs;
    return new Promise<void>((resolve, reject) => {
      let lastError: Error | undefined;
      const fail = (reason: string) => {
        cleanup();
        const cause = lastError && new Error(this.redact(lastError.message));
        const detail = cause ? `: ${cause.message}` : '';
        reject(new RedisConnectionError(this.target, `${reason}${detail}`, { cause }));
      };
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onError = (error: Error) => {
        lastError = error;
        if (FATAL_CONNECT_ERROR.test(error.message)) {
          fail(`Redis refused the ${role} connection's credentials`);
        }
      };
      const onEnd = () => fail(`Redis ${role} connection closed before it was ready`);
      const timer = setTimeout(
        () => fail(`Redis ${role} connection not ready within connectTimeoutMs (${timeoutMs} ms)`),
        timeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        client.off('ready', onReady);
        client.off('error', onError);
        client.off('end', onEnd);
      };
      client.on('ready', onReady);
      client.on('error', onError);
      client.on('end', onEnd);
      if (client.status === 'wait') client.connect().catch(() => undefined);
    });
  }
}

function createClient(
  options: ResolvedCoordinationOptions,
  role: ConnectionRole,
  logger: LoggerService,
  shardedPubSub: boolean,
): RedisClient {
  const { connection } = options;
  if (connection.kind === 'client') throw new Error('cannot create a client for a given client');
  const given =
    connection.kind === 'cluster' ? connection.options.redisOptions : connection.options;
  const perRole: RedisOptions = {
    lazyConnect: true,
    connectionName: `${options.keyPrefix}${role}`.replace(/[^\w:.-]/g, '_'),
    ...roleOptions(role, given?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS),
  };
  if (connection.kind === 'cluster') {
    const cluster = new Cluster(connection.nodes, {
      ...connection.options,
      lazyConnect: true,
      // Only when asked for: ioredis's Cluster auto-pipelining hands a MOVED inside a pipeline
      // to the caller instead of following it, so every failover surfaced as failed calls.
      enableAutoPipelining: role === 'command' && options.autoPipelining === true,
      // One subscriber connection per master, following each slot to its owner.
      shardedSubscribers: role === 'subscriber' && shardedPubSub,
      redisOptions: { ...connection.options.redisOptions, ...perRole },
    });
    if (role === 'command' && options.autoPipelining === 'adaptive') {
      batchEachNodeWhileBusy(cluster, logger);
    }
    return cluster;
  }
  const client = new Redis({
    ...connection.options,
    ...perRole,
    enableAutoPipelining: role === 'command' && options.autoPipelining === true,
  });
  if (role === 'command' && options.autoPipelining === 'adaptive') {
    batchWhileBusy(client, logger);
  }
  return client;
}

/**
 * What the module changes in the user's ioredis options for a connection it owns, by role.
 *
 * `disconnectTimeout: 0`: ioredis ends a socket on `disconnect()` and destroys it only after this
 * delay (2 s by default) unless it sees the socket close; a socket that Redis had already closed
 * (Redis down) never closes again, so a closed app kept the process alive for 2 s. The module
 * disconnects only when it expects nothing more (after QUIT's reply, or a connection that is
 * down or blocking), so there is nothing to wait for.
 */
function roleOptions(role: ConnectionRole, commandTimeout: number | undefined): RedisOptions {
  if (role === 'command' || role === 'acks') return { disconnectTimeout: 0, commandTimeout };
  return {
    disconnectTimeout: 0,
    // A subscriber connection legitimately waits forever on one request, and a blocking command
    // as long as it asks to: the command connection's `commandTimeout` would cut every idle
    // consumer's block short.
    maxRetriesPerRequest: null,
    commandTimeout: role.startsWith('blocking') ? undefined : commandTimeout,
  };
}

function duplicateClient(
  client: RedisClient,
  role: ConnectionRole,
  shardedPubSub: boolean,
): RedisClient {
  if (client instanceof Cluster) {
    const { redisOptions } = client.options;
    return client.duplicate(undefined, {
      lazyConnect: true,
      enableAutoPipelining: false,
      shardedSubscribers: role === 'subscriber' && shardedPubSub,
      redisOptions: { ...redisOptions, ...roleOptions(role, redisOptions?.commandTimeout) },
    });
  }
  return client.duplicate({
    lazyConnect: true,
    enableAutoPipelining: false,
    ...roleOptions(role, client.options.commandTimeout),
    connectionName: role,
  });
}

async function closeClient(client: RedisClient, role: ConnectionRole): Promise<void> {
  if (client.status === 'end') return;
  // QUIT would queue behind a running block: a blocking connection is just dropped.
  if (client.status !== 'ready' || role.startsWith('blocking')) {
    client.disconnect();
    return;
  }
  await waitAtMost(client.quit(), SHUTDOWN_WAIT_MS);
  client.disconnect();
}
