import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from '@jest/globals';
import { RedisCommandError, RedisConnectionError, RedisOutOfMemoryError } from '../../lib/index.js';
import { isConnectionFailure } from '../../lib/connection/connection.errors.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';

const TARGET = 'redis://app:***@db:6379';
const SECRET = 's3cret';

/** `RedisConnections.failure`, the one mapping every store uses, on a stand-in `this`. */
function failure(message: string): unknown {
  const connections = {
    target: TARGET,
    redact: (text: string) => text.split(SECRET).join('***'),
  } as unknown as RedisConnections;
  // As ioredis gives it: a reply error carrying the command and its arguments.
  const error = Object.assign(new Error(message), {
    name: 'ReplyError',
    command: { name: 'evalsha', args: ['k', SECRET] },
  });
  return RedisConnections.prototype.failure.call(connections, error, 'add a job');
}

/** What a script's plumbing looks like: its SHA, its `f_<sha>` name, its line. */
const SCRIPT_PLUMBING = /user_script|f_[0-9a-f]{40}|[0-9a-f]{40}/;

function assertNoPlumbing(error: unknown): void {
  const shown = inspect(error, { depth: 10, showHidden: true });
  assert.doesNotMatch(shown, SCRIPT_PLUMBING, shown);
  assert.ok(!shown.includes(SECRET), shown);
}

const SHA = '6454aba5d57249edb4c387825370aaa83c7cca35';

describe('RedisConnections.failure', () => {
  // Texts as Redis replies them, and as ioredis's Cluster gives up after following redirections
  // (node_modules/ioredis/built/cluster/index.js: `"Too many Cluster redirections. Last error: " + error`).
  const failingOver = [
    'MOVED 1612 127.0.0.1:7400',
    'ASK 1612 127.0.0.1:7401',
    'Too many Cluster redirections. Last error: ReplyError: MOVED 1612 127.0.0.1:7400',
    'TRYAGAIN Multiple keys request during rehashing of slot',
    "READONLY You can't write against a read only replica.",
    'CLUSTERDOWN The cluster is down',
    'CLUSTERDOWN Hash slot not served',
    'LOADING Redis is loading the dataset in memory',
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    'UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)',
    // A write inside a script on a master just demoted: Redis 7, then Redis 6.
    `READONLY You can't write against a read only replica. script: ${SHA}, on @user_script:12.`,
    `ERR Error running script (call to f_${SHA}): @user_script:12: @user_script: 12: -READONLY You can't write against a read only replica.`,
  ];
  for (const reply of failingOver) {
    it(`maps "${reply}" to a RedisConnectionError naming the action and the failover`, () => {
      const error = failure(reply);
      assert.ok(error instanceof RedisConnectionError, inspect(error));
      assert.match(
        error.message,
        /^Could not add a job: Redis is failing over, resharding or restarting \(/,
      );
      assert.ok(error.message.endsWith(`(Redis at ${TARGET})`), error.message);
      assert.ok(isConnectionFailure(new Error(reply)), 'a cache would not skip Redis for it');
      assertNoPlumbing(error);
    });
  }

  it('keeps a reply that only mentions such a word a RedisCommandError', () => {
    for (const reply of [
      "ERR unknown command 'ASKING2', with args beginning with: ",
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ]) {
      const error = failure(reply);
      assert.ok(error instanceof RedisCommandError, inspect(error));
      assert.ok(!(error instanceof RedisOutOfMemoryError));
      assert.equal(isConnectionFailure(new Error(reply)), false, reply);
    }
  });

  const OOM = "OOM command not allowed when used memory > 'maxmemory'.";
  const outOfMemory = {
    'a command': OOM,
    'a script on Redis 7': `${OOM} script: ${SHA}, on @user_script:1.`,
    // As Redis 6 sends it, trailing blanks included.
    'a script on Redis 6': `ERR Error running script (call to f_${SHA}): @user_script:41: @user_script: 41: -${OOM}   `,
  };
  for (const [from, reply] of Object.entries(outOfMemory)) {
    it(`maps OOM from ${from} to RedisOutOfMemoryError carrying the reply alone`, () => {
      const error = failure(reply);
      assert.ok(error instanceof RedisOutOfMemoryError, inspect(error));
      assert.ok(error instanceof RedisCommandError, 'still caught as a refused command');
      assert.equal(error.code, 'REDIS_OUT_OF_MEMORY');
      assert.equal(error.name, 'RedisOutOfMemoryError');
      assert.equal(
        error.message,
        `Could not add a job: Redis is out of memory and refused the write, which changed nothing (${OOM}); free memory or raise maxmemory, then retry`,
      );
      assert.equal((error.cause as Error).message, OOM);
      assert.equal(isConnectionFailure(new Error(reply)), false);
      assertNoPlumbing(error);
    });
  }

  const fromScripts = {
    // A command's error reply inside a script.
    'Redis 7, a command': [
      `WRONGTYPE Operation against a key holding the wrong kind of value script: ${SHA}, on @user_script:12.`,
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ],
    'Redis 6, a command': [
      `ERR Error running script (call to f_${SHA}): @user_script:5: WRONGTYPE Operation against a key holding the wrong kind of value`,
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    ],
    'Redis 7, a command refused with ERR': [
      `ERR value is not an integer or out of range script: ${SHA}, on @user_script:1.`,
      'ERR value is not an integer or out of range',
    ],
    // An error of the Lua itself: it keeps its ERR.
    'Redis 7, the Lua': [
      `ERR user_script:1: attempt to compare number with nil script: ${SHA}, on @user_script:1.`,
      'ERR attempt to compare number with nil',
    ],
    'Redis 6, the Lua': [
      `ERR Error running script (call to f_${SHA}): @user_script:1: user_script:1: attempt to compare nil with number`,
      'ERR attempt to compare nil with number',
    ],
    'Redis 6, a bad call': [
      `ERR Error running script (call to f_${SHA}): @user_script:1: @user_script: 1: Wrong number of args calling Redis command From Lua script`,
      'ERR Wrong number of args calling Redis command From Lua script',
    ],
  };
  for (const [from, [reply, expected]] of Object.entries(fromScripts)) {
    it(`gives an error raised in a script (${from}) as Redis' reply alone`, () => {
      const error = failure(reply!);
      assert.ok(error instanceof RedisCommandError, inspect(error));
      assert.ok(!(error instanceof RedisOutOfMemoryError));
      assert.equal(error.message, `Could not add a job: Redis refused it (${expected})`);
      assert.equal((error.cause as Error).message, expected);
      assertNoPlumbing(error);
    });
  }
});
