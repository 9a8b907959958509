import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import {
  LeaderElectionService,
  LeadershipLostError,
  RedisCoordinationModule,
} from '../../../lib/index.js';
import { closeModule, startModule } from '../../support/nest.js';
import { describeWithRedisServer, uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useChildApps, useRedisServer } from '../../support/hooks.js';

describeWithRedisServer('election across a Redis restart', () => {
  const server = useRedisServer();
  const spawnChild = useChildApps();
  closeModulesAfterEach();

  const start = (keyPrefix: string) =>
    startModule([RedisCoordinationModule.forRoot({ url: server.url, keyPrefix })]);

  // Redis restarted empty: the lease is gone while the leader, stopped here so that it cannot
  // learn it from a renewal, still believes it leads. Candidates that saw the connection drop
  // sit out one lease, so nobody is elected before that belief has ended.
  it('recovers leadership, never electing anyone while the old leader still believes it leads', async () => {
    const prefix = uniqueKeyPrefix();
    const leaseMs = 6000;
    const old = spawnChild('election-candidate', {
      env: { REDIS_URL: server.url, PREFIX: prefix, STORE: `${prefix}store`, LEASE_MS: '6000' },
    });
    const { term } = await old.waitFor('elected');
    const elections = (await start(prefix)).get(LeaderElectionService);
    const standby = await elections.join('shared', { leaseMs });
    assert.equal(standby.isLeader, false);

    old.signal('SIGSTOP');
    await server.restart(); // no persistence: the lease is gone
    while (!standby.isLeader) await sleep(5);
    assert.ok(standby.term! > Number(term), 'terms keep increasing after Redis lost them');

    old.send({ type: 'probe' });
    old.signal('SIGCONT');
    const probe = await old.waitFor('probed');
    assert.equal(probe.isLeader, false, 'the old leader’s belief ended before the new election');
    assert.equal(probe.signalAborted, true);
    assert.equal(probe.acted, false);
    await old.waitFor('revoked');
  });

  // A hand-over sent while Redis is down would wait in ioredis's offline queue through its
  // reconnect attempts (over a minute) before failing: shutdown must not wait for it.
  it('leaves its elections at shutdown while Redis is down, without waiting for it', async () => {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({
        url: server.url,
        keyPrefix: uniqueKeyPrefix(),
        redis: { commandTimeout: 120_000 },
      }),
    ]);
    const election = await moduleRef.get(LeaderElectionService).join('down', { leaseMs: 60_000 });
    assert.equal(election.isLeader, true);
    const signal = election.signal;
    await server.stop();
    try {
      await closeModule(moduleRef); // the test's timeout turns a shutdown that hangs into a failure
    } finally {
      await server.restart();
    }
    assert.ok(signal.reason instanceof LeadershipLostError);
    assert.match(signal.reason.message, /left the election/);
  }, 60_000);
});
