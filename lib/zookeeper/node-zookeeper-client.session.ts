import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type * as Zk from 'node-zookeeper-client';
import { ZooKeeperCommandError, ZooKeeperConnectionError } from './zookeeper.errors.js';
import type { NodeChange, NodeMode, NodeStat, ZooKeeperSession } from './zookeeper.session.js';

/** The client package, loaded on first use so apps that never configure ZooKeeper need not install it. */
export type ZooKeeperClientModule = typeof Zk;

/** Loads `node-zookeeper-client`, or explains how to install it. */
export async function loadZooKeeperClient(ensemble: string): Promise<ZooKeeperClientModule> {
  try {
    const loaded = (await import('node-zookeeper-client')) as ZooKeeperClientModule & {
      default?: ZooKeeperClientModule;
    };
    return loaded.default ?? loaded;
  } catch (error) {
    throw new ZooKeeperConnectionError(
      ensemble,
      'The module option zookeeper needs the package node-zookeeper-client: npm install node-zookeeper-client',
      { cause: error instanceof Error ? error.message : undefined },
    );
  }
}

/** What the client's callbacks fail with. */
type ClientError = Error | Zk.Exception | null;

/** Error codes of the client that mean "the connection or session failed", not "the call was wrong". */
const CONNECTION_CODES = new Set([-4, -7, -112]); // CONNECTION_LOSS, OPERATION_TIMEOUT, SESSION_EXPIRED
/** Codes after which a request that was sent may still be applied (it reached a server). */
const OUTCOME_UNKNOWN_CODES = new Set([-4, -7]); // CONNECTION_LOSS, OPERATION_TIMEOUT
/** Actions that change nothing (`read …`, `list …`); every other call writes. */
const READ_ACTIONS = /^(read|list) /;
/**
 * Said of a write that failed without a reply: a server that received it may have proposed it,
 * and ZooKeeper then commits it once a quorum is back.
 */
const MAY_STILL_APPLY = '; it may still be applied once the ensemble has a quorum';
const NO_NODE = -101;
const BAD_VERSION = -103;
const NOT_EMPTY = -111;

const MODES: Record<NodeMode, number> = {
  persistent: 0,
  ephemeral: 1,
  'ephemeral-sequential': 3,
};

const CHANGES: Record<number, NodeChange> = {
  1: 'created',
  2: 'deleted',
  3: 'data',
  4: 'children',
};

/** Everything a session adapter starts from. */
export interface SessionAdapterInit {
  readonly zk: ZooKeeperClientModule;
  readonly client: Zk.Client;
  readonly ensemble: string;
  /** `user:password` for digest ACLs, if the module authenticates. */
  readonly digest: string | undefined;
  /** Longest a call may wait for its reply (the client queues calls while disconnected). */
  readonly callTimeoutMs: number;
  /**
   * Told of every reply from the ensemble, with `performance.now()` when its call was sent: the
   * ensemble heard the session at that moment or later (a reply read only now, after a pause, may
   * have been written long before the session expired).
   */
  readonly onReply: (sentAt: number) => void;
}

/**
 * {@link ZooKeeperSession} over one `node-zookeeper-client` client (one ZooKeeper session).
 * Callbacks become promises, each bounded by `callTimeoutMs`; the client's exceptions become
 * the library's errors, carrying the code name only.
 */
export class NodeZooKeeperClientSession implements ZooKeeperSession {
  private readonly zk: ZooKeeperClientModule;
  private readonly client: Zk.Client;
  private readonly ensemble: string;
  private readonly acls: Zk.ACL[];
  private readonly callTimeoutMs: number;
  private readonly onReply: (sentAt: number) => void;
  /** Each watch function's client-side wrapper: set twice on a path, one function is one watch. */
  private readonly watchers = new WeakMap<
    (change: NodeChange) => void,
    (event: Zk.Event) => void
  >();

  constructor(init: SessionAdapterInit) {
    this.onReply = init.onReply;
    this.zk = init.zk;
    this.client = init.client;
    this.ensemble = init.ensemble;
    this.callTimeoutMs = init.callTimeoutMs;
    this.acls = init.digest
      ? [new init.zk.ACL(init.zk.Permission.ALL, new init.zk.Id('digest', digestId(init.digest)))]
      : [new init.zk.ACL(init.zk.Permission.ALL, new init.zk.Id('world', 'anyone'))];
  }

  create(path: string, data: Buffer | undefined, mode: NodeMode): Promise<string | undefined> {
    return this.call<string | undefined>(
      `create ${path}`,
      (done) => this.client.create(path, data ?? Buffer.alloc(0), this.acls, MODES[mode], done),
      { [NO_NODE]: undefined },
    );
  }

  async ensurePath(path: string): Promise<void> {
    await this.call(`create ${path}`, (done) =>
      this.client.mkdirp(path, this.acls, this.zk.CreateMode.PERSISTENT, done),
    );
  }

  exists(path: string, watch?: (change: NodeChange) => void): Promise<NodeStat | undefined> {
    return this.call<Zk.Stat | undefined>(`read ${path}`, (done) =>
      watch ? this.client.exists(path, this.watcher(watch), done) : this.client.exists(path, done),
    ).then((stat) => (stat ? readStat(stat) : undefined));
  }

  getData(
    path: string,
    watch?: (change: NodeChange) => void,
  ): Promise<{ data: Buffer; stat: NodeStat } | undefined> {
    return this.call<[Buffer, Zk.Stat]>(
      `read ${path}`,
      (done) => {
        const reply = (error: ClientError, data: Buffer, stat: Zk.Stat) =>
          done(error, [data, stat]);
        if (watch) this.client.getData(path, this.watcher(watch), reply);
        else this.client.getData(path, reply);
      },
      { [NO_NODE]: undefined },
    ).then((reply) =>
      reply ? { data: reply[0] ?? Buffer.alloc(0), stat: readStat(reply[1]) } : undefined,
    );
  }

  getChildren(path: string, watch?: (change: NodeChange) => void): Promise<string[] | undefined> {
    return this.call<string[]>(
      `list ${path}`,
      (done) => {
        const reply = (error: ClientError, children: string[]) => done(error, children);
        if (watch) this.client.getChildren(path, this.watcher(watch), reply);
        else this.client.getChildren(path, reply);
      },
      { [NO_NODE]: undefined },
    );
  }

  setData(
    path: string,
    data: Buffer,
    version: number,
  ): Promise<NodeStat | 'version-mismatch' | 'no-node'> {
    return this.call<Zk.Stat | 'version-mismatch' | 'no-node'>(
      `write ${path}`,
      (done) => this.client.setData(path, data, version, done),
      { [BAD_VERSION]: 'version-mismatch', [NO_NODE]: 'no-node' },
    ).then((stat) => (typeof stat === 'string' ? stat : readStat(stat)));
  }

  remove(path: string, options: { version?: number; ifEmpty?: boolean } = {}): Promise<boolean> {
    return this.call<boolean>(
      `delete ${path}`,
      (done) =>
        this.client.remove(path, options.version ?? -1, (error: ClientError) => done(error, true)),
      { [NO_NODE]: false, ...(options.ifEmpty ? { [NOT_EMPTY]: false } : {}) },
    );
  }

  private watcher(watch: (change: NodeChange) => void): (event: Zk.Event) => void {
    let wrapper = this.watchers.get(watch);
    if (!wrapper) {
      wrapper = (event) => {
        const change = CHANGES[event.getType()];
        if (change) watch(change);
      };
      this.watchers.set(watch, wrapper);
    }
    return wrapper;
  }

  /**
   * Runs one client call as a promise: `expected` maps error codes that are answers (no node, bad
   * version) to results; other errors become library errors; no reply within `callTimeoutMs`
   * is a connection error.
   */
  private call<T>(
    action: string,
    run: (done: (error: ClientError, result: T) => void) => void,
    expected: Record<number, unknown> = {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const sentAt = performance.now();
      const timer = setTimeout(() => {
        reject(
          new ZooKeeperConnectionError(
            this.ensemble,
            `Could not ${action}: no reply within ${this.callTimeoutMs} ms${READ_ACTIONS.test(action) ? '' : MAY_STILL_APPLY}`,
          ),
        );
      }, this.callTimeoutMs);
      timer.unref();
      run((error, result) => {
        clearTimeout(timer);
        const code = error ? (error as Partial<Zk.Exception>).getCode?.() : undefined;
        if (!error || (code !== undefined && !CONNECTION_CODES.has(code))) this.onReply(sentAt);
        if (!error) return resolve(result);
        if (code !== undefined && code in expected) return resolve(expected[code] as T);
        reject(this.failure(error, action, code));
      });
    });
  }

  private failure(error: Error | Zk.Exception, action: string, code: number | undefined): Error {
    const reason =
      (error as Partial<Zk.Exception>).getName?.() ?? (error as Error).message ?? String(error);
    const options = { cause: reason };
    if (code === undefined || CONNECTION_CODES.has(code)) {
      const unknown = code !== undefined && OUTCOME_UNKNOWN_CODES.has(code);
      const outcome = unknown && !READ_ACTIONS.test(action) ? MAY_STILL_APPLY : '';
      return new ZooKeeperConnectionError(
        this.ensemble,
        `Could not ${action}: ${reason}${outcome}`,
        options,
      );
    }
    return new ZooKeeperCommandError(`Could not ${action}: ZooKeeper answered ${reason}`, options);
  }
}

/** A node stat in the library's terms; zxids fit a double (epoch << 32 | counter). */
function readStat(stat: Zk.Stat): NodeStat {
  return {
    czxid: Number(stat.czxid.readBigInt64BE(0)),
    version: stat.version,
    ephemeralOwner: stat.ephemeralOwner.toString('hex').replace(/^0+(?=.)/, ''),
  };
}

/** The digest ACL id of `user:password`: `user:base64(sha1(user:password))`. */
export function digestId(credentials: string): string {
  const user = credentials.slice(0, credentials.indexOf(':'));
  return `${user}:${createHash('sha1').update(credentials).digest('base64')}`;
}
