import { connect } from 'node:net';
import { LeanMqttClient } from '../edge-agent/src/transport/lean/index.js';
import { makePayload } from './payload.js';

/**
 * The load generator (its own process): publishes `count` messages as fast as the broker
 * takes them, or at a fixed `rate` per second, and prints one JSON line when done. It uses
 * Tether's lean client (coalesced writes) so it is not the bottleneck.
 */
/** The one JSON line the generator prints (hrtime, as the sink's). */
export interface GenResult {
  sent: number;
  startNs: string;
  endNs: string;
}

interface Args {
  host: string;
  port: number;
  topic: string;
  count: number;
  qos: 0 | 1;
  size: number;
  rate: number;
  window: number;
  username?: string;
  password?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const filler = Buffer.alloc(Math.max(args.size, 16), 0x78);

const client = await LeanMqttClient.connect({
  stream: () => connect({ host: args.host, port: args.port, noDelay: true }),
  clientId: `bench-gen-${process.pid}`,
  clean: true,
  keepaliveSec: 60,
  protocolVersion: 4,
  connectTimeoutMs: 10_000,
  ...(args.username ? { username: args.username, password: args.password ?? '' } : {}),
  onMessage: (_m, ack) => ack(),
});

let inflight = 0;
let release: (() => void) | undefined;
const publishOne = (seq: number) => {
  const sent = client.publish(args.topic, makePayload(args.size, seq, filler), { qos: args.qos, retain: false });
  if (args.qos === 0) {
    sent.catch(() => {});
    return;
  }
  inflight++;
  sent.then(
    () => {
      inflight--;
      release?.();
    },
    () => {
      inflight--;
      release?.();
    },
  );
};
const room = () =>
  new Promise<void>((resolve) => {
    release = () => {
      release = undefined;
      resolve();
    };
  });

const startNs = process.hrtime.bigint();
let seq = 0;
if (args.rate > 0) {
  // fixed rate: send what is due, then yield for a millisecond
  const start = performance.now();
  while (seq < args.count) {
    const due = Math.min(args.count, Math.floor(((performance.now() - start) / 1000) * args.rate));
    while (seq < due) publishOne(seq++);
    await new Promise((r) => setTimeout(r, 1));
  }
} else {
  while (seq < args.count) {
    for (let k = 0; k < 256 && seq < args.count; k++) {
      if (args.qos === 1 && inflight >= args.window) break;
      publishOne(seq++);
    }
    if (args.qos === 1 && inflight >= args.window) await room();
    else if (client.writableNeedDrain) await client.drain();
    else await new Promise((r) => setImmediate(r));
  }
}
while (inflight > 0) await room();
const endNs = process.hrtime.bigint();
await client.end(true);
const result: GenResult = { sent: seq, startNs: String(startNs), endNs: String(endNs) };
process.stdout.write(`${JSON.stringify(result)}\n`);
