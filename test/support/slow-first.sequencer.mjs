// The order jest runs spec files in. A run lasts as long as its busiest worker, so the longest
// files should start first. Jest orders by the durations of earlier runs, and on a fresh
// checkout (CI) by file size, which puts the short e2e specs that install and run whole apps
// (about a minute each) last, where they alone stretch the run: with no durations known, e2e
// specs go first.
import TestSequencer from '@jest/test-sequencer';

export default class SlowFirstSequencer extends TestSequencer {
  sort(tests) {
    const sorted = super.sort(tests);
    if (sorted.some((test) => test.duration != null)) return sorted;
    const e2e = (test) => /[/\\]e2e[/\\]/.test(test.path);
    return [...sorted.filter(e2e), ...sorted.filter((test) => !e2e(test))];
  }
}
