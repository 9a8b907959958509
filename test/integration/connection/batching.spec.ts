import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { it } from '@jest/globals';
import {
  RedisCoordinationModule,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

/** Counts the writes the command connection's socket hands to the OS (one per flush). */
function countWrites(socket: Socket): { readonly count: number } {
  const counter = { count: 0 };
  const internals = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = internals[method].bind(socket);
    internals[method] = (...args: unknown[]) => {
      counter.count++;
      original(...args);
    };
  }
  return counter;
}

describeWithRedisServer('adaptive batching on the command connection', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  async function commandConnection(options: RedisCoordinationModuleOptions = {}) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: server.url,
        keyPrefix: uniqueKeyPrefix(),
        ...options,
      }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    // A standalone connection (adaptive batching is for standalone; a cluster pipelines per node).
    const client = connections.command as Redis;
    return { client, key: connections.keys.key('test', 'test key', 'batching', 'n') };
  }

  it('writes a lone command at once, in its own write', async () => {
    const { client, key } = await commandConnection();
    const writes = countWrites(client.stream as Socket);
    for (let i = 1; i <= 20; i++) {
      const reply = client.incr(key);
      assert.equal(writes.count, i, `command ${i} was not written synchronously`);
      assert.equal(await reply, i);
    }
  });

  it('folds commands sent while others are in flight into one write, replies in order', async () => {
    const { client, key } = await commandConnection();
    const writes = countWrites(client.stream as Socket);
    const replies = await Promise.all(Array.from({ length: 200 }, () => client.incr(key)));
    assert.deepEqual(
      replies,
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    // The first goes out alone (nothing was in flight); the other 199 leave together.
    assert.equal(writes.count, 2);
  });

  it('batches the callers woken by a burst of replies, as one write per round', async () => {
    const { client, key } = await commandConnection();
    await Promise.all(Array.from({ length: 8 }, () => client.incr(key))); // warm the connection
    const writes = countWrites(client.stream as Socket);
    const rounds = 50;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let round = 0; round < rounds; round++) await client.incr(key);
      }),
    );
    assert.equal(Number(await client.get(key)), 8 + 8 * rounds);
    // 8 loops in lockstep: each round's replies wake all 8 loops, whose next commands share a
    // write. Without the burst rule the first loop of each round would write alone (2 per round).
    assert.ok(writes.count <= rounds + 2, `${writes.count} writes for ${rounds} rounds`);
  });

  it('keeps batching on the new socket after Redis restarts', async () => {
    const { client, key } = await commandConnection();
    await server.restart();
    assert.equal(await client.incr(key), 1); // waits for the reconnection
    // Replied after the module's own look at the server it reconnected to (INFO memory), which
    // ioredis sends after its offline queue. Both replies can arrive in one chunk, a reply burst
    // whose callers' commands are batched; the burst ends at the next turn of the event loop.
    await client.ping();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(client.commandQueue.length, 0, 'nothing in flight when the burst starts');
    const writes = countWrites(client.stream as Socket);
    const replies = await Promise.all(Array.from({ length: 100 }, () => client.incr(key)));
    assert.equal(replies.at(-1), 101);
    assert.equal(writes.count, 2);
  });

  it('loses no corked command when Redis dies: all are resent and settle in order', async () => {
    const { client, key } = await commandConnection();
    // The first goes out at once, the other 99 wait in the corked socket for the next turn.
    const replies = Array.from({ length: 100 }, () => client.incr(key));
    await server.kill();
    await server.restart();
    const settled = await Promise.allSettled(replies);
    const values = settled.map((outcome) => {
      assert.equal(outcome.status, 'fulfilled', 'resent after the reconnect, not failed');
      return (outcome as PromiseFulfilledResult<number>).value;
    });
    // Redis restarted empty: what ran before the kill counted from 1 there, the rest (resent)
    // counts from 1 again on the new server, in the order sent.
    const first = values.lastIndexOf(1);
    assert.ok(first >= 0, `no reply counted from the restarted server: ${values.join(',')}`);
    assert.deepEqual(
      values.slice(first),
      Array.from({ length: values.length - first }, (_, i) => i + 1),
    );
    assert.equal(Number(await client.get(key)), values.at(-1));
  });

  it('autoPipelining: false writes every command by itself', async () => {
    const { client, key } = await commandConnection({ autoPipelining: false });
    const writes = countWrites(client.stream as Socket);
    await Promise.all(Array.from({ length: 50 }, () => client.incr(key)));
    assert.equal(writes.count, 50);
  });
});
