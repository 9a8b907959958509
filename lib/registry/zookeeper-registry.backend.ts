import type { Logger } from '@nestjs/common';
import { coalescing } from '../common/coalescing.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import type { SessionEvent, ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { nameOfNode, nodeName } from '../zookeeper/zookeeper.paths.js';
import { REARM_RETRY_MS } from '../zookeeper/zookeeper.watch.js';
import type { RegistryBackend, StoredInstance } from './registry.backend.js';

/** `<root>/services/<service>`: the persistent parent of a service's instance nodes. */
function serviceNode(root: string, service: string): string {
  return `${root}/services/${nodeName(service)}`;
}

/** One registration this process keeps: re-created whenever its node is gone. */
interface Registration {
  readonly service: string;
  readonly id: string;
  readonly path: string;
  /** What the node should hold: the record of the last `register()`. */
  record: string;
  /** What the node was last written with. */
  written?: string;
  /** The session generation the node was created in; unset before the first create. */
  createdIn?: number;
  /** The registration's calls, one at a time: a heartbeat and a re-registration never race. */
  queue: Promise<unknown>;
}

/**
 * Service registrations on ZooKeeper, after Curator's ServiceDiscovery: an instance is an
 * ephemeral node `<root>/services/<service>/<instance id>` holding its record, so it lives
 * exactly as long as the instance's session (a crashed instance drops out when its session
 * times out; a closed one at once). A heartbeat whose record changed (health up/down) rewrites
 * the node; one that did not only checks the node is there. After a lost session the node is
 * created again on the new one, replacing a node the old session may still hold.
 *
 * Watchers keep a children watch on the service's node and a data watch on each instance's,
 * re-armed on every firing (watches fire once and coalesce, so nothing is applied from the
 * event: listeners re-read), and are told again after every reconnect.
 */
export class ZooKeeperRegistry implements RegistryBackend {
  /** This process's registrations, by node path. */
  private readonly registrations = new Map<string, Registration>();
  /** One watch per service, shared by every watcher of it in this process. */
  private readonly watches = new Map<string, ServiceWatch>();
  /** Bumped when the session is lost: nodes and watches of earlier generations are gone. */
  private generation = 0;
  private listening = false;

  constructor(
    private readonly connection: ZooKeeperConnection,
    private readonly logger: Logger,
  ) {}

  register(service: string, id: string, record: string): Promise<boolean> {
    const path = `${serviceNode(this.connection.root, service)}/${nodeName(id)}`;
    this.listen();
    let registration = this.registrations.get(path);
    if (!registration) {
      registration = { service, id, path, record, queue: Promise.resolve() };
      this.registrations.set(path, registration);
    }
    registration.record = record;
    return this.inTurn(registration, () => this.sync(registration));
  }

  async deregister(service: string, id: string): Promise<void> {
    const parent = serviceNode(this.connection.root, service);
    const path = `${parent}/${nodeName(id)}`;
    const registration = this.registrations.get(path);
    this.registrations.delete(path);
    const remove = async () => {
      await this.connection.session.remove(path);
      // The last one out removes the service's node; a registration racing it creates it again.
      await this.connection.session.remove(parent, { ifEmpty: true });
    };
    await (registration ? this.inTurn(registration, remove) : remove());
  }

  async list(service: string): Promise<StoredInstance[]> {
    const { session } = this.connection;
    const parent = serviceNode(this.connection.root, service);
    const children = (await session.getChildren(parent)) ?? [];
    const found = await Promise.all(
      children.map(async (child) => {
        const id = nameOfNode(child);
        const node = id === undefined ? undefined : await session.getData(`${parent}/${child}`);
        // Gone since the children were listed (deregistered, or its session expired).
        return node && { id: id!, record: node.data.toString() };
      }),
    );
    return found
      .filter((instance) => instance !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Throws at once (not in the promise) without the module option `zookeeper`. */
  watch(service: string, listener: () => void): Promise<Unsubscribe> {
    const parent = serviceNode(this.connection.root, service);
    this.listen();
    let watch = this.watches.get(parent);
    if (!watch) {
      watch = new ServiceWatch(parent, this.connection);
      this.watches.set(parent, watch);
    }
    return watch.add(listener);
  }

  atShutdown<T>(what: string, call: () => Promise<T>): Promise<T> {
    return this.connection.atShutdown(what, call);
  }

  /** Brings the registration's node in line; true when it had to be created. */
  private async sync(registration: Registration): Promise<boolean> {
    // Suspended or lost: a reconnect re-syncs anyway.
    this.connection.assertConnected(
      `register instance ${registration.id} of service "${registration.service}"`,
    );
    const { session } = this.connection;
    if (registration.createdIn === this.generation && (await session.exists(registration.path))) {
      if (registration.written === registration.record) return false;
      const record = registration.record;
      // 'no-node': gone since it was seen (its session was lost), so it is created again below.
      if ((await session.setData(registration.path, Buffer.from(record), -1)) !== 'no-node') {
        registration.written = record;
        return false;
      }
    }
    await this.create(registration);
    return true;
  }

  private async create(registration: Registration): Promise<void> {
    const { session } = this.connection;
    const { path, record } = registration;
    const generation = this.generation;
    // A node left by a lost session lives on until the ensemble expires that session, and would
    // then vanish under this registration: replace it (as Curator does).
    await session.remove(path);
    while (!(await session.create(path, Buffer.from(record), 'ephemeral'))) {
      await session.ensurePath(path.slice(0, path.lastIndexOf('/')));
    }
    registration.createdIn = generation;
    registration.written = record;
  }

  private inTurn<T>(registration: Registration, step: () => Promise<T>): Promise<T> {
    const result = registration.queue.then(step);
    registration.queue = result.catch(() => undefined);
    return result;
  }

  /** Follows the session from the first registration or watch on. */
  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.connection.onSessionEvent((event) => this.onSessionEvent(event));
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event === 'lost') {
      this.generation++;
      for (const watch of this.watches.values()) watch.forget();
    } else if (event === 'reconnected') {
      for (const registration of this.registrations.values()) void this.resync(registration);
      for (const watch of this.watches.values()) watch.changed();
    }
  }

  /** After a reconnect: re-creates the node if the session was lost (or the node is gone). */
  private async resync(registration: Registration): Promise<void> {
    const { service, id } = registration;
    try {
      if (await this.inTurn(registration, () => this.sync(registration))) {
        this.logger.warn(
          `Instance ${id} of service "${service}" registered again on a new ZooKeeper session`,
        );
      }
    } catch (error) {
      this.logger.warn(
        `Could not register instance ${id} of service "${service}" again after a reconnect: ${(error as Error).message}; the next heartbeat retries`,
      );
    }
  }
}

/**
 * The watches on one service: a children watch on its node (an exists watch while it has
 * none), and a data watch on each instance's node. Each is set only when not already pending
 * (the client would keep every copy until it fires), re-armed before listeners are told, so a
 * change after their re-read fires again. With no listeners left, fired watches lapse.
 */
class ServiceWatch {
  private readonly listeners = new Set<() => void>();
  private childrenArmed = false;
  private parentArmed = false;
  /** Instance nodes with a data watch pending. */
  private readonly dataArmed = new Set<string>();
  private retry?: NodeJS.Timeout;
  private readonly arm = coalescing(() => this.armOnce());

  constructor(
    private readonly parent: string,
    private readonly connection: ZooKeeperConnection,
  ) {}

  /** Resolves once the watches are set (or will be retried): changes are told from then on. */
  async add(listener: () => void): Promise<Unsubscribe> {
    this.listeners.add(listener);
    await this.arm().catch(() => this.retryLater());
    return async () => {
      this.listeners.delete(listener);
    };
  }

  /** After a lost session: its watches went with it. */
  forget(): void {
    this.childrenArmed = false;
    this.parentArmed = false;
    this.dataArmed.clear();
  }

  /** Something may have changed: re-arm, then tell every listener. */
  changed(): void {
    if (this.listeners.size === 0) return;
    void this.arm()
      .catch(() => this.retryLater())
      .then(() => {
        for (const listener of [...this.listeners]) listener();
      });
  }

  private async armOnce(): Promise<void> {
    if (this.listeners.size === 0) return;
    const { session } = this.connection;
    // Flags are set before each call (its watch may fire before the reply is handled) and
    // cleared when the watch fires, the call fails, or the session is lost.
    const watcher = (fired: () => void) => () => {
      fired();
      this.changed();
    };
    let children: string[] | undefined;
    for (;;) {
      const armChildren = !this.childrenArmed;
      this.childrenArmed = true;
      children = await session
        .getChildren(
          this.parent,
          armChildren ? watcher(() => (this.childrenArmed = false)) : undefined,
        )
        .catch((error: unknown) => {
          if (armChildren) this.childrenArmed = false;
          throw error;
        });
      if (children) break;
      // No service node (no instance yet, or the last one left): watch for its creation.
      this.childrenArmed = false;
      if (this.parentArmed) return;
      this.parentArmed = true;
      const stat = await session
        .exists(
          this.parent,
          watcher(() => (this.parentArmed = false)),
        )
        .catch((error: unknown) => {
          this.parentArmed = false;
          throw error;
        });
      if (!stat) return;
    }
    await Promise.all(
      children
        .filter((child) => !this.dataArmed.has(child))
        .map(async (child) => {
          this.dataArmed.add(child);
          const node = await session
            .getData(
              `${this.parent}/${child}`,
              watcher(() => this.dataArmed.delete(child)),
            )
            .catch((error: unknown) => {
              this.dataArmed.delete(child);
              throw error;
            });
          if (!node) this.dataArmed.delete(child); // gone already: the children watch tells
        }),
    );
  }

  /** Re-arms later while connected; a reconnect re-arms anyway. */
  private retryLater(): void {
    if (this.retry || !this.connection.connected) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.changed();
    }, REARM_RETRY_MS).unref();
  }
}
