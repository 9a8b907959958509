import { performance } from 'node:perf_hooks';
import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { ZooKeeperConnectionError } from '../zookeeper/zookeeper.errors.js';
import { IdleParents } from '../zookeeper/zookeeper.idle-parents.js';
import { createUnder, nodeToken } from '../zookeeper/zookeeper.paths.js';
import type { CountReply } from './semaphore.backend.js';
import { SemaphoreLimitMismatchError } from './semaphore.errors.js';
import { freePermitsAtShutdown, type PermitHold } from './semaphore.permit.js';
import { ZooKeeperHeldPermit } from './zookeeper-semaphore.hold.js';
import {
  blockersOf,
  heldOf,
  otherLimitAhead,
  permitLineOf,
  permitNodePrefix,
  semaphoreParent,
} from './zookeeper-semaphore.nodes.js';

/**
 * Semaphores on ZooKeeper, after Curator's InterProcessSemaphoreV2 with the lease as the node
 * itself: an acquisition is an ephemeral sequential node under the semaphore's parent; it holds a
 * permit while fewer than `limit` nodes are ahead of it (zookeeper-semaphore.nodes.ts), and
 * otherwise watches the `limit` nodes just before it. First come, first served by construction;
 * a crashed holder's permit comes back when the ensemble expires its session.
 */
export class ZooKeeperSemaphores {
  /** Names this service instance's nodes; `-` separates a node name's parts, so none here. */
  private readonly instance = nodeToken();
  private tokenCount = 0;
  /** Semaphores' parents, deleted once idle. */
  private readonly parents: IdleParents;
  /** Permits held right now (one leaves once released or lost), freed at shutdown. */
  private readonly held = new Set<PermitHold>();

  constructor(private readonly connection: ZooKeeperConnection) {
    this.parents = new IdleParents(connection);
  }

  /**
   * Takes a permit, waiting at most `waitMs` (0: not at all). Resolves undefined when none came
   * free by then, having removed its node. Throws SemaphoreLimitMismatchError when a node ahead
   * gave another limit, ZooKeeperConnectionError when ZooKeeper cannot be reached (its node, if
   * made, removed or left to its session).
   */
  async acquire(
    semaphore: string,
    limit: number,
    ttlMs: number,
    waitMs: number,
  ): Promise<ZooKeeperHeldPermit | undefined> {
    this.connection.assertConnected(`take a permit of semaphore ${semaphore}`);
    const deadline = performance.now() + waitMs;
    const token = `${this.instance}${(this.tokenCount++).toString(36)}`;
    const parent = semaphoreParent(this.connection.root, semaphore);
    let node: string;
    try {
      this.parents.inUse(parent);
      node = await createUnder(
        this.connection.session,
        parent,
        permitNodePrefix(limit, token),
        undefined,
        'ephemeral-sequential',
      );
      if (!(await this.waitInLine(semaphore, limit, parent, node, deadline))) {
        await this.parents.free([node]);
        return undefined;
      }
    } catch (error) {
      await this.abandon(parent, permitNodePrefix(limit, token));
      throw error;
    }
    return new ZooKeeperHeldPermit({
      connection: this.connection,
      semaphore,
      limit,
      token,
      node,
      ttlMs,
      tracker: this.held,
      free: (nodes) => this.parents.free(nodes),
    });
  }

  /** The permits held right now, or the limit the semaphore is in use with when it differs. */
  async count(semaphore: string, limit: number): Promise<CountReply> {
    this.connection.required();
    const parent = semaphoreParent(this.connection.root, semaphore);
    const line = permitLineOf((await this.connection.session.getChildren(parent)) ?? []);
    const head = line[0];
    if (head && head.limit !== limit) return { status: 'mismatch', limitInUse: head.limit };
    return { status: 'counted', held: heldOf(line, limit) };
  }

  /**
   * At shutdown: loses (aborting their signals) and frees the permits still held, then deletes
   * idle parents. Bounded while ZooKeeper is down: closing the session frees the permits anyway.
   */
  async close(): Promise<void> {
    if (!this.connection.enabled) return;
    await freePermitsAtShutdown(this.held, (what, call) => this.connection.atShutdown(what, call));
    await this.parents.close();
  }

  /**
   * Waits until the acquisition's `node` holds a permit (true) or the deadline passes (false).
   * Every look re-reads the whole line: watches fire once, and changes in between coalesce.
   */
  private async waitInLine(
    semaphore: string,
    limit: number,
    parent: string,
    node: string,
    deadline: number,
  ): Promise<boolean> {
    const { session } = this.connection;
    const name = node.slice(parent.length + 1);
    let wake: () => void = () => undefined;
    // One watch function for the whole wait: set again on a node it already watches, it stays
    // one watch rather than piling up in the client until that node goes.
    const watch = () => wake();
    for (;;) {
      const line = permitLineOf((await session.getChildren(parent)) ?? []);
      const rank = line.findIndex((entry) => entry.name === name);
      if (rank < 0) {
        throw new ZooKeeperConnectionError(
          this.connection.ensemble,
          `Could not take a permit of semaphore ${semaphore}: its node vanished (the ZooKeeper session ended)`,
        );
      }
      const limitInUse = otherLimitAhead(line, rank, limit);
      if (limitInUse !== undefined) {
        throw new SemaphoreLimitMismatchError(semaphore, limit, limitInUse);
      }
      const blockers = blockersOf(line, rank, limit);
      if (blockers.length === 0) return true;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const paths = blockers.map((blocker) => `${parent}/${blocker.name}`);
      await this.waitForAnyRemoval(paths, watch, woken, remaining);
    }
  }

  /**
   * Until one of `paths` is deleted (or was already), the connection drops, or `timeoutMs`
   * passes; `watch` resolves `woken`.
   */
  private async waitForAnyRemoval(
    paths: readonly string[],
    watch: () => void,
    woken: Promise<void>,
    timeoutMs: number,
  ): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const unsubscribe = this.connection.onSessionEvent(watch);
    try {
      const stats = await Promise.all(
        paths.map((path) => this.connection.session.exists(path, watch)),
      );
      if (stats.every((stat) => stat !== undefined)) await Promise.race([woken, timedOut]);
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  /**
   * After a failure: removes whatever node the acquisition may have made, found by its name
   * `prefix` (a create whose reply was lost still made its node). Never rejects: a node that
   * cannot be removed now goes with the session.
   */
  private async abandon(parent: string, prefix: string): Promise<void> {
    const children = await this.connection.session.getChildren(parent).catch(() => undefined);
    const mine = (children ?? []).filter((name) => name.startsWith(prefix));
    await this.parents.free(mine.map((name) => `${parent}/${name}`)).catch(() => undefined);
  }
}
