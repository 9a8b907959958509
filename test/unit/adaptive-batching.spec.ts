import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { type Cluster, Redis } from 'ioredis';
import {
  adaptiveBatchingUnsupported,
  batchEachNodeWhileBusy,
  batchWhileBusy,
} from '../../lib/connection/adaptive-batching.js';

/** A logger that keeps what it was told. */
function recordingLogger() {
  const warnings: string[] = [];
  const logger = { log() {}, error() {}, warn: (message: string) => warnings.push(message) };
  return { logger, warnings };
}

describe('adaptive batching self-check', () => {
  it('finds the internals it needs on this ioredis', () => {
    const client = new Redis({ lazyConnect: true });
    assert.equal(adaptiveBatchingUnsupported(client), undefined);
    const { logger, warnings } = recordingLogger();
    const original = client.sendCommand;
    batchWhileBusy(client, logger);
    assert.notEqual(client.sendCommand, original, 'sendCommand is wrapped');
    assert.ok(!client.options.enableAutoPipelining);
    assert.deepEqual(warnings, []);
    client.disconnect();
  });

  it('falls back to ioredis auto-pipelining, saying why, when an internal is missing', () => {
    for (const [broken, reason] of [
      [{ sendCommand: undefined, commandQueue: { length: 0 } }, /sendCommand is not a function/],
      [{ sendCommand: () => undefined, commandQueue: undefined }, /commandQueue has no numeric/],
    ] as const) {
      const client = { options: { enableAutoPipelining: false }, on() {}, ...broken };
      const { logger, warnings } = recordingLogger();
      batchWhileBusy(client as unknown as Redis, logger);
      assert.equal(client.options.enableAutoPipelining, true);
      assert.equal(client.sendCommand, broken.sendCommand, 'sendCommand left alone');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, reason);
      assert.match(warnings[0]!, /using ioredis's enableAutoPipelining instead/);
    }
  });

  it("on a Cluster, batches each node's connection and says once why it cannot", () => {
    const cluster = new EventEmitter();
    const { logger, warnings } = recordingLogger();
    batchEachNodeWhileBusy(cluster as unknown as Cluster, logger);
    const nodes = [0, 1, 2].map(() => ({
      options: { enableAutoPipelining: false },
      on() {},
      sendCommand: undefined,
      commandQueue: { length: 0 },
    }));
    for (const node of nodes) cluster.emit('+node', node);
    assert.deepEqual(
      nodes.map((node) => node.options.enableAutoPipelining),
      [true, true, true],
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /sendCommand is not a function/);
  });
});
