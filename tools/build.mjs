// `npm run build`: Lua → TypeScript, then two compilations of the TypeScript.
// - tsconfig.json: the whole project (library, tests, sample, bench, tools) as ESM into dist/;
//   this is also the type check. dist/lib is the package's ESM build.
// - tsconfig.cjs.json: the library alone as CommonJS into dist/cjs, with a package.json there
//   that tells Node and TypeScript those .js/.d.ts files are CommonJS.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';

function run(command, args) {
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

rmSync('dist', { recursive: true, force: true });
run(process.execPath, ['tools/build-lua.mjs']);
const tsc = 'node_modules/typescript/bin/tsc';
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
run(process.execPath, [tsc, '-p', 'tsconfig.cjs.json']);
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
