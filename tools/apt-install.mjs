// Installing an OS package, for the tools that make sure the test servers can run: apt-get on
// Debian/Ubuntu, as root only (elsewhere those tools print the steps instead).
import { spawnSync } from 'node:child_process';

/** True when this process can install OS packages with apt-get: root, with apt-get on PATH. */
export function canAptInstall() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return isRoot && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
}

/** `apt-get update`, then `apt-get install` of `pkg`; returns why it failed, or undefined. */
export function aptInstall(pkg) {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', pkg],
  ]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env });
    if (result.status !== 0) return `"apt-get ${args.join(' ')}" failed (exit ${result.status}).`;
  }
  return undefined;
}
