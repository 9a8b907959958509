// Jest runs the TypeScript specs in ESM mode (NestJS 12 is ESM-only), compiled by SWC with
// decorator metadata for Nest's DI. `tsc` type-checks separately (`npm run build`).
/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  // Consumer fixtures are separate apps with their own installs, run by test/consumers.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/consumers/'],
  modulePathIgnorePatterns: ['<rootDir>/test/consumers/', '<rootDir>/dist/'],
  extensionsToTreatAsEsm: ['.ts'],
  // Sources import each other with the `.js` extension of their compiled output.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          target: 'es2023',
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          keepClassNames: true,
        },
        module: { type: 'es6' },
        sourceMaps: 'inline',
      },
    ],
  },
  testSequencer: '<rootDir>/test/support/slow-first.sequencer.mjs',
  // Specs start their own redis-server processes and children: two files at a time on 2 cores.
  maxWorkers: Number(process.env.TEST_CONCURRENCY ?? 2),
  // A worker that ran fault tests takes longer than jest's default 500 ms to exit once idle
  // (measured: 400 ms after its last file it holds nothing but its IPC and stdio pipes, and with
  // this window it always exits by itself); an open handle would still be reported after it.
  workerGracefulExitTimeout: 3000,
  // No speed budget: a bound only turns a hang into a failure.
  testTimeout: 300_000,
};
