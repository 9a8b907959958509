import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { it } from '@jest/globals';
import { filter, firstValueFrom } from 'rxjs';
import { LeaderElectionService, RedisCoordinationModule } from '../../lib/index.js';
import { startModule } from '../support/nest.js';
import { describeWithRedisServer } from '../support/redis.js';
import { closeModulesAfterEach, useRedisCluster } from '../support/hooks.js';

describeWithRedisServer('elections on Redis Cluster', () => {
  const cluster = useRedisCluster(3);
  closeModulesAfterEach();

  async function start() {
    const moduleRef = await startModule([
      RedisCoordinationModule.forRoot({ cluster: { nodes: cluster.addresses } }),
    ]);
    return moduleRef.get(LeaderElectionService);
  }

  it('elects, observes and hands over through pub/sub for elections on every master', async () => {
    const [a, b] = [await start(), await start()];
    for (let i = 0; i < 6; i++) {
      const name = `election-${i}`; // names hash to slots on different masters
      const first = await a.join(name, { leaseMs: 60_000 });
      const second = await b.join(name, { leaseMs: 60_000 });
      assert.equal(first.isLeader, true);
      assert.equal(second.isLeader, false);
      const seen = b.observe(name);
      await firstValueFrom(seen.pipe(filter(({ leader }) => leader === a.instanceId)));
      const term = first.term!;
      await first.leave(); // the lease is a minute: only the announcement elects b now
      while (!second.isLeader) await sleep(5);
      assert.ok(second.term! > term);
      await firstValueFrom(seen.pipe(filter(({ leader }) => leader === b.instanceId)));
      await second.leave();
    }
  });
});
