import assert from 'node:assert/strict';
import { describe, it } from '@jest/globals';
import { InvalidArgumentError, InvalidKeyError } from '../../lib/index.js';
import {
  nextSlot,
  patternKey,
  resolvePattern,
  resolveTemplate,
  type ResolvedPattern,
} from '../../lib/queue/queue-scheduler.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

/** The `count` slots after `from`, each computed from the previous one. */
function slots(pattern: ResolvedPattern, from: string, count: number): string[] {
  const found: string[] = [];
  let after = at(from);
  for (let i = 0; i < count; i++) {
    after = nextSlot(pattern, after);
    found.push(iso(after));
  }
  return found;
}

describe('scheduler slots: everyMs', () => {
  it('are the multiples of the period since the epoch, strictly after the given time', () => {
    const every = resolvePattern({ everyMs: 500 });
    assert.equal(nextSlot(every, 0), 500);
    assert.equal(nextSlot(every, 1000), 1500, 'a slot itself is not after itself');
    assert.equal(nextSlot(every, 1001), 1500);
    assert.equal(nextSlot(every, 1499), 1500);
    // Whenever an instance (re)starts, it computes the same slots.
    const starts = [at('2025-06-01T10:00:00.123Z'), at('2025-06-01T10:00:00.321Z')];
    assert.deepEqual(
      starts.map((start) => nextSlot(every, start)),
      [at('2025-06-01T10:00:00.500Z'), at('2025-06-01T10:00:00.500Z')],
    );
    const minutely = resolvePattern({ everyMs: 60_000 });
    assert.deepEqual(slots(minutely, '2025-06-01T10:00:30.000Z', 2), [
      '2025-06-01T10:01:00.000Z',
      '2025-06-01T10:02:00.000Z',
    ]);
  });
});

describe('scheduler slots: cron (cron-parser)', () => {
  it('reads the expression in its time zone, UTC by default', () => {
    const utc = resolvePattern({ cron: '0 3 * * *' });
    assert.deepEqual(utc, { cron: '0 3 * * *', tz: 'UTC' });
    assert.deepEqual(slots(utc, '2025-01-15T12:00:00Z', 1), ['2025-01-16T03:00:00.000Z']);
    const paris = resolvePattern({ cron: '0 3 * * *', tz: 'Europe/Paris' });
    assert.deepEqual(slots(paris, '2025-01-15T12:00:00Z', 1), ['2025-01-16T02:00:00.000Z']);
    assert.deepEqual(slots(paris, '2025-07-15T12:00:00Z', 1), ['2025-07-16T01:00:00.000Z']);
    // Strictly after: at a slot, the next one.
    assert.equal(iso(nextSlot(utc, at('2025-01-16T03:00:00Z'))), '2025-01-17T03:00:00.000Z');
    // A sixth field counts seconds.
    const quarter = resolvePattern({ cron: '*/15 * * * * *' });
    assert.deepEqual(slots(quarter, '2025-01-15T12:00:07.250Z', 2), [
      '2025-01-15T12:00:15.000Z',
      '2025-01-15T12:00:30.000Z',
    ]);
  });

  it('DST spring forward (Paris, 2025-03-30, 02:00 → 03:00): 02:30 does not exist and fires at 03:30', () => {
    const pattern = resolvePattern({ cron: '30 2 * * *', tz: 'Europe/Paris' });
    assert.deepEqual(slots(pattern, '2025-03-28T12:00:00Z', 3), [
      '2025-03-29T01:30:00.000Z', // 02:30 CET (UTC+1)
      '2025-03-30T01:30:00.000Z', // 03:30 CEST (UTC+2): the skipped 02:30, an hour later
      '2025-03-31T00:30:00.000Z', // 02:30 CEST
    ]);
    // An hourly pattern runs once an hour of real time: 01:30 CET, then 03:30 CEST.
    const hourly = resolvePattern({ cron: '30 * * * *', tz: 'Europe/Paris' });
    assert.deepEqual(slots(hourly, '2025-03-30T00:00:00Z', 2), [
      '2025-03-30T00:30:00.000Z',
      '2025-03-30T01:30:00.000Z',
    ]);
  });

  it('DST fall back (Paris, 2025-10-26, 03:00 → 02:00): 02:30 happens twice and fires once, in summer time', () => {
    const pattern = resolvePattern({ cron: '30 2 * * *', tz: 'Europe/Paris' });
    assert.deepEqual(slots(pattern, '2025-10-24T12:00:00Z', 3), [
      '2025-10-25T00:30:00.000Z', // 02:30 CEST (UTC+2)
      '2025-10-26T00:30:00.000Z', // the first 02:30, CEST; not the second, 01:30Z (CET)
      '2025-10-27T01:30:00.000Z', // 02:30 CET (UTC+1)
    ]);
    // Computed from a time between the two 02:30s, the next slot is the next day's.
    assert.equal(iso(nextSlot(pattern, at('2025-10-26T00:45:00Z'))), '2025-10-27T01:30:00.000Z');
    // An hourly pattern runs once an hour of real time: both 02:30s.
    const hourly = resolvePattern({ cron: '30 * * * *', tz: 'Europe/Paris' });
    assert.deepEqual(slots(hourly, '2025-10-26T00:00:00Z', 3), [
      '2025-10-26T00:30:00.000Z',
      '2025-10-26T01:30:00.000Z',
      '2025-10-26T02:30:00.000Z',
    ]);
  });
});

describe('scheduler patterns', () => {
  it('have one key per pattern, whatever the spelling of the same one', () => {
    const key = (pattern: unknown) => patternKey(resolvePattern(pattern));
    assert.equal(key({ cron: ' 0  3 * * * ' }), key({ cron: '0 3 * * *', tz: 'UTC' }));
    assert.equal(
      key({ cron: '0 3 * * *', tz: 'europe/paris' }),
      key({ cron: '0 3 * * *', tz: 'Europe/Paris' }),
    );
    assert.notEqual(key({ cron: '0 3 * * *' }), key({ cron: '0 4 * * *' }));
    assert.notEqual(key({ everyMs: 1000 }), key({ everyMs: 2000 }));
    assert.notEqual(key({ everyMs: 60_000 }), key({ cron: '* * * * *' }));
  });

  it('refuse bad input with InvalidArgumentError naming the field', () => {
    const refused = (pattern: unknown, argument: string, message?: RegExp) =>
      assert.throws(
        () => resolvePattern(pattern),
        (error: unknown) => {
          assert.ok(error instanceof InvalidArgumentError, String(error));
          assert.equal(error.argument, argument);
          if (message) assert.match(error.message, message);
          return true;
        },
      );
    refused(undefined, 'pattern');
    refused('0 3 * * *', 'pattern');
    refused({}, 'pattern', /expected \{ cron, tz\? \} or \{ everyMs \}/);
    refused({ cron: '* * * * *', everyMs: 5 }, 'pattern');
    refused({ every: 5 }, 'pattern.every', /did you mean "everyMs"/);
    refused({ everyMs: 0 }, 'pattern.everyMs');
    refused({ everyMs: -5 }, 'pattern.everyMs');
    refused({ everyMs: 2.5 }, 'pattern.everyMs');
    refused({ everyMs: '500' }, 'pattern.everyMs');
    refused({ everyMs: 500, tz: 'UTC' }, 'pattern.tz', /cron patterns only/);
    refused({ cron: 5 }, 'pattern.cron');
    refused({ cron: 'noon * * * *' }, 'pattern.cron', /"noon \* \* \* \*": not a cron expression/);
    refused({ cron: '61 * * * *' }, 'pattern.cron', /"61 \* \* \* \*"/);
    refused({ cron: '* * *' }, 'pattern.cron', /5 fields/);
    refused({ cron: '' }, 'pattern.cron', /5 fields/);
    refused({ cron: '* * * * * * *' }, 'pattern.cron', /5 fields/);
    refused({ cron: '0 0 30 2 *' }, 'pattern.cron', /matches any time/); // February 30th
    refused({ cron: '0 3 * * *', tz: 'Mars/Olympus' }, 'pattern.tz', /IANA/);
    refused({ cron: '0 3 * * *', tz: '+02:00' }, 'pattern.tz');
    refused({ cron: '0 3 * * *', tz: '' }, 'pattern.tz');
    assert.deepEqual(resolvePattern({ cron: '@daily' }), { cron: '@daily', tz: 'UTC' });
  });

  it('templates: the job name defaults to the scheduler id; a slot decides id and delay', () => {
    const { name, data, opts, job } = resolveTemplate({ data: 1, opts: { attempts: 3 } }, 'flush');
    assert.deepEqual(
      [name, data, opts, job.name, job.attempts],
      ['flush', 1, { attempts: 3 }, 'flush', 3],
    );
    assert.equal(resolveTemplate({ name: 'other' }, 'flush').job.name, 'other');
    assert.throws(() => resolveTemplate({ opts: { jobId: 'a' } }, 'x'), /template\.opts\.jobId/);
    assert.throws(() => resolveTemplate({ opts: { delayMs: 1 } }, 'x'), /delayMs/);
    assert.throws(() => resolveTemplate({ opts: { name: 'n' } }, 'x'), /name/);
    assert.throws(() => resolveTemplate({ nme: 'n' }, 'x'), /template\.nme.*did you mean "name"/);
    assert.throws(() => resolveTemplate({ name: 5 }, 'x'), InvalidKeyError);
  });
});
