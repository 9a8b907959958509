import { waitAtMost } from '../common/within.js';
import { SHUTDOWN_WAIT_MS } from '../connection/redis-connections.js';
import type { SessionEvent, ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import { createUnder, nodeToken } from '../zookeeper/zookeeper.paths.js';
import type { NodeChange } from '../zookeeper/zookeeper.session.js';
import { keepWatching } from '../zookeeper/zookeeper.watch.js';
import type {
  Attempt,
  Candidacy,
  ElectionBackend,
  LeaderLease,
  LeaderRecord,
} from './election.backend.js';
import { LeadershipLostError } from './election.errors.js';
import { candidateNodePrefix, electionParent, lineOf } from './zookeeper-election.nodes.js';

/**
 * Elections on ZooKeeper, after Curator's LeaderLatch: each candidate keeps one ephemeral
 * sequential node under the election's parent (zookeeper-election.nodes.ts); the lowest node
 * leads, and every other candidate watches only the node just before its own, so a leader's
 * departure wakes one candidate, not all. Nothing is renewed: a node lives as long as its
 * candidate's session, and a crashed leader's node goes when the ensemble expires that session.
 *
 * The leader stops believing it leads the moment its connection is suspended, and once its
 * session clock (ZooKeeperConnection.confirm) has heard nothing for the session timeout: both
 * before the ensemble can expire its session, the only way its node goes without its consent.
 */
export class ZooKeeperElectionBackend implements ElectionBackend {
  readonly root: string;
  /**
   * Node-name prefixes (`<parent>/<prefix>`) of candidacies that withdrew while ZooKeeper could
   * not be told: their nodes are deleted once reconnected to the same session.
   */
  private readonly leftovers = new Set<string>();
  private readonly unsubscribe: () => void;
  private shuttingDown = false;

  constructor(
    readonly connection: ZooKeeperConnection,
    readonly instanceId: string,
  ) {
    // Throws InvalidArgumentError, saying what to set, without the module option `zookeeper`.
    this.root = connection.root;
    this.unsubscribe = connection.onSessionEvent((event) => this.onSessionEvent(event));
  }

  /** `leaseMs` plays no part: the session is the lease (module option `zookeeper.sessionTimeoutMs`). */
  candidacy(name: string): Candidacy {
    return new ZooKeeperCandidacy(this, name);
  }

  async read(name: string): Promise<LeaderRecord> {
    const { session } = this.connection;
    const parent = electionParent(this.root, name);
    for (;;) {
      const [head] = lineOf((await session.getChildren(parent)) ?? []);
      if (!head) return { leader: null, term: null };
      const node = await session.getData(`${parent}/${head.name}`);
      if (node) return { leader: node.data.toString(), term: node.stat.czxid };
      // The leader left between the two reads: read the line again.
    }
  }

  /**
   * A children watch on the election's parent, kept set ({@link keepWatching}): `onChange` after
   * each firing and each reconnect, once the watch is set again.
   */
  async watch(name: string, onChange: () => void): Promise<() => void> {
    const parent = electionParent(this.root, name);
    const { stop } = await keepWatching(
      this.connection,
      async (session, fired) => {
        while ((await session.getChildren(parent, fired)) === undefined) {
          await session.ensurePath(parent); // no watch is set on a missing node
        }
      },
      onChange,
    );
    return stop;
  }

  /**
   * Deletes every node of a candidacy that left, found by name (`prefix`). Never rejects: when
   * ZooKeeper cannot be told now, after the next reconnect to the same session (on a new one, the
   * nodes went with the old).
   */
  async removeCandidacy(parent: string, prefix: string): Promise<void> {
    const leftover = `${parent}/${prefix}`;
    this.leftovers.delete(leftover);
    const removed = await this.tryRemove(async () => {
      const { session } = this.connection;
      const children = (await session.getChildren(parent)) ?? [];
      const nodes = children.filter((child) => child.startsWith(prefix));
      await Promise.all(nodes.map((child) => session.remove(`${parent}/${child}`)));
    });
    if (!removed) this.leftovers.add(leftover);
  }

  /**
   * Runs a deletion; false when it could not be sent or answered (ZooKeeper unreachable), so the
   * caller tries again later. At shutdown it waits for ZooKeeper briefly, and reports true:
   * nothing is tried later, and closing the session right after deletes its nodes anyway.
   */
  async tryRemove(remove: () => Promise<unknown>): Promise<boolean> {
    if (!this.connection.connected) return this.shuttingDown;
    const removed = remove().then(
      () => true,
      () => false,
    );
    if (!this.shuttingDown) return removed;
    await waitAtMost(removed, SHUTDOWN_WAIT_MS);
    return true;
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.leftovers.clear();
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event === 'lost') {
      this.leftovers.clear(); // ephemeral: gone with the session
    } else if (event === 'reconnected') {
      for (const leftover of [...this.leftovers]) {
        const cut = leftover.lastIndexOf('/');
        void this.removeCandidacy(leftover.slice(0, cut), leftover.slice(cut + 1));
      }
    }
  }
}

/** A candidacy's node in the election's line. */
interface OwnNode {
  readonly path: string;
  readonly name: string;
  /** Set on the node: it fires when the node is deleted. */
  readonly watch: (change: NodeChange) => void;
}

/** A candidate of one election on ZooKeeper: at most one node in the line at a time. */
class ZooKeeperCandidacy implements Candidacy {
  private readonly parent: string;
  private readonly token = nodeToken();
  private readonly prefix = candidateNodePrefix(this.token);
  /** This candidacy's node; undefined before it enters the line and once the node is given up or gone. */
  private node?: OwnNode;
  /** The term won with `node`, until resigned. */
  private lease?: ZooKeeperLeaderLease;
  /** Something changed since the last attempt began: try again without waiting. */
  private changed = false;
  private wake?: () => void;
  private withdrawn = false;
  private readonly unsubscribe: () => void;
  /** Set on the node just before this candidacy's: it fires when that node is deleted. */
  private readonly predecessorChanged = () => this.onChange();

  constructor(
    private readonly backend: ZooKeeperElectionBackend,
    private readonly name: string,
  ) {
    this.parent = electionParent(backend.root, name);
    this.unsubscribe = backend.connection.onSessionEvent((event) => this.onSessionEvent(event));
  }

  async attempt(): Promise<Attempt> {
    this.changed = false; // from here on, a change means this attempt may have come too early
    const { connection } = this.backend;
    // Suspended or lost: nothing read now could be trusted; the session's next event wakes standBy.
    if (!connection.confirm()) return { elected: false };
    const { session } = connection;
    for (;;) {
      const node = this.node ?? (await this.enter());
      const [children, stat] = await Promise.all([
        session.getChildren(this.parent),
        session.exists(node.path, node.watch),
      ]);
      if (this.withdrawn) {
        // Withdrawn while this attempt was under way (leaving does not wait for it).
        await this.backend.removeCandidacy(this.parent, this.prefix);
        return { elected: false };
      }
      const line = lineOf(children ?? []);
      const index = line.findIndex((entry) => entry.name === node.name);
      if (index < 0 || !stat) {
        this.node = undefined; // gone (deleted, or with its session): enter the line again
        continue;
      }
      const stale = line.filter((entry) => entry.token === this.token && entry.name !== node.name);
      if (stale.length > 0) {
        // A node this candidacy gave up while disconnected, or made by a create whose reply was
        // lost: it would hold the line (as leader, even) for as long as the session lives.
        await Promise.all(stale.map((entry) => session.remove(`${this.parent}/${entry.name}`)));
        continue;
      }
      if (index === 0) {
        const lease: ZooKeeperLeaderLease = new ZooKeeperLeaderLease(
          this.name,
          stat.czxid,
          connection,
          () => this.giveUp(lease, node),
        );
        this.lease = lease;
        return { elected: true, lease };
      }
      // Watch only the node just before: it is the one whose departure can make this one first.
      const predecessor = `${this.parent}/${line[index - 1]!.name}`;
      if (await session.exists(predecessor, this.predecessorChanged)) return { elected: false };
      // Gone before the watch was set: read the line again.
    }
  }

  standBy(signal: AbortSignal): Promise<void> {
    if (this.changed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      signal.addEventListener('abort', done);
      this.wake = done;
    });
  }

  async withdraw(): Promise<void> {
    this.withdrawn = true;
    this.unsubscribe();
    this.node = undefined;
    await this.backend.removeCandidacy(this.parent, this.prefix);
  }

  /** After the term won with `node` ended: gives the node up, so the next candidate leads at once. */
  private async giveUp(lease: ZooKeeperLeaderLease, node: OwnNode): Promise<void> {
    if (this.lease === lease) this.lease = undefined;
    if (this.node !== node) return;
    // Forgotten first: the next attempt enters the line again, at its end. A node left behind
    // (ZooKeeper unreachable) is deleted by that attempt, or goes with the session.
    this.node = undefined;
    await this.backend.tryRemove(() => this.backend.connection.session.remove(node.path));
  }

  /** Creates this candidacy's node, at the end of the line. */
  private async enter(): Promise<OwnNode> {
    const path = await createUnder(
      this.backend.connection.session,
      this.parent,
      this.prefix,
      Buffer.from(this.backend.instanceId),
      'ephemeral-sequential',
    );
    const node: OwnNode = {
      path,
      name: path.slice(this.parent.length + 1),
      watch: (change) => {
        if (change === 'deleted') this.onNodeDeleted(node);
      },
    };
    this.node = node;
    return node;
  }

  private onNodeDeleted(node: OwnNode): void {
    if (this.node !== node) return; // given up by this candidacy
    this.node = undefined;
    this.lease?.lose('its ZooKeeper node was deleted');
    this.onChange();
  }

  private onSessionEvent(event: SessionEvent): void {
    if (event === 'suspended') this.lease?.lose('the ZooKeeper connection was suspended');
    if (event === 'lost') {
      this.lease?.lose('its ZooKeeper session ended');
      this.node = undefined; // ephemeral: gone with the session
    }
    this.onChange();
  }

  private onChange(): void {
    this.changed = true;
    this.wake?.();
  }
}

/**
 * One term of leadership on ZooKeeper: held while the candidacy's node is first in line.
 *
 * Its term is the node's czxid, the id of the transaction that created it. Terms strictly
 * increase across leaders: zxids are assigned in one total order across the whole ensemble (the
 * epoch of the ZooKeeper leader in the high bits, so also across its elections), and a node leads
 * only once every node of a lower sequence is gone, while sequence numbers follow creation order.
 * So each new leader's node was created after the previous leader's node: either it was already
 * in line behind it, or it was created after that leader was elected.
 */
class ZooKeeperLeaderLease implements LeaderLease {
  private readonly controller = new AbortController();

  constructor(
    private readonly election: string,
    readonly term: number,
    private readonly connection: ZooKeeperConnection,
    private readonly giveUp: () => Promise<void>,
  ) {
    this.confirm(); // suspended since the line was read: lost already
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  confirm(): boolean {
    if (!this.controller.signal.aborted && !this.connection.confirm()) {
      this.lose('not connected to ZooKeeper');
    }
    return !this.controller.signal.aborted;
  }

  async resign(reason: string): Promise<void> {
    this.lose(reason);
    await this.giveUp();
  }

  /** Aborts the term's signal (once): the leader no longer acts as one. */
  lose(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(new LeadershipLostError(this.election, this.term, reason));
  }
}
