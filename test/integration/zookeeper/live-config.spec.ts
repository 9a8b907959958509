import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import zk from 'node-zookeeper-client';
import { beforeEach, it } from '@jest/globals';
import {
  ConfigReadOnlyError,
  ConfigVersionConflictError,
  InvalidArgumentError,
  InvalidOptionsError,
  LiveConfigService,
  RedisCoordinationModule,
  type LiveConfigOptions,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { configKeys } from '../../../lib/config/live-config.keys.js';
import { nodeName } from '../../../lib/zookeeper/zookeeper.paths.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

/** Bounded only so that what never happens fails the test instead of hanging it. */
const bounded = <T>(what: string, work: Promise<T>) =>
  within(work, 30_000, () => new Error(`${what}: not within 30 s`));

/** A raw client, as an operator's zkCli would be: writes around the library. */
async function rawClient(connectString: string): Promise<zk.Client> {
  const client = zk.createClient(connectString);
  const connected = new Promise<void>((resolve) => client.once('connected', () => resolve()));
  client.connect();
  await connected;
  return client;
}

describeWithZooKeeper('LiveConfigService on ZooKeeper', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();
  let root: string;
  let keyPrefix: string;
  beforeEach(() => {
    root = `/t${randomBytes(6).toString('hex')}`;
    keyPrefix = uniqueKeyPrefix();
  });

  /** An app instance on the test's root and key prefix; its config on `backend`. */
  async function instance(
    backend: LiveConfigOptions['backend'] = 'zookeeper',
    options: LiveConfigOptions = { keys: ['flags'] },
  ) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        keyPrefix,
        zookeeper: { connectString: zookeeper.connectString, root },
        liveConfig: { ...options, backend },
      }),
    ]);
    return {
      config: moduleRef.get(LiveConfigService),
      connections: moduleRef.get(RedisConnections),
    };
  }

  const nodeOf = (name: string) => `${root}/config/${nodeName(name)}`;

  /** The Redis cache of `name`: its hash's fields. */
  const cached = (connections: RedisConnections, name: string) =>
    connections.command.hgetall(configKeys(connections.keys, name).entry);

  it('keeps the value in a znode whose version is the key version, seen by every instance and cached in Redis for those that read it there', async () => {
    const [writer, other] = [await instance(), await instance()];
    const reader = await instance('redis');
    assert.equal(writer.config.get('flags'), undefined);
    assert.equal(writer.config.entry('flags').version, 0);

    assert.equal(await writer.config.set('flags', { checkout: true }), 1);
    assert.equal(await writer.config.set('flags', { checkout: false }), 2);
    await bounded(
      'every instance sees version 2',
      waitUntil(() => [other, reader].every((i) => i.config.entry('flags').version === 2)),
    );
    for (const { config } of [writer, other, reader]) {
      assert.deepEqual(config.entry('flags'), { value: { checkout: false }, version: 2 });
    }
    const client = await rawClient(zookeeper.connectString);
    try {
      const [data, stat] = await new Promise<[Buffer, zk.Stat]>((resolve, reject) =>
        client.getData(nodeOf('flags'), (error, got, gotStat) =>
          error ? reject(error) : resolve([got, gotStat]),
        ),
      );
      assert.equal(stat.version, 2);
      assert.deepEqual(JSON.parse(data.toString()), { checkout: false });
    } finally {
      client.close();
    }
    assert.deepEqual(await cached(reader.connections, 'flags'), {
      version: '2',
      value: JSON.stringify({ checkout: false }),
      record: 'zookeeper',
    });
  });

  it('of concurrent compare-and-set writes at one version, exactly one wins, round after round', async () => {
    const writers = await Promise.all(Array.from({ length: 4 }, () => instance()));
    for (let version = 0; version < 5; version++) {
      const outcomes = await Promise.all(
        writers.flatMap(({ config }, w) =>
          [0, 1].map((attempt) =>
            config
              .set('flags', { by: `${w}.${attempt}` }, { expectVersion: version })
              .catch((error: unknown) => error),
          ),
        ),
      );
      const wins = outcomes.filter((outcome) => typeof outcome === 'number');
      assert.deepEqual(wins, [version + 1], `round ${version}: ${outcomes.map(String).join(', ')}`);
      for (const outcome of outcomes) {
        if (typeof outcome === 'number') continue;
        assert.ok(outcome instanceof ConfigVersionConflictError, String(outcome));
        assert.equal(outcome.currentVersion, version + 1);
      }
      await bounded(
        `every writer sees version ${version + 1}`,
        waitUntil(() => writers.every((w) => w.config.entry('flags').version === version + 1)),
      );
    }
  });

  it('sees every change made around the library, one after another, and caches each in Redis', async () => {
    const watcher = await instance();
    const reader = await instance('redis');
    const seen: number[] = [];
    const subscription = watcher.config.observe('flags').subscribe((change) => {
      seen.push(change.version);
    });
    const client = await rawClient(zookeeper.connectString);
    try {
      await new Promise<void>((resolve, reject) =>
        client.mkdirp(nodeOf('flags'), (error) => (error ? reject(error) : resolve())),
      );
      for (let step = 1; step <= 5; step++) {
        await new Promise<void>((resolve, reject) =>
          client.setData(nodeOf('flags'), Buffer.from(JSON.stringify({ step })), -1, (error) =>
            error ? reject(error) : resolve(),
          ),
        );
        // One change at a time: each must be seen, so the watch was set again after each.
        await bounded(
          `step ${step} seen`,
          waitUntil(() => watcher.config.entry('flags').version === step),
        );
        assert.deepEqual(watcher.config.get('flags'), { step });
      }
    } finally {
      client.close();
    }
    await bounded(
      'the Redis reader sees the last change',
      waitUntil(() => reader.config.entry('flags').version === 5),
    );
    assert.deepEqual(reader.config.get('flags'), { step: 5 });
    subscription.unsubscribe();
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5]);
  });

  it('refuses a write through Redis to a key kept in ZooKeeper, and keeps the cache intact', async () => {
    const writer = await instance();
    const reader = await instance('redis');
    await writer.config.set('flags', { checkout: true });
    await bounded(
      'cached',
      waitUntil(() => reader.config.entry('flags').version === 1),
    );
    const refused = await reader.config.set('flags', { checkout: false }).catch((e: unknown) => e);
    assert.ok(refused instanceof ConfigReadOnlyError, String(refused));
    assert.match(refused.message, /liveConfig: \{ backend: 'zookeeper' \}/);
    assert.deepEqual(await cached(reader.connections, 'flags'), {
      version: '1',
      value: JSON.stringify({ checkout: true }),
      record: 'zookeeper',
    });
    assert.deepEqual(writer.config.entry('flags'), { value: { checkout: true }, version: 1 });
  });

  it('refuses a value larger than a znode holds, writing nothing', async () => {
    const { config } = await instance();
    const error = await config.set('flags', 'x'.repeat(1_020_000)).catch((e: unknown) => e);
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.match(error.message, /ZooKeeper node/);
    assert.equal(await config.set('flags', 'small', { expectVersion: 0 }), 1);
  });

  it("refuses liveConfig.backend 'zookeeper' without the zookeeper option, and unknown backends", async () => {
    for (const [liveConfig, problem] of [
      [
        { backend: 'zookeeper' },
        /liveConfig\.backend 'zookeeper' needs the module option zookeeper/,
      ],
      [{ backend: 'etcd' }, /liveConfig: .*backend/],
    ] as const) {
      const error = await startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          liveConfig: liveConfig as LiveConfigOptions,
        }),
      ]).catch((e: unknown) => e);
      assert.ok(error instanceof InvalidOptionsError, String(error));
      assert.match(error.message, problem);
    }
  });
});
