import assert from 'node:assert/strict';
import { beforeAll, it } from '@jest/globals';
import { RedisConnectionError, RedisCoordinationModule } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { CapturingLogger, closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

const PASSWORD = 's3cret-Pa55word';

describeWithRedisServer('ACL users and secrets', () => {
  const server = useRedisServer();
  beforeAll(() => {
    server.cli('ACL', 'SETUSER', 'app', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
    server.cli('ACL', 'SETUSER', 'default', 'off');
  });
  closeModulesAfterEach();

  it('connects as an ACL user and never logs the password', async () => {
    const logger = new CapturingLogger();
    const moduleRef = await startModule(
      [
        RedisCoordinationModule.forRoot({
          url: `redis://app:${PASSWORD}@127.0.0.1:${server.port}`,
        }),
      ],
      { logger },
    );
    const connections = moduleRef.get(RedisConnections);
    assert.equal(await connections.command.call('ACL', 'WHOAMI'), 'app');
    const hub = await connections.subscriptions();
    await hub.subscribe('c', () => undefined);
    assert.equal(await connections.command.publish('c', 'x'), 1);
    await closeModule(moduleRef);
    assert.ok(
      logger.lines.some((line) => line.includes(`redis://app:***@127.0.0.1:${server.port}`)),
    );
    assert.ok(
      logger.lines.every((line) => !line.includes(PASSWORD)),
      logger.lines.join('\n'),
    );
  });

  it('fails at once on a wrong password, naming the user but not the password', async () => {
    const logger = new CapturingLogger();
    const wrong = 'wrong-Pa55word';
    await assert.rejects(
      startModule(
        [
          RedisCoordinationModule.forRoot({
            redis: { host: '127.0.0.1', port: server.port, username: 'app', password: wrong },
            connectTimeoutMs: 60_000,
          }),
        ],
        { logger },
      ),
      (error: unknown) => {
        assert.ok(error instanceof RedisConnectionError, String(error));
        assert.match(error.message, /credentials/);
        assert.match(error.message, /WRONGPASS/);
        assert.match(error.message, /redis:\/\/app:\*\*\*@/);
        const everything = [
          error.message,
          String(error.stack),
          String((error.cause as Error)?.message),
          ...logger.lines,
        ].join('\n');
        assert.ok(!everything.includes(wrong), everything);
        return true;
      },
    );
  });
});
