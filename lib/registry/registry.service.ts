import { randomBytes } from 'node:crypto';
import type { Server } from 'node:net';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  Injectable,
  Logger,
  Optional,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Observable } from 'rxjs';
import { coalescing } from '../common/coalescing.js';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertMilliseconds, assertName } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import type { RegistryBackend } from './registry.backend.js';
import { NoInstanceAvailableError } from './registry.errors.js';
import { recordStatus, runHealthCheck } from './registry.health.js';
import type {
  InstanceStatus,
  InstancesOptions,
  PickOptions,
  RegistryReadOptions,
  ServiceInstance,
} from './registry.interfaces.js';
import {
  resolveInstancesOptions,
  resolvePickOptions,
  resolveReadOptions,
  type ResolvedRegistryOptions,
} from './registry.options.js';
import { RegistryStore } from './registry.store.js';
import { ZooKeeperRegistry } from './zookeeper-registry.backend.js';

/**
 * Which instances of a service are alive. With the module option `registry`, this app registers
 * itself once it listens (at bootstrap without an HTTP server), renews the registration every
 * third of its `ttlMs`, and deregisters first thing at shutdown; a crashed instance drops out when
 * its lease ends. With a `healthCheck`, each renewal publishes whether it passed: an unhealthy
 * instance stays registered but is skipped by every other instance. With `backend: 'zookeeper'`
 * the registration is an ephemeral node instead of a lease (see {@link ZooKeeperRegistry}).
 *
 * @example
 * const billing = await registry.pick('billing');
 * await fetch(`${billing.address}/invoices`, { method: 'POST', body });
 */
@Injectable()
export class ServiceRegistry implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** This process's instance id, in its registration. */
  readonly instanceId = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly logger = new Logger('ServiceRegistry');
  private readonly backends: Readonly<Record<CoordinationBackend, RegistryBackend>>;
  /** Instance id -> `performance.now()` until which `pick()` skips it. */
  private readonly down = new Map<string, number>();
  private readonly nextPick = new Map<string, number>();
  private heartbeat?: NodeJS.Timeout;
  private registered = false;
  private failing = false;
  /** What this instance last published of its health. */
  private status: InstanceStatus = 'up';
  private stopping = false;

  constructor(
    private readonly connections: RedisConnections,
    zookeeper: ZooKeeperConnection,
    @Optional() private readonly adapterHost?: HttpAdapterHost,
  ) {
    this.backends = {
      redis: new RegistryStore(connections),
      zookeeper: new ZooKeeperRegistry(zookeeper, this.logger),
    };
  }

  /** Registers once the HTTP server listens, so no one is sent to an instance not serving yet. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.connections.registry) return;
    const server = this.httpServer();
    if (server && !server.listening) {
      server.once('listening', () => void this.register(server));
      return;
    }
    await this.register(server);
  }

  /**
   * The live instances of `service`, in id order: those that report themselves healthy, or all
   * with `{ includeDown: true }` (see `status`).
   */
  async instances(service: string, options: InstancesOptions = {}): Promise<ServiceInstance[]> {
    assertName('service name', service);
    const { includeDown, backend } = resolveInstancesOptions(options);
    const found: ServiceInstance[] = [];
    for (const { id, record } of await this.backendOf(backend).list(service)) {
      try {
        const { address, metadata, registeredAt, status } = JSON.parse(record) as ServiceInstance;
        const instance = {
          id,
          service,
          address,
          metadata,
          registeredAt,
          status: recordStatus(status),
        };
        if (includeDown || instance.status === 'up') found.push(instance);
      } catch {
        this.logger.warn(`Skipped instance ${id} of service "${service}": unreadable record`);
      }
    }
    return found;
  }

  /**
   * The live, healthy instances of `service` now, then again on every change (a registration, a
   * deregistration, a lease that ran out or a session that ended, an instance turning unhealthy
   * or healthy again).
   */
  observe(service: string, options: RegistryReadOptions = {}): Observable<ServiceInstance[]> {
    assertName('service name', service);
    const { backend } = resolveReadOptions(options);
    return new Observable<ServiceInstance[]>((subscriber) => {
      let last: string | undefined;
      const refresh = coalescing(async () => {
        try {
          const now = await this.instances(service, { backend });
          const shown = JSON.stringify(now);
          if (shown !== last) {
            last = shown;
            subscriber.next(now);
          }
        } catch (error) {
          this.logger.warn(
            `Could not read the instances of service "${service}": ${(error as Error).message}; trying again`,
          );
        }
      });
      let unwatch: (() => Promise<void>) | undefined;
      let closed = false;
      // Throws (erroring the subscription) when `backend` is not configured.
      void this.backendOf(backend)
        .watch(service, () => void refresh())
        .then(
          (off) => {
            if (closed) return void off();
            unwatch = off;
            // A change between the first read and the watch being set would go unseen.
            void refresh();
          },
          (error: unknown) =>
            this.logger.warn(`Could not watch service "${service}": ${(error as Error).message}`),
        );
      void refresh();
      return () => {
        closed = true;
        void unwatch?.();
      };
    });
  }

  /**
   * One live, healthy instance of `service` not marked down: in turn (`round-robin`, the
   * default) or at random.
   * @throws NoInstanceAvailableError when there is none.
   */
  async pick(service: string, options: PickOptions = {}): Promise<ServiceInstance> {
    const { strategy, backend } = resolvePickOptions(options);
    const live = await this.instances(service, { includeDown: true, backend });
    const now = performance.now();
    const usable = live.filter(
      (instance) => instance.status === 'up' && (this.down.get(instance.id) ?? 0) <= now,
    );
    if (usable.length === 0) throw new NoInstanceAvailableError(service, live.length);
    if (strategy === 'random') return usable[Math.floor(Math.random() * usable.length)]!;
    const turn = this.nextPick.get(service) ?? 0;
    this.nextPick.set(service, turn + 1);
    return usable[turn % usable.length]!;
  }

  /** Makes `pick()` on this instance skip `instance` for `forMs` (it failed you). */
  markDown(instance: Pick<ServiceInstance, 'id'>, forMs: number): void {
    assertMilliseconds('forMs', forMs);
    this.down.set(instance.id, performance.now() + forMs);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.heartbeat);
    const options = this.connections.registry;
    if (!options || !this.registered) return;
    this.registered = false;
    const backend = this.backendOf(options.backend);
    await backend
      .atShutdown('deregistering this instance', () =>
        backend.deregister(options.service, this.instanceId),
      )
      .catch((error: unknown) =>
        this.logger.warn(
          `${(error as Error).message}; the registration ends with ${options.backend === 'zookeeper' ? 'its ZooKeeper session' : `its lease (${options.ttlMs} ms)`}`,
        ),
      );
  }

  /** `choice`, or the module's registry backend (Redis without the option `registry`). */
  private backendOf(choice: CoordinationBackend | undefined): RegistryBackend {
    return this.backends[choice ?? this.connections.registry?.backend ?? 'redis'];
  }

  private async register(server: HttpServer | undefined): Promise<void> {
    const options = this.connections.registry!;
    const address = options.address ?? listeningAddress(server);
    if (address === undefined) {
      throw new InvalidArgumentError(
        'registry.address',
        undefined,
        'the app has no HTTP server listening to take it from: give the address others reach it at',
      );
    }
    const registeredAt = Date.now();
    const renew = async () => {
      const status = await this.checkHealth(options);
      // A check that ended after shutdown began must not register the instance again.
      if (this.stopping) return;
      const record = JSON.stringify({ address, metadata: options.metadata, registeredAt, status });
      try {
        const added = await this.backendOf(options.backend).register(
          options.service,
          this.instanceId,
          record,
          options.ttlMs,
        );
        if (added && this.registered) {
          this.logger.warn(
            `Instance ${this.instanceId} of service "${options.service}" was registered again: its registration had ended (${options.backend === 'zookeeper' ? 'its node was gone' : 'its lease ran out: heartbeats missed'})`,
          );
        }
        this.registered = true;
        if (this.failing) this.logger.log(`Heartbeats of service "${options.service}" resumed`);
        this.failing = false;
      } catch (error) {
        if (!this.failing) {
          this.logger.warn(
            `Heartbeat of service "${options.service}" failed: ${(error as Error).message}; retrying`,
          );
        }
        this.failing = true;
      }
    };
    await renew();
    this.heartbeat = setInterval(() => void renew(), Math.floor(options.ttlMs / 3)).unref();
    this.logger.log(
      `Registered ${this.instanceId} as an instance of service "${options.service}" at ${address}`,
    );
  }

  /** Runs the health check, if any, and says when its verdict changes. */
  private async checkHealth(options: ResolvedRegistryOptions): Promise<InstanceStatus> {
    if (!options.healthCheck) return 'up';
    // Bounded well inside the heartbeat period, so that a hung check still lets this renewal
    // land in time (and publishes the instance as down).
    const verdict = await runHealthCheck(options.healthCheck, Math.floor(options.ttlMs / 6));
    if (verdict.status !== this.status) {
      this.status = verdict.status;
      if (verdict.status === 'down') {
        this.logger.warn(
          `Instance ${this.instanceId} of service "${options.service}" is unhealthy (its health check ${verdict.reason}): published as down until a check passes`,
        );
      } else {
        this.logger.log(
          `Instance ${this.instanceId} of service "${options.service}" is healthy again: published as up`,
        );
      }
    }
    return verdict.status;
  }

  private httpServer(): HttpServer | undefined {
    try {
      return this.adapterHost?.httpAdapter?.getHttpServer() as HttpServer | undefined;
    } catch {
      return undefined; // an application context without HTTP
    }
  }
}

/** What the registry needs of Node's `http.Server`. */
type HttpServer = Pick<Server, 'listening' | 'once' | 'address'>;

/** `http://<host>:<port>` of a listening server; the host name when it listens everywhere. */
function listeningAddress(server: HttpServer | undefined): string | undefined {
  const bound = server?.listening ? server.address() : null;
  if (bound === null || bound === undefined || typeof bound === 'string') return undefined;
  const everywhere = bound.address === '::' || bound.address === '0.0.0.0';
  const host = everywhere
    ? hostname()
    : bound.family === 'IPv6'
      ? `[${bound.address}]`
      : bound.address;
  return `http://${host}:${bound.port}`;
}
