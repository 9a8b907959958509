import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { RedisCoordinationModule, RedisHealthIndicator } from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

describeWithRedisServer('RedisHealthIndicator with @nestjs/terminus', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  it('reports up, then down while Redis is stopped (password redacted), then up again', async () => {
    server.cli('CONFIG', 'SET', 'requirepass', 'h3alth-secret');
    const moduleRef = await startModule([
      TerminusModule.forRoot({ logger: false }),
      RedisCoordinationModule.forRoot({ url: `redis://:h3alth-secret@127.0.0.1:${server.port}` }),
    ]);
    const health = moduleRef.get(HealthCheckService);
    const redis = moduleRef.get(RedisHealthIndicator);
    const check = () => health.check([() => redis.isHealthy('redis', { timeoutMs: 300 })]);

    const up = await check();
    assert.equal(up.status, 'ok');
    assert.equal(up.info?.redis?.status, 'up');

    await server.stop();
    const down = await check().then(
      () => assert.fail('expected the check to fail while Redis is stopped'),
      (error: unknown) => error,
    );
    assert.ok(down instanceof ServiceUnavailableException);
    const body = JSON.stringify(down.getResponse());
    assert.match(body, /"status":"down"/);
    assert.match(body, new RegExp(`redis://:\\*\\*\\*@127.0.0.1:${server.port}`));
    assert.doesNotMatch(body, /h3alth-secret/);

    await server.restart();
    server.cli('CONFIG', 'SET', 'requirepass', 'h3alth-secret');
    for (;;) {
      const again = await check().catch(() => undefined);
      if (again?.status === 'ok') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
