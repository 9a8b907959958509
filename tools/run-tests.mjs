// Runs the compiled test files (dist/test/**/*.spec.js) with Node's test runner, each file in
// its own process. Arguments narrow the run: `npm run test:only -- lock queue` runs files whose
// path contains "lock" or "queue".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function specs(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return specs(path);
    return entry.endsWith('.spec.js') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = specs('dist/test')
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`No test files match ${filters.join(', ') || 'dist/test/**/*.spec.js'}`);
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(
  process.execPath,
  [
    '--test',
    `--test-concurrency=${concurrency}`,
    '--test-reporter=spec',
    '--test-timeout=300000',
    ...files,
  ],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
