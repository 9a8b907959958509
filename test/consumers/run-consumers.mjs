// Proves the packed package works in the apps Nest users have: writes the shared app
// (test/consumers/app) into each consumer fixture (test/consumers/<fixture>/src), installs the
// fixture with `npm ci`, adds the tarball with `npm install --no-save`, compiles it with tsc,
// boots it against a private redis-server and runs its tests, which start their own Redis with
// `nestjs-redis-coordination/testing` as the README tells users to.
//
//   node test/consumers/run-consumers.mjs [package.tgz] [--fixture <name>]... [--reuse-install]
//
// Without a tarball it packs the repository (`npm pack`, which runs the `prepack` build).
// Prints one line per step with its duration; exits 1, after printing the output of every
// failed step, if any step failed. A step whose prerequisite failed is skipped. Plain Node ESM,
// no dependencies. `runConsumers()` is exported for callers that want the results as data.
//
// Needs the repository built (dist/lib/testing starts the boot steps' Redis). Environment:
// REDIS_SERVER_BIN (default redis-server on PATH); npm_config_cache to install from another npm
// cache (e.g. an empty one, to time a cold install). Steps get REDIS_URL.
//
// The fixtures are configured as `nest new` makes the app (@nestjs/schematics 11 `ts`, 12
// `ts-esm` templates): no transformIgnorePatterns, allowJs or moduleNameMapper for this package,
// so a failure here is what a user would see. Differences from `nest new`: no HTTP platform,
// CLI, lint or e2e tooling; `tsc` instead of `nest build` (same tsconfig); nest11-cjs also has
// jest 29 (as the alias `jest-29`, sharing the install) and a `module: commonjs` tsconfig;
// nest12-esm also has jest 30 in ESM mode, and pins vite ~8.3 (vite 8.4.0 declares an optional
// dependency the registry answers 404 for, so `npm ci` rejects a lock made by `npm install`).
// After changing a fixture's package.json, refresh its lock with `npm install` in its directory.

import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '..', '..');
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const STEP_TIMEOUT_MS = 3 * 60_000;
const OUTPUT_LIMIT = 512 * 1024;

const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund'];
const node = (...args) => [process.execPath, ...args];
const tsc = (...args) => node('node_modules/typescript/bin/tsc', ...args);

/**
 * The fixtures and their steps, in order. `needs` names earlier steps of the same fixture that
 * must have passed; `clean` paths (relative to the fixture) are removed before the step runs.
 * Every step needs the install steps.
 */
export const FIXTURES = {
  // Nest 11, CommonJS output, ts-jest, TypeScript 5.7 (as `nest new` for Nest 11 makes it).
  'nest11-cjs': [
    {
      id: 'tsc-nodenext',
      title: 'tsc -p tsconfig.json (module nodenext)',
      command: tsc('-p', 'tsconfig.json'),
      clean: ['dist'],
    },
    {
      id: 'tsc-commonjs',
      title: 'tsc -p tsconfig.commonjs.json (module commonjs, node10)',
      command: tsc('-p', 'tsconfig.commonjs.json'),
      clean: ['dist/commonjs'],
    },
    {
      id: 'boot-nodenext',
      title: 'node dist/main.js (nodenext build)',
      command: node('dist/main.js'),
      needs: ['tsc-nodenext'],
    },
    {
      id: 'boot-commonjs',
      title: 'node dist/commonjs/main.js (commonjs build)',
      command: node('dist/commonjs/main.js'),
      needs: ['tsc-commonjs'],
    },
    {
      id: 'jest30',
      title: 'jest 30 (ts-jest, CommonJS)',
      command: node('node_modules/jest/bin/jest.js'),
    },
    {
      id: 'jest29',
      title: 'jest 29 (ts-jest, CommonJS)',
      command: node('node_modules/jest-29/bin/jest.js'),
    },
  ],
  // Nest 12, "type": "module", TypeScript 6, vitest (as `nest new` for Nest 12 makes it), and
  // jest 30 in ESM mode for apps that kept jest.
  'nest12-esm': [
    {
      id: 'tsc-build',
      title: 'tsc -p tsconfig.build.json (build)',
      command: tsc('-p', 'tsconfig.build.json'),
      clean: ['dist', 'tsconfig.build.tsbuildinfo'],
    },
    {
      id: 'tsc-check',
      title: 'tsc -p tsconfig.json --noEmit (with the spec)',
      command: tsc('-p', 'tsconfig.json', '--noEmit'),
    },
    {
      id: 'boot',
      title: 'node dist/main.js',
      command: node('dist/main.js'),
      needs: ['tsc-build'],
    },
    {
      id: 'jest30-esm',
      title: 'jest 30 (ts-jest, ESM: --experimental-vm-modules)',
      command: node('--experimental-vm-modules', 'node_modules/jest/bin/jest.js'),
    },
    {
      id: 'vitest',
      title: 'vitest run',
      command: node('node_modules/vitest/vitest.mjs', 'run'),
    },
  ],
};

/**
 * Runs the fixtures against `tarball` (packing the repository when it is not given) and
 * resolves to one result per step: `{ fixture, step, title, status: 'ok'|'fail'|'skip', ms,
 * command, output }`.
 */
export async function runConsumers({
  tarball,
  fixtures = Object.keys(FIXTURES),
  reuseInstall = false,
  log = (line) => console.log(line),
} = {}) {
  const results = [];
  const cleanups = [];
  const report = (result) => {
    results.push(result);
    const status = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' }[result.status];
    const seconds = result.status === 'skip' ? '' : `${(result.ms / 1000).toFixed(1)}s`;
    log(`${result.fixture.padEnd(11)} ${status} ${seconds.padStart(6)}  ${result.title}`);
  };
  try {
    if (!tarball) {
      const dir = mkdtempSync(join(tmpdir(), 'consumers-pack-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const packed = await runStep({
        fixture: 'package',
        step: 'pack',
        title: `npm pack (repository ${REPO_ROOT}, runs prepack)`,
        command: ['npm', 'pack', '--pack-destination', dir],
        cwd: REPO_ROOT,
        timeoutMs: INSTALL_TIMEOUT_MS,
      });
      report(packed);
      if (packed.status !== 'ok') return results;
      const tgz = readdirSync(dir).filter((file) => file.endsWith('.tgz'));
      if (tgz.length !== 1) throw new Error(`npm pack left ${tgz.length} tarballs in ${dir}`);
      tarball = join(dir, tgz[0]);
    }
    tarball = resolve(tarball);
    if (!existsSync(tarball)) throw new Error(`no such tarball: ${tarball}`);
    log(`consumers: package ${tarball}`);

    // The repository's own test rig, as built (npm pack or npm test built it).
    const { RedisServer } = await import('../../dist/lib/testing/index.js');
    const redis = await RedisServer.start();
    cleanups.push(() => redis.dispose());
    log(`consumers: private redis-server at ${redis.url}`);

    for (const fixture of fixtures) {
      const steps = FIXTURES[fixture];
      if (!steps)
        throw new Error(`unknown fixture ${fixture} (have ${Object.keys(FIXTURES).join(', ')})`);
      const cwd = join(HERE, fixture);
      copyApp(cwd);
      const passed = new Set();
      const run = async (step) => {
        const base = { install: [], tarball: ['install'] }[step.id] ?? ['install', 'tarball'];
        const missing = [...base, ...(step.needs ?? [])].filter((id) => !passed.has(id));
        if (missing.length > 0) {
          report({
            fixture,
            step: step.id,
            title: `${step.title} (needs ${missing.join(', ')})`,
            status: 'skip',
            ms: 0,
          });
          return;
        }
        for (const path of step.clean ?? [])
          rmSync(join(cwd, path), { recursive: true, force: true });
        const result = await runStep({ ...step, fixture, step: step.id, cwd, redisUrl: redis.url });
        report(result);
        if (result.status === 'ok') passed.add(step.id);
      };

      if (reuseInstall && installIsCurrent(cwd)) {
        report({
          fixture,
          step: 'install',
          title: 'npm ci (reused node_modules)',
          status: 'ok',
          ms: 0,
        });
        passed.add('install');
      } else {
        await run({
          id: 'install',
          title: 'npm ci',
          command: ['npm', 'ci', ...NPM_QUIET],
          timeoutMs: INSTALL_TIMEOUT_MS,
        });
      }
      await run({
        id: 'tarball',
        title: 'npm install --no-save <tarball>',
        command: ['npm', 'install', '--no-save', ...NPM_QUIET, tarball],
        timeoutMs: INSTALL_TIMEOUT_MS,
      });
      for (const step of steps) await run(step);
    }
    return results;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}

/**
 * Writes the app shared by every fixture (test/consumers/app) into the fixture's src/. An ESM
 * fixture's relative imports get the `.js` extension Node needs; CommonJS ones stay as written.
 */
function copyApp(cwd) {
  const esm = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')).type === 'module';
  const appDir = join(HERE, 'app');
  const srcDir = join(cwd, 'src');
  rmSync(srcDir, { recursive: true, force: true });
  mkdirSync(srcDir);
  for (const file of readdirSync(appDir)) {
    const source = readFileSync(join(appDir, file), 'utf8');
    writeFileSync(
      join(srcDir, file),
      esm ? source.replace(/(from '\.\/[^']+)'/g, "$1.js'") : source,
    );
  }
}

/** node_modules installed from the current package-lock.json (npm writes its copy last). */
function installIsCurrent(cwd) {
  const hidden = join(cwd, 'node_modules', '.package-lock.json');
  return (
    existsSync(hidden) &&
    statSync(hidden).mtimeMs >= statSync(join(cwd, 'package-lock.json')).mtimeMs
  );
}

/** The environment of a step: the caller's, minus what would change how node or jest behave. */
function stepEnvironment(redisUrl) {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    // A caller running under jest or vitest (or npm) must not leak its flags and worker ids.
    if (
      /^(NODE_OPTIONS|JEST_.*|VITEST.*|npm_(package|lifecycle)_.*|npm_config_local_prefix)$/i.test(
        name,
      )
    )
      delete env[name];
  }
  return {
    ...env,
    CI: 'true',
    NO_COLOR: '1',
    FORCE_COLOR: '0',
    ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
  };
}

/** Runs one command in its own process group; resolves to its result, never rejects. */
function runStep({ fixture, step, title, command, cwd, redisUrl, timeoutMs = STEP_TIMEOUT_MS }) {
  const started = performance.now();
  return new Promise((resolvePromise) => {
    let output = '';
    let timedOut = false;
    const append = (chunk) => {
      output += chunk.toString();
      if (output.length > OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
    };
    const child = spawn(command[0], command.slice(1), {
      cwd,
      env: stepEnvironment(redisUrl),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const finish = (status, detail) => {
      clearTimeout(timer);
      resolvePromise({
        fixture,
        step,
        title,
        status,
        ms: performance.now() - started,
        command: command.join(' '),
        cwd,
        output: detail ? `${output}\n${detail}` : output,
      });
    };
    child.once('error', (error) => finish('fail', `could not start: ${error.message}`));
    child.once('close', (code, signal) => {
      if (timedOut) finish('fail', `timed out after ${timeoutMs / 1000}s`);
      else if (code === 0) finish('ok');
      else finish('fail', `exit ${code ?? signal}`);
    });
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

async function main() {
  const args = process.argv.slice(2);
  const fixtures = [];
  let tarball;
  let reuseInstall = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--fixture') fixtures.push(args[++i]);
    else if (args[i] === '--reuse-install') reuseInstall = true;
    else if (args[i].startsWith('--')) throw new Error(`unknown option ${args[i]}`);
    else tarball = args[i];
  }
  const results = await runConsumers({
    tarball,
    reuseInstall,
    fixtures: fixtures.length > 0 ? fixtures : undefined,
  });
  const failed = results.filter((result) => result.status === 'fail');
  for (const result of failed) {
    console.log(`\n--- ${result.fixture}: ${result.title} (in ${result.cwd})`);
    console.log(`$ ${result.command}\n${result.output.trim()}`);
  }
  const count = (status) => results.filter((result) => result.status === status).length;
  console.log(`\n${count('ok')} passed, ${count('fail')} failed, ${count('skip')} skipped`);
  process.exitCode = failed.length > 0 || results.length === 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
}
