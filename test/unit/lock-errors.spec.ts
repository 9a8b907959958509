import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { IntrinsicException } from '@nestjs/common';
import {
  Lock,
  LockBusyError,
  LockLostError,
  LockTimeoutError,
  RedisCoordinationError,
} from '../../lib/index.js';

describe('lock errors and disposal', () => {
  it('makes busy errors look like an http-errors 409 for Nest’s exception filter', () => {
    const busy = new LockTimeoutError(['orders:42'], 250);
    assert.ok(busy instanceof LockBusyError);
    assert.ok(busy instanceof RedisCoordinationError);
    assert.equal(busy.name, 'LockTimeoutError');
    assert.equal(busy.code, 'LOCK_TIMEOUT');
    assert.deepEqual([busy.status, busy.statusCode, busy.expose], [409, 409, true]);
    assert.match(busy.message, /"orders:42".*250 ms.*raise waitMs/);
    assert.equal(new LockBusyError(['a']).code, 'LOCK_BUSY');
    // Nest's exception filter does not log an IntrinsicException: a busy lock is no server error.
    assert.ok(busy instanceof IntrinsicException);
    assert.ok(!(new Error('x') instanceof RedisCoordinationError));
    assert.ok(!(busy instanceof LockLostError));
  });

  it('keeps "lost" apart from "busy" and names many resources briefly', () => {
    const lost = new LockLostError(['a', 'b', 'c', 'd', 'e', 'f', 'g'], 'its lease ran out');
    assert.ok(!(lost instanceof LockBusyError));
    assert.equal(lost.code, 'LOCK_LOST');
    assert.match(lost.message, /"a", "b", "c", "d", "e" and 2 more was lost: its lease ran out/);
  });

  it('supports `await using` on this Node (Symbol.asyncDispose)', () => {
    assert.equal(typeof Symbol.asyncDispose, 'symbol');
    assert.equal(typeof Lock.prototype[Symbol.asyncDispose], 'function');
  });
});
