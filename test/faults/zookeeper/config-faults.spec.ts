import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import {
  LiveConfigService,
  RedisCoordinationModule,
  type LiveConfigOptions,
} from '../../../lib/index.js';
import { within } from '../../../lib/common/within.js';
import { RedisConnections } from '../../../lib/connection/redis-connections.js';
import { CapturingLogger, startModule } from '../../support/nest.js';
import { closeModulesAfterEach, useRedisServer, useTestZooKeeper } from '../../support/hooks.js';
import { describeWithZooKeeper } from '../../support/zookeeper.js';
import { waitUntil } from '../../integration/pubsub/pubsub-helpers.js';

/** Longer than the delay before a watching instance writes a change through (1 s). */
const PAST_WATCHED_WRITE_THROUGH_MS = 2500;

/** Bounded only so that what never happens fails the test instead of hanging it. */
const bounded = <T>(what: string, work: Promise<T>) =>
  within(work, 60_000, () => new Error(`${what}: not within 60 s`));

describeWithZooKeeper('live configuration on ZooKeeper while Redis is down', () => {
  const redis = useRedisServer();
  const zookeeper = useTestZooKeeper();
  closeModulesAfterEach();

  it('keeps the record in ZooKeeper and caches it in Redis once Redis is back', async () => {
    const root = `/t${randomBytes(4).toString('hex')}`;
    // One logger for all: Nest's logger is process-wide, the last module's would take every line.
    const logger = new CapturingLogger();
    const app = (liveConfig: LiveConfigOptions, zookeeperOption = {}) =>
      startModule(
        [
          RedisCoordinationModule.forRoot({
            url: redis.url,
            keyPrefix: 'down:',
            ...zookeeperOption,
            liveConfig: { keys: ['limits'], ...liveConfig },
          }),
        ],
        { logger },
      );
    const onZooKeeper = { zookeeper: { connectString: zookeeper.connectString, root } };
    const writer = (await app({ backend: 'zookeeper' }, onZooKeeper)).get(LiveConfigService);
    const other = (await app({ backend: 'zookeeper' }, onZooKeeper)).get(LiveConfigService);
    const readerRef = await app({});
    const reader = readerRef.get(LiveConfigService);

    await redis.stop();
    // The record does not need Redis: written and seen through ZooKeeper.
    assert.equal(await writer.set('limits', { maxUploadMb: 50 }), 1);
    await bounded(
      'the other instance sees it',
      waitUntil(() => other.entry('limits').version === 1),
    );
    await bounded(
      'the write-through fails',
      waitUntil(() =>
        logger.lines.some((line) => line.includes('Could not cache config "limits"')),
      ),
    );
    assert.equal(reader.entry('limits').version, 0);
    // Past every first attempt (the writer's at once, the watchers' a second later): only a retry
    // can cache it now.
    await sleep(PAST_WATCHED_WRITE_THROUGH_MS);

    await redis.restart();
    const command = readerRef.get(RedisConnections).command;
    if (command.status !== 'ready') await once(command, 'ready');
    await bounded(
      'the Redis reader gets the value',
      waitUntil(() => reader.entry('limits').version === 1),
    );
    assert.deepEqual(reader.get('limits'), { maxUploadMb: 50 });
    assert.ok(logger.lines.some((line) => line.includes('version 1 cached in Redis')));
  });
});
