import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from '@jest/globals';

// These run plain Node on the built package (dist/lib and dist/cjs), resolved through the
// package's own `exports` by name, as an app that installed it would.
const root = fileURLToPath(new URL('../../..', import.meta.url));

function runModule(source: string): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: root,
    encoding: 'utf8',
  });
  return { stdout: result.stdout.trim(), stderr: result.stderr, status: result.status };
}

const requireFromHere = `const require = (await import('node:module')).createRequire(import.meta.url);`;

describe('the package in both module systems', () => {
  it('gives require() the CommonJS build and import the ESM build, each with every export', () => {
    const { stdout, status, stderr } = runModule(`
      ${requireFromHere}
      const cjsPath = require.resolve('nestjs-redis-coordination');
      const esmPath = import.meta.resolve('nestjs-redis-coordination');
      const testingPath = require.resolve('nestjs-redis-coordination/testing');
      console.log(JSON.stringify({ cjsPath, esmPath, testingPath }));
    `);
    assert.equal(status, 0, stderr);
    const paths = JSON.parse(stdout) as Record<string, string>;
    assert.match(paths.cjsPath!, /dist\/cjs\/index\.js$/);
    assert.match(paths.esmPath!, /dist\/lib\/index\.js$/);
    assert.match(paths.testingPath!, /dist\/cjs\/testing\/index\.js$/);

    const exportsOf = (loader: string) =>
      runModule(`${requireFromHere}
        const m = ${loader};
        const t = ${loader.replace("coordination'", "coordination/testing'")};
        console.log(JSON.stringify([Object.keys(m).sort(), Object.keys(t).sort()]));`);
    const cjs = exportsOf("require('nestjs-redis-coordination')");
    const esm = exportsOf("await import('nestjs-redis-coordination')");
    assert.equal(cjs.status, 0, cjs.stderr);
    assert.equal(esm.status, 0, esm.stderr);
    const [cjsMain, cjsTesting] = JSON.parse(cjs.stdout) as string[][];
    // The ESM namespace has no __esModule marker; otherwise both builds export the same names.
    assert.deepEqual(
      cjsMain!.filter((name) => name !== '__esModule'),
      (JSON.parse(esm.stdout) as string[][])[0],
    );
    assert.deepEqual(cjsTesting!, (JSON.parse(esm.stdout) as string[][])[1]);
    assert.ok(cjsMain!.includes('RedisLockService'));
    assert.ok(cjsTesting!.includes('RedisServer'));
  });

  for (const [first, second, loading, loaded] of [
    [
      "await import('nestjs-redis-coordination')",
      "require('nestjs-redis-coordination')",
      'CommonJS',
      'ESM',
    ],
    [
      "require('nestjs-redis-coordination')",
      "await import('nestjs-redis-coordination')",
      'ESM',
      'CommonJS',
    ],
  ] as const) {
    it(`refuses to load the other build after ${first.split('(')[0]}: one process, one copy`, () => {
      const { stdout, status, stderr } = runModule(`
        ${requireFromHere}
        await Promise.resolve(${first});
        try {
          await Promise.resolve(${second});
          console.log('loaded twice');
        } catch (error) {
          console.log(JSON.stringify({ name: error.name, code: error.code, message: error.message }));
        }
      `);
      assert.equal(status, 0, stderr);
      const error = JSON.parse(stdout) as { name: string; code: string; message: string };
      assert.equal(error.name, 'DuplicatePackageCopyError');
      assert.equal(error.code, 'DUPLICATE_PACKAGE_COPY');
      assert.match(error.message, /two copies of every service/);
      assert.match(error.message, new RegExp(`loaded as ${loading} .* loaded it as ${loaded}:`));
    });
  }

  it('ships every file its source maps and type declarations point at', () => {
    const packed = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(packed.status, 0, packed.stderr);
    const files = new Set(
      (JSON.parse(packed.stdout) as [{ files: { path: string }[] }])[0].files.map((f) => f.path),
    );
    const maps = [...files].filter((path) => path.endsWith('.map'));
    assert.ok(maps.length > 0, 'source maps are shipped');
    const missing = maps.flatMap((map) => {
      const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as {
        sources: string[];
      };
      return sources
        .map((source) => normalize(join(dirname(map), source)))
        .filter((source) => !files.has(source))
        .map((source) => `${map} -> ${source}`);
    });
    assert.deepEqual([...missing], []);
    for (const entry of ['dist/lib/index.d.ts', 'dist/cjs/index.d.ts', 'dist/cjs/package.json']) {
      assert.ok(files.has(entry), `${entry} is shipped`);
    }
  });
});
