import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { LockLostError, type LockMode, type RedisLockService } from '../../../lib/index.js';
import type { ChildApp } from '../../support/child-process.js';
import { fencedWrite } from '../../fixtures/lock-fenced-store.js';

/**
 * The paused-holder scenario of the lock fault tests, for either backend: a lock-worker `child`
 * holds the lock under `using()`, is SIGSTOPped until it loses the lock (its lease runs out, or
 * its ZooKeeper session expires), `locks` takes the lock and writes through a store fenced on the
 * token; the child, resumed, must find its signal aborted and its stale write refused.
 */
export async function pauseHolderPastItsLock(scenario: {
  child: ChildApp;
  locks: RedisLockService;
  /** Where the fenced store lives. */
  store: Redis;
  mode: LockMode;
  /** The child's lease. */
  ttlMs: number;
  /** How long this side waits for the lock. */
  waitMs: number;
}): Promise<void> {
  const { child, locks, store, mode } = scenario;
  child.send({ type: 'hold', mode, ttlMs: scenario.ttlMs });
  const { fencingToken } = await child.waitFor('acquired');
  child.signal('SIGSTOP');
  const lock = await locks.acquire('shared', { waitMs: scenario.waitMs });
  assert.ok(lock.fencingToken > Number(fencingToken));
  assert.equal(await fencedWrite(store, 'store', lock.fencingToken, 'fresh'), true);
  child.signal('SIGCONT');
  child.send({ type: 'write' });
  const report = await child.waitFor('wrote');
  assert.equal(report.aborted, true, 'the paused holder is told it lost the lock');
  assert.equal(report.reason, LockLostError.name);
  assert.equal(report.accepted, false, 'the stale write must be rejected');
  assert.equal(await store.hget('store', 'value'), 'fresh');
  assert.equal(await locks.isLocked('shared'), true, 'the paused holder did not free our lock');
  await lock.release();
  await store.del('store');
}
