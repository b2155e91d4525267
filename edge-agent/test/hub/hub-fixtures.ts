import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@tether/node-shared/logging';
import { type HubConfig, HubConfigSchema } from '@tether/shared';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { EmbeddedHub } from '../../src/hub/embedded-hub.js';
import type { SqliteStore } from '../../src/queue/sqlite-store.js';

/** Shared set-up for the hub tests: real hub on 127.0.0.1 port 0, real MQTT.js clients. */

export const ALL = [
  { action: 'pub', permit: ['#'] },
  { action: 'sub', permit: ['#'] },
];

/** The seed guide's hub: `test` / `hahaha`, pub and sub `#`. */
export function seedConfig(extra: Record<string, unknown> = {}): HubConfig {
  return HubConfigSchema.parse({
    listen: ['tcp://127.0.0.1:0'],
    principals: [{ username: 'test', password: 'hahaha', permissions: ALL }],
    ...extra,
  });
}

/** Everything a test opened, closed in afterEach (reverse order). */
export class Resources {
  private readonly closers: Array<() => Promise<unknown> | unknown> = [];

  add<T>(value: T, close: (v: T) => Promise<unknown> | unknown): T {
    this.closers.push(() => close(value));
    return value;
  }

  async hub(
    config: HubConfig,
    logger: Logger = silentLogger(),
    configDir = process.cwd(),
    store?: SqliteStore,
  ): Promise<EmbeddedHub> {
    const hub = this.add(new EmbeddedHub(config, { logger, configDir, ...(store ? { store } : {}) }), (h) => h.stop());
    await hub.start();
    return hub;
  }

  async client(url: string, options: IClientOptions = {}): Promise<MqttClient> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3_000, ...options });
    return this.add(client, (c) => c.endAsync(true));
  }

  tempDir(): string {
    return this.add(mkdtempSync(join(tmpdir(), 'tether-hub-')), (d) => rmSync(d, { recursive: true, force: true }));
  }

  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // best effort: a test that failed half-way may leave things half-open
      }
    }
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

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `predicate` until true; for state that has no event to wait on. */
export async function until(predicate: () => boolean, ms = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
