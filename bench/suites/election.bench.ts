import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { LeaderElectionService, OnElected, type Leadership } from '../../lib/index.js';
import type { BenchSuite } from '../support/bench-context.js';
import { percentiles, type RunResult } from '../support/measure.js';

const CANDIDATES = 3;
const HANDOVERS = 60;
const CRASHES = 5;
/** The lease of the crash figure: the bound is a new leader within leaseMs + 1 s. */
const CRASH_LEASE_MS = 1000;
/** How often the raw candidates poll with SET NX. */
const RAW_POLL_MS = 10;
/** How long Redis's command count is watched while one leads and the others stand by. */
const IDLE_MS = 3000;
const HANDOVER_ELECTION = 'bench-handover';
const ELECTED = Symbol('elected');

/** Tells the bench when its app is elected leader of {@link HANDOVER_ELECTION}. */
@Injectable()
class ElectedProbe {
  constructor(@Inject(ELECTED) private readonly elected: () => void) {}

  @OnElected(HANDOVER_ELECTION)
  onElected(_leadership: Leadership): void {
    this.elected();
  }
}

/** Hand-over latencies as a RunResult: "ops/s" is hand-overs per second of latency (1 / mean). */
function handOvers(latencies: number[]): RunResult {
  const mean = latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
  return { ops: latencies.length, opsPerSec: 1000 / mean, ...percentiles(latencies) };
}

/** Commands Redis processed per second over `ms`, as INFO counts them (less the INFO calls). */
async function commandRate(admin: Redis, ms: number): Promise<number> {
  const count = async () =>
    Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
  const before = await count();
  await sleep(ms);
  return ((await count()) - before - 1) / (ms / 1000);
}

/**
 * The hand-written election a user would write instead: every candidate polls `SET NX PX` every
 * {@link RAW_POLL_MS}; the leader renews with a compare-and-`PEXPIRE` every third of the lease
 * and gives up with a compare-and-`DEL`.
 */
class RawCandidate {
  private leading = false;
  private stopped = false;
  private readonly token = randomBytes(8).toString('hex');
  private loop: Promise<void> = Promise.resolve();
  onElected?: () => void;

  constructor(
    private readonly client: Redis,
    private readonly key: string,
    private readonly leaseMs: number,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops renewing and polling, as a crashed process would. */
  async crash(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.leading = false;
  }

  /** Stops, and gives the leadership up with a compare-and-delete. */
  async leave(): Promise<void> {
    await this.crash();
    await this.client.eval(
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
      1,
      this.key,
      this.token,
    );
  }

  private async run(): Promise<void> {
    let renewAt = 0;
    while (!this.stopped) {
      if (this.leading) {
        if (performance.now() >= renewAt) {
          const renewed = await this.client.eval(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
            1,
            this.key,
            this.token,
            this.leaseMs,
          );
          this.leading = renewed === 1;
          renewAt = performance.now() + this.leaseMs / 3;
        }
      } else if ((await this.client.set(this.key, this.token, 'PX', this.leaseMs, 'NX')) === 'OK') {
        this.leading = true;
        renewAt = performance.now() + this.leaseMs / 3;
        this.onElected?.();
        continue;
      }
      await sleep(RAW_POLL_MS);
    }
  }
}

/** Resolves when `check` holds, checking every millisecond. */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(1);
}

/**
 * Leader hand-over: after `leave()` (3 candidates, each its own app) and after the leader's
 * process is SIGKILLed, against raw candidates polling `SET NX PX` every 10 ms; and what
 * standing by costs Redis.
 */
export const suite: BenchSuite = {
  description: 'leader election: hand-over after leave() and after SIGKILL, vs raw SET NX polling',
  async run(context) {
    const admin = await context.rawClient();

    // leave(): time from the call to the next leader's @OnElected.
    let electedAt = 0;
    const apps = await Promise.all(
      Array.from({ length: CANDIDATES }, () =>
        context.app({}, [
          { provide: ELECTED, useValue: () => (electedAt = performance.now()) },
          ElectedProbe,
        ]),
      ),
    );
    const services = apps.map((app) => app.get(LeaderElectionService));
    const elections = await Promise.all(services.map((s) => s.join(HANDOVER_ELECTION)));
    const ours: number[] = [];
    for (let round = 0; round < HANDOVERS; round++) {
      const index = elections.findIndex((e) => e.isLeader);
      electedAt = 0;
      const leftAt = performance.now();
      await elections[index]!.leave();
      await until(() => electedAt > 0);
      ours.push(electedAt - leftAt);
      elections[index] = await services[index]!.join(HANDOVER_ELECTION);
    }
    const ourIdleRate = await commandRate(admin, IDLE_MS);

    const rawKey = `bench:raw-election:${randomBytes(4).toString('hex')}`;
    const raws = await Promise.all(
      Array.from(
        { length: CANDIDATES },
        async () => new RawCandidate(await context.rawClient(), rawKey, 10_000),
      ),
    );
    for (const raw of raws) {
      raw.onElected = () => (electedAt = performance.now());
      raw.start();
    }
    await until(() => raws.some((raw) => raw.isLeader));
    const raw: number[] = [];
    for (let round = 0; round < HANDOVERS; round++) {
      const leader = raws.find((r) => r.isLeader)!;
      electedAt = 0;
      const leftAt = performance.now();
      await leader.leave();
      await until(() => electedAt > 0);
      raw.push(electedAt - leftAt);
      leader.start(); // a candidate again, as the library's leaver rejoins
    }
    const rawIdleRate = await commandRate(admin, IDLE_MS);
    await Promise.all(raws.map((r) => r.crash()));
    const ourResult = handOvers(ours);
    const rawResult = handOvers(raw);
    context.report({
      suite: 'election',
      name: `hand-over after leave(), ${CANDIDATES} apps, ${HANDOVERS} times (hand-overs/s = 1 / mean latency)`,
      candidate: ourResult,
      baseline: rawResult,
      ratio: ourResult.opsPerSec / rawResult.opsPerSec,
      note: `standing by (1 leads, ${CANDIDATES - 1} wait, lease 10 s): ${ourIdleRate.toFixed(1)} Redis commands/s vs ${rawIdleRate.toFixed(1)} for raw ${RAW_POLL_MS} ms polling`,
    });

    // SIGKILL: a leader in its own process, killed; time until a candidate in this process leads.
    const fixture = fileURLToPath(
      new URL('../../test/fixtures/election-candidate.js', import.meta.url),
    );
    const crashes: number[] = [];
    for (let round = 0; round < CRASHES; round++) {
      const child = fork(fixture, [], {
        env: {
          ...process.env,
          REDIS_URL: context.redisUrl,
          PREFIX: 'bench:',
          STORE: 'bench:election-store',
          LEASE_MS: String(CRASH_LEASE_MS),
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        child.on('message', (message: { type: string }) => {
          if (message.type === 'elected') resolve();
        });
        void exited.then(() => reject(new Error('the election-candidate child exited')));
      });
      const standby = await services[0]!.join('shared', { leaseMs: CRASH_LEASE_MS });
      await sleep(CRASH_LEASE_MS / 2); // a renewal in between, as in a running app
      const killedAt = performance.now();
      child.kill('SIGKILL');
      await until(() => standby.isLeader);
      crashes.push(performance.now() - killedAt);
      await exited;
      await standby.leave(); // so that the next child is elected
    }

    const rawCrash: number[] = [];
    const pair = await Promise.all(
      Array.from(
        { length: 2 },
        async () => new RawCandidate(await context.rawClient(), `${rawKey}:crash`, CRASH_LEASE_MS),
      ),
    );
    for (let round = 0; round < CRASHES; round++) {
      for (const r of pair) r.start();
      await until(() => pair.some((r) => r.isLeader));
      await sleep(CRASH_LEASE_MS / 2);
      const leader = pair.find((r) => r.isLeader)!;
      const other = pair.find((r) => r !== leader)!;
      const crashedAt = performance.now();
      await leader.crash();
      await until(() => other.isLeader);
      rawCrash.push(performance.now() - crashedAt);
      await other.leave();
    }
    const crashResult = handOvers(crashes);
    const rawCrashResult = handOvers(rawCrash);
    context.report({
      suite: 'election',
      name: `new leader after the leader's process is SIGKILLed, lease ${CRASH_LEASE_MS} ms, ${CRASHES} times (1 / mean latency)`,
      candidate: crashResult,
      baseline: rawCrashResult,
      ratio: crashResult.opsPerSec / rawCrashResult.opsPerSec,
      note: `issue bound: leaseMs + 1 s = ${CRASH_LEASE_MS + 1000} ms; raw: a leader that stops renewing, ${RAW_POLL_MS} ms polling`,
    });
  },
};
