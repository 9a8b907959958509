import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, freePorts, ServerProcess } from './server-process.js';

/** Where Debian's and Ubuntu's `zookeeper` package (libzookeeper-java) puts the server's jars. */
const DEBIAN_JARS = '/usr/share/java';

/** How to run a ZooKeeper server: the Java runtime and the server's classpath. */
interface ZooKeeperInstall {
  java: string;
  classpath: string;
}

function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function findClasspath(): { classpath: string } | { missing: string } {
  const { ZOOKEEPER_CLASSPATH, ZOOKEEPER_HOME } = process.env;
  if (ZOOKEEPER_CLASSPATH) return { classpath: ZOOKEEPER_CLASSPATH };
  if (ZOOKEEPER_HOME) {
    // An unpacked Apache release (apache-zookeeper-<version>-bin): jars in lib/, logging in conf/.
    const lib = join(ZOOKEEPER_HOME, 'lib');
    const jars = existsSync(lib) ? readdirSync(lib) : [];
    if (!jars.some((jar) => /^zookeeper-\d.*\.jar$/.test(jar))) {
      return { missing: `no zookeeper-<version>.jar in ZOOKEEPER_HOME/lib (${lib})` };
    }
    return { classpath: [join(lib, '*'), join(ZOOKEEPER_HOME, 'conf')].join(delimiter) };
  }
  const server = join(DEBIAN_JARS, 'zookeeper.jar');
  if (!existsSync(server)) return { missing: `no ZooKeeper jars (${server})` };
  // The jar's manifest names its dependencies; slf4j-simple makes it log (to server.log).
  const logging = join(DEBIAN_JARS, 'slf4j-simple.jar');
  return { classpath: existsSync(logging) ? `${server}${delimiter}${logging}` : server };
}

/**
 * Why a ZooKeeper server cannot be started here (no ZooKeeper jars, no Java), or `undefined`
 * when it can. The jars are looked for in `ZOOKEEPER_CLASSPATH` (used as is), else in
 * `ZOOKEEPER_HOME/lib` (an Apache release), else where Debian's `zookeeper` package puts them;
 * Java is `JAVA_HOME/bin/java`, else `java` on `PATH`.
 */
export function zooKeeperMissing(): string | undefined {
  const found = findClasspath();
  if ('missing' in found) return found.missing;
  const java = javaCommand();
  if (spawnSync(java, ['-version'], { stdio: 'ignore' }).status !== 0) {
    return `no Java runtime ("${java} -version" failed; set JAVA_HOME or put java on PATH)`;
  }
  return undefined;
}

/** True when a ZooKeeper server can be started here (see {@link zooKeeperMissing}). */
export function zooKeeperAvailable(): boolean {
  return zooKeeperMissing() === undefined;
}

const HOW_TO_INSTALL =
  'Install ZooKeeper 3.8 or later and a Java runtime ("apt-get install zookeeper" on Debian/Ubuntu), or set ZOOKEEPER_HOME to an unpacked Apache ZooKeeper release, or ZOOKEEPER_CLASSPATH to the server\'s classpath.';

/** What a start needs; Java is not run here (~0.3 s) but found missing when it is spawned. */
function requireZooKeeper(): ZooKeeperInstall {
  const found = findClasspath();
  if ('missing' in found) throw cannotStart(found.missing);
  return { java: javaCommand(), classpath: found.classpath };
}

function cannotStart(reason: string): Error {
  return new Error(`Cannot start ZooKeeper: ${reason}. ${HOW_TO_INSTALL}`);
}

export interface ZooKeeperServerOptions {
  /**
   * ZooKeeper's time unit (`tickTime`), in milliseconds. Heartbeats, the election and follower
   * sync limits count in ticks; short ticks make failures show quickly in tests.
   * @default 500
   */
  tickTimeMs?: number;
  /** Shortest session timeout the server grants (a client asking less gets this). @default 1000 */
  minSessionTimeoutMs?: number;
  /** Longest session timeout the server grants. @default 60000 */
  maxSessionTimeoutMs?: number;
  /**
   * Sync every write to disk before answering, as production servers do. Off by default: test
   * data need not survive a machine crash (the test Redis runs without saves too).
   * @default false
   */
  syncWrites?: boolean;
}

const DEFAULT_ZOOKEEPER_SERVER_OPTIONS: Required<ZooKeeperServerOptions> = Object.freeze({
  tickTimeMs: 500,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 60_000,
  syncWrites: false,
});

/** What `srvr` says a server is doing: only a server in one of these modes serves clients. */
export type ZooKeeperMode = 'standalone' | 'leader' | 'follower' | 'observer';

/** A bound on a JVM's start and on an election, not a budget: a busy 2-core machine is slow. */
const START_TIMEOUT_MS = 60_000;
const START_ATTEMPTS = 5;
/** How long a four-letter word may go unanswered before the server counts as not answering. */
const ANSWER_TIMEOUT_MS = 2000;
// A small heap, one GC thread and only the quick JIT tier keep three JVMs light on a shared
// 2-core machine (they barely change the start: ~0.5 s idle, ~1.5 s busy).
const JVM_FLAGS = [
  '-Xms32m',
  '-Xmx128m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:-UsePerfData',
  '-Djava.net.preferIPv4Stack=true',
  '-Dorg.slf4j.simpleLogger.showDateTime=true',
  '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
];
const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

/** A member of an ensemble: its id (`myid`) and the ports every member must know. */
interface Peer {
  id: number;
  clientPort: number;
  peerPort: number;
  electionPort: number;
}

/**
 * A private ZooKeeper server on a free loopback port with a data directory of its own, for
 * tests: a real ZooKeeper (it serves within a second or two). It can be stopped, SIGKILLed,
 * restarted on the same port with the same data, and paused with SIGSTOP, so fault tests act on
 * a real process. Sessions may be as short as 1 s (`minSessionTimeoutMs`). Dispose of it when
 * done, in `afterAll` or with `await using`; it is killed anyway when the process that started
 * it ends. Its log is `server.log` in {@link dir}, and its tail is in every start error.
 *
 * @example
 * ```ts
 * let zookeeper: ZooKeeperServer;
 * beforeAll(async () => (zookeeper = await ZooKeeperServer.start()));
 * afterAll(() => zookeeper.dispose());
 * // connect a client to zookeeper.connectString ('127.0.0.1:<port>')
 * ```
 */
export class ZooKeeperServer implements AsyncDisposable {
  readonly host = '127.0.0.1';
  private process?: ServerProcess;
  private paused = false;

  /** @internal Use {@link ZooKeeperServer.start} or {@link ZooKeeperEnsemble.start}. */
  constructor(
    readonly port: number,
    /** Holds `zoo.cfg`, `server.log` and the data directory `data/`. */
    readonly dir: string,
    private readonly install: ZooKeeperInstall,
    config: string[],
    private readonly myid?: number,
  ) {
    mkdirSync(join(dir, 'data'), { recursive: true });
    if (myid !== undefined) writeFileSync(join(dir, 'data', 'myid'), `${myid}\n`);
    writeFileSync(join(dir, 'zoo.cfg'), `${config.join('\n')}\n`);
  }

  /** Starts a standalone server and resolves once it serves clients. */
  static async start(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
    const install = requireZooKeeper();
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'coord-zookeeper-'));
      const server = new ZooKeeperServer(port, dir, install, zooConfig(dir, port, options));
      try {
        await server.launch();
        return server;
      } catch (error) {
        // Another process may take the port between our probe and the JVM's bind: try another.
        const portRace = server.exitedByItself;
        await server.dispose();
        if (attempt >= START_ATTEMPTS || !portRace) throw error;
      }
    }
  }

  /** The client's connect string, `127.0.0.1:<port>`. */
  get connectString(): string {
    return `${this.host}:${this.port}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** True while the JVM runs (also while paused), false once stopped or if it exited. */
  get running(): boolean {
    return this.process !== undefined && !this.process.ended;
  }

  /** True while the server is running and not paused: it can answer. */
  get answering(): boolean {
    return this.running && !this.paused;
  }

  /**
   * Sends a four-letter word (`ruok`, `srvr`, `stat`, `mntr`, `dump`, `cons`…: all are allowed)
   * and resolves with the answer, or `undefined` when the server does not answer in time
   * (stopped, paused, overloaded).
   */
  fourLetterWord(word: string, timeoutMs = ANSWER_TIMEOUT_MS): Promise<string | undefined> {
    return askFourLetterWord(this.host, this.port, word, timeoutMs);
  }

  /** What the server does now, from `srvr`; `undefined` when it does not serve clients. */
  async mode(): Promise<ZooKeeperMode | undefined> {
    if (!this.answering) return undefined;
    const answer = await this.fourLetterWord('srvr');
    return answer?.match(/^Mode: (standalone|leader|follower|observer)$/m)?.[1] as
      ZooKeeperMode | undefined;
  }

  /** Stops the server (SIGTERM) and waits for the JVM to exit. */
  async stop(): Promise<void> {
    await this.signalAndWait('SIGTERM');
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /**
   * Starts the server again on the same port with the same data. A standalone server serves
   * once this resolves; an ensemble member answers, and serves once it has a quorum (see
   * {@link ZooKeeperEnsemble.waitForQuorum}).
   */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, heartbeats stop. */
  pause(): void {
    this.process?.pause();
    this.paused = this.running;
  }

  resume(): void {
    this.process?.signal('SIGCONT');
    this.paused = false;
  }

  /** Kills the server and removes its directory. Safe to call twice. */
  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** The last lines of the server's log, for error messages. */
  logTail(lines = 30): string {
    const log = join(this.dir, 'server.log');
    if (!existsSync(log)) return '(no log)';
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** @internal Whether the JVM ended without being told to (a port taken, a bad config). */
  get exitedByItself(): boolean {
    return this.process?.ended ?? false;
  }

  /** @internal Starts the JVM and waits until it answers (and, standalone, serves). */
  async launch(): Promise<void> {
    const log = openSync(join(this.dir, 'server.log'), 'a');
    let server: ServerProcess;
    try {
      server = this.process = ServerProcess.spawn(
        this.install.java,
        [...JVM_FLAGS, '-cp', this.install.classpath, QUORUM_PEER_MAIN, join(this.dir, 'zoo.cfg')],
        ['ignore', log, log],
      );
    } finally {
      closeSync(log);
    }
    this.paused = false;
    const standalone = this.myid === undefined;
    // `ruok` is answered as soon as the client port is bound, before the data is loaded and
    // before an ensemble has elected a leader: a standalone server must also report its mode.
    const ready = async () =>
      (await this.fourLetterWord('ruok')) === 'imok' && (!standalone || !!(await this.mode()));
    if (!(await server.waitUntil(ready, START_TIMEOUT_MS))) {
      const { spawnError } = server;
      if (spawnError) {
        this.process = undefined;
        throw cannotStart(
          `${this.install.java}: ${spawnError.code === 'ENOENT' ? 'no such program' : spawnError.message}`,
        );
      }
      const exited = server.ended;
      // A JVM that exited stays as the server's process, so `exitedByItself` tells a port race.
      if (!exited) await this.signalAndWait('SIGKILL');
      const outcome = exited ? 'exited' : `did not answer in ${START_TIMEOUT_MS} ms`;
      throw new Error(
        `ZooKeeper server ${this.connectString} ${outcome}; the end of its server.log:\n${this.logTail()}`,
      );
    }
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const server = this.process;
    this.process = undefined;
    this.paused = false;
    await server?.stop(signal);
  }
}

/**
 * A ZooKeeper ensemble of private servers on loopback (3 by default), for fault tests: kill the
 * leader, pause a follower, take the quorum away and give it back. Each member is a
 * {@link ZooKeeperServer} with its own port, directory and log; {@link waitForQuorum} tells
 * which one leads.
 *
 * @example
 * ```ts
 * await using ensemble = await ZooKeeperEnsemble.start(3);
 * const leader = await ensemble.waitForQuorum();
 * await leader.kill();
 * const next = await ensemble.waitForQuorum(); // another member, elected by the other two
 * ```
 */
export class ZooKeeperEnsemble implements AsyncDisposable {
  private constructor(
    readonly servers: readonly ZooKeeperServer[],
    readonly dir: string,
  ) {}

  /** Starts `size` servers and resolves once they have elected a leader and all serve. */
  static async start(size = 3, options: ZooKeeperServerOptions = {}): Promise<ZooKeeperEnsemble> {
    const install = requireZooKeeper();
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(3 * size);
      const peers = Array.from({ length: size }, (_, i) => ({
        id: i + 1,
        clientPort: ports[3 * i]!,
        peerPort: ports[3 * i + 1]!,
        electionPort: ports[3 * i + 2]!,
      }));
      const dir = mkdtempSync(join(tmpdir(), 'coord-zookeeper-ensemble-'));
      const servers = peers.map((peer) => {
        const serverDir = join(dir, `server-${peer.id}`);
        const config = [...zooConfig(serverDir, peer.clientPort, options), ...peerConfig(peers)];
        return new ZooKeeperServer(peer.clientPort, serverDir, install, config, peer.id);
      });
      const ensemble = new ZooKeeperEnsemble(servers, dir);
      try {
        const launches = await Promise.allSettled(servers.map((server) => server.launch()));
        const failed = launches.find((launch) => launch.status === 'rejected');
        if (failed) throw failed.reason;
        await ensemble.waitForQuorum();
        return ensemble;
      } catch (error) {
        // A JVM that exited by itself most likely lost a port race (client, peer or election).
        const portRace = servers.some((server) => server.exitedByItself);
        await ensemble.dispose();
        if (attempt >= START_ATTEMPTS || !portRace) throw error;
      }
    }
  }

  /** The client's connect string: every member, `127.0.0.1:<port>,…`. */
  get connectString(): string {
    return this.servers.map((server) => server.connectString).join(',');
  }

  /**
   * Resolves with the leader once the members that run and are not paused are a majority, one
   * of them leads and all the others follow it. Rejects at once when too few run for a quorum,
   * or when a member exited by itself; after 60 s without a quorum, with every member's mode.
   */
  async waitForQuorum(): Promise<ZooKeeperServer> {
    const majority = Math.floor(this.servers.length / 2) + 1;
    const deadline = performance.now() + START_TIMEOUT_MS;
    for (;;) {
      const crashed = this.servers.find((server) => server.exitedByItself);
      if (crashed) {
        throw new Error(
          `ZooKeeper server ${crashed.connectString} exited; the end of its log:\n${crashed.logTail()}`,
        );
      }
      const answering = this.servers.filter((server) => server.answering);
      if (answering.length < majority) {
        throw new Error(
          `Only ${answering.length} of ${this.servers.length} ZooKeeper servers run unpaused: a quorum needs ${majority}`,
        );
      }
      const modes = await Promise.all(answering.map((server) => server.mode()));
      const leaders = answering.filter((_, i) => modes[i] === 'leader');
      if (leaders.length === 1 && modes.every((mode) => mode === 'leader' || mode === 'follower')) {
        return leaders[0]!;
      }
      if (performance.now() > deadline) {
        const seen = answering.map(
          (server, i) => `${server.connectString}: ${modes[i] ?? 'not serving'}`,
        );
        throw new Error(
          `The ZooKeeper ensemble has no quorum after ${START_TIMEOUT_MS} ms (${seen.join(', ')}); the end of the first log:\n${answering[0]!.logTail()}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Kills every member and removes their directories. Safe to call twice. */
  async dispose(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.dispose()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}

function zooConfig(dir: string, clientPort: number, options: ZooKeeperServerOptions): string[] {
  const { tickTimeMs, minSessionTimeoutMs, maxSessionTimeoutMs, syncWrites } = {
    ...DEFAULT_ZOOKEEPER_SERVER_OPTIONS,
    ...options,
  };
  return [
    `tickTime=${tickTimeMs}`,
    // Ticks a follower may take to connect and sync to a leader (initLimit), then to answer it.
    'initLimit=20',
    'syncLimit=5',
    `minSessionTimeout=${minSessionTimeoutMs}`,
    `maxSessionTimeout=${maxSessionTimeoutMs}`,
    `dataDir=${join(dir, 'data')}`,
    `clientPort=${clientPort}`,
    'clientPortAddress=127.0.0.1',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=*',
    `forceSync=${syncWrites ? 'yes' : 'no'}`,
    // A member restarted before its first snapshot has only a transaction log: load it anyway.
    'snapshot.trust.empty=true',
  ];
}

function peerConfig(peers: Peer[]): string[] {
  return peers.map(
    ({ id, peerPort, electionPort }) => `server.${id}=127.0.0.1:${peerPort}:${electionPort}`,
  );
}

function askFourLetterWord(
  host: string,
  port: number,
  word: string,
  timeoutMs: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let answer = '';
    const done = (result: string | undefined) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(word));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    // The server answers and closes the connection.
    socket.once('end', () => done(answer || undefined));
  });
}
