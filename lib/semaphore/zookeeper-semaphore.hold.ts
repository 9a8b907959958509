import type { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { SessionBoundHold } from '../zookeeper/zookeeper.session-hold.js';
import { PermitLostError } from './semaphore.errors.js';
import type { PermitHold } from './semaphore.permit.js';

/** Everything a {@link ZooKeeperHeldPermit} starts from. */
export interface ZooKeeperPermitInit {
  readonly connection: ZooKeeperConnection;
  readonly semaphore: string;
  readonly limit: number;
  readonly token: string;
  /** The acquisition's node. */
  readonly node: string;
  readonly ttlMs: number;
  /** The permits held right now: this one is in it until released or lost. */
  readonly tracker: Set<PermitHold>;
  /** Deletes the node (and its parent once idle). */
  readonly free: (nodes: readonly string[]) => Promise<void>;
}

/** A semaphore permit held in ZooKeeper: one session-bound node ({@link SessionBoundHold}). */
export class ZooKeeperHeldPermit extends SessionBoundHold<PermitLostError> implements PermitHold {
  readonly semaphore: string;
  readonly limit: number;
  readonly token: string;

  constructor(init: ZooKeeperPermitInit) {
    super({
      ...init,
      nodes: [init.node],
      lostError: (reason) => new PermitLostError(init.semaphore, reason),
    });
    this.semaphore = init.semaphore;
    this.limit = init.limit;
    this.token = init.token;
  }
}
