import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { Redis } from 'ioredis';
import {
  InvalidOptionsError,
  RedisCommandError,
  RedisCoordinationModule,
  RedisEvictionPolicyError,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisCluster, useRedisServer } from '../../support/hooks.js';
import { waitUntil } from '../pubsub/pubsub-helpers.js';

/** Sets a server's eviction policy through a connection of its own. */
async function setPolicy(url: string, policy: string): Promise<void> {
  const admin = new Redis(url);
  try {
    await admin.config('SET', 'maxmemory-policy', policy);
  } finally {
    admin.disconnect();
  }
}

describeWithRedisServer("the module and Redis's eviction policy", () => {
  closeModulesAfterEach();

  describe('on one server', () => {
    const server = useRedisServer();

    it('refuses to start on a Redis that may evict keys, saying what to set', async () => {
      await setPolicy(server.url, 'allkeys-lru');
      try {
        const error = await startModule([
          RedisCoordinationModule.forRoot({ url: server.url }),
        ]).catch((e: unknown) => e);
        assert.ok(error instanceof RedisEvictionPolicyError, String(error));
        assert.equal(error.code, 'REDIS_EVICTION_POLICY');
        assert.deepEqual(error.servers, [{ node: undefined, policy: 'allkeys-lru' }]);
        assert.match(error.message, /maxmemory-policy allkeys-lru/);
        assert.match(error.message, /noeviction/);
        assert.match(error.message, /allowEviction: true/);
        assert.ok(error.message.includes(`127.0.0.1:${server.port}`), error.message);
      } finally {
        await setPolicy(server.url, 'noeviction');
      }
    });

    it('starts with allowEviction: true, warning once', async () => {
      await setPolicy(server.url, 'volatile-ttl');
      try {
        const logger = new CapturingLogger();
        await startModule(
          [RedisCoordinationModule.forRoot({ url: server.url, allowEviction: true })],
          {
            logger,
          },
        );
        const warnings = logger.lines.filter((line) => line.includes('allowEviction is set'));
        assert.equal(warnings.length, 1, logger.lines.join('\n'));
        assert.match(warnings[0]!, /maxmemory-policy volatile-ttl/);
      } finally {
        await setPolicy(server.url, 'noeviction');
      }
    });

    it('says so when the server it reconnects to may evict keys', async () => {
      const logger = new CapturingLogger();
      const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })], {
        logger,
      });
      const { command } = moduleRef.get(RedisConnections);
      await setPolicy(server.url, 'allkeys-random');
      try {
        // As after a Sentinel failover: the command connection comes back, to a server evicting.
        (command as Redis).stream.destroy();
        await within(
          waitUntil(() => logger.lines.some((line) => line.includes('may evict keys'))),
          30_000,
          () => new Error(`not said within 30 s: ${logger.lines.join('\n')}`),
        );
        assert.ok(logger.lines.some((line) => line.includes('maxmemory-policy allkeys-random')));
      } finally {
        await setPolicy(server.url, 'noeviction');
      }
    });

    it('fails start saying what to grant when the ACL user may not read INFO, unless allowEviction', async () => {
      const user = ['noinfo', 'reset', 'on', '>s3cret', '~*', '&*', '+@all', '-info'];
      assert.equal(server.cli('ACL', 'SETUSER', ...user), 'OK');
      try {
        const url = `redis://noinfo:s3cret@127.0.0.1:${server.port}`;
        const error = await startModule([RedisCoordinationModule.forRoot({ url })]).catch(
          (e: unknown) => e,
        );
        assert.ok(error instanceof RedisCommandError, String(error));
        assert.match(error.message, /maxmemory-policy \(INFO memory\)/);
        assert.match(error.message, /grant \+info/);
        assert.doesNotMatch(error.message, /s3cret/);
        await startModule([RedisCoordinationModule.forRoot({ url, allowEviction: true })]);
      } finally {
        server.cli('ACL', 'DELUSER', 'noinfo');
      }
    });

    it('refuses a non-boolean allowEviction', async () => {
      const error = await startModule([
        RedisCoordinationModule.forRoot({
          url: server.url,
          allowEviction: 'yes' as unknown as boolean,
        }),
      ]).catch((e: unknown) => e);
      assert.ok(error instanceof InvalidOptionsError, String(error));
      assert.match(error.message, /allowEviction must be true or false/);
    });
  });

  describe('on a Cluster', () => {
    const cluster = useRedisCluster(3);

    it('checks every master and names the one that may evict keys', async () => {
      const evicting = cluster.nodes[1]!;
      await setPolicy(evicting.url, 'allkeys-lfu');
      try {
        const error = await startModule([
          RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
        ]).catch((e: unknown) => e);
        assert.ok(error instanceof RedisEvictionPolicyError, String(error));
        assert.deepEqual(error.servers, [
          { node: `${evicting.host}:${evicting.port}`, policy: 'allkeys-lfu' },
        ]);
      } finally {
        await setPolicy(evicting.url, 'noeviction');
      }
      await startModule([
        RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
      ]);
    });
  });
});
