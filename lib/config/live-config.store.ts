import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import type { ConfigBackend, ConfigWrite, StoredConfig } from './live-config.backend.js';
import { configKeys } from './live-config.keys.js';
import { cacheConfig, setConfig } from './scripts/lua.generated.js';

const setConfigScript = new RedisScript(setConfig);
const cacheConfigScript = new RedisScript(cacheConfig);

/**
 * Live configuration on Redis: a hash per key (`version`, `value`), written by setConfig-1.lua,
 * which announces `<version>:<value>` on the key's channel in the same step. With ZooKeeper as
 * the record, the same hash is its cache (cacheConfig-1.lua), marked so Redis refuses writes.
 */
export class ConfigStore implements ConfigBackend {
  constructor(private readonly connections: RedisConnections) {}

  async read(name: string): Promise<StoredConfig> {
    const [version, text] = await this.connections.command
      .hmget(configKeys(this.connections.keys, name).entry, 'version', 'value')
      .catch(this.connections.rethrow(`read config "${name}"`));
    return { version: Number(version ?? 0), text: text ?? undefined };
  }

  async write(name: string, text: string, expectVersion: number | undefined): Promise<ConfigWrite> {
    const { entry, channel } = configKeys(this.connections.keys, name);
    const [outcome, version] = (await setConfigScript
      .run(
        this.connections.command,
        [entry],
        [text, expectVersion ?? '', channel, this.connections.publishCommand],
      )
      .catch(this.connections.rethrow(`set config "${name}"`))) as [number, number];
    if (outcome === 1) return { status: 'written', version };
    return outcome === 0 ? { status: 'conflict', version } : { status: 'kept-in-zookeeper' };
  }

  /**
   * Caches a value whose record is in ZooKeeper and announces it, unless Redis holds that
   * version or a newer one; true when cached.
   */
  async cache(name: string, stored: StoredConfig & { readonly text: string }): Promise<boolean> {
    const { entry, channel } = configKeys(this.connections.keys, name);
    const cached = await cacheConfigScript
      .run(
        this.connections.command,
        [entry],
        [stored.version, stored.text, channel, this.connections.publishCommand],
      )
      .catch(this.connections.rethrow(`cache config "${name}" in Redis`));
    return cached === 1;
  }

  /** Listens first, then reads: a change between the two is heard, never lost. */
  async watch(name: string, listener: (change: StoredConfig) => void): Promise<Unsubscribe> {
    const { channel } = configKeys(this.connections.keys, name);
    const hub = await this.connections.subscriptions();
    const unsubscribe = await hub.subscribe(channel, (message) => {
      const colon = message.indexOf(':');
      listener({ version: Number(message.slice(0, colon)), text: message.slice(colon + 1) });
    });
    try {
      listener(await this.read(name));
    } catch (error) {
      await unsubscribe();
      throw error;
    }
    return unsubscribe;
  }

  onGap(listener: () => void): () => void {
    let off: (() => void) | undefined;
    let removed = false;
    void this.connections.subscriptions().then(
      (hub) => {
        if (!removed) off = hub.onResubscribed(listener);
      },
      () => undefined, // no subscriber connection: nothing is watched, so nothing is missed
    );
    return () => {
      removed = true;
      off?.();
    };
  }

  /** Nothing runs in the background: each watch ends with its unsubscribe. */
  close(): void {}
}
