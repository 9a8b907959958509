import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import type { ConfigBackend, StoredConfig } from './live-config.backend.js';
import { configKeys } from './live-config.keys.js';
import { setConfig } from './scripts/lua.generated.js';

const setConfigScript = new RedisScript(setConfig);

/**
 * Live configuration on Redis: a hash per key (`version`, `value`), written by setConfig-1.lua,
 * which announces `<version>:<value>` on the key's channel in the same step.
 */
export class ConfigStore implements ConfigBackend {
  constructor(private readonly connections: RedisConnections) {}

  async read(name: string): Promise<StoredConfig> {
    const [version, text] = await this.connections.command
      .hmget(configKeys(this.connections.keys, name).entry, 'version', 'value')
      .catch(this.connections.rethrow(`read config "${name}"`));
    return { version: Number(version ?? 0), text: text ?? undefined };
  }

  async write(
    name: string,
    text: string,
    expectVersion: number | undefined,
  ): Promise<{ written: boolean; version: number }> {
    const { entry, channel } = configKeys(this.connections.keys, name);
    const [written, version] = (await setConfigScript
      .run(this.connections.command, [entry], [text, expectVersion ?? '', channel])
      .catch(this.connections.rethrow(`set config "${name}"`))) as [number, number];
    return { written: written === 1, version };
  }

  async watch(name: string, listener: (change: StoredConfig) => void): Promise<Unsubscribe> {
    const { channel } = configKeys(this.connections.keys, name);
    const hub = await this.connections.subscriptions();
    return hub.subscribe(channel, (message) => {
      const colon = message.indexOf(':');
      listener({ version: Number(message.slice(0, colon)), text: message.slice(colon + 1) });
    });
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
}
