import assert from 'node:assert/strict';

/**
 * Polls `condition` every 5 ms until it holds; fails naming `what` after 10 s. For effects that
 * travel between processes or connections (a message, a reconnect), not for speed.
 */
export async function eventually(
  what: string,
  condition: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`not within 10 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
