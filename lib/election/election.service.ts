import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { shareReplay, type Observable, type Subscriber } from 'rxjs';
import { InvalidArgumentError } from '../common/coordination.error.js';
import { assertName } from '../common/validate.js';
import { RedisConnections } from '../connection/redis-connections.js';
import { ZooKeeperConnection } from '../zookeeper/zookeeper.connection.js';
import type { CoordinationBackend } from '../zookeeper/zookeeper.interfaces.js';
import type { ElectionBackend, LeaderLease } from './election.backend.js';
import { Candidate, type TermListener } from './election.candidate.js';
import { leadershipContext } from './election.context.js';
import type { LeadershipLostError } from './election.errors.js';
import { Election } from './election.handle.js';
import type {
  CurrentLeader,
  JoinElectionOptions,
  LeaderState,
  Leadership,
} from './election.interfaces.js';
import { resolveBackendOption, resolveJoinOptions } from './election.options.js';
import { observeLeader } from './leader.observer.js';
import { RedisElectionBackend } from './redis-election.backend.js';
import { ZooKeeperElectionBackend } from './zookeeper-election.backend.js';

/** A method called when this instance is elected (`@OnElected`) or its term ends (`@OnRevoked`). */
export type TermHandler = (leadership: Leadership, reason?: LeadershipLostError) => unknown;

/** An election this instance has joined. */
interface Joined {
  readonly backend: CoordinationBackend;
  readonly candidate: Candidate;
  readonly election: Election;
  /** Settles after the first attempt to lead. */
  readonly started: Promise<void>;
}

/**
 * Leader election: of the app instances that join an election, one at a time leads. On Redis,
 * leadership is a lease renewed by a watchdog; on ZooKeeper (`backend: 'zookeeper'`), a node that
 * lives as long as the leader's session. A leader that crashes or is cut off is replaced once its
 * lease runs out (its session expires), one that leaves (or shuts down) hands over at once. Each
 * term has a number strictly greater than every earlier one, to fence downstream writes with, and
 * a signal that aborts the moment the term ends, before any other instance can be elected.
 *
 * @example
 * constructor(private readonly elections: LeaderElectionService) {}
 *
 * async onModuleInit() {
 *   const election = await this.elections.join('billing-sweeper', { leaseMs: 10_000 });
 *   this.elections.observe('billing-sweeper').subscribe(({ leader, term }) =>
 *     this.logger.log(`leader ${leader ?? 'none'} (term ${term})`),
 *   );
 * }
 */
@Injectable()
export class LeaderElectionService implements BeforeApplicationShutdown {
  private readonly logger = new Logger('LeaderElectionService');
  private readonly redis: RedisElectionBackend;
  /** Created on first use: only apps with the module option `zookeeper` may. */
  private zookeeperBackend?: ZooKeeperElectionBackend;
  private readonly joined = new Map<string, Joined>();
  private readonly handlers = new Map<
    string,
    Record<'elected' | 'revoked', { call: TermHandler; name: string }[]>
  >();
  private readonly observers = new Map<string, Observable<LeaderState>>();
  private readonly observing = new Set<Subscriber<LeaderState>>();

  constructor(
    private readonly connections: RedisConnections,
    private readonly zookeeper: ZooKeeperConnection,
  ) {
    this.redis = new RedisElectionBackend(connections, this.logger);
  }

  /** How this app instance is named as a leader in {@link observe} (on either backend). */
  get instanceId(): string {
    return this.redis.instanceId;
  }

  /**
   * Makes this instance a candidate of the election `name` (it stays one until `leave()`), and
   * resolves after its first attempt to lead: `isLeader` is then true if nobody else led.
   * Joining an election already joined returns the same `Election` (options must then be the
   * same or left out). `@Leader`, `@OnElected` and `@OnRevoked` join the elections they name
   * at bootstrap with the default options; to set options, join in `onModuleInit`.
   *
   * Throws `RedisConnectionError` (`ZooKeeperConnectionError`) if the backend cannot be reached
   * for the first attempt, and `InvalidArgumentError`/`InvalidKeyError` for bad input. Within one
   * lease of a lost connection to Redis this instance sits out (see the README), and while its
   * ZooKeeper connection is suspended it waits for it: either way it resolves as a candidate
   * without asking.
   */
  async join(name: string, options: JoinElectionOptions = {}): Promise<Election> {
    assertName('election name', name);
    const { backend = this.connections.electionBackend, leaseMs } = resolveJoinOptions(options);
    const existing = this.joined.get(name);
    if (existing) {
      const asked = [
        ['backend', options.backend, existing.backend],
        ['leaseMs', options.leaseMs, existing.candidate.leaseMs],
      ] as const;
      for (const [option, value, joinedWith] of asked) {
        if (value !== undefined && value !== joinedWith) {
          throw new InvalidArgumentError(
            option,
            value,
            `election "${name}" is already joined with ${option} ${joinedWith}: leave it first, or join it in onModuleInit, before @Leader/@OnElected/@OnRevoked join it with the default`,
          );
        }
      }
      await existing.started;
      return existing.election;
    }
    const candidate = new Candidate(
      name,
      leaseMs,
      this.backendOf(backend).candidacy(name, leaseMs),
      this.termListener(name),
      this.logger,
    );
    const joined: Joined = {
      backend,
      candidate,
      election: new Election(candidate, () => this.leave(joined)),
      started: candidate.start(),
    };
    this.joined.set(name, joined);
    try {
      await joined.started;
    } catch (error) {
      await this.leave(joined);
      throw error;
    }
    return joined.election;
  }

  /**
   * Who leads the election `name` on `backend` (default: the module's; pass the one the
   * election is joined with), as an rxjs Observable: `{ leader, term }` now, then at every
   * change. `leader` is the leader's {@link instanceId}, or null. On Redis, changes are announced
   * by pub/sub (a new leader, a resignation) and a crashed leader is seen gone when its lease
   * runs out; on ZooKeeper, a children watch sees every change of the line. After a reconnect
   * the state is read again. Subscribers share one watch per name and backend; a late subscriber
   * gets the current state first. Completes at application shutdown.
   *
   * @example
   * elections.observe('billing-sweeper').subscribe(({ leader, term }) => console.log(leader, term));
   */
  observe(
    name: string,
    options: Pick<JoinElectionOptions, 'backend'> = {},
  ): Observable<LeaderState> {
    assertName('election name', name);
    const backend =
      resolveBackendOption('observe options', options) ?? this.connections.electionBackend;
    const key = `${backend}:${name}`;
    let observer = this.observers.get(key);
    if (!observer) {
      observer = observeLeader(this.backendOf(backend), name, this.logger, this.observing).pipe(
        shareReplay({ bufferSize: 1, refCount: true }),
      );
      this.observers.set(key, observer);
    }
    return observer;
  }

  /**
   * Who leads the election `name` on `backend` right now, read once: `{ leader, term }`, both
   * null when nobody does (no candidate, or the last leader's lease ran out). For a stream of
   * changes, use {@link observe}.
   */
  async leader(
    name: string,
    options: Pick<JoinElectionOptions, 'backend'> = {},
  ): Promise<CurrentLeader> {
    assertName('election name', name);
    const backend =
      resolveBackendOption('leader options', options) ?? this.connections.electionBackend;
    const { leader, term } = await this.backendOf(backend).read(name);
    return { leader, term };
  }

  /**
   * Runs `work` if this instance leads `name` right now (checked against the clock), inside
   * that leadership's context; resolves `undefined` without running it otherwise.
   * @internal
   */
  runAsLeader(name: string, work: () => unknown): Promise<unknown> {
    const lease = this.joined.get(name)?.candidate.lease;
    if (!lease) return Promise.resolve(undefined);
    return new Promise((resolve) => resolve(leadershipContext.run(leadership(name, lease), work)));
  }

  /**
   * Calls `handler` when this instance is elected (`'elected'`) or its term ends (`'revoked'`).
   * @internal
   */
  addHandler(
    name: string,
    kind: 'elected' | 'revoked',
    handler: TermHandler,
    handlerName: string,
  ): void {
    let handlers = this.handlers.get(name);
    if (!handlers) {
      handlers = { elected: [], revoked: [] };
      this.handlers.set(name, handlers);
    }
    const added = { call: handler, name: handlerName };
    handlers[kind].push(added);
    // Elected before the handler was known (joined in an earlier onModuleInit): tell it now.
    if (kind === 'elected') {
      this.joined
        .get(name)
        ?.candidate.reportCurrentTerm((lease) => this.callHandlers(name, kind, lease, [added]));
    }
  }

  /**
   * Leaves every election (handing over at once, bounded when Redis or ZooKeeper is down) and
   * stops watching.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const backends = this.zookeeperBackend ? [this.redis, this.zookeeperBackend] : [this.redis];
    for (const backend of backends) backend.beginShutdown();
    for (const subscriber of [...this.observing]) subscriber.complete();
    await Promise.all([...this.joined.values()].map((joined) => this.leave(joined)));
    await Promise.all(backends.map((backend) => backend.close()));
  }

  /** The backend named; ZooKeeper's throws InvalidArgumentError without the module option. */
  private backendOf(backend: CoordinationBackend): ElectionBackend {
    if (backend === 'redis') return this.redis;
    this.zookeeperBackend ??= new ZooKeeperElectionBackend(this.zookeeper, this.redis.instanceId);
    return this.zookeeperBackend;
  }

  private async leave(joined: Joined): Promise<void> {
    if (this.joined.get(joined.candidate.name) === joined)
      this.joined.delete(joined.candidate.name);
    await joined.candidate.leave();
  }

  private termListener(name: string): TermListener {
    return {
      elected: (lease) => this.callHandlers(name, 'elected', lease),
      revoked: (lease) => this.callHandlers(name, 'revoked', lease),
    };
  }

  /**
   * Calls an election's handlers of one kind, concurrently (one may run for the whole term);
   * a failure is logged, never passed on: the candidate's reports must go on.
   */
  private async callHandlers(
    name: string,
    kind: 'elected' | 'revoked',
    lease: LeaderLease,
    handlers = this.handlers.get(name)?.[kind] ?? [],
  ): Promise<void> {
    const term = leadership(name, lease);
    await Promise.all(
      handlers.map(async (handler) => {
        try {
          if (kind === 'elected') await leadershipContext.run(term, () => handler.call(term));
          else await handler.call(term, lease.signal.reason as LeadershipLostError);
        } catch (error) {
          this.logger.error(
            `${handler.name} failed (election "${name}", ${kind} for term ${lease.term}): ${(error as Error)?.stack ?? String(error)}`,
          );
        }
      }),
    );
  }
}

function leadership(election: string, lease: LeaderLease): Leadership {
  return { election, term: lease.term, signal: lease.signal };
}
