import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { useChildApps, useTestRedis } from '../../support/hooks.js';
import { readTermStore } from '../../fixtures/election-term-store.js';

/**
 * Leaders in real processes (test/fixtures/election-candidate.ts), SIGKILLed or SIGSTOPped.
 * Each candidate's @Leader method writes its term to a store that refuses older terms; a
 * refused write is a process acting as the leader after a newer leader had acted.
 */
describe('election leader crashes and pauses', () => {
  const redis = useTestRedis();
  const spawnChild = useChildApps();

  function candidates(leaseMs: number) {
    const prefix = uniqueKeyPrefix();
    const store = `${prefix}store`;
    const env = { REDIS_URL: redis.url, PREFIX: prefix, STORE: store, LEASE_MS: String(leaseMs) };
    return {
      store,
      spawn: () => spawnChild('election-candidate', { env }),
      read: () => readTermStore(redis.client, store),
    };
  }

  /** Waits until the store accepted a write of `term`. */
  async function actedIn(read: () => ReturnType<typeof readTermStore>, term: number) {
    while (!(await read()).terms.some((t) => t.term === term)) await sleep(5);
  }

  it('elects another candidate after the leader is SIGKILLed, with a greater term', async () => {
    const { spawn, read } = candidates(1000);
    const first = spawn();
    const { term, writer } = await first.waitFor('elected');
    const others = [spawn(), spawn()];
    await Promise.all(others.map((child) => child.waitFor('ready')));
    await actedIn(read, Number(term));
    await first.kill();

    const next = await Promise.race(others.map((child) => child.waitFor('elected')));
    assert.ok(Number(next.term) > Number(term), 'the new term is greater');
    assert.notEqual(next.writer, writer);
    await actedIn(read, Number(next.term));
    const store = await read();
    assert.equal(store.refused, 0);
    assert.equal(store.shared, 0);
    assert.deepEqual(
      store.terms.map((t) => t.writer),
      [writer, next.writer],
      'one leader after the other',
    );
    assert.equal(
      others.filter((child) => child.messages.some((m) => m.type === 'elected')).length,
      1,
      'one new leader',
    );
  });

  it('a leader SIGSTOPped past its lease is replaced, and on resume knows it lost before acting', async () => {
    const { spawn, read } = candidates(1000);
    const old = spawn();
    const { term, writer } = await old.waitFor('elected');
    const standby = spawn();
    await standby.waitFor('ready');
    await actedIn(read, Number(term));
    old.signal('SIGSTOP');
    // Elected only once the stopped leader's lease ran out in Redis.
    const next = await standby.waitFor('elected');
    assert.ok(Number(next.term) > Number(term));
    await actedIn(read, Number(next.term));

    // Handled on resume before the old leader's overdue timers (its lease expiry among them).
    old.send({ type: 'probe' });
    old.signal('SIGCONT');
    const probe = await old.waitFor('probed');
    assert.equal(probe.signalAborted, true, 'its signal is aborted the moment it looks');
    assert.equal(probe.isLeader, false);
    assert.equal(probe.acted, false, 'its @Leader method did not run');
    const revoked = await old.waitFor('revoked');
    assert.equal(revoked.term, term);

    // Let both run on: the new leader keeps acting, the old one never does.
    const { accepted } = await read();
    while ((await read()).accepted < accepted + 20) await sleep(5);
    const store = await read();
    assert.equal(store.refused, 0, 'no write from an old term after a newer one');
    assert.equal(store.shared, 0);
    assert.deepEqual(
      store.terms.map((t) => t.writer),
      [writer, next.writer],
    );
  });
});
