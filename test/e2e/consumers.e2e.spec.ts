import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';

// The packed package installed into the apps Nest users have (test/consumers): each fixture is
// compiled, booted and tested there with its own jest or vitest, as `nest new` sets them up.
const root = fileURLToPath(new URL('../..', import.meta.url));
const runner = join(root, 'test/consumers/run-consumers.mjs');

describe('the packed package in consumer apps', () => {
  let packDir: string;
  let tarball: string;

  beforeAll(() => {
    packDir = mkdtempSync(join(tmpdir(), 'coord-pack-'));
    // `npm test` has just built dist/, so skip the prepack build.
    const packed = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', packDir], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(packed.status, 0, packed.stderr);
    tarball = join(
      packDir,
      readdirSync(packDir).find((file) => file.endsWith('.tgz'))!,
    );
  });
  afterAll(() => rmSync(packDir, { recursive: true, force: true }));

  // Asynchronous, so that jest's timeout can end a run that hangs (an install, say).
  function runFixture(fixture: string): Promise<void> {
    const run = spawn(
      process.execPath,
      [runner, tarball, '--fixture', fixture, '--reuse-install'],
      {
        cwd: root,
      },
    );
    let output = '';
    run.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    run.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return new Promise((resolve, reject) => {
      run.once('error', reject);
      run.once('close', (code) => {
        // The runner prints one line per step, then the output of every failed step.
        if (code === 0) resolve();
        else reject(new Error(`run-consumers --fixture ${fixture} exited ${code}:\n${output}`));
      });
    });
  }

  it('a Nest 11 CommonJS app: tsc 5.7 (nodenext and commonjs), node, jest 29 and jest 30', () =>
    runFixture('nest11-cjs'));

  it('a Nest 12 ESM app: tsc, node, jest (ESM) and vitest', () => runFixture('nest12-esm'));
});
