import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { beforeEach, it } from '@jest/globals';
import type * as Zk from 'node-zookeeper-client';
import { firstValueFrom } from 'rxjs';
import {
  InvalidArgumentError,
  InvalidOptionsError,
  RedisCoordinationModule,
  ServiceRegistry,
  type RegistryOptions,
  type ServiceInstance,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import type { SessionEvent } from '../../../lib/zookeeper/zookeeper.connection.js';
import { ZooKeeperConnection } from '../../../lib/zookeeper/zookeeper.connection.js';
import { nodeName } from '../../../lib/zookeeper/zookeeper.paths.js';
import { closeModule, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { useFollow } from '../../support/follow.js';
import { closeModulesAfterEach, useTestRedis, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';

const SESSION_TIMEOUT_MS = 3000;

/** Bounded only so that what never happens fails the test instead of hanging it. */
const bounded = <T>(what: string, work: Promise<T>) =>
  within(work, 30_000, () => new Error(`${what}: not within 30 s`));

const idsOf = (list: readonly ServiceInstance[]) => list.map((instance) => instance.id).sort();

describeWithZooKeeper('ServiceRegistry on ZooKeeper', () => {
  const redis = useTestRedis();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();
  const follow = useFollow();
  let root: string;
  let keyPrefix: string;
  beforeEach(() => {
    root = `/t${randomBytes(6).toString('hex')}`;
    keyPrefix = uniqueKeyPrefix();
  });

  /** An app on the test's ZooKeeper root, registered on ZooKeeper as `registry` when given. */
  async function app(registry?: Partial<RegistryOptions>) {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: redis.url,
        keyPrefix,
        zookeeper: {
          connectString: zookeeper.connectString,
          root,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
        },
        registry: registry && {
          service: 'billing',
          address: `http://10.0.0.${randomBytes(1)[0]}:3000`,
          backend: 'zookeeper',
          ...registry,
        },
      }),
    ]);
    const zk = moduleRef.get(ZooKeeperConnection);
    const registryService = moduleRef.get(ServiceRegistry);
    return {
      moduleRef,
      zookeeper: zk,
      registry: registryService,
      id: registryService.instanceId,
      node: `${root}/services/billing/${nodeName(registryService.instanceId)}`,
    };
  }

  /** An instance of service billing, registered on ZooKeeper. */
  const instance = (registry: Partial<RegistryOptions> = {}) => app(registry);
  /** An app that does not register itself. */
  const reader = () => app();

  it('two instances find each other through ephemeral nodes holding their records', async () => {
    const one = await instance({ address: 'http://10.0.0.1:3000', metadata: { zone: 'a' } });
    const firstView = follow(one.registry.observe('billing'));
    await firstView('itself listed', (list) => list.length === 1);
    const two = await instance({ address: 'http://10.0.0.2:3000' });
    // The first one's view learns of the second through its watch.
    await firstView('the newcomer listed', (list) => list.length === 2);
    for (const side of [one, two]) {
      assert.deepEqual(idsOf(await side.registry.instances('billing')), [one.id, two.id].sort());
    }
    const seen = (await two.registry.instances('billing')).find((i) => i.id === one.id)!;
    assert.deepEqual(
      { address: seen.address, metadata: seen.metadata, status: seen.status },
      { address: 'http://10.0.0.1:3000', metadata: { zone: 'a' }, status: 'up' },
    );
    // In ZooKeeper, not Redis: an ephemeral node under the root holds the record.
    assert.deepEqual(await one.registry.instances('billing', { backend: 'redis' }), []);
    const node = await two.zookeeper.session.getData(one.node);
    assert.ok(node, 'the instance node exists');
    assert.notEqual(node.stat.ephemeralOwner, '0', 'the node is ephemeral');
    assert.equal((JSON.parse(node.data.toString()) as { address: string }).address, seen.address);

    // An app that does not register itself reads ZooKeeper per call.
    const other = await reader();
    assert.deepEqual(await other.registry.instances('billing'), []);
    assert.deepEqual(
      idsOf(await other.registry.instances('billing', { backend: 'zookeeper' })),
      [one.id, two.id].sort(),
    );
    const picked = await other.registry.pick('billing', { backend: 'zookeeper' });
    assert.ok([one.id, two.id].includes(picked.id));
  });

  it('a graceful shutdown leaves every view at once', async () => {
    const two = await instance();
    const other = await reader();
    const views = [
      follow(two.registry.observe('billing')),
      follow(other.registry.observe('billing', { backend: 'zookeeper' })),
    ];
    await Promise.all(views.map((until) => until('one listed', (list) => list.length === 1)));
    // Seen through the views' watches: they are set.
    const one = await instance();
    await Promise.all(views.map((until) => until('both listed', (list) => list.length === 2)));

    await closeModule(one.moduleRef);
    assert.deepEqual(idsOf(await two.registry.instances('billing')), [two.id], 'gone at once');
    await Promise.all(
      views.map((until) => until('the closed one left', (list) => idsOf(list).join() === two.id)),
    );
  });

  it('a failing health check marks the instance down in the other instances’ view, and up again', async () => {
    let healthy = true;
    const one = await instance({ ttlMs: 1000, healthCheck: () => healthy });
    const two = await instance();
    const until = follow(two.registry.observe('billing'));
    await until('both listed', (list) => list.length === 2);
    const version = (await two.zookeeper.session.exists(one.node))!.version;

    healthy = false;
    await until('the unhealthy one skipped', (list) => idsOf(list).join() === two.id);
    const listed = await two.registry.instances('billing', { includeDown: true });
    assert.equal(listed.find((i) => i.id === one.id)?.status, 'down');
    const stat = (await two.zookeeper.session.exists(one.node))!;
    assert.ok(stat.version > version, 'the record was rewritten in place (setData)');

    healthy = true;
    await until('healthy again', (list) => list.length === 2);
  });

  it('registers again on a new session after its session was lost, and watches again', async () => {
    // Heartbeats far apart: what brings the registration back is the reconnect, not a heartbeat.
    const one = await instance({ ttlMs: 600_000 });
    const two = await instance();
    const views = [
      follow(one.registry.observe('billing')),
      follow(two.registry.observe('billing')),
    ];
    await Promise.all(views.map((until) => until('both listed', (list) => list.length === 2)));
    const owner = (await two.zookeeper.session.exists(one.node))!.ephemeralOwner;
    const events: SessionEvent[] = [];
    one.zookeeper.onSessionEvent((event) => events.push(event));

    await expireSession(one.zookeeper, zookeeper.connectString);
    await bounded(
      'a node of a new session',
      (async () => {
        for (;;) {
          const stat = await two.zookeeper.session.exists(one.node);
          if (stat && stat.ephemeralOwner !== owner) return;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })(),
    );
    assert.ok(events.includes('lost'), `the session was lost (events: ${events.join(', ')})`);
    await views[1]!('listed again', (list) => idsOf(list).includes(one.id));
    assert.deepEqual(idsOf(await two.registry.instances('billing')), [one.id, two.id].sort());
    // The watches of the lost session went with it: the new one's see a newcomer.
    const three = await instance();
    await Promise.all(
      views.map((until) => until('the newcomer listed', (list) => idsOf(list).includes(three.id))),
    );
  });

  it("refuses registry.backend 'zookeeper' without the zookeeper option, and unknown backends", async () => {
    await assert.rejects(
      startModule([
        RedisCoordinationModule.forRoot({
          url: redis.url,
          registry: { service: 'billing', address: 'http://x', backend: 'zookeeper' },
        }),
      ]),
      (error) => {
        assert.ok(error instanceof InvalidOptionsError, String(error));
        assert.match(
          error.message,
          /registry\.backend 'zookeeper' needs the module option zookeeper/,
        );
        return true;
      },
    );
    const plain = (
      await startModule([RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })])
    ).get(ServiceRegistry);
    await assert.rejects(plain.instances('billing', { backend: 'zookeeper' }), (error) => {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /module option zookeeper/);
      return true;
    });
    await assert.rejects(
      firstValueFrom(plain.observe('billing', { backend: 'zookeeper' })),
      (error) => error instanceof InvalidArgumentError,
    );
    await assert.rejects(plain.pick('billing', { backend: 'etcd' as never }), /backend/);
    assert.throws(() => plain.observe('billing', { backend: 'etcd' as never }), /backend/);
  });
});

/**
 * Ends `connection`'s session from outside, as an ensemble does when it stops hearing from a
 * client: a second client attaches to the same session and closes it. Attaching drops the
 * first client's connection, which may reconnect and take the session back before the close
 * goes out; then the close ends only the second one, so it is tried again until the session is
 * lost.
 */
async function expireSession(connection: ZooKeeperConnection, connectString: string) {
  const loaded = (await import('node-zookeeper-client')) as typeof Zk & { default?: typeof Zk };
  const zk = loaded.default ?? loaded;
  const client = (connection as unknown as { client: Zk.Client }).client;
  let stop!: () => void;
  const lost = new Promise<boolean>((resolve) => {
    stop = connection.onSessionEvent((event) => event === 'lost' && resolve(true));
  });
  try {
    for (;;) {
      const twin = zk.createClient(connectString, {
        sessionId: client.getSessionId(),
        sessionPassword: client.getSessionPassword(),
      } as Partial<Zk.Option>);
      const attached = new Promise<boolean>((resolve) => {
        twin.once('connected', () => resolve(false));
        twin.connect();
      });
      // Lost already (a close that went out earlier): the twin would never connect.
      const done = await Promise.race([lost, attached]);
      twin.close();
      if (done) return;
      const retry = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000));
      if (await Promise.race([lost, retry])) return;
    }
  } finally {
    stop();
  }
}
