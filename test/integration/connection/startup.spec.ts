import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { PubSubService, RedisCoordinationModule } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import {
  closeModulesAfterEach,
  useChildApps,
  useRedisCluster,
  useRedisServer,
} from '../../support/hooks.js';

// Each case runs the `startup` fixture in a process of its own: whether the module's
// connections keep a process alive can only be seen in a process that has nothing else to do.
describeWithRedisServer('connections around an app start', () => {
  const server = useRedisServer();
  const spawnChild = useChildApps();
  closeModulesAfterEach();
  const startup = (mode: string) =>
    spawnChild('startup', { env: { REDIS_URL: server.url, MODE: mode } });

  for (const [mode, failure] of [
    ['fail-in-factory', /failed in a provider factory/],
    ['fail-in-init', /failed in onModuleInit/],
  ] as const) {
    it(`lets the process exit after a start that failed once connected (${mode})`, async () => {
      const child = startup(mode);
      const { message } = await child.waitFor('failed');
      assert.match(String(message), failure);
      // Nothing closed the app: the process ends only if no connection holds it.
      assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
    }, 30_000); // only turns a process that never ends into a failure
  }

  it('lets the process exit after a start that failed while Redis was down', async () => {
    const child = startup('fail-while-redis-down');
    await child.waitFor('connected');
    await server.stop();
    try {
      child.send({ type: 'go' });
      await child.waitFor('failed');
      // ioredis keeps trying to reconnect; its timers must not hold the process either.
      assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
    } finally {
      await server.restart();
    }
  }, 30_000); // only turns a process that never ends into a failure

  it('lets the process exit after a start that failed once subscribed', async () => {
    const child = startup('subscribe-then-fail-in-init');
    await child.waitFor('failed');
    assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
  }, 30_000);

  it('keeps the process alive while a command sent before the start awaits its reply', async () => {
    const child = startup('command-before-start');
    await child.waitFor('created');
    server.pause();
    try {
      child.send({ type: 'go' });
      await child.waitFor('sent');
      // While Redis is frozen the reply cannot come: a process not held by the command's
      // connection would end now, without reporting the count.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok(child.running, `exited while the command awaited its reply: ${child.errorOutput}`);
    } finally {
      server.resume();
    }
    const { value } = await child.waitFor('counted');
    assert.equal(value, '1');
    assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
  });

  it('holds a started app that only waits for messages on a subscription made before start', async () => {
    const child = startup('subscribed-before-start');
    await child.waitFor('started');
    // With nothing else to do, a process whose subscriber connection does not hold it ends now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(child.running, `a started app exited while subscribed: ${child.errorOutput}`);
    const publisher = await startModule([RedisCoordinationModule.forRoot({ url: server.url })]);
    assert.equal(await publisher.get(PubSubService).publish('news', 'hello'), 1);
    const { payload } = await child.waitFor('message');
    assert.equal(payload, 'hello');
  });
});

describeWithRedisServer('connections around an app start, on a Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  const spawnChild = useChildApps();

  // A Cluster subscribes on a connection of its own, not one of its nodes.
  it('lets the process exit after a start that failed once subscribed', async () => {
    const child = spawnChild('startup', {
      env: {
        REDIS_CLUSTER: JSON.stringify(cluster.addresses),
        MODE: 'subscribe-then-fail-in-init',
      },
    });
    await child.waitFor('failed');
    assert.deepEqual(await child.exited, { code: 0, signal: null }, child.errorOutput);
  }, 30_000); // only turns a process that never ends into a failure
});
