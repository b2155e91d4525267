import type { MqttClient } from 'mqtt';
import { waitFor } from './wait-for.js';

/**
 * Sequence-numbered traffic for the no-loss tests: every payload is its sequence number, so
 * a test can name exactly which messages are missing, duplicated or out of order.
 */
export interface SequenceSink {
  /** Sequence numbers in arrival order (duplicates included). */
  readonly arrivals: number[];
  readonly distinct: Set<number>;
  waitForAll(count: number, timeoutMs: number): Promise<void>;
  /** Numbers in [0, count) that never arrived. */
  missing(count: number): number[];
  /** Arrivals minus distinct: redelivered messages (at-least-once). */
  duplicates(): number;
  /** True when first arrivals are in increasing order. */
  inOrder(): boolean;
}

export function sequenceSink(client: MqttClient, topic: string): SequenceSink {
  const arrivals: number[] = [];
  const distinct = new Set<number>();
  client.on('message', (t, payload) => {
    if (t !== topic) return;
    const n = Number(payload.toString());
    arrivals.push(n);
    distinct.add(n);
  });
  return {
    arrivals,
    distinct,
    async waitForAll(count, timeoutMs) {
      await waitFor(() => distinct.size >= count, {
        what: `${count} distinct messages on ${topic} (have ${distinct.size})`,
        timeoutMs,
        intervalMs: 100,
      });
    },
    missing(count) {
      const out: number[] = [];
      for (let i = 0; i < count; i++) if (!distinct.has(i)) out.push(i);
      return out;
    },
    duplicates: () => arrivals.length - distinct.size,
    inOrder() {
      const seen = new Set<number>();
      let last = -1;
      for (const n of arrivals) {
        if (seen.has(n)) continue;
        seen.add(n);
        if (n < last) return false;
        last = n;
      }
      return true;
    },
  };
}

/**
 * Publishes 0..count-1 on `topic` at QoS 1, at most `window` unacknowledged at once; resolves
 * when every PUBACK came. `acked()` tells how many so far (to see back-pressure).
 */
export function publishSequence(
  client: MqttClient,
  topic: string,
  count: number,
  { window = 200, onAck }: { window?: number; onAck?: (acked: number) => void } = {},
): { done: Promise<void>; acked: () => number } {
  let acked = 0;
  let next = 0;
  const done = new Promise<void>((resolve, reject) => {
    const sendMore = () => {
      while (next < count && next - acked < window) {
        const n = next++;
        client.publish(topic, String(n), { qos: 1 }, (error) => {
          if (error) return reject(error);
          acked++;
          onAck?.(acked);
          if (acked === count) resolve();
          else sendMore();
        });
      }
    };
    sendMore();
  });
  return { done, acked: () => acked };
}

/** Reads one sample of a Prometheus metric (summed over label sets matching `labels`). */
export async function readMetric(url: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labels && !rest.includes(labels)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
