import { assertLease, HoldEnd, type HoldEnding } from '../common/lease.js';
import type { SessionEvent, ZooKeeperConnection } from './zookeeper.connection.js';

/** Everything a {@link SessionBoundHold} starts from. */
export interface SessionBoundHoldInit<LostError extends Error> {
  readonly connection: ZooKeeperConnection;
  /** The ephemeral nodes that make the hold. */
  readonly nodes: readonly string[];
  /** The lease asked for: nothing to renew on ZooKeeper, kept for `extend()`'s default. */
  readonly ttlMs: number;
  /** The service's holds right now: this one is in it until released or lost. */
  readonly tracker: Set<unknown>;
  /** Deletes the nodes (and their parents once idle). */
  readonly free: (nodes: readonly string[]) => Promise<void>;
  /** The error that tells the holder it lost the hold, and why. */
  readonly lostError: (reason: string) => LostError;
}

/**
 * Something held in ZooKeeper through ephemeral nodes (a lock, a semaphore permit): they live
 * exactly as long as the session, with nothing to renew. The hold counts as lost the moment the
 * connection is suspended (the session may expire before it comes back, and another holder take
 * over), as Curator advises; `signal` then aborts.
 */
export class SessionBoundHold<LostError extends Error> {
  readonly ttlMs: number;
  private readonly nodes: readonly string[];
  private readonly connection: ZooKeeperConnection;
  private readonly tracker: Set<unknown>;
  private readonly free: (nodes: readonly string[]) => Promise<void>;
  private readonly lostError: (reason: string) => LostError;
  private readonly controller = new AbortController();
  private readonly unsubscribe: () => void;
  private holdTimer?: NodeJS.Timeout;
  private lostWith?: LostError;
  private released = false;
  private readonly ending = new HoldEnd();

  constructor(init: SessionBoundHoldInit<LostError>) {
    this.connection = init.connection;
    this.nodes = init.nodes;
    this.ttlMs = init.ttlMs;
    this.tracker = init.tracker;
    this.free = init.free;
    this.lostError = init.lostError;
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

  /** Calls `listener` once, when the hold is first released or lost (at once if it was). */
  onEnd(listener: (ending: HoldEnding) => void): void {
    this.ending.listen(listener);
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stopWatchdog();
    this.tracker.delete(this);
    this.unsubscribe();
    const freeing = this.free(this.nodes);
    this.ending.end({ released: freeing });
    await freeing;
  }

  lose(reason: string): LostError {
    if (this.lostWith) return this.lostWith;
    this.lostWith = this.lostError(reason);
    this.tracker.delete(this);
    this.stopWatchdog();
    this.controller.abort(this.lostWith);
    this.ending.end({ lost: this.lostWith });
    return this.lostWith;
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event === 'suspended') this.lose('the ZooKeeper connection was suspended');
    else if (event === 'lost') this.lose('its ZooKeeper session ended');
    // Back on the same session: the holder was told to stop, so hand the hold on.
    else if (this.lostWith && !this.released) void this.release().catch(() => undefined);
  }
}
