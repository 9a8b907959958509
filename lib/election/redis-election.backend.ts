import { performance } from 'node:perf_hooks';
import type { LoggerService } from '@nestjs/common';
import type { RedisConnections } from '../connection/redis-connections.js';
import type { LockLostError } from '../lock/lock.errors.js';
import { HeldLock } from '../lock/lock.handle.js';
import { ReleaseNotifier } from '../connection/release-notifier.js';
import type {
  Attempt,
  Candidacy,
  ElectionBackend,
  LeaderLease,
  LeaderRecord,
} from './election.backend.js';
import { LeadershipLostError } from './election.errors.js';
import type { ElectionKeys } from './election.keys.js';
import { ElectionStore } from './election.store.js';

/**
 * Elections on Redis: the leader holds a lease on the election, taken with `SET NX PX` and
 * renewed by the lock's watchdog (lib/lock: `HeldLock`), whose signal aborts on the monotonic
 * clock a little before Redis can expire the lease, so a leader stops believing it leads before
 * anyone else can be elected. Candidates wait for the lease's end or for an announcement on the
 * election's channel (a resignation hands over at once), not in a queue: they poll only when
 * the leader's lease would end.
 */
export class RedisElectionBackend implements ElectionBackend {
  readonly store: ElectionStore;
  private readonly notifier: ReleaseNotifier;
  /** `performance.now()` when the command connection last closed. */
  private lastDropAt = -Infinity;
  private readonly onDrop = () => {
    this.lastDropAt = performance.now();
  };
  private shuttingDown = false;

  constructor(
    private readonly connections: RedisConnections,
    private readonly logger: LoggerService,
  ) {
    this.store = new ElectionStore(connections);
    this.notifier = new ReleaseNotifier(connections);
    connections.command.on('close', this.onDrop);
  }

  get instanceId(): string {
    return this.store.instance;
  }

  candidacy(name: string, leaseMs: number): Candidacy {
    return new RedisCandidacy(this, name, leaseMs);
  }

  async read(name: string): Promise<LeaderRecord> {
    const holder = await this.store.readLease(label(name), this.store.keysOf(name));
    if (!holder) return { leader: null, term: null };
    // +1: Redis expires a key once its time is past, not at it.
    return { leader: holder.instance, term: holder.term, recheckInMs: holder.remainingMs + 1 };
  }

  async watch(name: string, onChange: () => void): Promise<() => void> {
    const { changed } = this.store.keysOf(name);
    const hub = await this.connections.subscriptions();
    const stopListening = await this.notifier.watch(changed, () => onChange());
    const stopReconnects = hub.onResubscribed(onChange);
    return () => {
      stopListening();
      stopReconnects();
    };
  }

  /**
   * When a candidate may next try to take a lease of `leaseMs`. After the command connection
   * dropped, Redis may have restarted empty or failed over to a replica that had not seen the
   * lease: the last leader then still believes it leads until its lease runs out, though the
   * lease is gone. Sitting out one lease from the drop (Chubby's lock-delay) lets that belief
   * end first: its last renewal was confirmed before the drop.
   */
  mayCampaignAt(leaseMs: number): number {
    return this.lastDropAt + leaseMs;
  }

  /** Gives up a lease, bounded at shutdown (Redis down: its lease frees it). */
  async handOver(what: string, handOver: () => Promise<void>): Promise<void> {
    try {
      await (this.shuttingDown ? this.connections.atShutdown(what, handOver) : handOver());
    } catch (error) {
      this.logger.warn(
        `Could not ${what}: ${this.connections.redact(String(error))}; the lease frees it when it runs out`,
      );
    }
  }

  beginShutdown(): void {
    this.shuttingDown = true;
  }

  async close(): Promise<void> {
    this.connections.command.off('close', this.onDrop);
    await this.notifier.close();
  }
}

/** An election's name in messages and in the lease's lock errors. */
function label(name: string): string {
  return `election ${name}`;
}

/** A candidate of one election on Redis. */
class RedisCandidacy implements Candidacy {
  private readonly keys: ElectionKeys;
  private readonly label: string;
  /** Listening on the election's channel (undefined until subscribed, or if that failed). */
  private listening?: Promise<(() => void) | undefined>;
  /** Something changed since the last attempt was sent: try again without waiting. */
  private changed = false;
  private wake?: () => void;
  /** `performance.now()` when the current leader's lease ends, unless renewed. */
  private retryAt = 0;

  constructor(
    private readonly backend: RedisElectionBackend,
    private readonly name: string,
    private readonly leaseMs: number,
  ) {
    this.keys = backend.store.keysOf(name);
    this.label = label(name);
  }

  async attempt(): Promise<Attempt> {
    // Listening before the first attempt, so an announcement right after it is not missed.
    this.listening ??= this.backend
      .watch(this.name, () => this.onChange())
      .catch(() => {
        this.listening = undefined; // try again next attempt; until then, the lease's end wakes us
        return undefined;
      });
    await this.listening;
    this.changed = false; // from here on, a change means this attempt may have come too early
    const { store } = this.backend;
    const sitOutUntil = this.backend.mayCampaignAt(this.leaseMs);
    if (performance.now() < sitOutUntil) {
      this.retryAt = sitOutUntil;
      return { elected: false };
    }
    const token = store.locks.newToken();
    const sentAt = performance.now();
    // An attempt left without a reply is undone by the lock store, which Redis may still run.
    const reply = await store.takeLease(this.label, this.keys, token, this.leaseMs);
    if (!reply.taken) {
      this.retryAt = sentAt + (reply.remainingMs >= 0 ? reply.remainingMs + 1 : this.leaseMs);
      return { elected: false };
    }
    const lease = new RedisLeaderLease(this.backend, this.name, this.keys, {
      token,
      term: reply.term,
      leaseMs: this.leaseMs,
      acquiredAt: sentAt,
    });
    void store.announce(this.label, this.keys, reply.term).catch(() => undefined);
    return { elected: true, lease };
  }

  standBy(signal: AbortSignal): Promise<void> {
    if (this.changed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, Math.ceil(this.retryAt - performance.now())));
      timer.unref();
      signal.addEventListener('abort', done);
      this.wake = done;
    });
  }

  async withdraw(): Promise<void> {
    const stop = await this.listening;
    this.listening = undefined;
    stop?.();
  }

  private onChange(): void {
    this.changed = true;
    this.wake?.();
  }
}

/** One term of leadership on Redis: a lease held and renewed as a lock. */
class RedisLeaderLease implements LeaderLease {
  readonly term: number;
  private readonly controller = new AbortController();
  private readonly held: HeldLock;

  constructor(
    private readonly backend: RedisElectionBackend,
    private readonly name: string,
    private readonly keys: ElectionKeys,
    taken: { token: string; term: number; leaseMs: number; acquiredAt: number },
  ) {
    this.term = taken.term;
    this.held = new HeldLock({
      store: backend.store.locks,
      resources: [label(name)],
      keys: [keys.lease],
      mode: 'write',
      token: taken.token,
      fencingTokens: [taken.term],
      ttlMs: taken.leaseMs,
      acquiredAt: taken.acquiredAt,
    });
    this.held.signal.addEventListener('abort', () => {
      const lost = this.held.signal.reason as LockLostError;
      this.end(lost.reason, lost);
    });
    this.held.startWatchdog(undefined);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  confirm(): boolean {
    return this.held.confirmLease() && !this.controller.signal.aborted;
  }

  async resign(reason: string): Promise<void> {
    this.end(reason);
    const { store } = this.backend;
    const what = `hand over ${label(this.name)}`;
    await this.backend.handOver(what, async () => {
      // One after the other: sent together, a release that Redis answers NOSCRIPT (its first
      // after a restart) is sent again behind the announcement, and candidates woken by it would
      // find the lease still held and wait for it to run out.
      await this.held.release();
      await store.announce(label(this.name), this.keys, this.term);
    });
  }

  /** Aborts the term's signal (once) and stops renewing: the leader no longer acts as one. */
  private end(reason: string, cause?: unknown): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(
      new LeadershipLostError(this.name, this.term, reason, cause ? { cause } : undefined),
    );
    this.held.lose(reason);
  }
}
