import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, it } from '@jest/globals';
import { KeySpace } from '../../../lib/connection/key-space.js';
import { queueKeys } from '../../../lib/queue/queue.keys.js';
import { uniqueKeyPrefix } from '../../../lib/testing/index.js';
import { ChildApp } from '../../support/child-process.js';
import {
  describeWithNetworkNamespaces,
  NamespacedRedis,
  SplitNetwork,
} from '../../support/network-namespaces.js';
import { bounded } from './failover-workload.js';

/** Bound of each wait: generous, so that only what never happens fails the test. */
const WAIT_MS = 180_000;
const QUEUE = 'orders';

/**
 * Resolves once `condition()` holds, checked every 100 ms (each check may run redis-cli). A check
 * that fails counts as "not yet": Sentinel kills the clients of a master it demotes.
 */
async function until(what: string, condition: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + WAIT_MS;
  let lastError: unknown;
  for (;;) {
    const holds = await condition().catch((error: unknown) => {
      lastError = error;
      return false;
    });
    if (holds) return;
    if (performance.now() > deadline) {
      const failed = lastError ? ` (last check failed: ${(lastError as Error).message})` : '';
      throw new Error(`${what}: not within ${WAIT_MS / 1000} s${failed}`);
    }
    await sleep(100);
  }
}

/** What the producer reported, by phase: "before" the cut, or during the "partition". */
interface ProducerReport {
  /** Ids of the jobs whose add resolved. */
  acknowledged: Record<string, string[]>;
  /** Adds that failed, by error code ("untyped ..." for an error not the library's). */
  failed: Record<string, Record<string, number>>;
  /** Ids of the jobs whose add failed with ReplicaAckError: added, not confirmed. */
  unconfirmed: Record<string, string[]>;
}

interface PartitionFigures extends ProducerReport {
  /** Acknowledged jobs that the healed set no longer holds. */
  lost: Record<string, string[]>;
  /** Unconfirmed jobs that the healed set no longer holds. */
  unconfirmedGone: Record<string, string[]>;
  /** From the cut until the sentinels named R master, and until the producer stopped (ms). */
  promotedAfterMs: number;
  partitionMs: number;
}

const count = (counts: Record<string, number> = {}) =>
  Object.values(counts).reduce((sum, n) => sum + n, 0);

function describeFigures(what: string, figures: PartitionFigures): string {
  const { acknowledged, failed, lost, unconfirmed, unconfirmedGone } = figures;
  const during = [
    `${acknowledged.partition?.length ?? 0} adds acknowledged by the cut-off master M`,
    `${lost.partition?.length ?? 0} of them lost after the heal`,
    `${count(failed.partition)} failed ${JSON.stringify(failed.partition ?? {})}`,
    ...(unconfirmed.partition
      ? [`${unconfirmedGone.partition?.length ?? 0} of the unconfirmed jobs gone after the heal`]
      : []),
  ];
  const before = `${acknowledged.before?.length ?? 0} acknowledged, ${lost.before?.length ?? 0} lost, ${count(failed.before)} failed`;
  const partition = `${(figures.partitionMs / 1000).toFixed(1)} s of partition (R named master after ${(figures.promotedAfterMs / 1000).toFixed(1)} s)`;
  return `${what}: in ${partition}: ${during.join(', ')}; before the cut ${before}`;
}

/**
 * The split brain Sentinel cannot prevent: the master M and an app writing to it on one side
 * of a network partition, the replica R and the three sentinels on the other. The sentinels
 * promote R while M, still up, keeps acknowledging the app's writes; once the network heals they
 * turn M into a replica of R, and M's full resync throws those writes away. Then the same
 * with Redis' own guard on M (min-replicas-to-write) and with the module's replicaAcks. Each side
 * is a network namespace of its own (test/support/network-namespaces.ts), cut apart at a switch.
 */
describeWithNetworkNamespaces('a Sentinel master cut off from its replica and sentinels', () => {
  let network: SplitNetwork | undefined;
  let servers: NamespacedRedis[] = [];
  let producer: ChildApp | undefined;
  let master: NamespacedRedis;
  let replica: NamespacedRedis;
  let sentinels: NamespacedRedis[];

  beforeEach(async () => {
    network = await SplitNetwork.create();
    const { a, b } = network;
    const start = async (...args: Parameters<typeof NamespacedRedis.start>) => {
      const server = await NamespacedRedis.start(...args);
      servers.push(server);
      return server;
    };
    // Replicas sync at once: diskless sync otherwise waits 5 s for more replicas.
    const sync = ['--repl-diskless-sync-delay', '0'];
    master = await start(a, 6379, { args: sync });
    replica = await start(b, 6379, { args: [...sync, '--replicaof', a.address, '6379'] });
    sentinels = await Promise.all(
      [26379, 26380, 26381].map((port) =>
        start(b, port, {
          sentinel: true,
          config: [
            `sentinel monitor main ${a.address} 6379 2`,
            'sentinel down-after-milliseconds main 1000',
            'sentinel failover-timeout main 5000',
          ],
        }),
      ),
    );
    await until('the replica synced', async () =>
      (await replica.cli('INFO', 'replication')).includes('master_link_status:up'),
    );
    // Each sentinel knows the replica and the other sentinels before the cut.
    await until('the sentinels know each other and the replica', async () => {
      const views = await Promise.all(sentinels.map((s) => s.cli('SENTINEL', 'MASTER', 'main')));
      return views.every((v) => /num-other-sentinels\s+2/.test(v) && /num-slaves\s+1/.test(v));
    });
  });

  afterEach(async () => {
    try {
      await producer?.kill();
      await Promise.all(servers.map((server) => server.dispose()));
    } finally {
      producer = undefined;
      servers = [];
      await network?.dispose();
      network = undefined;
    }
  });

  /** The producer's latest count of settled adds. */
  const outcomesSoFar = (app: ChildApp) =>
    Number(app.messages.findLast((m) => m.type === 'progress')?.outcomes ?? 0);

  const replicationOffset = async (server: NamespacedRedis) =>
    /master_repl_offset:(\d+)/.exec(await server.cli('INFO', 'replication'))?.[1];

  /**
   * Runs the partition with the producer on M's side and returns its figures. The producer
   * pauses while R catches up and the network is cut, so that "partition" names exactly the
   * adds that started once M was cut off; it stops before the network heals, so that each add
   * met one topology.
   */
  async function partitionWhileWriting(env: NodeJS.ProcessEnv = {}): Promise<PartitionFigures> {
    const { a, b } = network!;
    const keyPrefix = uniqueKeyPrefix();
    const app = ChildApp.spawn('queue-producer', {
      networkNamespace: a.namespace,
      env: {
        SENTINELS: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
        SENTINEL_NAME: 'main',
        KEY_PREFIX: keyPrefix,
        QUEUE,
        ...env,
      },
    });
    producer = app;
    await bounded(
      'the producer adding jobs',
      app.waitFor('progress', (m) => Number(m.acknowledged) >= 200),
      WAIT_MS,
    );

    app.send({ type: 'pause' });
    await bounded('the producer paused', app.waitFor('paused'), WAIT_MS);
    await until(
      'the replica caught up',
      async () => (await replicationOffset(replica)) === (await replicationOffset(master)),
    );
    await network!.cut();
    const cutAt = performance.now();
    app.send({ type: 'phase', phase: 'partition' });
    await bounded('the producer resumed', app.waitFor('phase'), WAIT_MS);
    const promoted = `${b.address}\n${replica.port}`;
    await until('the sentinels promote the replica', async () => {
      const named = await Promise.all(
        sentinels.map((s) => s.cli('SENTINEL', 'get-master-addr-by-name', 'main')),
      );
      return named.every((address) => address === promoted);
    });
    // Two masters now: R is the sentinels' master, while M still takes the producer's adds.
    const promotedAfterMs = performance.now() - cutAt;
    const atPromotion = outcomesSoFar(app);
    await bounded(
      'more adds after the promotion',
      app.waitFor('progress', (m) => Number(m.outcomes) >= atPromotion + 20),
      WAIT_MS,
    );
    app.send({ type: 'stop' });
    const partitionMs = performance.now() - cutAt;
    const report = await bounded('the producer report', app.waitFor('report'), WAIT_MS);
    await app.kill();
    // A copy in this test's realm, for deepEqual.
    const produced = JSON.parse(JSON.stringify(report)) as ProducerReport;

    await network!.heal();
    await until('the old master resynced as a replica of the new one', async () => {
      const info = await master.cli('INFO', 'replication');
      return (
        info.includes('role:slave') &&
        info.includes(`master_host:${b.address}`) &&
        info.includes('master_link_status:up')
      );
    });
    const jobsKey = queueKeys(new KeySpace(keyPrefix), QUEUE).jobs;
    const kept = new Set((await replica.cli('HKEYS', jobsKey)).split('\n'));
    assert.equal(
      await master.cli('HLEN', jobsKey),
      String(kept.size),
      'the old master holds what the new one holds',
    );
    const gone = (byPhase: Record<string, string[]>) =>
      Object.fromEntries(
        Object.entries(byPhase).map(([phase, ids]) => [phase, ids.filter((id) => !kept.has(id))]),
      );
    return {
      ...produced,
      lost: gone(produced.acknowledged),
      unconfirmedGone: gone(produced.unconfirmed),
      promotedAfterMs,
      partitionMs,
    };
  }

  it('loses every job the cut-off master acknowledged once Sentinel makes it a replica', async () => {
    const figures = await partitionWhileWriting();
    console.info(describeFigures('Sentinel partition, no replica acknowledgements', figures));
    const acknowledged = figures.acknowledged.partition ?? [];
    assert.ok(acknowledged.length > 0, 'the cut-off master acknowledged adds');
    assert.deepEqual(figures.lost.partition, acknowledged, 'each of them lost');
    assert.deepEqual(figures.lost.before, [], 'nothing replicated before the cut lost');
    assert.deepEqual(figures.failed, {}, 'no add failed');
  });

  it("with the master's min-replicas-to-write, loses what it acknowledged until the replica counted as lagging", async () => {
    // Redis' own guard: refuse writes (NOREPLICAS) once no replica has acknowledged the
    // replication stream for more than min-replicas-max-lag seconds.
    await master.cli('CONFIG', 'SET', 'min-replicas-to-write', '1', 'min-replicas-max-lag', '1');
    const figures = await partitionWhileWriting();
    console.info(
      describeFigures(
        'Sentinel partition, min-replicas-to-write 1, min-replicas-max-lag 1',
        figures,
      ),
    );
    const acknowledged = figures.acknowledged.partition ?? [];
    assert.ok(acknowledged.length > 0, 'the cut-off master acknowledged adds within the lag');
    assert.deepEqual(figures.lost.partition, acknowledged, 'each of them lost');
    assert.ok((figures.failed.partition?.REDIS_COMMAND ?? 0) > 0, 'then refused adds (NOREPLICAS)');
  });

  it('with replicaAcks, fails the adds the cut-off master cannot have confirmed and loses none it acknowledged', async () => {
    const figures = await partitionWhileWriting({
      REPLICA_ACKS: JSON.stringify({ replicas: 1, timeoutMs: 200 }),
    });
    console.info(describeFigures('Sentinel partition, replicaAcks { replicas: 1 }', figures));
    assert.deepEqual(figures.acknowledged.partition ?? [], [], 'no add acknowledged once cut off');
    assert.deepEqual(Object.keys(figures.failed.partition ?? {}), ['REDIS_REPLICA_ACK']);
    assert.ok(count(figures.failed.partition) > 0);
    assert.deepEqual(Object.values(figures.lost).flat(), [], 'no acknowledged job lost');
  });
});
