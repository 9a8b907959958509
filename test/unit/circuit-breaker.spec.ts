import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { describe, it } from '@jest/globals';
import { RedisCommandError, RedisConnectionError } from '../../lib/index.js';
import { CircuitBreaker } from '../../lib/connection/circuit-breaker.js';
import { RedisConnections } from '../../lib/connection/redis-connections.js';

/** A command connection that is only a status and its events, with the real error mapping. */
function fakeConnections(status = 'ready') {
  const command = Object.assign(new EventEmitter(), { status });
  const connections = {
    command,
    target: 'redis://app:***@db:6379',
    redact: (text: string) => text.replace('s3cret', '***'),
    failure: RedisConnections.prototype.failure,
  };
  return connections as unknown as Pick<RedisConnections, 'command' | 'target' | 'failure'> & {
    command: typeof command;
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CircuitBreaker', () => {
  const settings = { timeoutMs: 40, retryAfterMs: 60_000 };

  it('sends nothing while the command connection is not ready', async () => {
    const connections = fakeConnections('reconnecting');
    const breaker = new CircuitBreaker(connections, settings);
    let sent = false;
    await assert.rejects(
      breaker.call('read a thing', async () => (sent = true)),
      (error: unknown) =>
        error instanceof RedisConnectionError &&
        /Could not read a thing: the command connection is not ready/.test(error.message) &&
        error.message.includes('redis://app:***@db:6379'),
    );
    assert.equal(sent, false);
  });

  it('gives up a call without a reply, opens on trip, and closes on the late reply', async () => {
    const breaker = new CircuitBreaker(fakeConnections(), settings);
    const reply = deferred<string>();
    const error = await breaker.call('read a thing', () => reply.promise).catch((e: unknown) => e);
    assert.ok(error instanceof RedisConnectionError);
    assert.match(error.message, /Could not read a thing: no reply within 40 ms/);
    assert.equal(breaker.isOpen, false, 'the caller decides whether to open it');
    assert.equal(breaker.trip(error), true);
    assert.equal(breaker.isOpen, true);
    reply.resolve('late');
    await reply.promise;
    assert.equal(breaker.isOpen, false, 'Redis answered: closed before retryAfterMs');
    breaker.close();
  });

  it('reports a connection that failed under a call as RedisConnectionError, a refused command as RedisCommandError', async () => {
    const breaker = new CircuitBreaker(fakeConnections(), settings);
    await assert.rejects(
      breaker.call('read a thing', () =>
        Promise.reject(new Error('Connection is closed. redis://app:s3cret@db')),
      ),
      (error: unknown) =>
        error instanceof RedisConnectionError &&
        /Could not read a thing: Redis unreachable \(Connection is closed/.test(error.message) &&
        !error.message.includes('s3cret'),
    );
    const wrong = Object.assign(new Error('WRONGTYPE Operation against a key'), {
      command: { name: 'get', args: ['s3cret'] },
    });
    await assert.rejects(
      breaker.call('read a thing', () => Promise.reject(wrong)),
      (error: unknown) =>
        error instanceof RedisCommandError &&
        /Could not read a thing: Redis refused it \(WRONGTYPE/.test(error.message) &&
        !inspect(error, { depth: 10, showHidden: true }).includes('s3cret'),
    );
  });

  it("closes when the connection turns ready; a command's own error does not open it", () => {
    const connections = fakeConnections();
    const breaker = new CircuitBreaker(connections, settings);
    assert.equal(breaker.trip(new Error('WRONGTYPE Operation against a key')), false);
    assert.equal(breaker.isOpen, false);
    assert.equal(breaker.trip(new Error('Connection is closed.')), true);
    connections.command.emit('ready');
    assert.equal(breaker.isOpen, false);
  });

  it('settles through the continuations in the same promise', async () => {
    const breaker = new CircuitBreaker(fakeConnections(), settings);
    assert.equal(
      await breaker.call(
        'read',
        async () => 2,
        (value) => value * 21,
      ),
      42,
    );
    assert.equal(
      await breaker.call(
        'read',
        () => Promise.reject(new Error('refused')),
        () => 'value',
        (error) => `fallback: ${(error as Error).message}`,
      ),
      'fallback: Could not read: Redis refused it (refused)',
    );
    await assert.rejects(
      breaker.call(
        'read',
        async () => 1,
        () => {
          throw new Error('continuation failed');
        },
      ),
      /continuation failed/,
    );
    breaker.close();
  });
});
