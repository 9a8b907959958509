import type { RedisConnections } from '../connection/redis-connections.js';
import { RedisScript } from '../connection/script-runner.js';
import type { Unsubscribe } from '../connection/subscription-hub.js';
import type { RegistryBackend, StoredInstance } from './registry.backend.js';
import { serviceKeys } from './registry.keys.js';
import { deregisterInstance, listInstances, registerInstance } from './scripts/lua.generated.js';

const registerScript = new RedisScript(registerInstance);
const deregisterScript = new RedisScript(deregisterInstance);
const listScript = new RedisScript(listInstances);

/**
 * How often a watcher is told to re-read besides announcements: reading removes instances whose
 * lease ran out (a crashed process announces nothing), so they leave every view within a second
 * of their lease's end.
 */
const REFRESH_MS = 1000;

/**
 * Service registrations on Redis: per service a sorted set of instance ids scored by lease end
 * (Redis clock) and a hash of their records; every change is announced on the service's channel.
 */
export class RegistryStore implements RegistryBackend {
  constructor(private readonly connections: RedisConnections) {}

  async register(service: string, id: string, record: string, ttlMs: number): Promise<boolean> {
    const { instances, records, channel } = serviceKeys(this.connections.keys, service);
    const added = await registerScript
      .run(
        this.connections.command,
        [instances, records],
        [id, record, ttlMs, channel, this.connections.publishCommand],
      )
      .catch(this.connections.rethrow(`register an instance of service "${service}"`));
    return added === 1;
  }

  async deregister(service: string, id: string): Promise<void> {
    const { instances, records, channel } = serviceKeys(this.connections.keys, service);
    await deregisterScript
      .run(
        this.connections.command,
        [instances, records],
        [id, channel, this.connections.publishCommand],
      )
      .catch(this.connections.rethrow(`deregister an instance of service "${service}"`));
  }

  async list(service: string): Promise<StoredInstance[]> {
    const { instances, records, channel } = serviceKeys(this.connections.keys, service);
    const reply = (await listScript
      .run(
        this.connections.command,
        [instances, records],
        [channel, this.connections.publishCommand],
      )
      .catch(this.connections.rethrow(`list the instances of service "${service}"`))) as string[];
    const found: StoredInstance[] = [];
    for (let i = 0; i < reply.length; i += 2) found.push({ id: reply[i]!, record: reply[i + 1]! });
    return found;
  }

  async watch(service: string, listener: () => void): Promise<Unsubscribe> {
    const timer = setInterval(listener, REFRESH_MS).unref();
    const channel = serviceKeys(this.connections.keys, service).channel;
    const unsubscribe = await this.connections
      .subscriptions()
      .then((hub) => hub.subscribe(channel, () => listener()))
      .catch(() => undefined); // no subscriber connection: the periodic re-read keeps the view
    return async () => {
      clearInterval(timer);
      await unsubscribe?.();
    };
  }

  atShutdown<T>(what: string, call: () => Promise<T>): Promise<T> {
    return this.connections.atShutdown(what, call);
  }
}
