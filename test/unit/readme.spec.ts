import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, parse, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from '@jest/globals';

// Every ```ts / ```typescript block of README.md compiles against the library's sources.
//
// Each block becomes a module of its own in a temporary directory, and one `tsc` run checks them
// all with the project's compiler settings (tsconfig.json, extended: strict, decorators and their
// metadata, nodenext, ES2023), except that unused names are allowed (examples show parameters
// they do not use). `nestjs-redis-coordination` and `nestjs-redis-coordination/testing` are
// mapped to lib/ by `paths`; everything else (`@nestjs/*`, `ioredis`, ...) resolves from the
// repository's node_modules, linked into the temporary directory. Errors name the README line.
//
// Above a block's fence, HTML comment lines (invisible in the rendered README, blank lines
// between them allowed) may say how to compile it:
//
//   <!-- prelude: declare function sendMail(to: string): Promise<void>; -->
//     One line of TypeScript compiled before the block: declares what the example takes as the
//     app's own (its store, its mailer). Several prelude lines may stand above one block.
//   <!-- compile: skip (why) -->
//     The block is not compiled. The reason is required; the block is listed as a skipped test
//     named with its line and reason. Prefer a complete example or a prelude.
//
// A directive that is misspelt or not above a ```ts block fails the spec. Note that tsc reports
// only syntax errors while any file has one: the other blocks' type errors show after the fix.

const root = fileURLToPath(new URL('../..', import.meta.url));
const readmePath = join(root, 'README.md');

interface Block {
  /** README line (1-based) of the opening fence; the code starts on the next line. */
  readonly line: number;
  readonly code: readonly string[];
  readonly prelude: readonly { readonly line: number; readonly code: string }[];
  readonly skip?: string;
}

interface Extracted {
  readonly blocks: readonly Block[];
  /** Directives that are not understood, so that a typo never skips or changes a block silently. */
  readonly problems: readonly string[];
}

const directivePattern = /^\s*<!--\s*(prelude|compile):(.*)-->\s*$/;

function extractBlocks(markdown: string): Extracted {
  const lines = markdown.split(/\r?\n/);
  const blocks: Block[] = [];
  const problems: string[] = [];
  const used = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, language] = open as unknown as [string, string, string, string];
    const end = lines.findIndex(
      (text, j) => j > i && text.trim().startsWith(fence) && /^[`~]+$/.test(text.trim()),
    );
    const close = end === -1 ? lines.length : end;
    if (language === 'ts' || language === 'typescript') {
      const prelude: { line: number; code: string }[] = [];
      let skip: string | undefined;
      // The comment lines above the fence; Prettier puts a blank line after each.
      for (let j = i - 1; j >= 0 && /^\s*(<!--.*-->)?\s*$/.test(lines[j]!); j--) {
        const directive = directivePattern.exec(lines[j]!);
        if (!directive) continue;
        used.add(j);
        const [, kind, value] = directive as unknown as [string, string, string];
        if (kind === 'prelude') {
          prelude.unshift({ line: j + 1, code: value.trim() });
        } else {
          const reason = /^\s*skip\s*\((.*\S.*)\)\s*$/.exec(value)?.[1];
          if (reason === undefined) {
            problems.push(
              `README.md:${j + 1}: "${lines[j]!.trim()}": write <!-- compile: skip (reason) -->`,
            );
          } else {
            skip = reason.trim();
          }
        }
      }
      const code = lines
        .slice(i + 1, close)
        .map((text) => (text.startsWith(indent) ? text.slice(indent.length) : text));
      blocks.push({ line: i + 1, code, prelude, ...(skip === undefined ? {} : { skip }) });
    }
    i = close;
  }
  lines.forEach((text, j) => {
    if (directivePattern.test(text) && !used.has(j)) {
      problems.push(`README.md:${j + 1}: "${text.trim()}" is not above a \`\`\`ts block`);
    }
  });
  return { blocks, problems };
}

interface Diagnostic {
  /** Where the error is: README.md:<line> for a block, the file otherwise. */
  readonly where: string;
  readonly block?: Block;
  readonly text: string;
}

const fileOf = (block: Block) => `readme-line-${block.line}.ts`;

/** Maps a line of a generated file back to the README line it came from. */
function readmeLine(block: Block, generatedLine: number): number {
  if (generatedLine <= block.prelude.length) return block.prelude[generatedLine - 1]!.line;
  const codeLine = generatedLine - block.prelude.length;
  return codeLine <= block.code.length ? block.line + codeLine : block.line;
}

function runTsc(cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((done, fail) => {
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const child = spawn(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd,
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', fail);
    child.on('close', (status) => done({ status, output }));
  });
}

/** tsc's `file(line,col): error TSn: message` lines, with their indented continuation lines. */
function parseTscOutput(output: string, dir: string, blocks: readonly Block[]): Diagnostic[] {
  const byFile = new Map(blocks.map((block) => [resolve(dir, fileOf(block)), block]));
  const diagnostics: { where: string; block?: Block; lines: string[] }[] = [];
  for (const text of output.split(/\r?\n/)) {
    const located = /^(.+)\((\d+),(\d+)\): (error .*)$/.exec(text);
    if (located) {
      const [, file, line, column, message] = located as unknown as string[];
      const block = byFile.get(resolve(dir, file!));
      diagnostics.push(
        block
          ? { where: `README.md:${readmeLine(block, Number(line))}`, block, lines: [message!] }
          : { where: `${resolve(dir, file!)}:${line}:${column}`, lines: [message!] },
      );
    } else if (/^\s/.test(text) && diagnostics.length > 0) {
      diagnostics.at(-1)!.lines.push(text.trim());
    } else if (text.trim() !== '') {
      diagnostics.push({ where: 'tsc', lines: [text.trim()] });
    }
  }
  return diagnostics.map(({ where, block, lines }) => ({
    where,
    ...(block ? { block } : {}),
    text: lines.join('\n    '),
  }));
}

const { blocks, problems } = extractBlocks(readFileSync(readmePath, 'utf8'));
const checked = blocks.filter((block) => block.skip === undefined);

describe('README.md TypeScript blocks', () => {
  let dir: string | undefined;
  let diagnostics: readonly Diagnostic[] = [];
  let tscStatus: number | null = null;

  beforeAll(async () => {
    // Outside the repository, so that lint and other runs never see the generated files; the
    // link gives them the repository's packages (tsc follows it to the same files lib/ uses).
    dir = mkdtempSync(join(tmpdir(), 'readme-check-'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'junction');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const block of checked) {
      const source = [...block.prelude.map((p) => p.code), ...block.code, 'export {};', ''];
      writeFileSync(join(dir, fileOf(block)), source.join('\n'));
    }
    const tsconfig = {
      extends: join(root, 'tsconfig.json'),
      compilerOptions: {
        rootDir: parse(dir).root, // the project's rootDir would refuse files outside it
        noEmit: true,
        noUnusedLocals: false,
        noUnusedParameters: false,
        typeRoots: [join(root, 'node_modules/@types')],
        paths: {
          'nestjs-redis-coordination': [join(root, 'lib/index.ts')],
          'nestjs-redis-coordination/testing': [join(root, 'lib/testing/index.ts')],
        },
      },
      files: checked.map(fileOf),
      include: [],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    const { status, output } = await runTsc(dir);
    tscStatus = status;
    diagnostics = parseTscOutput(output, dir, blocks);
  });

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('finds blocks to check, and every directive above a block is understood', () => {
    assert.ok(checked.length > 0, 'no ```ts block found in README.md');
    assert.deepEqual(problems, []);
  });

  for (const block of blocks) {
    if (block.skip !== undefined) {
      it.skip(`README.md:${block.line} (skipped: ${block.skip})`, () => undefined);
      continue;
    }
    it(`README.md:${block.line} compiles`, () => {
      const errors = diagnostics.filter((d) => d.block === block);
      assert.ok(
        errors.length === 0,
        `the block at README.md:${block.line} does not compile:\n` +
          errors.map((d) => `  ${d.where}: ${d.text}`).join('\n') +
          '\n(names the example takes as given: <!-- prelude: ... -->, see test/unit/readme.spec.ts)',
      );
    });
  }

  it('tsc reports no error outside the blocks', () => {
    const elsewhere = diagnostics.filter((d) => d.block === undefined);
    assert.ok(
      elsewhere.length === 0,
      `tsc failed outside the README blocks:\n${elsewhere.map((d) => `  ${d.where}: ${d.text}`).join('\n')}`,
    );
    assert.equal(
      tscStatus === 0,
      diagnostics.length === 0,
      `tsc exited with ${tscStatus}, ${diagnostics.length} errors read`,
    );
  });
});

describe('README block extraction', () => {
  it('reads ts and typescript fences with their directives, and nothing inside other fences', () => {
    const markdown = [
      '````md', //                                        1
      '```ts',
      'not a block',
      '```',
      '````', //                                          5
      '<!-- prelude: declare const a: number; -->',
      '',
      '<!-- compile: skip (a fragment) -->',
      '```typescript',
      'a;', //                                            10
      '```',
      '<!-- compile: skp -->',
      '```ts',
      '```',
      '<!-- prelude: let orphan = 1; -->', //             15
      'text',
    ].join('\n');
    const { blocks, problems } = extractBlocks(markdown);
    assert.deepEqual(blocks, [
      {
        line: 9,
        code: ['a;'],
        prelude: [{ line: 6, code: 'declare const a: number;' }],
        skip: 'a fragment',
      },
      { line: 13, code: [], prelude: [] },
    ]);
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^README\.md:12: .*skip \(reason\)/);
    assert.match(problems[1]!, /^README\.md:15: .*not above/);
    assert.equal(readmeLine(blocks[0]!, 1), 6);
    assert.equal(readmeLine(blocks[0]!, 2), 10);
  });
});
