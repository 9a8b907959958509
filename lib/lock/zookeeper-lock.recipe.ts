import { performance } from 'node:perf_hooks';
import { ZooKeeperConnectionError } from '../zookeeper/zookeeper.errors.js';
import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { createUnder, nodeToken } from '../zookeeper/zookeeper.paths.js';
import type { LockHold } from './lock.handle.js';
import type { LockMode } from './lock.interfaces.js';
import type { LockRequest } from './lock.options.js';
import { ZooKeeperHeldLock } from './zookeeper-lock.hold.js';
import { blockerOf, lockNodePrefix, lockParent, queueOf } from './zookeeper-lock.nodes.js';

/**
 * How long a resource's parent node stays after this instance last released it: a lock taken
 * again soon reuses it (each parent create and delete is one more write to the ensemble's log),
 * and parents of names no longer used do not pile up.
 */
const PARENT_IDLE_MS = 5000;

/** One resource taken: its node and the node's czxid (the fencing token). */
interface TakenNode {
  readonly path: string;
  readonly czxid: number;
}

/**
 * Locks on ZooKeeper, after Curator's InterProcessMutex / InterProcessReadWriteLock: an
 * acquisition is an ephemeral sequential node under the resource's parent; it holds the lock when
 * no node before it blocks it (any node for a writer, a writer's node for a reader), and
 * otherwise watches only the node that blocks it (no herd: one waiter wakes per release). Fair
 * by construction; the fencing token is the node's czxid, which increases across the ensemble.
 * Several resources are taken one by one in sorted order, so two multi-resource acquisitions
 * cannot deadlock.
 */
export class ZooKeeperLocks {
  /** Names this service instance's nodes; `-` separates a node name's parts, so none here. */
  private readonly instance = nodeToken();
  private tokenCount = 0;
  /** Parents to delete if still empty, by path, once idle. */
  private readonly idleParents = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly connection: ZooKeeperConnection,
    private readonly tracker: Set<LockHold>,
  ) {}

  /**
   * Takes every resource of `request`, waiting at most `waitMs` (0: not at all). Resolves
   * undefined when still busy at the deadline, having removed every node it made.
   */
  async acquire(request: LockRequest, waitMs: number): Promise<ZooKeeperHeldLock | undefined> {
    this.connection.assertConnected(`acquire lock ${request.resources.join(', ')}`);
    const deadline = performance.now() + waitMs;
    const token = `${this.instance}${(this.tokenCount++).toString(36)}`;
    const taken: TakenNode[] = [];
    try {
      for (const resource of request.resources) {
        const node = await this.acquireOne(resource, request.mode, token, deadline);
        if (!node) {
          await this.free(taken.map((t) => t.path));
          return undefined;
        }
        taken.push(node);
      }
    } catch (error) {
      await this.abandon(request.resources, request.mode, token);
      throw error;
    }
    return new ZooKeeperHeldLock({
      connection: this.connection,
      resources: request.resources,
      mode: request.mode,
      nodes: taken.map((t) => t.path),
      fencingTokens: taken.map((t) => t.czxid),
      ttlMs: request.ttlMs,
      tracker: this.tracker,
      free: (nodes) => this.free(nodes),
    });
  }

  /** True if any of the resources has a lock node: held, or waited for. */
  async isLocked(resources: readonly string[]): Promise<boolean> {
    const queues = await Promise.all(
      resources.map((resource) =>
        this.connection.session.getChildren(lockParent(this.connection.root, resource)),
      ),
    );
    return queues.some((children) => queueOf(children ?? []).length > 0);
  }

  /** Deletes nodes; their parents go once idle ({@link PARENT_IDLE_MS}) if nobody queues there. */
  async free(nodes: readonly string[]): Promise<void> {
    await Promise.all(nodes.map((node) => this.connection.session.remove(node)));
    for (const node of nodes) {
      const parent = node.slice(0, node.lastIndexOf('/'));
      clearTimeout(this.idleParents.get(parent));
      const timer = setTimeout(() => void this.removeParent(parent), PARENT_IDLE_MS).unref();
      this.idleParents.set(parent, timer);
    }
  }

  /** At shutdown: deletes the parents waiting to idle out, if still empty. */
  async close(): Promise<void> {
    const parents = [...this.idleParents.keys()];
    for (const timer of this.idleParents.values()) clearTimeout(timer);
    await Promise.all(parents.map((parent) => this.removeParent(parent)));
  }

  private async removeParent(parent: string): Promise<void> {
    this.idleParents.delete(parent);
    // Not empty (someone queues there) or unreachable: harmless, another release retries.
    await this.connection.session.remove(parent, { ifEmpty: true }).catch(() => false);
  }

  private async acquireOne(
    resource: string,
    mode: LockMode,
    token: string,
    deadline: number,
  ): Promise<TakenNode | undefined> {
    const { session } = this.connection;
    const parent = lockParent(this.connection.root, resource);
    clearTimeout(this.idleParents.get(parent));
    this.idleParents.delete(parent);
    const path = await createUnder(
      session,
      parent,
      lockNodePrefix(mode, token),
      undefined,
      'ephemeral-sequential',
    );
    const name = path.slice(parent.length + 1);
    // The czxid never changes: read once, alongside the first look at the queue.
    const stat = session.exists(path);
    void stat.catch(() => undefined); // awaited only once the lock is ours
    const vanished = () =>
      new ZooKeeperConnectionError(
        this.connection.ensemble,
        `Could not acquire lock ${resource}: its node vanished (the ZooKeeper session ended)`,
      );
    for (;;) {
      const queue = queueOf((await session.getChildren(parent)) ?? []);
      const index = queue.findIndex((node) => node.name === name);
      if (index < 0) throw vanished();
      const blocker = blockerOf(queue, index);
      if (!blocker) {
        const created = await stat;
        if (created) return { path, czxid: created.czxid };
        throw vanished();
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        await session.remove(path);
        return undefined;
      }
      await this.waitForRemoval(`${parent}/${blocker.name}`, remaining);
    }
  }

  /** Until `path` is deleted (or was already), the connection drops, or `timeoutMs` passes. */
  private async waitForRemoval(path: string, timeoutMs: number): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const timer = setTimeout(wake, timeoutMs);
    const unsubscribe = this.connection.onSessionEvent(() => wake());
    try {
      const stat = await this.connection.session.exists(path, () => wake());
      if (stat) await woken;
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  /**
   * After a failure: removes whatever nodes this acquisition may have made, found by its token
   * (a create whose reply was lost still made its node).
   */
  private async abandon(
    resources: readonly string[],
    mode: LockMode,
    token: string,
  ): Promise<void> {
    const { session } = this.connection;
    const prefix = lockNodePrefix(mode, token);
    await Promise.all(
      resources.map(async (resource) => {
        const parent = lockParent(this.connection.root, resource);
        const children = await session.getChildren(parent).catch(() => undefined);
        const mine = (children ?? []).filter((name) => name.startsWith(prefix));
        await Promise.all(
          mine.map((name) => session.remove(`${parent}/${name}`).catch(() => false)),
        );
      }),
    );
  }
}
