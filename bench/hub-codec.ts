import mqttPacket, { type Packet } from 'mqtt-packet';
import { FrameReader, type HubPacketSink } from '../edge-agent/src/hub/codec/frame-reader.js';
import { encodePublish, encodePublishHeader } from '../edge-agent/src/hub/codec/packet-encoder.js';
import type { ProtocolVersion, PublishPacket } from '../edge-agent/src/hub/codec/types.js';

/**
 * `npx tsx bench/hub-codec.ts`: the hub codec against mqtt-packet 9 (what aedes uses), ns per
 * packet. Decode: a chunk of 1,000 QoS 1 PUBLISHes (topic of 38 ASCII bytes; payload 64 B and
 * 1 KiB) pushed whole, on 3.1.1 and 5.0; ours hands the sink a packet object with the payload as a
 * view, mqtt-packet copies into its BufferList and emits an object. Encode: one QoS 1 PUBLISH into
 * a Buffer (ours: encodePublish, and encodePublishHeader for a writev; mqtt-packet: generate).
 * Median of 5 runs after a warm-up. Option: TETHER_BENCH_QUICK=1 (fewer iterations).
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const RUNS = 5;
const TOPIC = 'sensors/building-7/floor-3/temperature';
const PER_CHUNK = 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** ns per operation of `op`, which performs `perCall` operations, run `calls` times. */
function measure(calls: number, perCall: number, op: () => void): number {
  for (let i = 0; i < Math.max(10, calls / 10); i++) op();
  const runs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) op();
    runs.push(Number(process.hrtime.bigint() - start) / (calls * perCall));
  }
  return median(runs);
}

function publishChunk(version: ProtocolVersion, payloadSize: number): Buffer {
  const one = mqttPacket.generate(
    {
      cmd: 'publish',
      topic: TOPIC,
      payload: Buffer.alloc(payloadSize, 0x61),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    },
    { protocolVersion: version },
  );
  return Buffer.concat(Array.from({ length: PER_CHUNK }, () => one));
}

function connectFor(version: ProtocolVersion): Buffer {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: 'bench', clean: true, keepalive: 0 },
    { protocolVersion: version },
  );
}

let sinkCount = 0;
const ignore = (): void => {};
const sink: HubPacketSink = {
  connect: ignore,
  publish: () => {
    sinkCount++;
  },
  puback: ignore,
  pubrec: ignore,
  pubrel: ignore,
  pubcomp: ignore,
  subscribe: ignore,
  unsubscribe: ignore,
  pingreq: ignore,
  disconnect: ignore,
  auth: ignore,
  malformed: (reason) => {
    throw new Error(reason);
  },
  tooLarge: (size) => {
    throw new Error(`too large: ${size}`);
  },
};

function decodeOurs(version: ProtocolVersion, chunk: Buffer, calls: number): number {
  const reader = new FrameReader(sink);
  reader.push(connectFor(version));
  return measure(calls, PER_CHUNK, () => reader.push(chunk));
}

function decodeMqttPacket(version: ProtocolVersion, chunk: Buffer, calls: number): number {
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (_p: Packet) => {
    sinkCount++;
  });
  return measure(calls, PER_CHUNK, () => parser.parse(chunk));
}

function encodeNs(version: ProtocolVersion, payloadSize: number, calls: number): [number, number, number] {
  const payload = Buffer.alloc(payloadSize, 0x61);
  const packet: PublishPacket = {
    type: 'publish',
    topic: TOPIC,
    payload,
    qos: 1,
    retain: false,
    dup: false,
    packetId: 7,
  };
  const reference = {
    cmd: 'publish' as const,
    topic: TOPIC,
    payload,
    qos: 1 as const,
    messageId: 7,
    retain: false,
    dup: false,
  };
  const opts = { protocolVersion: version };
  let bytes = 0;
  const ours = measure(calls, 1, () => {
    bytes += encodePublish(packet, version).length;
  });
  const header = measure(calls, 1, () => {
    bytes += encodePublishHeader(packet, version).length;
  });
  const theirs = measure(calls, 1, () => {
    bytes += mqttPacket.generate(reference, opts).length;
  });
  if (bytes === 0) throw new Error('nothing encoded');
  return [ours, header, theirs];
}

const rows: string[] = [];
const fmt = (n: number) => n.toFixed(0).padStart(6);
for (const version of [4, 5] as const) {
  for (const size of [64, 1024]) {
    const chunk = publishChunk(version, size);
    const calls = QUICK ? 50 : size > 64 ? 400 : 1000;
    const ours = decodeOurs(version, chunk, calls);
    const theirs = decodeMqttPacket(version, chunk, calls);
    const [enc, encHeader, encTheirs] = encodeNs(version, size, QUICK ? 20_000 : 300_000);
    rows.push(
      `v${version} ${String(size).padStart(4)} B | decode ours ${fmt(ours)} mqtt-packet ${fmt(theirs)} (x${(theirs / ours).toFixed(1)})` +
        ` | encode ours ${fmt(enc)} header-only ${fmt(encHeader)} mqtt-packet ${fmt(encTheirs)} (x${(encTheirs / enc).toFixed(1)})`,
    );
  }
}
console.log(
  `hub codec, ns per QoS 1 PUBLISH (topic ${TOPIC.length} B), median of ${RUNS} runs; node ${process.version}`,
);
for (const row of rows) console.log(row);
if (sinkCount === 0) throw new Error('nothing decoded');
