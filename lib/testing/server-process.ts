import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  createConnection,
  createServer,
  type NetConnectOpts,
  type Server,
  type Socket,
} from 'node:net';

/** How long {@link ServerProcess.pause} waits for the kernel to report the process stopped. */
const PAUSE_CONFIRM_MS = 2000;

/**
 * A server process started for tests (a redis-server, a ZooKeeper JVM) that never outlives the
 * process that started it. Each one gets a watchdog: a tiny `sh` that reads a pipe from us and
 * SIGKILLs the server when the pipe closes, that is when this process ends by any means. An
 * `exit` listener is not enough: it misses SIGKILL, and jest gives each test file a `process` of
 * its own whose exit is never signalled, so a test worker torn down with a server still running
 * would leave it behind (a JVM holds ~100 MB and its ports).
 */
export class ServerProcess {
  private startError?: NodeJS.ErrnoException;

  private constructor(private readonly child: ChildProcess) {
    child.once('error', (error: NodeJS.ErrnoException) => (this.startError = error));
    if (child.pid !== undefined) watch(child, child.pid);
  }

  static spawn(command: string, args: string[], stdio: StdioOptions): ServerProcess {
    return new ServerProcess(spawn(command, args, { stdio }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The server's stderr, when it was spawned with `'pipe'` for it. */
  get stderr(): NodeJS.ReadableStream | null {
    return this.child.stderr;
  }

  /** Why the process could not be started (`ENOENT`: no such program), if it could not. */
  get spawnError(): NodeJS.ErrnoException | undefined {
    return this.startError;
  }

  /** True once the process has exited, or could not be started. */
  get ended(): boolean {
    return (
      this.startError !== undefined ||
      this.child.exitCode !== null ||
      this.child.signalCode !== null
    );
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.ended) this.child.kill(signal);
  }

  /**
   * Stops the process (SIGSTOP) and returns once the kernel reports it stopped: a signal takes
   * effect asynchronously, and a busy JVM answered a request sent right after its SIGSTOP. Where
   * `/proc` cannot tell (not Linux), it returns after sending the signal.
   */
  pause(): void {
    if (this.ended) return;
    this.child.kill('SIGSTOP');
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    for (let waited = 0; waited < PAUSE_CONFIRM_MS; waited++) {
      const state = processState(this.child.pid!);
      if (state === undefined || state === 'T' || state === 't') return;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }

  /** Sends `signal` and waits for the exit; a paused process is continued first so it can act. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    if (this.ended) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    if (signal !== 'SIGKILL') this.child.kill('SIGCONT');
    this.child.kill(signal);
    await exited;
  }

  /**
   * Polls `ready` (quickly at first, then every 100 ms) until it holds. False when the process
   * ended first or `timeoutMs` passed: a bound, not a budget, so make it generous.
   */
  async waitUntil(ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; !(await ready()); attempt++) {
      if (this.ended || performance.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(5 * 2 ** attempt, 100)));
    }
    return true;
  }
}

function watch(child: ChildProcess, pid: number): void {
  const watchdog = spawn('sh', ['-c', `read _; kill -9 ${pid}`], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.once('error', () => undefined); // no `sh`: the server is then only stopped by us
  // Neither the watchdog nor its pipe may keep this process alive.
  watchdog.unref();
  (watchdog.stdin as Socket | null)?.unref();
  // Once the server is gone its pid may be reused: the watchdog must go before that.
  child.once('exit', () => watchdog.kill('SIGKILL'));
}

/** A TCP port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/** `count` distinct TCP ports nobody listens on right now (held together while picked). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, listenOnAnyPort));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

/** Sends one `PING` to a Redis (TCP or Unix socket): true when it answered `+PONG` within 1 s. */
export function pingRedis(address: NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(address);
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/**
 * The state letter `/proc/<pid>/stat` gives for `pid` (`R`, `S`, `T` stopped, `Z` zombie, ...), or
 * `undefined` when there is no such process or no `/proc` (not Linux).
 */
export function processState(pid: number): string | undefined {
  try {
    // The state follows the command name, which is in parentheses and may contain spaces.
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}
