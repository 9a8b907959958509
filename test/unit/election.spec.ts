import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Get } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import {
  DEFAULT_ELECTION_OPTIONS,
  InvalidArgumentError,
  InvalidKeyError,
  Leader,
  LeadershipLostError,
  MAX_ELECTION_LEASE_MS,
  MIN_ELECTION_LEASE_MS,
  OnElected,
  OnRevoked,
  RedisCoordinationError,
} from '../../lib/index.js';
import { resolveBackendOption, resolveJoinOptions } from '../../lib/election/election.options.js';
import { LockStore } from '../../lib/lock/lock.store.js';
import {
  LEADER_METADATA,
  ON_ELECTED_METADATA,
  ON_REVOKED_METADATA,
} from '../../lib/redis-coordination.constants.js';

class Decorated {
  @Leader('a')
  @Get('above')
  above() {}

  @Get('below')
  @Leader('a')
  @Leader('b', { backend: 'zookeeper' })
  below() {}

  @OnElected('a')
  @OnElected('b')
  @OnRevoked('a')
  terms() {}
}

describe('election options and decorators', () => {
  it('fills in the default lease and checks it', () => {
    assert.deepEqual(resolveJoinOptions({}), {
      backend: undefined,
      leaseMs: DEFAULT_ELECTION_OPTIONS.leaseMs,
    });
    assert.deepEqual(resolveJoinOptions({ leaseMs: MIN_ELECTION_LEASE_MS }), {
      backend: undefined,
      leaseMs: MIN_ELECTION_LEASE_MS,
    });
    for (const leaseMs of [MIN_ELECTION_LEASE_MS - 1, MAX_ELECTION_LEASE_MS + 1, 1.5, null, '1']) {
      assert.throws(() => resolveJoinOptions({ leaseMs }), InvalidArgumentError, String(leaseMs));
    }
    assert.throws(() => resolveJoinOptions({ leasems: 1000 }), /did you mean "leaseMs"/);
    assert.throws(() => resolveJoinOptions(null), InvalidArgumentError);
  });

  it('checks the backend of join(), observe() and @Leader()', () => {
    assert.equal(resolveJoinOptions({ backend: 'zookeeper' }).backend, 'zookeeper');
    assert.equal(resolveBackendOption('observe options', { backend: 'redis' }), 'redis');
    assert.throws(() => resolveJoinOptions({ backend: 'etcd' }), /expected 'redis' or 'zookeeper'/);
    assert.throws(() => Leader('a', { backend: 'etcd' as never }), InvalidArgumentError);
    assert.throws(() => Leader('a', { bakend: 'redis' } as never), /did you mean "backend"/);
  });

  it('refuses a bad election name when the class is defined', () => {
    for (const decorator of [Leader, OnElected, OnRevoked]) {
      assert.throws(() => decorator(''), InvalidKeyError);
      assert.throws(() => decorator(7 as never), InvalidKeyError);
    }
  });

  it('keeps other decorators’ metadata in any order, and stacks', () => {
    for (const method of [Decorated.prototype.above, Decorated.prototype.below]) {
      assert.equal(Reflect.getMetadata(METHOD_METADATA, method), 0 /* RequestMethod.GET */);
      assert.ok(Reflect.getMetadata(PATH_METADATA, method));
    }
    assert.deepEqual(Reflect.getMetadata(LEADER_METADATA, Decorated.prototype.above), [
      { name: 'a' },
    ]);
    assert.deepEqual(Reflect.getMetadata(LEADER_METADATA, Decorated.prototype.below), [
      { name: 'b', backend: 'zookeeper' },
      { name: 'a' },
    ]);
    assert.deepEqual(Reflect.getMetadata(ON_ELECTED_METADATA, Decorated.prototype.terms), [
      { name: 'b' },
      { name: 'a' },
    ]);
    assert.deepEqual(Reflect.getMetadata(ON_REVOKED_METADATA, Decorated.prototype.terms), [
      { name: 'a' },
    ]);
  });

  it('LeadershipLostError names the election, the term and why', () => {
    const error = new LeadershipLostError('sweeper', 42, 'its lease ran out');
    assert.ok(error instanceof RedisCoordinationError);
    assert.equal(error.code, 'LEADERSHIP_LOST');
    assert.equal(
      error.message,
      'Leadership of election "sweeper" (term 42) lost: its lease ran out',
    );
    assert.equal(
      new LeadershipLostError('x', undefined, 'no').message,
      'Leadership of election "x" lost: no',
    );
  });
});

describe('LockStore.readOwner', () => {
  it('reads the holder’s instance and fencing token from an owner value', () => {
    assert.deepEqual(LockStore.readOwner('iAbC_-1:2a#1700000000.5'), {
      instance: 'iAbC_-1',
      fence: 1_700_000_000_000_005,
    });
    assert.deepEqual(LockStore.readOwner('h1000:iX:0#1700000000.123456'), {
      instance: 'iX',
      fence: 1_700_000_000_123_456,
    });
    for (const value of ['', 'iX:0', 'iX#1.2', 'iX:0#1.2.3', 'iX:0#a.b']) {
      assert.equal(LockStore.readOwner(value), undefined, value);
    }
  });
});
