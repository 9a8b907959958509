import { performance } from 'node:perf_hooks';
import { ZooKeeperConnectionError } from '../zookeeper/zookeeper.errors.js';
import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { IdleParents } from '../zookeeper/zookeeper.idle-parents.js';
import { createUnder, nodeToken } from '../zookeeper/zookeeper.paths.js';
import type { LockHold } from './lock.handle.js';
import type { LockMode } from './lock.interfaces.js';
import type { LockRequest } from './lock.options.js';
import { ZooKeeperHeldLock } from './zookeeper-lock.hold.js';
import { blockerOf, lockNodePrefix, lockParent, queueOf } from './zookeeper-lock.nodes.js';

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
  /** Resources' parents, deleted once idle. */
  private readonly parents: IdleParents;

  constructor(
    private readonly connection: ZooKeeperConnection,
    private readonly tracker: Set<LockHold>,
  ) {
    this.parents = new IdleParents(connection);
  }

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

  /** Deletes nodes; their parents go once idle if nobody queues there. */
  free(nodes: readonly string[]): Promise<void> {
    return this.parents.free(nodes);
  }

  /** At shutdown: deletes the parents waiting to idle out, if still empty. */
  close(): Promise<void> {
    return this.parents.close();
  }

  private async acquireOne(
    resource: string,
    mode: LockMode,
    token: string,
    deadline: number,
  ): Promise<TakenNode | undefined> {
    const { session } = this.connection;
    const parent = lockParent(this.connection.root, resource);
    this.parents.inUse(parent);
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
