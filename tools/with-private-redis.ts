// `node dist/tools/with-private-redis.js <command...>`: runs the command with REDIS_URL set.
// When REDIS_URL is already set it is used as is; otherwise a private redis-server is started
// on a free port for the command's lifetime and stopped after it (also on Ctrl-C).
import { spawn } from 'node:child_process';
import { RedisServer } from '../lib/testing/index.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: with-private-redis <command> [args...]');
  process.exit(2);
}

const server = process.env.REDIS_URL ? undefined : await RedisServer.start();
if (server) console.log(`Started a private redis-server at ${server.url} (stopped on exit)`);
const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...process.env, REDIS_URL: process.env.REDIS_URL ?? server!.url },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
const code = await new Promise<number>((resolve) =>
  child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + 1 : 1))),
);
await server?.dispose();
process.exit(code);
