import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Cron, Interval, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import {
  currentLeadership,
  Leader,
  LeaderElectionService,
  LeadershipLostError,
  OnElected,
  OnRevoked,
  RedisCoordinationModule,
  type Leadership,
} from '../../../lib/index.js';
import { startModule } from '../../support/nest.js';
import { uniqueKeyPrefix } from '../../support/redis.js';
import { closeModulesAfterEach, useTestRedis } from '../../support/hooks.js';

async function until(check: () => boolean): Promise<void> {
  while (!check()) await sleep(5);
}

@Injectable()
class Sweeper {
  /** The term of each run of sweep(). */
  readonly runs: number[] = [];
  readonly events: string[] = [];

  // Below @Interval: @Leader must keep the metadata set after it, and the scheduler call it.
  @Interval('sweep', 10)
  @Leader('sweeper')
  async sweep(): Promise<string> {
    const leadership = currentLeadership()!;
    assert.equal(leadership.signal.aborted, false);
    this.runs.push(leadership.term);
    return 'swept';
  }

  // Above @Cron: the metadata set before it must be copied to the wrapper.
  @Leader('sweeper')
  @Cron('0 0 1 1 *', { name: 'yearly' })
  async yearly(): Promise<string> {
    return 'ran';
  }

  @OnElected('sweeper')
  elected(leadership: Leadership): void {
    const inside = currentLeadership()?.term === leadership.term;
    this.events.push(`elected ${leadership.term} context:${inside}`);
  }

  @OnRevoked('sweeper')
  revoked(leadership: Leadership, reason: LeadershipLostError): void {
    const why = reason instanceof LeadershipLostError && leadership.signal.reason === reason;
    this.events.push(`revoked ${leadership.term} aborted:${leadership.signal.aborted} ${why}`);
  }
}

describe('@Leader, @OnElected, @OnRevoked', () => {
  const redis = useTestRedis();
  closeModulesAfterEach();

  async function start(keyPrefix: string) {
    const moduleRef = await startModule(
      [ScheduleModule.forRoot(), RedisCoordinationModule.forRoot({ url: redis.url, keyPrefix })],
      { providers: [Sweeper] },
    );
    return {
      sweeper: moduleRef.get(Sweeper),
      elections: moduleRef.get(LeaderElectionService),
      scheduler: moduleRef.get(SchedulerRegistry),
    };
  }

  it('runs a scheduled @Leader method on the leader only, and moves with the leadership', async () => {
    const prefix = uniqueKeyPrefix();
    const a = await start(prefix); // joined at bootstrap: first, so the leader
    const b = await start(prefix);
    const term = (await a.elections.join('sweeper')).term!;
    await until(() => a.sweeper.runs.length >= 3);
    assert.deepEqual(new Set(a.sweeper.runs), new Set([term]));
    assert.equal(b.sweeper.runs.length, 0, 'the standby never runs it');
    assert.equal(await b.sweeper.sweep(), undefined);
    assert.equal(await b.sweeper.yearly(), undefined);
    assert.equal(await a.sweeper.yearly(), 'ran');
    for (const { scheduler } of [a, b]) {
      assert.ok(scheduler.getCronJobs().has('yearly'), '@Cron metadata kept under @Leader');
      assert.deepEqual(scheduler.getIntervals(), ['sweep']);
    }
    assert.deepEqual(a.sweeper.events, [`elected ${term} context:true`]);

    await (await a.elections.join('sweeper')).leave();
    assert.deepEqual(a.sweeper.events, [
      `elected ${term} context:true`,
      `revoked ${term} aborted:true true`,
    ]);
    const runsBefore = a.sweeper.runs.length;
    await until(() => b.sweeper.runs.length >= 3);
    const next = (await b.elections.join('sweeper')).term!;
    assert.ok(next > term);
    assert.deepEqual(new Set(b.sweeper.runs), new Set([next]));
    assert.equal(a.sweeper.runs.length, runsBefore, 'the old leader stopped at once');
    assert.deepEqual(b.sweeper.events, [`elected ${next} context:true`]);
  });
});
