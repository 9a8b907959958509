import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { ZooKeeperConnectionError } from '../../lib/index.js';
import { NodeZooKeeperClientSession } from '../../lib/zookeeper/node-zookeeper-client.session.js';

/** A session over a stub client whose every call fails with the client error `code`. */
function sessionFailingWith(code: number, name: string) {
  const failure = Object.assign(new Error(name), { getCode: () => code, getName: () => name });
  const fail = (...args: unknown[]) => (args.at(-1) as (error: Error) => void)(failure);
  const zk = { ACL: class {}, Id: class {}, Permission: { ALL: 31 } };
  return new NodeZooKeeperClientSession({
    zk: zk as never,
    client: { setData: fail, getData: fail, exists: fail } as never,
    ensemble: 'zk:2181',
    digest: undefined,
    callTimeoutMs: 60_000,
    onReply: () => undefined,
  });
}

describe('ZooKeeper session errors', () => {
  it('say a write that lost its reply may still be applied, and a read or an expired session not', async () => {
    const lost = sessionFailingWith(-4, 'CONNECTION_LOSS');
    const write = await lost.setData('/a', Buffer.from('x'), 1).catch((error: unknown) => error);
    assert.ok(write instanceof ZooKeeperConnectionError);
    assert.match(write.message, /Could not write \/a: CONNECTION_LOSS; it may still be applied/);
    const read = await lost.exists('/a').catch((error: unknown) => error);
    assert.ok(read instanceof ZooKeeperConnectionError);
    assert.doesNotMatch(read.message, /may still/);
    const expired = sessionFailingWith(-112, 'SESSION_EXPIRED');
    const refused = await expired.setData('/a', Buffer.from('x'), 1).catch((e: unknown) => e);
    assert.doesNotMatch((refused as Error).message, /may still/);
  });
});
