import type { BridgeConfig } from '@tether/shared';
import type { Dispatcher } from '../bridge/dispatcher.js';
import type { MessageQueue } from '../queue/message-queue.js';
import type { StoreStats } from '../queue/sqlite-store.js';
import type { BridgePlan } from '../rules/bridge-plan.js';
import type { ConnectionMonitor } from './connection-monitor.js';
import { QueueAge } from './queue-age.js';

export interface StatusSources {
  readonly name: string;
  readonly startedAtMs: number;
  readonly plan: () => BridgePlan | undefined;
  readonly config: () => BridgeConfig | undefined;
  readonly dispatchers: () => ReadonlyMap<string, Dispatcher>;
  readonly monitor: ConnectionMonitor;
  readonly store?: () => { readonly path: string; readonly stats: StoreStats } | undefined;
  /** The embedded hub: whether every configured listener is open. */
  readonly hub?: () => {
    readonly running: boolean;
    readonly listening: string[];
    readonly configured: number;
    readonly clients: number;
  };
  readonly reload: () => unknown;
}

export interface ConnectionStatus {
  readonly id: string;
  readonly side: 'hub' | 'remote';
  readonly remote?: string;
  readonly clientId: string;
  readonly connected: boolean;
  /** Seconds in the current state (up or down). */
  readonly forSeconds: number;
  readonly reconnects: number;
  readonly failedAttempts: number;
  /** How long it may stay down before /readyz says not ready: its backoff cap. */
  readonly graceSeconds: number;
  readonly lastError?: { readonly message: string; readonly code: string; readonly at: string };
}

export interface QueueStatus {
  readonly id: string;
  readonly messages: number;
  readonly bytes: number;
  readonly maxMessages: number;
  readonly maxBytes: number;
  readonly inflight: number;
  readonly oldestAgeSeconds: number;
  readonly forwarded: number;
  readonly forwardedBytes: number;
  /** Forwarded messages per second over about the last minute. */
  readonly forwardedPerSecond: number;
  readonly dropped: number;
  readonly rejected: number;
}

export interface AgentStatusReport {
  readonly name: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly ready: boolean;
  /** Why not ready (empty when ready). */
  readonly notReady: string[];
  readonly hub?: { readonly listening: string[]; readonly clients: number };
  readonly store?: { readonly path: string; readonly writable: boolean; readonly lastError?: string };
  readonly connections: ConnectionStatus[];
  readonly queues: QueueStatus[];
  readonly reload?: unknown;
  readonly generatedAt: string;
}

const SAMPLE_MS = 1_000;
const RATE_WINDOW_MS = 60_000;

/**
 * /status and /readyz: one report built from the parts' own state, never from the message
 * path. Ready means: the embedded hub listens on every configured address, the store's last
 * commit succeeded, every connection is up or has been down no longer than its backoff cap (a
 * blip the next retry may fix), and no queue is at its bound.
 */
export class AgentStatus {
  private readonly ages = new Map<MessageQueue, QueueAge>();
  private readonly forwardedSamples = new Map<string, Array<{ atMs: number; forwarded: number }>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly sources: StatusSources) {}

  start(): void {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
    this.sample();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  report(now = Date.now()): AgentStatusReport {
    this.sample(now);
    const notReady: string[] = [];
    const hub = this.sources.hub?.();
    if (hub && (!hub.running || hub.listening.length < hub.configured)) {
      notReady.push(`hub: listening on ${hub.listening.length} of ${hub.configured} addresses`);
    }
    const store = this.sources.store?.();
    if (store?.stats.lastError) notReady.push(`store: not writable (${store.stats.lastError})`);
    const connections = this.connections(now);
    for (const c of connections) {
      if (!c.connected && c.forSeconds > c.graceSeconds) {
        notReady.push(
          `${c.id}: down for ${Math.round(c.forSeconds)}s, longer than its backoff (${c.graceSeconds}s)${c.lastError ? `: ${c.lastError.message}` : ''}`,
        );
      }
    }
    const queues = this.queues(now);
    for (const q of queues) {
      if (q.messages >= q.maxMessages || q.bytes >= q.maxBytes) {
        notReady.push(`${q.id}: queue at its bound (${q.messages} messages, ${q.bytes} bytes)`);
      }
    }
    const reload = this.sources.reload();
    return {
      name: this.sources.name,
      pid: process.pid,
      startedAt: new Date(this.sources.startedAtMs).toISOString(),
      uptimeSeconds: Math.round((now - this.sources.startedAtMs) / 1000),
      ready: notReady.length === 0,
      notReady,
      ...(hub ? { hub: { listening: hub.listening, clients: hub.clients } } : {}),
      ...(store
        ? {
            store: {
              path: store.path,
              writable: !store.stats.lastError,
              ...(store.stats.lastError ? { lastError: store.stats.lastError } : {}),
            },
          }
        : {}),
      connections,
      queues,
      ...(reload ? { reload } : {}),
      generatedAt: new Date(now).toISOString(),
    };
  }

  /** The age tracker of each queue (for the metrics too). */
  oldestAgeSeconds(dispatcher: Dispatcher, now = Date.now()): number {
    return this.age(dispatcher).oldestSeconds(now);
  }

  private connections(now: number): ConnectionStatus[] {
    const plan = new Map((this.sources.plan()?.connections ?? []).map((c) => [c.id, c]));
    const config = this.sources.config();
    return this.sources.monitor.states().map((s) => {
      const c = plan.get(s.id);
      const block = c?.remote === undefined ? config?.hub : config?.remotes.find((r) => r.name === c.remote);
      const graceMs = block ? (block.backoff?.max ?? block.interval) : 60_000;
      return {
        id: s.id,
        side: c?.side ?? 'remote',
        ...(c?.remote !== undefined ? { remote: c.remote } : {}),
        clientId: c?.clientId ?? '',
        connected: s.connected,
        forSeconds: Math.round((now - s.sinceMs) / 100) / 10,
        reconnects: s.reconnects,
        failedAttempts: s.failedAttempts,
        graceSeconds: Math.round(graceMs / 100) / 10,
        ...(s.lastError
          ? {
              lastError: {
                message: s.lastError.message,
                code: s.lastError.code,
                at: new Date(s.lastError.atMs).toISOString(),
              },
            }
          : {}),
      };
    });
  }

  private queues(now: number): QueueStatus[] {
    const queue = this.sources.config()?.queue;
    return [...this.sources.dispatchers()].map(([id, d]) => ({
      id,
      messages: d.queue.size,
      bytes: d.queue.bytes,
      maxMessages: queue?.maxmessages ?? Number.POSITIVE_INFINITY,
      maxBytes: queue?.maxbytes ?? Number.POSITIVE_INFINITY,
      inflight: d.stats.inflight,
      oldestAgeSeconds: Math.round(this.age(d).oldestSeconds(now) * 10) / 10,
      forwarded: d.stats.forwarded,
      forwardedBytes: d.stats.forwardedBytes,
      forwardedPerSecond: this.rate(id, now),
      dropped: d.queue.stats.dropped,
      rejected: d.stats.rejected,
    }));
  }

  private age(dispatcher: Dispatcher): QueueAge {
    // keyed by the queue, which outlives its dispatcher across reloads
    let age = this.ages.get(dispatcher.queue);
    if (!age) {
      age = new QueueAge(dispatcher.queue, this.sources.startedAtMs);
      this.ages.set(dispatcher.queue, age);
    }
    return age;
  }

  private sample(now = Date.now()): void {
    const live = this.sources.dispatchers();
    const queues = new Set([...live.values()].map((d) => d.queue));
    for (const q of this.ages.keys()) if (!queues.has(q)) this.ages.delete(q);
    for (const [id, d] of live) {
      this.age(d).sample(now);
      const samples = this.forwardedSamples.get(id) ?? [];
      samples.push({ atMs: now, forwarded: d.stats.forwarded });
      while (samples.length > 2 && now - (samples[0]?.atMs ?? now) > RATE_WINDOW_MS) samples.shift();
      this.forwardedSamples.set(id, samples);
    }
    for (const id of this.forwardedSamples.keys()) if (!live.has(id)) this.forwardedSamples.delete(id);
  }

  private rate(id: string, now: number): number {
    const samples = this.forwardedSamples.get(id);
    const first = samples?.[0];
    const last = samples?.[samples.length - 1];
    if (!first || !last || now - first.atMs < 1) return 0;
    return Math.round(((last.forwarded - first.forwarded) / ((last.atMs - first.atMs) / 1000 || 1)) * 10) / 10;
  }
}
