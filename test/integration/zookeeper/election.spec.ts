import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { filter, firstValueFrom, type Observable } from 'rxjs';
import {
  currentLeadership,
  InvalidArgumentError,
  InvalidOptionsError,
  Leader,
  LeaderElectionService,
  LeadershipLostError,
  RedisCoordinationModule,
  type CoordinationBackend,
  type LeaderState,
} from '../../../lib/index.js';
import { lineOf } from '../../../lib/election/zookeeper-election.nodes.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';

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

/** A root of its own per test: tests sharing the server never see each other's nodes. */
function uniqueRoot(): string {
  return `/t${randomBytes(6).toString('hex')}`;
}

@Injectable()
class Sweeper {
  /** The term of each run of sweep(). */
  readonly runs: number[] = [];

  @Interval('zookeeper-sweep', 10)
  @Leader('zookeeper-sweeper', { backend: 'zookeeper' })
  async sweep(): Promise<void> {
    this.runs.push(currentLeadership()!.term);
  }
}

describeWithZooKeeper('leader election on ZooKeeper', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();

  /** An app instance whose elections are on `elections` unless a call says otherwise. */
  async function start(root: string, elections: CoordinationBackend = 'zookeeper') {
    const moduleRef = await startModule(
      [
        ScheduleModule.forRoot(),
        RedisCoordinationModule.forRoot({
          url: redis.url,
          keyPrefix: uniqueKeyPrefix(),
          zookeeper: { connectString: zookeeper.connectString, root, sessionTimeoutMs: 4000 },
          elections: { backend: elections },
        }),
      ],
      { providers: elections === 'redis' ? [Sweeper] : [] },
    );
    return {
      elections: moduleRef.get(LeaderElectionService),
      session: moduleRef.get(ZooKeeperConnection).session,
      sweeper: elections === 'redis' ? moduleRef.get(Sweeper) : undefined,
    };
  }

  it("elects one of three instances; each is one ephemeral node holding its instance id; the term is the leader node's czxid", async () => {
    const root = uniqueRoot();
    const apps = await Promise.all([0, 1, 2].map(() => start(root)));
    const joined = await Promise.all(apps.map((app) => app.elections.join('one')));
    const leaders = joined.filter((election) => election.isLeader);
    assert.equal(leaders.length, 1);
    const leader = apps[joined.indexOf(leaders[0]!)]!.elections;

    const parent = `${root}/elections/one`;
    const line = lineOf((await apps[0]!.session.getChildren(parent))!);
    assert.equal(line.length, 3, 'one node per candidate');
    const nodes = await Promise.all(
      line.map(async (node) => (await apps[0]!.session.getData(`${parent}/${node.name}`))!),
    );
    assert.deepEqual(
      new Set(nodes.map((node) => node.data.toString())),
      new Set(apps.map((app) => app.elections.instanceId)),
    );
    for (const node of nodes) assert.notEqual(node.stat.ephemeralOwner, '0', 'ephemeral');
    assert.equal(nodes[0]!.data.toString(), leader.instanceId, 'the lowest node leads');
    assert.equal(leaders[0]!.term, nodes[0]!.stat.czxid);

    for (const { elections } of apps) {
      assert.deepEqual(
        await stateWhere(elections.observe('one'), (state) => state.leader !== null),
        { leader: leader.instanceId, term: leaders[0]!.term },
      );
    }
    assert.deepEqual(
      await firstValueFrom(apps[0]!.elections.observe('one', { backend: 'redis' })),
      { leader: null, term: 0 },
      'nothing on Redis',
    );
  });

  it('leave() hands over at once to the next in line, each term greater than the last', async () => {
    const root = uniqueRoot();
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => start(root)));
    // One after the other: the line is in joining order.
    const first = await a!.elections.join('handover');
    const second = await b!.elections.join('handover');
    const third = await c!.elections.join('handover');
    assert.deepEqual(
      [first, second, third].map((election) => election.isLeader),
      [true, false, false],
    );
    const signal = first.signal;
    // The leader's app keeps its session: only deleting its node can elect another.
    await first.leave();
    assert.ok(signal.reason instanceof LeadershipLostError);
    assert.match(signal.reason.message, /left the election/);
    await until(() => second.isLeader);
    assert.equal(third.isLeader, false);
    assert.ok(second.term! > first.signal.reason.term, 'terms strictly increase');
    const parent = `${root}/elections/handover`;
    assert.equal((await a!.session.getChildren(parent))!.length, 2, 'the leaver is out of line');

    const termOfSecond = second.term!;
    await second.leave();
    await until(() => third.isLeader);
    assert.ok(third.term! > termOfSecond);
    const again = await a!.elections.join('handover');
    assert.equal(again.isLeader, false, 'a joiner goes to the end of the line');
    await third.leave();
    await until(() => again.isLeader);
    assert.ok(again.term! > third.signal.reason.term);
  });

  it('observe(): nobody, then each new leader and its term, then nobody', async () => {
    const root = uniqueRoot();
    const [a, b] = await Promise.all([0, 1].map(() => start(root)));
    const seen: LeaderState[] = [];
    const subscription = b!.elections.observe('watched').subscribe((state) => seen.push(state));
    await until(() => seen.length === 1);
    assert.deepEqual(seen[0], { leader: null, term: 0 });

    const first = await a!.elections.join('watched');
    await until(() => seen.length === 2);
    assert.deepEqual(seen[1], { leader: a!.elections.instanceId, term: first.term });
    // A candidate joining behind the leader changes the line, not the leader: nothing is emitted.
    const second = await b!.elections.join('watched');
    const termOfFirst = first.term!;
    await first.leave();
    await until(() => seen.length === 3);
    assert.deepEqual(seen[2], { leader: b!.elections.instanceId, term: second.term });
    assert.ok(second.term! > termOfFirst);
    await second.leave();
    await until(() => seen.length === 4);
    assert.deepEqual(seen[3], { leader: null, term: second.signal.reason.term });
    subscription.unsubscribe();
  });

  it('@Leader(name, { backend }) joins on ZooKeeper and runs the method on the leader only', async () => {
    const root = uniqueRoot();
    // The module's default is Redis: the decorator alone puts the election on ZooKeeper.
    const a = await start(root, 'redis'); // joined at bootstrap: first, so the leader
    const b = await start(root, 'redis');
    await until(() => a.sweeper!.runs.length >= 3);
    const leading = await a.elections.join('zookeeper-sweeper');
    const term = leading.term!;
    assert.deepEqual(new Set(a.sweeper!.runs), new Set([term]));
    assert.equal(b.sweeper!.runs.length, 0, 'the standby never runs it');
    const line = await a.session.getChildren(`${root}/elections/zookeeper-sweeper`);
    assert.equal(line!.length, 2, 'both candidates are in line on ZooKeeper');
    assert.deepEqual(
      await firstValueFrom(a.elections.observe('zookeeper-sweeper', { backend: 'redis' })),
      { leader: null, term: 0 },
      'nothing on Redis',
    );

    await leading.leave();
    const runsBefore = a.sweeper!.runs.length;
    await until(() => b.sweeper!.runs.length >= 3);
    const next = (await b.elections.join('zookeeper-sweeper')).term!;
    assert.ok(next > term);
    assert.deepEqual(new Set(b.sweeper!.runs), new Set([next]));
    assert.equal(a.sweeper!.runs.length, runsBefore, 'the old leader stopped at once');
  });

  it('refuses ZooKeeper without the module option, and one election on two backends', async () => {
    const { elections } = await start(uniqueRoot());
    await elections.join('once');
    await assert.rejects(
      elections.join('once', { backend: 'redis' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /already joined with backend zookeeper/.test(error.message),
    );
    const redisOnly = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: uniqueKeyPrefix() }),
    ]);
    await assert.rejects(
      redisOnly.get(LeaderElectionService).join('x', { backend: 'zookeeper' }),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /set the module option zookeeper/.test(error.message),
    );
    await assert.rejects(
      startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          elections: { backend: 'zookeeper' },
        }),
      ]),
      (error: unknown) =>
        error instanceof InvalidOptionsError &&
        /elections.backend 'zookeeper' needs the module option zookeeper/.test(error.message),
    );
  });
});
