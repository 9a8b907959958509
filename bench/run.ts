// `npm run bench [suite...]`: starts a private redis-server, runs the named suites (all when
// none is named) and prints one JSON line per figure, then a table. Client and server are
// pinned to one CPU with taskset: on a 2-core machine, crossing cores costs 2-4x the round
// trip at random, which would swamp the ratios.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RedisServer } from '../lib/testing/index.js';
import { BenchContext, type BenchSuite, type Figure } from './support/bench-context.js';

const CPU = process.env.BENCH_CPU ?? '0';
const hasTaskset = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
if (hasTaskset && !process.env.BENCH_PINNED) {
  const result = spawnSync('taskset', ['-c', CPU, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_PINNED: CPU },
  });
  process.exit(result.status ?? 1);
}

const suitesDir = fileURLToPath(new URL('./suites/', import.meta.url));
const available = readdirSync(suitesDir)
  .filter((file) => file.endsWith('.bench.js'))
  .map((file) => file.replace(/\.bench\.js$/, ''))
  .sort();
const requested = process.argv.slice(2);
const unknown = requested.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`Unknown suite(s): ${unknown.join(', ')}. Available: ${available.join(', ')}`);
  process.exit(2);
}

const server = await RedisServer.start({ cpus: hasTaskset ? CPU : undefined });
const figures: Figure[] = [];
console.log(
  `# redis-server ${server.url}; ${hasTaskset ? `client and server pinned to CPU ${CPU}` : 'taskset not found: not pinned, ratios are noisier'}`,
);
try {
  for (const name of requested.length ? requested : available) {
    const { suite } = (await import(`./suites/${name}.bench.js`)) as { suite: BenchSuite };
    console.log(`# ${name}: ${suite.description}`);
    const context = new BenchContext(server.url);
    try {
      await suite.run(context);
    } finally {
      await context.close();
    }
    figures.push(...context.figures);
  }
} finally {
  await server.dispose();
}

const rows = figures.map((f) => ({
  suite: f.suite,
  figure: f.name,
  'library ops/s': Math.round(f.candidate.opsPerSec),
  'raw ops/s': Math.round(f.baseline.opsPerSec),
  ratio: f.ratio.toFixed(2),
  goal: f.goal === undefined ? '' : `≥ ${f.goal}`,
  'p50/p99 ms': `${f.candidate.p50Ms.toFixed(3)}/${f.candidate.p99Ms.toFixed(3)}`,
  'raw p50/p99 ms': `${f.baseline.p50Ms.toFixed(3)}/${f.baseline.p99Ms.toFixed(3)}`,
  note: f.note ?? '',
}));
console.table(rows);
