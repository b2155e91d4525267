import { connect } from 'node:net';
import { LeanMqttClient } from '../edge-agent/src/transport/lean/index.js';
import { readHeader } from './payload.js';

/**
 * The sink (its own process): subscribes, counts distinct and duplicate sequence numbers,
 * measures end-to-end latency from the send time in each payload, and prints one JSON line
 * when every message arrived or nothing arrived for `idleMs`.
 */
export interface SinkArgs {
  host: string;
  port: number;
  filter: string;
  qos: 0 | 1;
  count: number;
  idleMs: number;
}

/** The one JSON line the sink prints. Timestamps are process.hrtime (CLOCK_MONOTONIC), comparable across processes. */
export interface SinkResult {
  distinct: number;
  duplicates: number;
  lost: number;
  firstNs: string;
  lastNs: string;
  p50us: number;
  p99us: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as SinkArgs;
const seen = new Uint8Array(args.count);
const latencyUs = new Float64Array(args.count);
let distinct = 0;
let duplicates = 0;
let firstNs = 0n;
let lastNs = 0n;
let lastAt = Date.now();

const client = await LeanMqttClient.connect({
  stream: () => connect({ host: args.host, port: args.port, noDelay: true }),
  clientId: `bench-sink-${process.pid}`,
  clean: true,
  keepaliveSec: 60,
  protocolVersion: 4,
  connectTimeoutMs: 10_000,
  maxPendingAcks: 65_000,
  onMessage: (message, ack) => {
    const now = process.hrtime.bigint();
    ack();
    const { seq, sentNs } = readHeader(message.payload);
    lastAt = Date.now();
    if (seq >= args.count) return;
    if (seen[seq]) {
      duplicates++;
      return;
    }
    seen[seq] = 1;
    latencyUs[distinct] = Number(now - sentNs) / 1000;
    distinct++;
    if (firstNs === 0n) firstNs = now;
    lastNs = now;
    if (distinct === args.count) finish();
  },
});
await client.subscribe([{ topic: args.filter, qos: args.qos }]);
process.stdout.write('ready\n');

const idle = setInterval(() => {
  if (distinct > 0 && Date.now() - lastAt > args.idleMs) finish();
}, 100);
const overall = setTimeout(finish, 300_000);

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  clearInterval(idle);
  clearTimeout(overall);
  const sorted = latencyUs.slice(0, distinct).sort();
  const result: SinkResult = {
    distinct,
    duplicates,
    lost: args.count - distinct,
    firstNs: String(firstNs),
    lastNs: String(lastNs),
    p50us: percentile(sorted, 50),
    p99us: percentile(sorted, 99),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  void client.end(true).then(() => process.exit(0));
}
