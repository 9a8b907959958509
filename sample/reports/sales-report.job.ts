import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import {
  CacheService,
  CounterService,
  LeaderElectionService,
  Leader,
  currentLeadership,
  type Election,
  type LeaderState,
} from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';

/** The election of the instance that compiles the report, and the cache key it publishes under. */
export const SALES_REPORT = 'sales-report';

/** The shop's sales figures, compiled by the leader for every instance to serve. */
export interface SalesReport {
  orders: number;
  billedOrders: number;
  compiledBy: string;
  /** The leader's term when it compiled this report. */
  term: number;
  compiledAt: string;
}

/**
 * Recompiles the sales report every second on one instance only: every instance runs the cron,
 * `@Leader` lets it through on the leader of "sales-report" alone, so the work is done once
 * however many instances run, and moves to another instance when the leader goes.
 */
@Injectable()
export class SalesReportJob implements OnModuleInit {
  private readonly logger = new Logger(SalesReportJob.name);
  /** This instance's candidacy: `isLeader`, `term`. */
  election!: Election;
  /** Who leads, as every instance sees it, kept up to date by `observe()`. */
  leaderState: LeaderState = { leader: null, term: 0 };
  /** How many reports this instance compiled: none unless it led at some point. */
  compiledHere = 0;

  constructor(
    private readonly elections: LeaderElectionService,
    private readonly counters: CounterService,
    private readonly cache: CacheService,
    private readonly instance: Instance,
  ) {}

  async onModuleInit(): Promise<void> {
    // A leader that crashes is replaced 5 s after its last renewal (`@Leader` alone: 10 s).
    this.election = await this.elections.join(SALES_REPORT, { leaseMs: 5_000 });
    this.elections.observe(SALES_REPORT).subscribe((state) => {
      this.leaderState = state;
      const who = state.leader === this.elections.instanceId ? 'this instance' : state.leader;
      this.logger.log(`${SALES_REPORT} leader: ${who ?? 'none'} (term ${state.term})`);
    });
  }

  @Cron(CronExpression.EVERY_SECOND)
  @Leader(SALES_REPORT)
  async compile(): Promise<void> {
    const { term, signal } = currentLeadership()!;
    const [orders, billed] = await this.counters.getMany(['orders', 'billing:orders']);
    // A term that ended meanwhile leaves the report to the new leader.
    if (signal.aborted) return;
    const report: SalesReport = {
      orders: Number(orders),
      billedOrders: Number(billed),
      compiledBy: this.instance.name,
      term,
      compiledAt: new Date().toISOString(),
    };
    await this.cache.set(SALES_REPORT, report, { ttlMs: 10_000 });
    this.compiledHere++;
  }

  /** The last report any leader compiled, or null before the first (or 10 s after the last). */
  async latest(): Promise<SalesReport | null> {
    const hit = await this.cache.get<SalesReport>(SALES_REPORT);
    return hit?.value ?? null;
  }
}
