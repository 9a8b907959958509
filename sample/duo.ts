// `npm run sample:duo`: two instances of the sample on two ports sharing one Redis (REDIS_URL,
// or a private one started by tools/with-private-servers; ZooKeeper too with ZOOKEEPER=1), then the scripted load of
// duo-scenario.ts. Exits non-zero if any check fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../lib/testing/index.js';
import { runDuoScenario } from './duo-scenario.js';

const main = fileURLToPath(new URL('./main.js', import.meta.url));
const ports = [await freePort(), await freePort()];
const instances: ChildProcess[] = ports.map((port, i) =>
  spawn(process.execPath, [main], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      PORT: String(port),
      INSTANCE_NAME: `instance-${'ab'[i]}:${port}`,
      DB_LATENCY_MS: process.env.DB_LATENCY_MS ?? '20',
    },
  }),
);
const baseUrls = ports.map((port) => `http://127.0.0.1:${port}`);

let failed = true;
try {
  await Promise.all(baseUrls.map(waitUntilHealthy));
  const checks = await runDuoScenario(baseUrls, (line) => console.log(`[duo] ${line}`));
  failed = checks.some((c) => !c.ok);
  console.log(
    `[duo] ${checks.filter((c) => c.ok).length} passed, ${checks.filter((c) => !c.ok).length} failed`,
  );
} finally {
  await Promise.all(
    instances.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(undefined);
          child.once('exit', resolve);
          child.kill('SIGTERM'); // graceful: workers drain, connections quit
        }),
    ),
  );
}
process.exit(failed ? 1 : 0);

async function waitUntilHealthy(baseUrl: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`${baseUrl}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${baseUrl} did not become healthy within 30 s`);
}
