import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Specs that check what `nestjs-redis-coordination/testing` does to a process of its own (an
// error at start, a server outliving its owner) run the built entry point in a fresh `node`.

const BUILT_TESTING_ENTRY = fileURLToPath(
  new URL('../../dist/lib/testing/index.js', import.meta.url),
);

/** `node` arguments that run `code` as an ES module with the built entry's exports as `testing`. */
export function nodeArgsWithTesting(code: string): string[] {
  const load = `const testing = await import(${JSON.stringify(BUILT_TESTING_ENTRY)});`;
  return ['--input-type=module', '-e', `${load}\n${code}`];
}

/**
 * Runs `code` (see {@link nodeArgsWithTesting}) to its end with `env` added and a TMPDIR of its
 * own, and says what it left in that TMPDIR.
 */
export function runWithTesting(
  code: string,
  env: NodeJS.ProcessEnv,
): SpawnSyncReturns<string> & { leftInTmpdir: string[] } {
  const scratch = mkdtempSync(join(tmpdir(), 'coord-testing-'));
  try {
    const run = spawnSync(process.execPath, nodeArgsWithTesting(code), {
      env: { ...process.env, ...env, TMPDIR: scratch },
      encoding: 'utf8',
    });
    // Copied into this realm's Array: node's own array fails jest's deepEqual against `[]`.
    return { ...run, leftInTmpdir: [...readdirSync(scratch)] };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
