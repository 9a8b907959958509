import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import { LockStore } from '../lock/lock.store.js';
import { electionKeys, type ElectionKeys } from './election.keys.js';
import { readLeader } from './scripts/lua.generated.js';

const readLeaderScript = new RedisScript(readLeader);

/** The outcome of one attempt to take an election's lease. */
export type LeaseReply =
  | { readonly taken: true; readonly term: number }
  | {
      readonly taken: false;
      /** How long the current leader's lease still runs, in ms; -1 unknown. */
      readonly remainingMs: number;
    };

/** Who holds an election's lease, read at one instant. */
export interface LeaseHolder {
  /** The `LockStore.instance` whose token holds it. */
  readonly instance: string;
  readonly term: number;
  readonly remainingMs: number;
}

/**
 * An election's Redis side. The leader's lease is a lock on the election (lib/lock's acquire,
 * extend and release scripts, no waiter queue), so its term is the lock's fencing token: Redis
 * time in microseconds when it was taken, strictly increasing across holders. Changes of leader
 * are announced on the election's `changed` channel; the message is the term, and listeners
 * re-read the lease rather than trust it (messages are lost while a subscriber reconnects).
 */
export class ElectionStore {
  /** The lock store the lease is taken and renewed through (a `HeldLock` needs it). */
  readonly locks: LockStore;

  constructor(private readonly connections: RedisConnections) {
    this.locks = new LockStore(connections);
  }

  /** Names this instance in the lease's owner value. */
  get instance(): string {
    return this.locks.instance;
  }

  keysOf(name: string): ElectionKeys {
    return electionKeys(this.connections.keys, name);
  }

  /** One SET NX PX of the lease through the lock's acquire script; never waits. */
  async takeLease(
    label: string,
    keys: ElectionKeys,
    token: string,
    leaseMs: number,
  ): Promise<LeaseReply> {
    const reply = await this.locks.acquire([label], [keys.lease], token, leaseMs, 'write', {
      join: false,
      fair: false,
      queued: false,
    });
    return reply.taken
      ? { taken: true, term: reply.fences[0]! }
      : { taken: false, remainingMs: reply.waitHintMs };
  }

  /** Tells the election's listeners that its leader may have changed. */
  async announce(label: string, keys: ElectionKeys, term: number): Promise<void> {
    await this.connections
      .publish(keys.changed, String(term))
      .catch(this.connections.rethrow(`announce a new leader of ${label}`));
  }

  /** Who holds the lease now, or undefined when nobody does. */
  async readLease(label: string, keys: ElectionKeys): Promise<LeaseHolder | undefined> {
    const reply = (await readLeaderScript
      .run(this.connections.command, [keys.lease.owner], [])
      .catch(this.connections.rethrow(`read the leader of ${label}`))) as [number, string?];
    const owner = reply[1] === undefined ? undefined : LockStore.readOwner(reply[1]);
    return owner && { instance: owner.instance, term: owner.fence, remainingMs: reply[0] };
  }
}
