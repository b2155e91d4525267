import mqttPacket, { type Packet } from 'mqtt-packet';
import { FrameReader, type FrameReaderOptions, type HubPacketSink } from '../../../src/hub/codec/frame-reader.js';
import type { ClientPacket, ProtocolVersion, UserProperties } from '../../../src/hub/codec/types.js';

/** What a FrameReader handed its sink, in order. */
export type Event =
  | { kind: 'packet'; packet: ClientPacket }
  | { kind: 'malformed'; reason: string; reasonCode: number; connackReturnCode: number | undefined }
  | { kind: 'tooLarge'; size: number };

export interface Fed {
  events: Event[];
  reader: FrameReader;
  /** The decoded packets only. */
  packets: ClientPacket[];
  /** The one failure, if any. */
  failure: Extract<Event, { kind: 'malformed' }> | undefined;
}

export function recordingSink(events: Event[]): HubPacketSink {
  const packet = (p: ClientPacket) => events.push({ kind: 'packet', packet: p });
  return {
    connect: packet,
    publish: packet,
    puback: packet,
    pubrec: packet,
    pubrel: packet,
    pubcomp: packet,
    subscribe: packet,
    unsubscribe: packet,
    pingreq: () => packet({ type: 'pingreq' }),
    disconnect: packet,
    auth: packet,
    malformed: (reason, reasonCode, connackReturnCode) =>
      events.push({ kind: 'malformed', reason, reasonCode, connackReturnCode }),
    tooLarge: (size) => events.push({ kind: 'tooLarge', size }),
  };
}

/** Feeds `chunks` to a fresh FrameReader. */
export function feed(chunks: Buffer[], options: FrameReaderOptions = {}): Fed {
  const events: Event[] = [];
  const reader = new FrameReader(recordingSink(events), options);
  for (const chunk of chunks) reader.push(chunk);
  const packets = events.flatMap((e) => (e.kind === 'packet' ? [e.packet] : []));
  const failure = events.find((e): e is Extract<Event, { kind: 'malformed' }> => e.kind === 'malformed');
  return { events, reader, packets, failure };
}

export function generate(packet: Packet, version: ProtocolVersion): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

/** A minimal CONNECT of `version`, to open a stream before the packet under test. */
export function connectFor(version: ProtocolVersion): Buffer {
  return generate(
    {
      cmd: 'connect',
      protocolId: version === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: version,
      clientId: 'c1',
      clean: true,
      keepalive: 30,
    },
    version,
  );
}

/** Feeds a CONNECT of `version` and then `bytes` in one chunk; returns what followed the CONNECT. */
export function afterConnect(version: ProtocolVersion, ...bytes: Buffer[]): Fed {
  const fed = feed([Buffer.concat([connectFor(version), ...bytes])]);
  return { ...fed, events: fed.events.slice(1), packets: fed.packets.slice(1) };
}

/** Parses `bytes` with mqtt-packet as a client of `version` would. */
export function parseWithMqttPacket(bytes: Buffer, version: ProtocolVersion): Packet[] {
  const out: Packet[] = [];
  const parser = mqttPacket.parser({ protocolVersion: version });
  parser.on('packet', (p: Packet) => out.push(p));
  parser.on('error', (e: Error) => {
    throw e;
  });
  parser.parse(bytes);
  return out;
}

/** mqtt-packet's User Properties shape (a name maps to a value or a list of them). */
export function groupUserProperties(pairs: UserProperties): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** A deterministic pseudo-random generator (mulberry32), so chunking tests repeat exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Builds a packet by hand: first byte, then the body with its Remaining Length. */
export function frame(first: number, ...body: Array<number | Buffer | string>): Buffer {
  const parts = body.map((b) =>
    typeof b === 'number' ? Buffer.from([b]) : typeof b === 'string' ? Buffer.from(b) : b,
  );
  const payload = Buffer.concat(parts);
  const length: number[] = [];
  let n = payload.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    length.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...length]), payload]);
}

/** A UTF-8 Encoded String's bytes: two-byte length, then `bytes` as they are (possibly ill-formed). */
export function str(bytes: Buffer | string): Buffer {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
}
