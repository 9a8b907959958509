import { performance } from 'node:perf_hooks';
import type { Logger, OnApplicationShutdown } from '@nestjs/common';
import type * as Zk from 'node-zookeeper-client';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { within } from '../common/within.js';
import { SHUTDOWN_WAIT_MS } from '../connection/redis-connections.js';
import {
  loadZooKeeperClient,
  NodeZooKeeperClientSession,
  type ZooKeeperClientModule,
} from './node-zookeeper-client.session.js';
import { ZooKeeperConnectionError } from './zookeeper.errors.js';
import type { ResolvedZooKeeperOptions } from './zookeeper.options.js';
import type { ZooKeeperSession } from './zookeeper.session.js';

/**
 * What happened to the session, for holders of anything tied to it:
 * - `suspended`: the connection dropped; the session may still live, but nothing held through it
 *   can be trusted until it is back (a lock holder must stop at once);
 * - `reconnected`: connected again: on the same session after `suspended` (its ephemeral nodes
 *   are still there), on a new one after `lost`;
 * - `lost`: the session ended (ZooKeeper said so, or it was disconnected for the whole session
 *   timeout): every ephemeral node of it is gone; a new session is being opened.
 */
export type SessionEvent = 'suspended' | 'reconnected' | 'lost';

/**
 * Allowance for the difference between this process's clock and the ensemble's while counting
 * a disconnected session down: 1% of the timeout and 2 ms, as the Redis lease does.
 */
function sessionDeadlineMs(sessionTimeoutMs: number): number {
  return sessionTimeoutMs - Math.ceil(sessionTimeoutMs * 0.01) - 2;
}

/**
 * The app's ZooKeeper session, when the module option `zookeeper` is set: opened at start (app
 * start fails with {@link ZooKeeperConnectionError} naming the ensemble when it cannot be
 * reached), closed at shutdown (ephemeral nodes vanish at once).
 *
 * Keeps its own session clock, on the monotonic clock: a heartbeat read every third of the
 * session timeout, and the session counts as lost once nothing was heard from the ensemble for
 * the session timeout less a drift allowance — disconnected that long, or the process paused
 * (the client reports expiry only after reconnecting, if at all). A new session is then opened.
 */
export class ZooKeeperConnection implements OnApplicationShutdown {
  private client?: Zk.Client;
  private current?: ZooKeeperSession;
  private readonly listeners = new Set<(event: SessionEvent) => void>();
  private lostTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  /** When the ensemble last answered on the current session. */
  private lastHeardAt = performance.now();
  private suspendedSince: number | undefined;
  private closed = false;

  private constructor(
    private readonly options: ResolvedZooKeeperOptions | undefined,
    private readonly zk: ZooKeeperClientModule | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** For a module without the `zookeeper` option: using it says what is missing. */
  static disabled(): ZooKeeperConnection {
    return new ZooKeeperConnection(undefined, undefined, undefined);
  }

  /** Connects and creates the root node; rejects with ZooKeeperConnectionError when it cannot. */
  static async open(
    options: ResolvedZooKeeperOptions,
    logger: Logger,
  ): Promise<ZooKeeperConnection> {
    const zk = await loadZooKeeperClient(options.connectString);
    const connection = new ZooKeeperConnection(options, zk, logger);
    await connection.connect(options.connectTimeoutMs);
    await connection.session.ensurePath(options.root);
    return connection;
  }

  /** Whether the module option `zookeeper` is set. */
  get enabled(): boolean {
    return this.options !== undefined;
  }

  /** The ensemble, for messages. */
  get ensemble(): string {
    return this.options?.connectString ?? '';
  }

  /** The root every path of the library lives under. */
  get root(): string {
    return this.required().root;
  }

  /** The current session's calls. */
  get session(): ZooKeeperSession {
    this.required();
    return this.current!;
  }

  /** True while connected; false while suspended or lost. */
  get connected(): boolean {
    return this.suspendedSince === undefined && this.current !== undefined;
  }

  /**
   * Whether what is held through the session can be trusted right now: connected, and the
   * ensemble heard from within the session timeout (less the drift allowance) on the monotonic
   * clock. A session found silent that long counts as lost here, as the heartbeat would find it:
   * a process resumed after a pause learns it before its overdue timers run.
   */
  confirm(): boolean {
    return this.connected && this.heardWithinTimeout();
  }

  /**
   * Throws ZooKeeperConnectionError ("Could not <action>: not connected") while suspended or
   * lost: what a call would take could not be trusted, and the client would hold the call until
   * a reconnect and send it then, after the caller was told it failed.
   */
  assertConnected(action: string): void {
    this.required();
    if (!this.connected) {
      throw new ZooKeeperConnectionError(
        this.ensemble,
        `Could not ${action}: not connected to ZooKeeper`,
      );
    }
  }

  /** Listens for what happens to the session; returns the unsubscribe function. */
  onSessionEvent(listener: (event: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs a best-effort call at shutdown (removing a node the session's end would remove anyway)
   * without letting a ZooKeeper outage hold the shutdown: it fails at once with
   * ZooKeeperConnectionError while not connected, and after SHUTDOWN_WAIT_MS otherwise.
   */
  atShutdown<T>(what: string, call: () => Promise<T>): Promise<T> {
    if (!this.connected) {
      return Promise.reject(
        new ZooKeeperConnectionError(
          this.ensemble,
          `ZooKeeper is unreachable at shutdown: ${what} skipped`,
        ),
      );
    }
    return within(
      call(),
      SHUTDOWN_WAIT_MS,
      () =>
        new ZooKeeperConnectionError(
          this.ensemble,
          `No reply within ${SHUTDOWN_WAIT_MS} ms at shutdown: ${what} given up`,
        ),
    );
  }

  /** After every capability has let go of its nodes (`beforeApplicationShutdown`). */
  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** Closes the session (its ephemeral nodes vanish at once), bounded when ZooKeeper is down. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.lostTimer);
    clearInterval(this.heartbeat);
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    // close() sends closeSession when connected; the socket ends either way.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000).unref();
      client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.close();
    });
  }

  /** The options; throws InvalidArgumentError saying what is missing when ZooKeeper is not configured. */
  required(): ResolvedZooKeeperOptions {
    if (!this.options) {
      throw new InvalidArgumentError(
        'backend',
        'zookeeper',
        "set the module option zookeeper: { connectString: 'host:2181' } to use backend 'zookeeper'",
      );
    }
    return this.options;
  }

  /** Opens a new session; resolves once connected, or rejects after `timeoutMs`. */
  private connect(timeoutMs: number): Promise<void> {
    const options = this.required();
    const zk = this.zk!;
    const client = zk.createClient(options.connectString, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    if (options.digest) client.addAuthInfo('digest', Buffer.from(options.digest));
    this.client = client;
    this.current = new NodeZooKeeperClientSession({
      zk,
      client,
      ensemble: options.connectString,
      digest: options.digest,
      callTimeoutMs: options.sessionTimeoutMs,
      onReply: (sentAt) => {
        if (client === this.client) this.lastHeardAt = Math.max(this.lastHeardAt, sentAt);
      },
    });
    const connected = new Promise<void>((resolve, reject) => {
      const fail = (reason: string) => {
        clearTimeout(timer);
        client.removeListener('connected', onConnected);
        client.close();
        reject(new ZooKeeperConnectionError(options.connectString, reason));
      };
      const timer = setTimeout(
        () => fail(`Could not open a ZooKeeper session within ${timeoutMs} ms`),
        timeoutMs,
      );
      const onConnected = () => {
        clearTimeout(timer);
        this.lastHeardAt = performance.now();
        this.startHeartbeat(client);
        resolve();
      };
      client.once('connected', onConnected);
      client.once('authenticationFailed', () => fail('ZooKeeper refused the digest credentials'));
    });
    client.on('state', (state: Zk.State) => this.onState(client, state));
    client.connect();
    return connected;
  }

  /**
   * Reads the root every third of the session timeout. A tick that finds the ensemble silent for
   * the whole session timeout counts the session lost; after a pause, whichever comes first of
   * this overdue tick and a {@link confirm} call finds it.
   */
  private startHeartbeat(client: Zk.Client): void {
    clearInterval(this.heartbeat);
    const { sessionTimeoutMs, root } = this.options!;
    this.heartbeat = setInterval(
      () => {
        if (client !== this.client || !this.heardWithinTimeout()) return;
        void this.current?.exists(root).catch(() => undefined);
      },
      Math.floor(sessionTimeoutMs / 3),
    ).unref();
  }

  /** False, and the session counted lost, once nothing was heard for the session timeout. */
  private heardWithinTimeout(): boolean {
    if (performance.now() - this.lastHeardAt < sessionDeadlineMs(this.options!.sessionTimeoutMs)) {
      return true;
    }
    this.sessionLost('nothing heard from ZooKeeper for the whole session timeout');
    return false;
  }

  private onState(client: Zk.Client, state: Zk.State): void {
    if (client !== this.client || this.closed) return;
    const { State } = this.zk!;
    if (state === State.DISCONNECTED) {
      if (this.suspendedSince !== undefined) return;
      this.suspendedSince = performance.now();
      this.lostTimer = setTimeout(
        () => this.sessionLost('disconnected for the whole session timeout'),
        sessionDeadlineMs(this.options!.sessionTimeoutMs),
      ).unref();
      this.emit('suspended');
    } else if (state === State.SYNC_CONNECTED) {
      if (this.suspendedSince === undefined) return;
      clearTimeout(this.lostTimer);
      this.suspendedSince = undefined;
      this.emit('reconnected');
    } else if (state === State.EXPIRED) {
      this.sessionLost('ZooKeeper expired it');
    }
  }

  /** Drops the session (closing its client) and opens a new one in the background. */
  private sessionLost(reason: string): void {
    clearTimeout(this.lostTimer);
    clearInterval(this.heartbeat);
    this.logger?.warn(`ZooKeeper session lost (${reason}); opening a new one`);
    const old = this.client;
    this.client = undefined;
    this.suspendedSince = performance.now();
    old?.close();
    this.emit('lost');
    void this.reopen();
  }

  /** Opens sessions until one connects (its state change then emits `reconnected`). */
  private async reopen(): Promise<void> {
    while (!this.closed) {
      try {
        await this.connect(this.options!.sessionTimeoutMs);
        return;
      } catch {
        // Unreachable still: connect() already waited its timeout; try again.
      }
    }
  }

  private emit(event: SessionEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }
}
