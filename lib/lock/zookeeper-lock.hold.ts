import { assertLease } from '../common/lease.js';
import type { SessionEvent, ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { LockLostError } from './lock.errors.js';
import type { LockHold } from './lock.handle.js';
import type { LockMode } from './lock.interfaces.js';

/** Everything a {@link ZooKeeperHeldLock} starts from. */
export interface ZooKeeperHoldInit {
  readonly connection: ZooKeeperConnection;
  readonly resources: readonly string[];
  readonly mode: LockMode;
  /** The acquisition's node per resource, in the order of `resources`. */
  readonly nodes: readonly string[];
  /** Each node's czxid. */
  readonly fencingTokens: readonly number[];
  readonly ttlMs: number;
  /** The service's holds right now: this one is in it until released or lost. */
  readonly tracker: Set<LockHold>;
  /** Deletes the nodes (and their parents when empty). */
  readonly free: (nodes: readonly string[]) => Promise<void>;
}

/**
 * A lock held in ZooKeeper: its nodes are ephemeral, so they live exactly as long as the session,
 * with nothing to renew. The hold counts as lost the moment the connection is suspended (the
 * session may expire before it comes back, and another holder take over), as Curator advises.
 */
export class ZooKeeperHeldLock implements LockHold {
  readonly resources: readonly string[];
  readonly mode: LockMode;
  readonly fencingTokens: readonly number[];
  readonly ttlMs: number;
  private readonly nodes: readonly string[];
  private readonly connection: ZooKeeperConnection;
  private readonly tracker: Set<LockHold>;
  private readonly free: (nodes: readonly string[]) => Promise<void>;
  private readonly controller = new AbortController();
  private readonly unsubscribe: () => void;
  private holdTimer?: NodeJS.Timeout;
  private lostWith?: LockLostError;
  private released = false;

  constructor(init: ZooKeeperHoldInit) {
    this.connection = init.connection;
    this.resources = init.resources;
    this.mode = init.mode;
    this.nodes = init.nodes;
    this.fencingTokens = init.fencingTokens;
    this.ttlMs = init.ttlMs;
    this.tracker = init.tracker;
    this.free = init.free;
    this.tracker.add(this);
    this.unsubscribe = init.connection.onSessionEvent((event) => this.onSessionEvent(event));
    if (!init.connection.connected) this.lose('the ZooKeeper connection was suspended');
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get lost(): boolean {
    return this.lostWith !== undefined;
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Nothing to renew; with `maxHoldMs`, the hold is given up when it is reached. */
  startWatchdog(maxHoldMs: number | undefined): void {
    if (maxHoldMs === undefined || this.released || this.lostWith) return;
    this.holdTimer = setTimeout(() => {
      this.lose(`it reached maxHoldMs (${maxHoldMs} ms)`);
      // Others may go ahead now: the holder has been told to stop.
      void this.release().catch(() => undefined);
    }, maxHoldMs).unref();
  }

  stopWatchdog(): void {
    clearTimeout(this.holdTimer);
  }

  /** Checks that every node is still there (a ZooKeeper hold has no lease to set). */
  async extend(ttlMs: number): Promise<void> {
    assertLease('ttlMs', ttlMs);
    if (this.lostWith) throw this.lostWith;
    if (this.released) throw this.lose('it was already released');
    const stats = await Promise.all(this.nodes.map((node) => this.connection.session.exists(node)));
    if (stats.some((stat) => stat === undefined)) {
      throw this.lose('its node is gone (its ZooKeeper session expired)');
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopWatchdog();
    this.tracker.delete(this);
    this.unsubscribe();
    await this.free(this.nodes);
  }

  lose(reason: string): LockLostError {
    if (this.lostWith) return this.lostWith;
    this.lostWith = new LockLostError(this.resources, reason);
    this.tracker.delete(this);
    this.stopWatchdog();
    this.controller.abort(this.lostWith);
    return this.lostWith;
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event === 'suspended') this.lose('the ZooKeeper connection was suspended');
    else if (event === 'lost') this.lose('its ZooKeeper session ended');
    // Back on the same session: the holder was told to stop, so hand the lock on.
    else if (this.lostWith && !this.released) void this.release().catch(() => undefined);
  }
}
