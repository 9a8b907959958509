import { fork, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A message a child sends to the test over IPC: `{ type, ...fields }`. */
export interface ChildMessage {
  type: string;
  [field: string]: unknown;
}

/**
 * A piece of the library running in its own Node process (a fixture under test/fixtures), so
 * fault tests can SIGKILL, SIGSTOP and SIGCONT a real process rather than a promise. The child
 * talks to the test over IPC with `process.send({ type, ... })`.
 */
export class ChildApp {
  readonly messages: ChildMessage[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();
  private readonly child: ChildProcess;
  private stderr = '';

  private constructor(
    fixture: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    networkNamespace: string | undefined,
  ) {
    const path = compiledFixture(fixture);
    const spawnOptions = {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'] satisfies StdioOptions,
    };
    this.child = networkNamespace
      ? // `ip netns exec` runs Node in its own place (same pid), and Node inherits the IPC channel.
        spawn(
          'ip',
          ['netns', 'exec', networkNamespace, process.execPath, path, ...args],
          spawnOptions,
        )
      : fork(path, args, { ...spawnOptions, execArgv: [] }); // not the test runner's flags
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      if (process.env.CHILD_STDERR) process.stderr.write(chunk);
    });
    this.child.on('message', (message: ChildMessage) => {
      this.messages.push(message);
      for (const wake of this.waiters) wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        for (const wake of this.waiters) wake();
        resolve({ code, signal });
      }),
    );
  }

  /**
   * Starts `test/fixtures/<fixture>.ts` (compiled) in a new process; with `networkNamespace`,
   * inside that network namespace (`ip netns exec`, as root).
   */
  static spawn(
    fixture: string,
    options: { args?: string[]; env?: NodeJS.ProcessEnv; networkNamespace?: string } = {},
  ): ChildApp {
    return new ChildApp(fixture, options.args ?? [], options.env ?? {}, options.networkNamespace);
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** What the child wrote to stderr so far (also shown live with CHILD_STDERR=1). */
  get errorOutput(): string {
    return this.stderr;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  send(message: ChildMessage): void {
    this.child.send(message);
  }

  /**
   * Resolves with the first message (already received or still to come) of `type` that
   * satisfies `predicate`; rejects if the child exits first.
   */
  waitFor(
    type: string,
    predicate: (message: ChildMessage) => boolean = () => true,
  ): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find((m) => m.type === type && predicate(m));
        if (found) {
          this.waiters.delete(check);
          resolve(found);
        } else if (!this.running) {
          this.waiters.delete(check);
          reject(new Error(`child exited before sending "${type}": ${this.stderr.slice(-2000)}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * The child's report of `type` (see {@link waitFor}); rejects with the child's error if it
   * reports `failed` first (the fixtures' commands report their failures so).
   */
  reportOf(type: string): Promise<ChildMessage> {
    return Promise.race([
      this.waitFor(type),
      this.waitFor('failed').then((m) => {
        throw new Error(`child failed before sending "${type}": ${String(m.error)}`);
      }),
    ]);
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** SIGKILLs the child (if still running) and waits for it to be gone. */
  async kill(): Promise<void> {
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    await this.exited;
  }
}

/**
 * The fixture's compiled file. Jest runs specs from source, but a child runs plain Node, so it
 * runs what `npm run build` compiled to dist/; an outdated copy would test old code, so refuse it.
 */
function compiledFixture(fixture: string): string {
  const source = fileURLToPath(new URL(`../fixtures/${fixture}.ts`, import.meta.url));
  const compiled = fileURLToPath(
    new URL(`../../dist/test/fixtures/${fixture}.js`, import.meta.url),
  );
  const modified = (path: string) => statSync(path, { throwIfNoEntry: false })?.mtimeMs;
  if ((modified(compiled) ?? 0) < modified(source)!) {
    throw new Error(`${compiled} is missing or older than its source: run "npm run build" first`);
  }
  return compiled;
}

/** In a fixture: sends a message to the test that spawned this process. */
export function tellParent(message: ChildMessage): void {
  process.send?.(message);
}

/** In a fixture: calls `handler` for each message the test sends. */
export function onParentMessage(handler: (message: ChildMessage) => void): void {
  process.on('message', (message: ChildMessage) => handler(message));
}
