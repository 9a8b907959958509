import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from '@jest/globals';

// An app without an optional peer dependency (@opentelemetry/api, node-zookeeper-client) must
// compile against the package's declarations even with `skipLibCheck: false`: no declaration
// reachable from an entry point may import one. Checks the built output (`npm test` builds first).
const root = fileURLToPath(new URL('../..', import.meta.url));
const OPTIONAL_PEERS = /^(@opentelemetry\/|node-zookeeper-client$)/;
const ENTRY_POINTS = [
  'dist/lib/index.d.ts',
  'dist/lib/testing/index.d.ts',
  'dist/cjs/index.d.ts',
  'dist/cjs/testing/index.d.ts',
];

/** Each optional-peer import reachable from `entry`, as the chain of files that leads to it. */
function optionalPeerImports(entry: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string, chain: string[]) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const trail = [...chain, relative(root, file)];
      if (OPTIONAL_PEERS.test(specifier!)) found.push(`${trail.join(' -> ')}: ${specifier}`);
      if (!specifier!.startsWith('.')) continue;
      const base = join(dirname(file), specifier!.replace(/\.js$/, ''));
      const target = [`${base}.d.ts`, join(base, 'index.d.ts')].find((path) => existsSync(path));
      if (target) visit(target, trail);
    }
  };
  visit(join(root, entry), []);
  return found;
}

describe('public declarations', () => {
  for (const entry of ENTRY_POINTS) {
    it(`${entry} reaches no optional peer dependency`, () => {
      assert.ok(existsSync(join(root, entry)), `${entry} is built`);
      assert.deepEqual(optionalPeerImports(entry), []);
    });
  }
});
