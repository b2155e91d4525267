import { silentLogger } from '@tether/node-shared/logging';
import { type HubConfig, HubConfigSchema } from '@tether/shared';
import { seedHubConfig } from '@tether/test-helpers/seed';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { withTimeout } from '@tether/test-helpers/wait-for';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import type { SqliteStore } from '../../src/queue/sqlite-store.js';

/** Shared set-up for the hub tests: real hub on 127.0.0.1 port 0, real MQTT.js clients. */

export const ALL = [
  { action: 'pub', permit: ['#'] },
  { action: 'sub', permit: ['#'] },
];

/** The seed guide's hub (`test` / `hahaha`, pub and sub `#`) on 127.0.0.1, a free port. */
export function seedConfig(extra: Record<string, unknown> = {}): HubConfig {
  return HubConfigSchema.parse(seedHubConfig(['tcp://127.0.0.1:0'], extra));
}

/** The package's Teardown, with the hub tests' factories: each registers its own cleanup. */
export class Resources extends Teardown {
  async hub(
    config: HubConfig,
    logger: Logger = silentLogger(),
    configDir = process.cwd(),
    store?: SqliteStore,
  ): Promise<EmbeddedHub> {
    const options = { logger, configDir, ...(store ? { store } : {}) };
    const hub = this.keep(new EmbeddedHub(config, options), (h) => h.stop(), 'embedded hub');
    await hub.start();
    return hub;
  }

  async client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000, ...options });
    return this.keep(client, (c) => c.endAsync(true), `mqtt client ${options.clientId ?? url}`);
  }

  tempDir(): string {
    return tempDir(this, 'tether-hub-');
  }
}

export function urlOf(hub: EmbeddedHub, transport: string): string {
  const url = hub.addresses().find((a) => a.startsWith(`${transport}://`));
  if (!url) throw new Error(`hub has no ${transport} listener: ${hub.addresses().join(', ')}`);
  return url;
}

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly qos: number;
  readonly retain: boolean;
}

/** Records every message a client receives; `next` waits (bounded) for a matching one. */
export function record(client: MqttClient): {
  messages: Received[];
  next: (topic: string, ms?: number) => Promise<Received>;
} {
  const messages: Received[] = [];
  const waiters = new Set<() => void>();
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
    for (const w of [...waiters]) w();
  });
  const next = (topic: string, ms = 3_000) =>
    new Promise<Received>((resolve, reject) => {
      const check = () => {
        const found = messages.find((m) => m.topic === topic);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no message on ${topic} within ${ms} ms (got ${messages.map((m) => m.topic).join(', ')})`));
      }, ms);
      waiters.add(check);
      check();
    });
  return { messages, next };
}

/** Resolves when `client` closes; rejects after `ms`. */
export function closed(client: MqttClient, ms = 3_000): Promise<void> {
  if (client.disconnected) return Promise.resolve();
  return withTimeout(new Promise<void>((resolve) => client.once('close', () => resolve())), ms, 'connection close');
}
