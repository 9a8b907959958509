import { createHash } from 'node:crypto';
import type { RedisClient } from './redis-connections.js';
import { writeThenWait, type Acknowledged, type ReplicaAckOptions } from './replica-acks.js';

/** A Lua script as generated from a `.lua` file by tools/build-lua.mjs. */
export interface ScriptSource {
  /** File stem, e.g. `claimFill` for `claimFill-3.lua`. */
  readonly name: string;
  /** How many KEYS the script takes (the `-3` of `claimFill-3.lua`), or per group when grouped. */
  readonly numberOfKeys: number;
  /**
   * KEYS come in groups of `numberOfKeys`, one per item (`acquireLock-3xN.lua`: 3 keys per lock
   * resource): any positive multiple is accepted.
   */
  readonly grouped?: boolean;
  /** The KEYS by name, in order, when the script names them (`--- @keys` in the .lua file). */
  readonly keyNames?: readonly string[];
  readonly lua: string;
}

/** What a script may be given as ARGV. */
export type ScriptArgument = string | number | Buffer;

/**
 * Runs one Lua script by its SHA1. The script is sent in full only when Redis answers NOSCRIPT
 * (first use, after `SCRIPT FLUSH`, a restart or a failover); EVAL caches it for the next calls.
 * This is the only place that knows about EVALSHA/EVAL: capabilities wrap `run()` in one typed
 * method per script.
 */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: ScriptSource) {
    this.sha = createHash('sha1').update(source.lua).digest('hex');
  }

  /** Not `async`: hot paths (a lock's acquire and release) feel every promise hop. */
  run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly ScriptArgument[],
  ): Promise<unknown> {
    const wrongKeys = this.checkKeys(keys);
    if (wrongKeys) return Promise.reject(wrongKeys);
    return client.evalsha(this.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source.lua, keys.length, ...keys, ...args);
    });
  }

  /**
   * Runs the script as {@link run} does, then `WAIT`s for `acks.replicas` replicas in the same
   * pipeline ({@link writeThenWait}). On `NOSCRIPT` nothing was written: the script is sent in
   * full, with its `WAIT`, in a second pipeline.
   */
  async runAcknowledged(
    client: RedisClient,
    keys: readonly string[],
    args: readonly ScriptArgument[],
    acks: ReplicaAckOptions,
  ): Promise<Acknowledged> {
    const wrongKeys = this.checkKeys(keys);
    if (wrongKeys) throw wrongKeys;
    try {
      return await writeThenWait(
        client,
        (pipeline) => pipeline.evalsha(this.sha, keys.length, ...keys, ...args),
        acks,
      );
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return writeThenWait(
        client,
        (pipeline) => pipeline.eval(this.source.lua, keys.length, ...keys, ...args),
        acks,
      );
    }
  }

  /** A wrong key count is a bug in the library, never user input. */
  private checkKeys(keys: readonly string[]): Error | undefined {
    const { numberOfKeys, grouped } = this.source;
    if (
      grouped ? keys.length > 0 && keys.length % numberOfKeys === 0 : keys.length === numberOfKeys
    ) {
      return undefined;
    }
    const expected = grouped ? `groups of ${numberOfKeys}` : numberOfKeys;
    return new Error(`Script ${this.source.name} takes ${expected} keys, was given ${keys.length}`);
  }
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}
