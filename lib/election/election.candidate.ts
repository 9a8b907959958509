import { setTimeout as sleep } from 'node:timers/promises';
import type { LoggerService } from '@nestjs/common';
import type { Candidacy, LeaderLease } from './election.backend.js';
import { LeadershipLostError } from './election.errors.js';

/** What a candidate reports about its terms; called one at a time, in order. Never rejects. */
export interface TermListener {
  elected(lease: LeaderLease): Promise<void>;
  revoked(lease: LeaderLease): Promise<void>;
}

/**
 * This instance as a candidate of one election, from `join()` to `leave()`: it campaigns,
 * leads while its lease holds, and campaigns again after losing it.
 *
 * The listener hears `elected` and `revoked` strictly alternating and one at a time (a
 * `revoked` waits for the `elected` handlers of its term to settle), as Curator's LeaderLatch
 * does, so handlers never see two terms at once.
 */
export class Candidate {
  /** The last term this instance was elected for; it may have ended. */
  private latest?: LeaderLease;
  private notElected?: AbortSignal;
  private readonly leaving = new AbortController();
  private campaigning: Promise<void> = Promise.resolve();
  private left?: Promise<void>;
  /** The listener's calls, chained. */
  private reports: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(
    readonly name: string,
    readonly leaseMs: number,
    private readonly candidacy: Candidacy,
    private readonly listener: TermListener,
    private readonly logger: LoggerService,
  ) {}

  /** Starts campaigning; resolves after the first attempt, or rejects (and stops) if it failed. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.campaigning = this.campaign({ resolve, reject });
    });
  }

  /** The term held right now, checked against the clock; undefined when not the leader. */
  get lease(): LeaderLease | undefined {
    return this.latest?.confirm() ? this.latest : undefined;
  }

  /** The current term's signal; while not the leader, an aborted one. */
  get signal(): AbortSignal {
    const latest = this.latest;
    if (!latest) {
      this.notElected ??= AbortSignal.abort(
        new LeadershipLostError(this.name, undefined, 'this instance has not been elected'),
      );
      return this.notElected;
    }
    latest.confirm(); // aborts it if the lease ran out while the process was paused
    return latest.signal;
  }

  /** Stops campaigning and resigns the term held, handing over at once; then the handlers run. */
  leave(): Promise<void> {
    this.left ??= (async () => {
      this.leaving.abort();
      await this.campaigning;
      await this.candidacy.withdraw();
      await this.reports;
    })();
    return this.left;
  }

  private async campaign(first?: { resolve(): void; reject(error: unknown): void }): Promise<void> {
    const leaving = firstAborted(this.leaving.signal).then(() => undefined);
    while (!this.leaving.signal.aborted) {
      let next: Promise<void>;
      try {
        const pending = this.candidacy.attempt();
        // Leaving does not wait for an attempt Redis is slow to answer (shutdown is bounded);
        // a term it wins after all is given straight back.
        const attempt = await Promise.race([pending, leaving]);
        if (!attempt) {
          void pending.then(
            (late) => (late.elected ? this.lead(late.lease) : undefined),
            () => undefined,
          );
          break;
        }
        this.recovered();
        next = attempt.elected
          ? this.lead(attempt.lease)
          : this.candidacy.standBy(this.leaving.signal);
      } catch (error) {
        if (first) {
          first.reject(error);
          return;
        }
        this.failed(error);
        // The backend is unreachable: try again soon, as the lock's watchdog does.
        await sleep(Math.min(1000, this.leaseMs / 10), undefined, {
          signal: this.leaving.signal,
          ref: false,
        }).catch(() => undefined);
        continue;
      }
      first?.resolve();
      first = undefined;
      await next;
    }
    first?.resolve();
  }

  /** Holds the term until it is lost or this instance leaves, then resigns it. */
  private async lead(lease: LeaderLease): Promise<void> {
    const left = 'this instance left the election';
    if (this.leaving.signal.aborted) {
      await lease.resign(left); // elected while leaving: straight back, nobody is told
      return;
    }
    this.latest = lease;
    this.report('elected', lease);
    await firstAborted(lease.signal, this.leaving.signal);
    // Aborts the term's signal at once (if the lease was lost, it already is), then hands over
    // while the handlers run.
    const resigned = lease.resign(left);
    this.report('revoked', lease);
    await resigned;
  }

  /**
   * Calls `call` with the current term, in order with the listener's calls, if this instance
   * still leads when its turn comes (for an `elected` handler added during the term).
   */
  reportCurrentTerm(call: (lease: LeaderLease) => Promise<void>): void {
    this.reports = this.reports.then(() => {
      const lease = this.lease;
      return lease && call(lease);
    });
  }

  private report(kind: 'elected' | 'revoked', lease: LeaderLease): void {
    this.reports = this.reports.then(() => this.listener[kind](lease));
  }

  private failed(error: unknown): void {
    if (this.failures++ > 0) return;
    this.logger.warn(
      `Election "${this.name}": could not campaign (${String(error)}); retrying until it can`,
    );
  }

  private recovered(): void {
    if (this.failures === 0) return;
    this.failures = 0;
    this.logger.log(`Election "${this.name}": campaigning again`);
  }
}

/** Resolves once any of the signals is aborted, leaving no listener behind. */
function firstAborted(...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve();
    const done = () => {
      for (const signal of signals) signal.removeEventListener('abort', done);
      resolve();
    };
    for (const signal of signals) signal.addEventListener('abort', done);
  });
}
