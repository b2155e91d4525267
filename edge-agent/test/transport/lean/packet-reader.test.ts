import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { PacketReader, type PacketSink } from '../../../src/transport/lean/packet-reader.js';

type Seen = Array<Record<string, unknown>>;

/** Decodes a stream with PacketReader, the rare packets through mqtt-packet as the client does. */
function read(v5: boolean, chunks: Buffer[]): Seen {
  const seen: Seen = [];
  const parser = mqttPacket.parser({ protocolVersion: v5 ? 5 : 4 });
  parser.on('packet', (p: Packet) => seen.push({ via: 'mqtt-packet', cmd: p.cmd }));
  const sink: PacketSink = {
    publish: (topic, payload, qos, retain, dup, id) =>
      seen.push({ cmd: 'publish', topic, payload: payload.toString('hex'), qos, retain, dup, id }),
    // 0x00 and an absent reason code both mean Success (MQTT 5 section 3.4.2.1)
    ack: (type, id, reasonCode) => seen.push({ cmd: `ack${type}`, id, reasonCode: reasonCode || undefined }),
    other: (frame) => parser.parse(frame),
    malformed: (reason) => seen.push({ cmd: 'malformed', reason }),
  };
  const reader = new PacketReader(v5, sink);
  for (const c of chunks) reader.push(c);
  return seen;
}

/** The same stream decoded by mqtt-packet alone, in the shape read() reports. */
function reference(v5: boolean, stream: Buffer): Seen {
  const seen: Seen = [];
  const parser = mqttPacket.parser({ protocolVersion: v5 ? 5 : 4 });
  parser.on('packet', (p: Packet) => {
    if (p.cmd === 'publish' && !(v5 && p.properties && Object.keys(p.properties).length > 0)) {
      seen.push({
        cmd: 'publish',
        topic: p.topic,
        payload: Buffer.from(p.payload as Buffer).toString('hex'),
        qos: p.qos,
        retain: p.retain,
        dup: p.dup,
        id: p.qos > 0 ? p.messageId : 0,
      });
    } else if (p.cmd === 'puback' || p.cmd === 'pubrec' || p.cmd === 'pubrel' || p.cmd === 'pubcomp') {
      const type = { puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7 }[p.cmd];
      const reasonCode = v5 && p.reasonCode !== undefined && p.reasonCode !== 0 ? p.reasonCode : undefined;
      seen.push({ cmd: `ack${type}`, id: p.messageId, reasonCode });
    } else {
      seen.push({ via: 'mqtt-packet', cmd: p.cmd });
    }
  });
  parser.parse(stream);
  return seen;
}

function packets(v5: boolean): Buffer {
  const opts = { protocolVersion: v5 ? 5 : 4 };
  const list: Packet[] = [
    { cmd: 'connack', returnCode: 0, reasonCode: 0, sessionPresent: true } as Packet,
    { cmd: 'publish', topic: 'a/b', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false },
    { cmd: 'publish', topic: 'ü/ß', payload: Buffer.alloc(0), qos: 1, messageId: 7, retain: true, dup: false },
    { cmd: 'publish', topic: 't', payload: Buffer.alloc(200, 3), qos: 2, messageId: 65535, retain: false, dup: true },
    // 300 KB: a three-byte Remaining Length, spread over many chunks
    {
      cmd: 'publish',
      topic: 'big',
      payload: Buffer.alloc(300_000, 9),
      qos: 1,
      messageId: 1,
      retain: false,
      dup: false,
    },
    { cmd: 'puback', messageId: 7 },
    { cmd: 'pubrec', messageId: 8 },
    { cmd: 'pubrel', messageId: 9 },
    { cmd: 'pubcomp', messageId: 10 },
    { cmd: 'suback', messageId: 2, granted: [1, 0x80] },
    { cmd: 'pingresp' },
  ];
  if (v5) {
    list.push({ cmd: 'puback', messageId: 11, reasonCode: 0x87 } as Packet, {
      cmd: 'publish',
      topic: 'aliased',
      payload: Buffer.from('p'),
      qos: 1,
      messageId: 12,
      retain: false,
      dup: false,
      properties: { topicAlias: 3 },
    });
  }
  return Buffer.concat(list.map((p) => mqttPacket.generate(p, opts)));
}

/** Deterministic pseudo-random split points (no flake: the same every run). */
function split(stream: Buffer, seed: number): Buffer[] {
  const chunks: Buffer[] = [];
  let x = seed;
  let at = 0;
  while (at < stream.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (x % (seed % 2 === 0 ? 7 : 70_000));
    chunks.push(stream.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('PacketReader', () => {
  for (const v5 of [false, true]) {
    const version = v5 ? 'MQTT 5' : 'MQTT 3.1.1';
    const stream = packets(v5);
    const expected = reference(v5, stream);

    it(`${version}: decodes a stream in one chunk the way mqtt-packet does`, () => {
      expect(expected.length).toBeGreaterThan(10);
      expect(read(v5, [stream])).toEqual(expected);
    });

    it(`${version}: decodes the same whatever the chunk boundaries (byte by byte, small and large pieces)`, () => {
      const head = stream.subarray(0, 2_000);
      expect(
        read(
          v5,
          [...head].map((b) => Buffer.from([b])),
        ),
      ).toEqual(reference(v5, head));
      for (const seed of [1, 2, 3, 4, 5, 6]) expect(read(v5, split(stream, seed))).toEqual(expected);
    });
  }

  it('hands the payload as a view of the input, not a copy', () => {
    const frame = mqttPacket.generate({
      cmd: 'publish',
      topic: 'v',
      payload: Buffer.from('view'),
      qos: 0,
      retain: false,
      dup: false,
    });
    let payload: Buffer | undefined;
    new PacketReader(false, {
      publish: (_t, p) => {
        payload = p;
      },
      ack: () => {},
      other: () => {},
      malformed: () => {},
    }).push(frame);
    expect(payload?.buffer).toBe(frame.buffer);
  });

  it('reports a Remaining Length of five bytes and a QoS 3 PUBLISH as malformed, and stops', () => {
    expect(read(false, [Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])])).toEqual([
      { cmd: 'malformed', reason: 'Remaining Length longer than four bytes' },
    ]);
    const qos3 = Buffer.from([0x36, 0x05, 0x00, 0x01, 0x74, 0x00, 0x01]);
    const after = mqttPacket.generate({ cmd: 'pingresp' });
    expect(read(false, [Buffer.concat([qos3, after])])).toEqual([{ cmd: 'malformed', reason: 'PUBLISH with QoS 3' }]);
  });
});
