import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as zk from 'node-zookeeper-client';
import { afterEach, beforeEach, it } from '@jest/globals';
import { NodeZooKeeperClientSession } from '../../../lib/zookeeper/node-zookeeper-client.session.js';
import { useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

/** The session adapter over a raw client, on the test's server. */
describeWithZooKeeper('the ZooKeeper session adapter', () => {
  const zookeeper = useTestZooKeeper();
  let client: zk.Client;
  let session: NodeZooKeeperClientSession;
  /** When each replied call was sent, as the adapter reports it. */
  let replies: number[];
  beforeEach(async () => {
    replies = [];
    client = zk.createClient(zookeeper.connectString);
    const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
    client.connect();
    await connected;
    session = new NodeZooKeeperClientSession({
      zk,
      client,
      ensemble: zookeeper.connectString,
      digest: undefined,
      callTimeoutMs: 30_000,
      onReply: (sentAt) => replies.push(sentAt),
    });
  });
  afterEach(() => {
    zookeeper.server.resume();
    client.close();
  });

  it('reports a reply as heard when its call was sent: one held up by a pause is no news from after it', async () => {
    zookeeper.server.pause();
    const sendingAt = performance.now();
    const reply = session.exists('/');
    const sentBy = performance.now();
    await sleep(300); // the server is stopped: the reply cannot come meanwhile
    zookeeper.server.resume();
    assert.ok(await reply);
    assert.equal(replies.length, 1);
    // The session clock may count the ensemble heard at send time, never at the late reply.
    assert.ok(
      replies[0]! >= sendingAt && replies[0]! <= sentBy,
      `reported ${replies[0]! - sendingAt} ms after sending`,
    );
  });

  it('keeps one watch function set twice on a node as one watch: it fires once', async () => {
    const path = `/w${randomBytes(6).toString('hex')}`;
    await session.create(path, undefined, 'persistent');
    let fired = 0;
    const watch = () => fired++;
    await session.exists(path, watch);
    await session.getData(path, watch);
    await session.exists(path, watch);
    assert.notEqual(await session.setData(path, Buffer.from('x'), -1), 'no-node');
    await waitUntil(() => fired > 0);
    // A round trip after the change: any second notification of it has arrived by its reply.
    await session.exists(path);
    assert.equal(fired, 1);
    await session.remove(path);
  });
});
