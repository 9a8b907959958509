import assert from 'node:assert/strict';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import type { LeaderState } from '../../../lib/index.js';
import {
  LeaderElectionService,
  LeadershipLostError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import {
  ZooKeeperConnection,
  type SessionEvent,
} from '../../../lib/zookeeper/zookeeper.connection.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import {
  closeModulesAfterEach,
  useChildApps,
  useTestRedis,
  useTestZooKeeper,
} from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { readTermStore } from '../../fixtures/election-term-store.js';
import { zooKeeperEnv } from '../../fixtures/zookeeper-env.js';
import type { ChildApp } from '../../support/child-process.js';

/** The candidates' ZooKeeper session timeout: a stopped leader is replaced once it has passed. */
const SESSION_MS = 3000;

/**
 * Leaders on ZooKeeper in real processes (test/fixtures/election-candidate.ts with the election
 * on ZooKeeper), SIGKILLed or SIGSTOPped. Each candidate's @Leader method writes its term to a
 * store in Redis that refuses older terms; a refused write is a process acting as the leader
 * after a newer leader had acted, a shared one two leaders acting in one term.
 */
describeWithZooKeeper('ZooKeeper election: leader crashes and pauses', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  function candidates() {
    const prefix = uniqueKeyPrefix();
    const store = `${prefix}store`;
    const env = {
      REDIS_URL: redis.url,
      PREFIX: prefix,
      STORE: store,
      LEASE_MS: '1000',
      ...zooKeeperEnv(zookeeper.connectString, SESSION_MS),
    };
    const read = () => readTermStore(redis.client, store);
    return {
      spawn: () => spawnChild('election-candidate', { env }),
      read,
      /** Waits until the store accepted a write of `term`. */
      async actedIn(term: unknown) {
        while (!(await read()).terms.some((t) => t.term === Number(term))) await sleep(5);
      },
    };
  }

  /** The terms a candidate was elected for so far. */
  function termsOf(child: ChildApp): number[] {
    return child.messages.filter((m) => m.type === 'elected').map((m) => Number(m.term));
  }

  it('replaces a SIGKILLed leader once its session has expired, with a greater term', async () => {
    const { spawn, read, actedIn } = candidates();
    const first = spawn();
    const { term, writer } = await first.waitFor('elected');
    const others = [spawn(), spawn()];
    await Promise.all(others.map((child) => child.waitFor('ready')));
    await actedIn(term);
    await first.kill();

    const next = await Promise.race(others.map((child) => child.waitFor('elected')));
    assert.ok(Number(next.term) > Number(term), 'the new term is greater');
    assert.notEqual(next.writer, writer);
    await actedIn(next.term);
    const store = await read();
    assert.equal(store.refused, 0);
    assert.equal(store.shared, 0);
    assert.deepEqual(
      store.terms.map((t) => t.writer),
      [writer, next.writer],
      'one leader after the other',
    );
    assert.equal(others.filter((child) => termsOf(child).length > 0).length, 1, 'one new leader');
  });

  it('a leader SIGSTOPped past its session timeout is replaced; on resume it knows it lost before acting, and its term is refused', async () => {
    const { spawn, read, actedIn } = candidates();
    const old = spawn();
    const { term, writer } = await old.waitFor('elected');
    const standby = spawn();
    await standby.waitFor('ready');
    await actedIn(term);
    old.signal('SIGSTOP');
    // Elected only once the ensemble expired the stopped leader's session, deleting its node.
    const next = await standby.waitFor('elected');
    assert.ok(Number(next.term) > Number(term));
    await actedIn(next.term);

    // Handled on resume ahead of the old leader's overdue timers (its heartbeat among them).
    old.send({ type: 'probe' });
    old.signal('SIGCONT');
    const probe = await old.waitFor('probed');
    assert.equal(probe.signalAborted, true, 'its signal is aborted the moment it looks');
    assert.equal(probe.isLeader, false);
    assert.equal(probe.acted, false, 'its @Leader method did not run');
    const revoked = await old.waitFor('revoked');
    assert.equal(revoked.term, term);
    // Had it written anyway, with the term it was elected for, the fenced store would refuse it.
    old.send({ type: 'write', term });
    assert.equal((await old.waitFor('written')).accepted, false);

    // Let both run on: the new leader keeps acting, the old one (back in line) never does.
    const { accepted } = await read();
    while ((await read()).accepted < accepted + 20) await sleep(5);
    const store = await read();
    assert.equal(store.refused, 1, 'no write from an old term but the one sent on purpose');
    assert.equal(store.shared, 0);
    assert.deepEqual(
      store.terms.map((t) => t.writer),
      [writer, next.writer],
    );
    assert.deepEqual(termsOf(old), [Number(term)], 'never elected again meanwhile');
  });

  it('never two leaders that both believe it: three candidates, the leader stopped past its session timeout again and again', async () => {
    const { spawn, read, actedIn } = candidates();
    const children = [spawn(), spawn(), spawn()];
    await Promise.race(children.map((child) => child.waitFor('elected')));
    let leader = children.find((child) => termsOf(child).length > 0)!;
    let term = termsOf(leader)[0]!;
    for (let round = 0; round < 3; round++) {
      await actedIn(term);
      leader.signal('SIGSTOP');
      const others = children.filter((child) => child !== leader);
      const elected = await Promise.race(
        others.map((child) => child.waitFor('elected', (m) => Number(m.term) > term)),
      );
      const next = others.find((child) => termsOf(child).includes(Number(elected.term)))!;
      // What each candidate believes now: the stopped one says it first thing on resume.
      for (const child of children) child.send({ type: 'probe', id: round });
      leader.signal('SIGCONT');
      const probes = await Promise.all(
        children.map((child) => child.waitFor('probed', (m) => m.id === round)),
      );
      assert.deepEqual(
        probes.map((probe) => probe.isLeader),
        children.map((child) => child === next),
        `round ${round}: the new leader alone believes it leads`,
      );
      await leader.waitFor('revoked', (m) => m.term === term);
      [leader, term] = [next, Number(elected.term)];
    }
    await actedIn(term);

    const store = await read();
    // A leader stopped inside its @Leader method, after it read its term and before its write
    // left, sends that write on resume: nothing in the process can stop it, the fenced store
    // refuses it. So at most one refused write per stop, and never an accepted one.
    assert.ok(store.refused <= 3, `${store.refused} refused writes for 3 stops`);
    assert.equal(store.shared, 0, 'no two leaders acted in one term');
    const terms = store.terms.map((t) => t.term);
    assert.deepEqual(
      terms,
      [...terms].sort((a, b) => a - b),
      'terms increase',
    );
    assert.deepEqual(
      children.flatMap(termsOf).sort((a, b) => a - b),
      terms,
      'four leaders, one after the other, each acting in its term',
    );
  });

  it("a leader's term ends the moment its connection drops; after the sessions were lost, candidates line up again and one leads with a greater term; observe() sees it and what follows", async () => {
    const root = zooKeeperEnv(zookeeper.connectString, SESSION_MS).ZOOKEEPER_ROOT;
    const apps = await Promise.all(
      [0, 1].map(async () => {
        const moduleRef = await startModule([
          RedisCoordinationModule.forRoot({
            url: redis.url,
            keyPrefix: uniqueKeyPrefix(),
            zookeeper: {
              connectString: zookeeper.connectString,
              root,
              sessionTimeoutMs: SESSION_MS,
            },
            elections: { backend: 'zookeeper' },
          }),
        ]);
        return {
          elections: moduleRef.get(LeaderElectionService),
          connection: moduleRef.get(ZooKeeperConnection),
        };
      }),
    );
    const [a, b] = apps as [(typeof apps)[0], (typeof apps)[0]];
    const leading = await a.elections.join('restarted');
    const standing = await b.elections.join('restarted');
    const { term, signal } = { term: leading.term!, signal: leading.signal };
    // One subscription throughout: its watch must carry over into the new session.
    const seen: LeaderState[] = [];
    const subscription = b.elections.observe('restarted').subscribe((state) => seen.push(state));
    const observed = async (term: number) => {
      while (!seen.some((state) => state.term === term)) await sleep(5);
      return seen.find((state) => state.term === term)!;
    };
    await observed(term);

    const lost = apps.map(({ connection }) => sessionEvent(connection, 'lost'));
    await zookeeper.server.stop();
    // Aborted by the connection's drop alone: nothing here asks whether it still leads (the
    // signal's own `aborted` does not ask the election).
    if (!signal.aborted) await once(signal, 'abort');
    assert.ok(signal.reason instanceof LeadershipLostError);
    assert.match(signal.reason.message, /connection was suspended/);
    // Down past the session timeout: both sessions, and their nodes, are gone.
    await Promise.all(lost);
    assert.equal(leading.isLeader, false);
    assert.equal(standing.isLeader, false);
    await zookeeper.server.restart();

    const elections = [leading, standing];
    // The lost sessions' nodes are in line until the restarted server expires those sessions;
    // a node of the new sessions leads once they are gone.
    while (!elections.some((election) => election.isLeader)) await sleep(5);
    const leader = elections.find((election) => election.isLeader)!;
    assert.ok(leader.term! > term, 'a greater term');
    assert.equal(elections.filter((election) => election.isLeader).length, 1);
    const next = await observed(leader.term!);
    assert.equal(next.leader, apps[elections.indexOf(leader)]!.elections.instanceId);
    // The watch lives on in the new session: the next change is seen too.
    const other = elections.find((election) => election !== leader)!;
    await leader.leave();
    while (!other.isLeader) await sleep(5);
    const after = await observed(other.term!);
    assert.equal(after.leader, apps[elections.indexOf(other)]!.elections.instanceId);
    subscription.unsubscribe();
  });
});

/** Resolves at the connection's next session event `event`. */
function sessionEvent(connection: ZooKeeperConnection, event: SessionEvent): Promise<void> {
  return new Promise((resolve) => {
    const stop = connection.onSessionEvent((happened) => {
      if (happened !== event) return;
      stop();
      resolve();
    });
  });
}
