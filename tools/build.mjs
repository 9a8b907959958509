// `npm run build`: Lua and the dashboard page → TypeScript, then two compilations of the TypeScript.
// - tsconfig.json: the whole project (library, tests, sample, bench, tools) as ESM into dist/;
//   this is also the type check. dist/lib is the package's ESM build.
// - tsconfig.cjs.json: the library alone as CommonJS into dist/cjs, with a package.json there
//   that tells Node and TypeScript those .js/.d.ts files are CommonJS, and its MODULE_FORMAT
//   marked CommonJS.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

function run(command, args) {
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

rmSync('dist', { recursive: true, force: true });
run(process.execPath, ['tools/build-lua.mjs']);
run(process.execPath, ['tools/build-page.mjs']);
const tsc = 'node_modules/typescript/bin/tsc';
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
run(process.execPath, [tsc, '-p', 'tsconfig.cjs.json']);
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
// The CommonJS copy says what it is (lib/common/module-format.ts).
const formatFile = 'dist/cjs/common/module-format.js';
const format = readFileSync(formatFile, 'utf8');
const commonjs = format.replace("MODULE_FORMAT = 'ESM'", "MODULE_FORMAT = 'CommonJS'");
if (commonjs === format) throw new Error(`${formatFile}: no MODULE_FORMAT = 'ESM' to mark`);
writeFileSync(formatFile, commonjs);
