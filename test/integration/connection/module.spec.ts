import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import {
  InvalidOptionsError,
  RedisConnectionError,
  RedisCoordinationModule,
  RedisLockService,
  type RedisCoordinationModuleOptions,
} from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { RedisScript } from '../../../lib/connection/script-runner.js';
import { freePort } from '../../../lib/testing/index.js';
import { closeModule, startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

/** Writes KEYS[1] = ARGV[1] and returns the key it wrote: proves the key reached Redis. */
const setAndEcho = new RedisScript({
  name: 'setAndEcho',
  numberOfKeys: 1,
  lua: "redis.call('SET', KEYS[1], ARGV[1]) return KEYS[1]",
});

describe('RedisCoordinationModule', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  it('opens only its command connection until something subscribes or blocks', async () => {
    const keyPrefix = uniqueKeyPrefix();
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix }),
    ]);
    // A connection opened in the background is named once it is ready: give it the time to be.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const names = String(await redis.client.call('CLIENT', 'LIST'))
      .split('\n')
      .map((line) => /\bname=(\S*)/.exec(line)?.[1])
      .filter((name) => name?.startsWith(keyPrefix.replace(/[^\w:.-]/g, '_')));
    assert.deepEqual(names, [`${keyPrefix}command`.replace(/[^\w:.-]/g, '_')]);
    await closeModule(moduleRef);
  });

  async function connectionsOf(options: RedisCoordinationModuleOptions) {
    const moduleRef = await startModule([RedisCoordinationModule.forRoot(options)]);
    return { moduleRef, connections: moduleRef.get(RedisConnections) };
  }

  it('forRoot({ url }) connects and runs commands', async () => {
    const { moduleRef, connections } = await connectionsOf({ url: redis.url });
    assert.equal(await connections.command.ping(), 'PONG');
    await closeModule(moduleRef);
  });

  it('forRoot({ redis: { host, port } }) connects', async () => {
    const { hostname, port } = new URL(redis.url);
    const { moduleRef, connections } = await connectionsOf({
      redis: { host: hostname, port: Number(port) },
    });
    assert.equal(await connections.command.ping(), 'PONG');
    await closeModule(moduleRef);
  });

  it('forRootAsync reads its options from ConfigService', async () => {
    const moduleRef = await startModule([
      ConfigModule.forRoot({
        ignoreEnvFile: true,
        load: [() => ({ REDIS_URL: redis.url, PREFIX: 'cfg:' })],
      }),
      RedisCoordinationModule.forRootAsync({
        imports: [ConfigModule],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          url: config.getOrThrow<string>('REDIS_URL'),
          keyPrefix: config.getOrThrow<string>('PREFIX'),
        }),
      }),
    ]);
    const connections = moduleRef.get(RedisConnections);
    assert.equal(connections.keys.base('lock', 'lock resource', 'x'), 'cfg:{lock:x}');
    assert.equal(await connections.command.ping(), 'PONG');
    await closeModule(moduleRef);
  });

  it('forRootAsync accepts useClass', async () => {
    @Injectable()
    class RedisOptionsFactory {
      create(): RedisCoordinationModuleOptions {
        return { url: redis.url, keyPrefix: 'cls:' };
      }
    }
    const moduleRef = await startModule([
      RedisCoordinationModule.forRootAsync({ useClass: RedisOptionsFactory }),
    ]);
    assert.equal(moduleRef.get(RedisConnections).keys.prefix, 'cls:');
    await closeModule(moduleRef);
  });

  it('isGlobal makes its providers visible to feature modules that do not import it', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly locks: RedisLockService) {}
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ url: redis.url, isGlobal: true }),
      FeatureModule,
    ]);
    assert.ok(moduleRef.get(Consumer).locks instanceof RedisLockService);
    await closeModule(moduleRef);
  });

  it('uses an existing client and never closes it', async () => {
    const client = new Redis(redis.url);
    const { moduleRef, connections } = await connectionsOf({ client });
    assert.equal(connections.command, client);
    const hub = await connections.subscriptions(); // a duplicate the module owns
    await hub.subscribe('x', () => undefined);
    await closeModule(moduleRef);
    assert.equal(client.status, 'ready');
    assert.equal(await client.ping(), 'PONG');
    client.disconnect();
  });

  it('applies keyPrefix to the keys it writes', async () => {
    const prefix = uniqueKeyPrefix();
    const { moduleRef, connections } = await connectionsOf({ url: redis.url, keyPrefix: prefix });
    const key = connections.keys.key('test', 'test key', 'a', 'part');
    assert.equal(await setAndEcho.run(connections.command, [key], ['v']), `${prefix}{test:a}:part`);
    assert.equal(await redis.client.get(`${prefix}{test:a}:part`), 'v');
    await closeModule(moduleRef);
  });

  it('re-sends a script after SCRIPT FLUSH (NOSCRIPT) and otherwise calls it by SHA', async () => {
    const { moduleRef, connections } = await connectionsOf({ url: redis.url });
    const key = connections.keys.key('test', 'test key', uniqueKeyPrefix(), 'k');
    await setAndEcho.run(connections.command, [key], ['1']);
    await redis.client.script('FLUSH');
    assert.equal(await setAndEcho.run(connections.command, [key], ['2']), key);
    assert.equal(await redis.client.get(key), '2');
    const statsBefore = await evalCounts(redis.client);
    await setAndEcho.run(connections.command, [key], ['3']);
    const statsAfter = await evalCounts(redis.client);
    assert.equal(statsAfter.evalsha - statsBefore.evalsha, 1);
    assert.equal(statsAfter.eval, statsBefore.eval, 'a loaded script is not sent again');
    await closeModule(moduleRef);
  });

  it('fails start with RedisConnectionError naming host:port when Redis is unreachable', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      startModule([
        RedisCoordinationModule.forRoot({
          url: `redis://user:hunter2@127.0.0.1:${port}`,
          connectTimeoutMs: 300,
        }),
      ]),
      (error: unknown) => {
        assert.ok(error instanceof RedisConnectionError, String(error));
        assert.match(error.message, new RegExp(`redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}`));
        assert.match(error.message, /ECONNREFUSED/);
        assert.match(error.message, /300 ms/);
        assert.doesNotMatch(error.message + String(error.stack), /hunter2/);
        return true;
      },
    );
    assert.ok(Date.now() - started >= 300, 'waited the whole connectTimeoutMs before failing');
  });

  it('fails start with InvalidOptionsError before connecting', async () => {
    await assert.rejects(
      startModule([RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix: '{bad}' })]),
      InvalidOptionsError,
    );
  });

  it('delivers messages through the shared subscriber connection (RESP3 push messages)', async () => {
    const { moduleRef, connections } = await connectionsOf({ url: redis.url });
    const hub = await connections.subscriptions();
    assert.equal(await connections.subscriptions(), hub, 'one subscriber connection per app');
    const received: string[] = [];
    const gotTwo = new Promise<void>((resolve) => {
      const listener = (message: string) => {
        received.push(message);
        if (received.length === 2) resolve();
      };
      void hub
        .subscribe('chan-a', listener)
        .then(() => hub.psubscribe('chan-*', listener))
        .then(() => connections.command.publish('chan-a', 'hello'));
    });
    await gotTwo;
    assert.deepEqual(received, ['hello', 'hello'], 'channel and pattern listener both called');
    // The command connection still works while a subscriber is active (separate connections).
    assert.equal(await connections.command.ping(), 'PONG');
    await closeModule(moduleRef);
  });

  it('unsubscribes from Redis after the last listener leaves', async () => {
    const { moduleRef, connections } = await connectionsOf({ url: redis.url });
    const hub = await connections.subscriptions();
    const off1 = await hub.subscribe('counted', () => undefined);
    const off2 = await hub.subscribe('counted', () => undefined);
    const numsub = async () => Number((await redis.client.pubsub('NUMSUB', 'counted'))[1]);
    assert.equal(await numsub(), 1, 'two listeners share one Redis subscription');
    await off1();
    assert.equal(await numsub(), 1);
    await off2();
    assert.equal(await numsub(), 0);
    await closeModule(moduleRef);
  });

  it('interrupts a blocking connection at shutdown', async () => {
    const { moduleRef, connections } = await connectionsOf({ url: redis.url });
    const blocking = await connections.openBlocking('test');
    const blocked = blocking.blpop(`${uniqueKeyPrefix()}never`, 0).catch((error: Error) => error);
    await closeModule(moduleRef);
    assert.ok((await blocked) instanceof Error);
    assert.equal(blocking.status, 'end');
  });
});

async function evalCounts(client: Redis): Promise<{ eval: number; evalsha: number }> {
  const info = await client.info('commandstats');
  const calls = (name: string) =>
    Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { eval: calls('eval'), evalsha: calls('evalsha') };
}
