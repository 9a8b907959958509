import assert from 'node:assert/strict';
import { it } from '@jest/globals';
import { RedisCoordinationModule } from '../../../lib/index.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { RedisScript } from '../../../lib/connection/script-runner.js';
import { CapturingLogger, closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer } from '../../support/redis.js';
import { closeModulesAfterEach, useRedisServer } from '../../support/hooks.js';

const incrBy = new RedisScript({
  name: 'incrBy',
  numberOfKeys: 1,
  lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])",
});

describeWithRedisServer('Redis restart', () => {
  const server = useRedisServer();
  closeModulesAfterEach();

  it('restores subscriptions and reloads scripts after Redis restarts', async () => {
    const logger = new CapturingLogger();
    const moduleRef = await startModule([RedisCoordinationModule.forRoot({ url: server.url })], {
      logger,
    });
    const connections = moduleRef.get(RedisConnections);
    const hub = await connections.subscriptions();
    const received: string[] = [];
    await hub.subscribe('news', (message) => received.push(message));
    await hub.psubscribe('alerts.*', (message) => received.push(message));
    const key = connections.keys.key('test', 'test key', 'restart', 'n');
    assert.equal(await incrBy.run(connections.command, [key], [1]), 1);

    await server.restart(); // no persistence: data and the script cache are gone

    // The script runs again (NOSCRIPT → EVAL) once the command connection is back.
    assert.equal(await incrBy.run(connections.command, [key], [5]), 5);
    // Publish until the re-subscription has reached Redis; then every message arrives.
    for (let i = 0; ; i++) {
      const receivers = await connections.command.publish('news', `n${i}`);
      if (receivers === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(await connections.command.publish('alerts.fire', 'a'), 1);
    await waitUntil(() => received.includes('a'));
    assert.ok(received.some((message) => message.startsWith('n')));
    assert.ok(
      logger.lines.some((line) => /re-subscribed to 1 channel\(s\) and 1 pattern\(s\)/.test(line)),
      logger.lines.join('\n'),
    );
    await closeModule(moduleRef);
  });
});

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
