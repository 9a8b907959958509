import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { resolveCacheModuleOptions, type ResolvedCacheOptions } from './cache/cache.options.js';
import { JsonCodec, type Codec } from './common/codec.js';
import {
  resolveLiveConfigOptions,
  type ResolvedLiveConfigOptions,
} from './config/live-config.options.js';
import {
  resolveRegistryOptions,
  type ResolvedRegistryOptions,
} from './registry/registry.options.js';
import { InvalidOptionsError, describeValue } from './common/coordination.error.js';
import {
  resolveZooKeeperOptions,
  type ResolvedZooKeeperOptions,
} from './zookeeper/zookeeper.options.js';
import type { CoordinationBackend } from './zookeeper/zookeeper.interfaces.js';
import {
  resolveTelemetryOptions,
  type ResolvedTelemetryOptions,
} from './telemetry/telemetry.options.js';
import {
  MAX_MILLISECONDS,
  collectProblems,
  optionNames,
  unknownOption,
} from './common/validate.js';
import { DEFAULT_COMMAND_TIMEOUT_MS } from './connection/redis-connections.js';
import { resolveReplicaAcks, type ReplicaAckOptions } from './connection/replica-acks.js';
import {
  describeCluster,
  describeSentinel,
  describeStandalone,
} from './connection/redis-target.js';
import {
  DEFAULT_REDIS_COORDINATION_OPTIONS,
  type ClusterConnectionOptions,
  type ElectionModuleOptions,
  type LockModuleOptions,
  type RedisCoordinationModuleOptions,
  type SemaphoreModuleOptions,
  type SentinelConnectionOptions,
} from './interfaces/redis-coordination-options.interface.js';

/** How to open connections, decided once from the options. */
export type ConnectionSpec =
  | { kind: 'standalone'; options: RedisOptions }
  | { kind: 'cluster'; nodes: ClusterNode[]; options: ClusterOptions }
  | { kind: 'client'; client: Redis | Cluster };

/** Module options after validation, with every default filled in. */
export interface ResolvedCoordinationOptions {
  connection: ConnectionSpec;
  /** Where the module connects, password redacted: for logs and errors. */
  target: string;
  /** Secrets to scrub from any text the module logs or throws. */
  secrets: string[];
  keyPrefix: string;
  connectTimeoutMs: number;
  autoPipelining: boolean | 'adaptive';
  codec: Codec;
  maxPayloadBytes: number;
  /** Whether a Redis that may evict keys is accepted (with a warning). */
  allowEviction: boolean;
  /** The module option `shardedPubSub`; undefined: decided from the servers at start. */
  shardedPubSub: boolean | undefined;
  liveConfig: ResolvedLiveConfigOptions;
  cache: ResolvedCacheOptions;
  /** The module option `telemetry`; undefined: off. */
  telemetry: ResolvedTelemetryOptions | undefined;
  registry: ResolvedRegistryOptions | undefined;
  zookeeper: ResolvedZooKeeperOptions | undefined;
  /** Where locks live unless a call says otherwise. */
  lockBackend: CoordinationBackend;
  /** Where elections are held unless a call says otherwise. */
  electionBackend: CoordinationBackend;
  /** Where semaphores keep permits unless a call says otherwise. */
  semaphoreBackend: CoordinationBackend;
  /** ioredis `commandTimeout` of the module's connections; `undefined`: none (a given client's). */
  commandTimeoutMs: number | undefined;
  /** The module option `replicaAcks`, checked and frozen; `undefined`: off. */
  replicaAcks: Readonly<ReplicaAckOptions> | undefined;
}

const KNOWN_OPTIONS = optionNames<RedisCoordinationModuleOptions>({
  url: true,
  redis: true,
  sentinel: true,
  cluster: true,
  client: true,
  keyPrefix: true,
  connectTimeoutMs: true,
  autoPipelining: true,
  codec: true,
  maxPayloadBytes: true,
  allowEviction: true,
  shardedPubSub: true,
  liveConfig: true,
  cache: true,
  telemetry: true,
  registry: true,
  zookeeper: true,
  locks: true,
  elections: true,
  semaphores: true,
  replicaAcks: true,
});
const BACKEND_MODULE_OPTIONS = optionNames<
  LockModuleOptions & ElectionModuleOptions & SemaphoreModuleOptions
>({
  backend: true,
});
const CLUSTER_OPTIONS = optionNames<ClusterConnectionOptions>({ nodes: true, options: true });
const SENTINEL_OPTIONS = optionNames<SentinelConnectionOptions>({
  sentinels: true,
  name: true,
  sentinelUsername: true,
  sentinelPassword: true,
});
const MAX_PREFIX_LENGTH = 128;

/**
 * Checks module options and fills in defaults. Every problem found is reported in one
 * {@link InvalidOptionsError}, so a misconfigured app fails at start with the whole list.
 */
export function resolveOptions(input: unknown): ResolvedCoordinationOptions {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidOptionsError([`options must be an object, got ${describeValue(input)}`]);
  }
  const options = input as RedisCoordinationModuleOptions;
  const problems: string[] = [];
  checkKnown('', options, KNOWN_OPTIONS, problems);
  checkKnown('cluster.', options.cluster, CLUSTER_OPTIONS, problems);
  checkKnown('sentinel.', options.sentinel, SENTINEL_OPTIONS, problems);
  checkKnown('locks.', options.locks, BACKEND_MODULE_OPTIONS, problems);
  checkKnown('elections.', options.elections, BACKEND_MODULE_OPTIONS, problems);
  checkKnown('semaphores.', options.semaphores, BACKEND_MODULE_OPTIONS, problems);

  const sources = (['url', 'sentinel', 'cluster', 'client'] as const).filter(
    (key) => options[key] !== undefined,
  );
  if (sources.length > 1) {
    problems.push(`choose one of url, sentinel, cluster and client; got ${sources.join(' and ')}`);
  }
  if (options.redis !== undefined) {
    if (!isRecord(options.redis)) problems.push('redis must be an object of ioredis options');
    else if (options.redis.keyPrefix) {
      problems.push('redis.keyPrefix is not supported: set the module option keyPrefix instead');
    }
  }
  if (
    (options.cluster !== undefined || options.client !== undefined) &&
    options.redis !== undefined
  ) {
    problems.push(
      'redis options apply to url/sentinel/host connections; for a cluster use cluster.options.redisOptions',
    );
  }

  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_COORDINATION_OPTIONS.keyPrefix;
  if (typeof keyPrefix !== 'string') {
    problems.push(`keyPrefix must be a string, got ${describeValue(keyPrefix)}`);
  } else if (keyPrefix === '') {
    problems.push(
      `keyPrefix must not be empty: the library's keys would mix with the app's own (default "${DEFAULT_REDIS_COORDINATION_OPTIONS.keyPrefix}")`,
    );
  } else if (/[{}]/.test(keyPrefix)) {
    problems.push(
      `keyPrefix "${keyPrefix}" must not contain { or }: the library adds its own hash tags`,
    );
  } else if (keyPrefix.length > MAX_PREFIX_LENGTH) {
    problems.push(`keyPrefix is longer than ${MAX_PREFIX_LENGTH} characters`);
  }

  const connectTimeoutMs =
    options.connectTimeoutMs ?? DEFAULT_REDIS_COORDINATION_OPTIONS.connectTimeoutMs;
  if (!isPositiveInteger(connectTimeoutMs, MAX_MILLISECONDS)) {
    problems.push(
      `connectTimeoutMs must be a positive integer of milliseconds, got ${describeValue(connectTimeoutMs)}`,
    );
  }
  const maxPayloadBytes =
    options.maxPayloadBytes ?? DEFAULT_REDIS_COORDINATION_OPTIONS.maxPayloadBytes;
  if (!isPositiveInteger(maxPayloadBytes, 512 * 1024 * 1024)) {
    problems.push(
      `maxPayloadBytes must be a positive integer up to 512 MiB (Redis's limit), got ${describeValue(maxPayloadBytes)}`,
    );
  }
  const allowEviction = options.allowEviction ?? false;
  if (typeof allowEviction !== 'boolean') {
    problems.push(`allowEviction must be true or false, got ${describeValue(allowEviction)}`);
  }
  const { shardedPubSub } = options;
  if (shardedPubSub !== undefined && typeof shardedPubSub !== 'boolean') {
    problems.push(`shardedPubSub must be true or false, got ${describeValue(shardedPubSub)}`);
  }
  const autoPipelining =
    options.autoPipelining ?? DEFAULT_REDIS_COORDINATION_OPTIONS.autoPipelining;
  if (typeof autoPipelining !== 'boolean' && autoPipelining !== 'adaptive') {
    problems.push(
      `autoPipelining must be true, false or 'adaptive', got ${describeValue(autoPipelining)}`,
    );
  }
  const codec = options.codec ?? new JsonCodec();
  if (
    !isRecord(codec) ||
    typeof codec.encode !== 'function' ||
    typeof codec.decode !== 'function'
  ) {
    problems.push('codec must have encode(value) and decode(text) methods');
  }

  const liveConfig = resolveLiveConfigOptions(options.liveConfig, problems);
  const cache = resolveCacheModuleOptions(options.cache, problems);
  const telemetry = resolveTelemetryOptions(options.telemetry, problems);
  const registry = resolveRegistryOptions(options.registry, problems);
  const zookeeper = resolveZooKeeperOptions(options.zookeeper, problems);
  const lockBackend = resolveBackend('locks', options.locks, options, problems);
  const electionBackend = resolveBackend('elections', options.elections, options, problems);
  const semaphoreBackend = resolveBackend('semaphores', options.semaphores, options, problems);
  if (registry?.backend === 'zookeeper' && options.zookeeper === undefined) {
    problems.push(needsZooKeeper('registry.backend'));
  }
  if (liveConfig.backend === 'zookeeper' && options.zookeeper === undefined) {
    problems.push(needsZooKeeper('liveConfig.backend'));
  }
  const resolved = resolveConnection(options, problems);
  let replicaAcks: Readonly<ReplicaAckOptions> | false | undefined;
  collectProblems(
    'replicaAcks',
    problems,
  )(() => {
    replicaAcks = resolveReplicaAcks(
      'replicaAcks',
      options.replicaAcks,
      resolved?.commandTimeoutMs,
    );
  });
  if (problems.length > 0) throw new InvalidOptionsError(problems);
  return {
    ...resolved!,
    keyPrefix,
    connectTimeoutMs,
    autoPipelining,
    codec,
    maxPayloadBytes,
    allowEviction,
    shardedPubSub,
    liveConfig,
    cache,
    telemetry,
    registry,
    zookeeper,
    lockBackend,
    electionBackend,
    semaphoreBackend,
    replicaAcks: replicaAcks || undefined,
  };
}

/**
 * A capability's module option `backend` (`option`: the capability's option, e.g. `locks`):
 * 'redis' unless set; 'zookeeper' needs the module option `zookeeper`.
 */
function resolveBackend(
  option: 'locks' | 'elections' | 'semaphores',
  value: unknown,
  options: RedisCoordinationModuleOptions,
  problems: string[],
): CoordinationBackend {
  if (value !== undefined && !isRecord(value)) {
    problems.push(`${option} must be an object, got ${describeValue(value)}`);
  }
  const backend: unknown = (isRecord(value) && value.backend) || 'redis';
  if (backend !== 'redis' && backend !== 'zookeeper') {
    problems.push(
      `${option}.backend must be 'redis' or 'zookeeper', got ${describeValue(backend)}`,
    );
    return 'redis';
  }
  if (backend === 'zookeeper' && options.zookeeper === undefined) {
    problems.push(needsZooKeeper(`${option}.backend`));
  }
  return backend;
}

type ResolvedConnection = Pick<
  ResolvedCoordinationOptions,
  'connection' | 'target' | 'secrets' | 'commandTimeoutMs'
>;

function resolveConnection(
  options: RedisCoordinationModuleOptions,
  problems: string[],
): ResolvedConnection | undefined {
  const redis: RedisOptions = isRecord(options.redis) ? options.redis : {};
  if (options.client !== undefined) {
    const client = options.client as unknown;
    if (!isRecord(client) || typeof client.duplicate !== 'function' || !('status' in client)) {
      problems.push('client must be an ioredis Redis or Cluster instance');
      return undefined;
    }
    const clientOptions = (client as unknown as Redis).options as RedisOptions | undefined;
    const isCluster = 'isCluster' in client && client.isCluster === true;
    if (clientOptions?.keyPrefix) {
      problems.push(
        'client has an ioredis keyPrefix, which scripts cannot see: remove it and set the module option keyPrefix',
      );
    }
    return {
      connection: { kind: 'client', client: options.client },
      target: isCluster ? 'a provided cluster client' : describeStandalone(clientOptions ?? {}),
      secrets: [clientOptions?.password ?? ''],
      // A client given keeps its own settings: the module adds no timeout to it.
      commandTimeoutMs: isCluster
        ? (clientOptions as ClusterOptions | undefined)?.redisOptions?.commandTimeout
        : clientOptions?.commandTimeout,
    };
  }
  if (options.cluster !== undefined) {
    const { nodes, options: clusterOptions = {} } = options.cluster ?? ({} as never);
    if (!Array.isArray(nodes) || nodes.length === 0) {
      problems.push(
        'cluster.nodes must list at least one node, e.g. [{ host: "10.0.0.1", port: 7000 }]',
      );
      return undefined;
    }
    if (clusterOptions.keyPrefix || clusterOptions.redisOptions?.keyPrefix) {
      problems.push('cluster keyPrefix is not supported: set the module option keyPrefix instead');
    }
    return {
      connection: { kind: 'cluster', nodes, options: clusterOptions },
      target: describeCluster(nodes),
      secrets: [clusterOptions.redisOptions?.password ?? ''],
      commandTimeoutMs: clusterOptions.redisOptions?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    };
  }
  if (options.sentinel !== undefined) {
    const sentinel = options.sentinel;
    if (
      !isRecord(sentinel) ||
      !Array.isArray(sentinel.sentinels) ||
      sentinel.sentinels.length === 0
    ) {
      problems.push(
        'sentinel.sentinels must list at least one sentinel, e.g. [{ host: "sentinel-1", port: 26379 }]',
      );
      return undefined;
    }
    if (typeof sentinel.name !== 'string' || sentinel.name === '') {
      problems.push('sentinel.name must name the master group the sentinels monitor');
      return undefined;
    }
    return {
      connection: {
        kind: 'standalone',
        options: {
          ...redis,
          sentinels: sentinel.sentinels,
          name: sentinel.name,
          sentinelUsername: sentinel.sentinelUsername,
          sentinelPassword: sentinel.sentinelPassword,
        },
      },
      target: describeSentinel(sentinel.name, sentinel.sentinels),
      secrets: [redis.password ?? '', sentinel.sentinelPassword ?? ''],
      commandTimeoutMs: redis.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    };
  }
  let fromUrl: RedisOptions = {};
  if (options.url !== undefined) {
    const parsed = parseRedisUrl(options.url);
    if (typeof parsed === 'string') {
      problems.push(parsed);
      return undefined;
    }
    fromUrl = parsed;
  }
  const merged: RedisOptions = { ...fromUrl, ...redis };
  return {
    connection: { kind: 'standalone', options: merged },
    target: describeStandalone(merged),
    secrets: [merged.password ?? ''],
    commandTimeoutMs: merged.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
  };
}

function needsZooKeeper(option: string): string {
  return `${option} 'zookeeper' needs the module option zookeeper`;
}

/** Adds a problem for each key of `value` (when an object) that is not a known option. */
function checkKnown(
  path: string,
  value: unknown,
  known: readonly string[],
  problems: string[],
): void {
  if (!isRecord(value)) return;
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) problems.push(`"${path}${key}": ${unknownOption(key, known)}`);
  }
}

/** Parses a redis:// or rediss:// URL into ioredis options; returns a problem text when invalid. */
function parseRedisUrl(url: unknown): RedisOptions | string {
  if (typeof url !== 'string') return `url must be a string, got ${describeValue(url)}`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'url is not a valid URL; expected redis://[user:password@]host[:port][/db] or rediss://…';
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    return `url must start with redis:// or rediss://, got ${parsed.protocol}//`;
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db)) return `url database "/${db}" must be a number`;
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    host: host || 'localhost',
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : undefined,
    tls: parsed.protocol === 'rediss:' ? { servername: host } : undefined,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> & object {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isPositiveInteger(value: unknown, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= max;
}
