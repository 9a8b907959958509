/**
 * Which build of the package this file belongs to. The source says ESM; the build writes
 * CommonJS into the CommonJS copy (tools/build.mjs), as no run-time test tells them apart in
 * every loader (vitest hands `module` and `require` to the ES modules it transforms).
 */
export const MODULE_FORMAT: 'ESM' | 'CommonJS' = 'ESM';
