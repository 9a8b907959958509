import type { LoggerService } from '@nestjs/common';
import type { Cluster, Redis } from 'ioredis';

/**
 * Why adaptive batching cannot run on `client`, or `undefined` when it can. It relies on two
 * ioredis internals (guarded by test/integration/connection/ioredis-internals.spec.ts): a
 * replaceable `sendCommand` that every command goes through, and `commandQueue`, the commands
 * awaiting replies.
 */
export function adaptiveBatchingUnsupported(client: Redis): string | undefined {
  const internals = client as unknown as {
    sendCommand?: unknown;
    commandQueue?: { length?: unknown };
  };
  if (typeof internals.sendCommand !== 'function') return 'Redis#sendCommand is not a function';
  if (typeof internals.commandQueue?.length !== 'number') {
    return 'Redis#commandQueue has no numeric length';
  }
  return undefined;
}

/**
 * Adaptive batching on the standalone command connection. A lone command is written at once. A
 * command sent while others await replies, or just after a chunk carrying several replies (the
 * callers those replies wake all send again in the same tick), corks the socket until the next
 * turn of the event loop, so the whole batch leaves in one write.
 *
 * Why not ioredis auto-pipelining for the batches: it allocates a Pipeline per batch and runs one
 * batch at a time, so a lone command written directly splits 64 callers into two groups that
 * alternate for good, doubling the writes. Measured in the `connection` and `lock` benchmarks.
 *
 * If this ioredis does not have the internals it reads, the client uses ioredis's own
 * auto-pipelining instead, and the reason is logged once.
 */
export function batchWhileBusy(client: Redis, logger: Pick<LoggerService, 'warn'>): void {
  const unsupported = adaptiveBatchingUnsupported(client);
  if (unsupported) {
    client.options.enableAutoPipelining = true;
    logger.warn(
      `Adaptive command batching is off (${unsupported}: this ioredis release is not one it was tested with); using ioredis's enableAutoPipelining instead`,
    );
    return;
  }
  let replyBurst = false;
  let corked = false;
  const endBurst = () => {
    replyBurst = false;
  };
  const onData = () => {
    if (!replyBurst && client.commandQueue.length > 1) {
      replyBurst = true;
      setImmediate(endBurst);
    }
  };
  client.on('connect', () => {
    // ioredis prepends its reply parser right after emitting 'connect'; prepending one microtask
    // later puts this listener first, while the queue still counts the chunk's commands.
    const stream = client.stream;
    queueMicrotask(() => stream.prependListener('data', onData));
  });
  const send = client.sendCommand;
  client.sendCommand = (command, stream) => {
    if (
      (replyBurst || client.commandQueue.length > 0) &&
      !corked &&
      stream === undefined &&
      client.status === 'ready'
    ) {
      corked = true;
      const socket = client.stream;
      socket.cork();
      setImmediate(() => {
        corked = false;
        socket.uncork();
      });
    }
    return send.call(client, command, stream);
  };
}

/**
 * {@link batchWhileBusy} on each node connection of `cluster` as it is made: each command is
 * still sent and redirected on its own. Why batching cannot run, if it cannot, is logged once,
 * not once per node.
 */
export function batchEachNodeWhileBusy(
  cluster: Cluster,
  logger: Pick<LoggerService, 'warn'>,
): void {
  let warned = false;
  const warnOnce = {
    warn(message: string) {
      if (warned) return;
      warned = true;
      logger.warn(message);
    },
  };
  cluster.on('+node', (node: Redis) => batchWhileBusy(node, warnOnce));
}
