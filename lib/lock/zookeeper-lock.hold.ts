import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { SessionBoundHold } from '../zookeeper/zookeeper.session-hold.js';
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
 * A lock held in ZooKeeper: session-bound nodes ({@link SessionBoundHold}), one per resource,
 * fenced by their czxids.
 */
export class ZooKeeperHeldLock extends SessionBoundHold<LockLostError> implements LockHold {
  readonly resources: readonly string[];
  readonly mode: LockMode;
  readonly fencingTokens: readonly number[];

  constructor(init: ZooKeeperHoldInit) {
    super({ ...init, lostError: (reason) => new LockLostError(init.resources, reason) });
    this.resources = init.resources;
    this.mode = init.mode;
    this.fencingTokens = init.fencingTokens;
  }
}
