import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import {
  currentLeadership,
  InvalidArgumentError,
  InvalidKeyError,
  LeaderElectionService,
  LeadershipLostError,
  RedisCoordinationModule,
  type LeaderState,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { electionKeys } from '../../../lib/election/election.keys.js';
import { acquireLock } from '../../../lib/lock/scripts/lua.generated.js';
import { closeModule, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/** Resolves once `check` holds, checking every few milliseconds. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(5);
}

/** The next state of `states` that satisfies `predicate` (the current one included). */
function stateWhere(
  states: Observable<LeaderState>,
  predicate: (state: LeaderState) => boolean,
): Promise<LeaderState> {
  return firstValueFrom(states.pipe(filter(predicate)));
}

/** A lease no test waits out: only a hand-over can elect another leader. */
const DAY_MS = 24 * 3600 * 1000;

describe('LeaderElectionService', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start(keyPrefix: string): Promise<{
    moduleRef: TestingModule;
    elections: LeaderElectionService;
  }> {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    return { moduleRef, elections: moduleRef.get(LeaderElectionService) };
  }

  it('elects the first joiner; later joiners stand by; the lease is set in Redis', async () => {
    const prefix = uniqueKeyPrefix();
    const { moduleRef, elections: a } = await start(prefix);
    const { elections: b } = await start(prefix);
    const first = await a.join('sweeper', { leaseMs: 5000 });
    assert.equal(first.isLeader, true);
    assert.equal(first.name, 'sweeper');
    assert.ok(Number.isSafeInteger(first.term) && first.term! > 0);
    assert.equal(first.signal.aborted, false);
    const second = await b.join('sweeper', { leaseMs: 5000 });
    assert.equal(second.isLeader, false);
    assert.equal(second.term, undefined);
    assert.ok(second.signal.reason instanceof LeadershipLostError);
    const { lease } = electionKeys(moduleRef.get(RedisConnections).keys, 'sweeper');
    const pttl = await redis.client.pttl(lease.owner);
    assert.ok(pttl > 0 && pttl <= 5000, `a lease, not a key for good (PTTL ${pttl})`);
    assert.ok(await b.join('sweeper'), 'joining again returns the same election');
    assert.equal(await b.join('sweeper'), second);
  });

  it('elects exactly one of several app instances joining at once, and all see the same leader', async () => {
    const prefix = uniqueKeyPrefix();
    const services = await Promise.all(
      Array.from({ length: 4 }, async () => (await start(prefix)).elections),
    );
    const elections = await Promise.all(services.map((s) => s.join('one', { leaseMs: 5000 })));
    const leaders = elections.filter((e) => e.isLeader);
    assert.equal(leaders.length, 1);
    const leader = services[elections.indexOf(leaders[0]!)]!;
    for (const service of services) {
      const state = await stateWhere(service.observe('one'), (s) => s.leader !== null);
      assert.deepEqual(state, { leader: leader.instanceId, term: leaders[0]!.term });
    }
  });

  it('hands over at once on leave(), without waiting for the lease; the new term is greater', async () => {
    const prefix = uniqueKeyPrefix();
    const services = await Promise.all(
      Array.from({ length: 3 }, async () => (await start(prefix)).elections),
    );
    const a = await services[0]!.join('handover', { leaseMs: DAY_MS });
    const b = await services[1]!.join('handover', { leaseMs: DAY_MS });
    const c = await services[2]!.join('handover', { leaseMs: DAY_MS });
    assert.equal(a.isLeader, true);
    const { term, signal } = { term: a.term!, signal: a.signal };
    // Redis has lost the release script but not the acquire (a failover to a replica that ran
    // acquires only): the release is refused (NOSCRIPT) and sent again in full, while woken
    // candidates' acquires run at once; the announcement must not overtake the release.
    await redis.client.script('FLUSH');
    await redis.client.script('LOAD', acquireLock.lua);
    await a.leave();
    assert.equal(signal.aborted, true);
    assert.ok(signal.reason instanceof LeadershipLostError);
    assert.match(signal.reason.message, /left the election/);
    assert.equal(a.isLeader, false);
    await until(() => b.isLeader || c.isLeader);
    const next = b.isLeader ? b : c;
    assert.ok(next.term! > term, 'terms strictly increase across leaders');
    assert.equal([b, c].filter((e) => e.isLeader).length, 1);
    await a.leave(); // idempotent
  });

  it('hands over at once when the leader’s app shuts down', async () => {
    const prefix = uniqueKeyPrefix();
    const first = await start(prefix);
    const leader = await first.elections.join('shutdown', { leaseMs: DAY_MS });
    const { elections } = await start(prefix);
    const standby = await elections.join('shutdown', { leaseMs: DAY_MS });
    const signal = leader.signal;
    await closeModule(first.moduleRef);
    assert.ok(signal.reason instanceof LeadershipLostError);
    await until(() => standby.isLeader);
    assert.ok(standby.term! > (signal.reason as LeadershipLostError).term!);
  });

  it('observe(): the current state first, then each change; a late subscriber gets the current state at once', async () => {
    const prefix = uniqueKeyPrefix();
    const { elections: a } = await start(prefix);
    const { elections: b } = await start(prefix);
    const seen: LeaderState[] = [];
    const subscription = a.observe('watched').subscribe((state) => seen.push(state));
    await until(() => seen.length === 1);
    assert.deepEqual(seen[0], { leader: null, term: 0 });

    const first = await a.join('watched', { leaseMs: 5000 });
    await until(() => seen.length === 2);
    assert.deepEqual(seen[1], { leader: a.instanceId, term: first.term });
    // A second subscriber shares the watch and gets the current state without a change.
    assert.deepEqual(await firstValueFrom(a.observe('watched')), seen[1]);

    const firstTerm = first.term!;
    await first.leave();
    await until(() => seen.length === 3);
    assert.deepEqual(seen[2], { leader: null, term: firstTerm }, 'no leader: the last term');
    const second = await b.join('watched', { leaseMs: 5000 });
    await until(() => seen.length === 4);
    assert.deepEqual(seen[3], { leader: b.instanceId, term: second.term });
    assert.ok(second.term! > firstTerm);
    subscription.unsubscribe();
  });

  it('observe(): a leader that stopped renewing is seen gone when its lease ends, with no announcement', async () => {
    const prefix = uniqueKeyPrefix();
    const { moduleRef, elections } = await start(prefix);
    const seen: LeaderState[] = [];
    const subscription = elections.observe('crashed').subscribe((state) => seen.push(state));
    await until(() => seen.length === 1);
    // A leader that crashed right after taking the lease: the owner value the lock writes.
    const { lease, changed } = electionKeys(moduleRef.get(RedisConnections).keys, 'crashed');
    await redis.client.set(lease.owner, 'iCrashed:0#1700000000.123456', 'PX', 300);
    await redis.client.publish(changed, '1700000000123456');
    await until(() => seen.length === 2);
    assert.deepEqual(seen[1], { leader: 'iCrashed', term: 1_700_000_000_123_456 });
    await until(() => seen.length === 3);
    assert.deepEqual(seen[2], { leader: null, term: 1_700_000_000_123_456 });
    subscription.unsubscribe();
  });

  it('observe() completes at application shutdown', async () => {
    const { moduleRef, elections } = await start(uniqueKeyPrefix());
    let completed = false;
    elections.observe('closing').subscribe({ complete: () => (completed = true) });
    await closeModule(moduleRef);
    assert.equal(completed, true);
  });

  it('refuses bad names and options, naming the problem', async () => {
    const { elections } = await start(uniqueKeyPrefix());
    await assert.rejects(elections.join(''), InvalidKeyError);
    await assert.rejects(
      elections.join('x', { lease: 1000 } as never),
      /election options.lease.*did you mean "leaseMs"/,
    );
    await assert.rejects(elections.join('x', { leaseMs: 50 }), InvalidArgumentError);
    await assert.rejects(elections.join('x', { leaseMs: 1.5 }), InvalidArgumentError);
    assert.throws(() => elections.observe(42 as never), InvalidKeyError);
    await elections.join('x', { leaseMs: 1000 });
    await assert.rejects(
      elections.join('x', { leaseMs: 2000 }),
      /already joined with leaseMs 1000: leave it first/,
    );
  });

  it('tells an elected handler added during the term about it', async () => {
    const { elections } = await start(uniqueKeyPrefix());
    const election = await elections.join('late', { leaseMs: 5000 });
    const terms: number[] = [];
    elections.addHandler(
      'late',
      'elected',
      ({ term }) => terms.push(currentLeadership()?.term === term ? term : -1),
      'Test.late',
    );
    await until(() => terms.length === 1);
    assert.deepEqual(terms, [election.term]);
    assert.equal(currentLeadership(), undefined);
  });
});
