import { describe, expect, it } from 'vitest';
import type { PublishPacket } from '../../../src/hub/codec/types.js';
import { connectFor, type Fed, feed, frame, generate, seeded } from './codec-fixtures.js';

/** A stream with every kind of packet, a 300 KB PUBLISH (three-byte Remaining Length) among them. */
function stream(): Buffer {
  const v = 5 as const;
  return Buffer.concat([
    connectFor(v),
    generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.from('zero'), qos: 0, retain: false, dup: false }, v),
    generate(
      {
        cmd: 'publish',
        topic: 'big',
        payload: Buffer.alloc(300_000, 0x5a),
        qos: 1,
        messageId: 2,
        retain: false,
        dup: false,
      },
      v,
    ),
    generate(
      {
        cmd: 'publish',
        topic: 'p',
        payload: Buffer.from('x'),
        qos: 2,
        messageId: 3,
        retain: true,
        dup: false,
        properties: { userProperties: { a: 'b' } },
      },
      v,
    ),
    generate({ cmd: 'puback', messageId: 4, reasonCode: 0x10 }, v),
    generate(
      { cmd: 'subscribe', messageId: 5, subscriptions: [{ topic: 'a/#', qos: 1, nl: false, rap: true, rh: 0 }] },
      v,
    ),
    generate({ cmd: 'pingreq' }, v),
    generate({ cmd: 'disconnect' }, v),
  ]);
}

/** Payloads as hex digests so a mismatch prints small. */
function summary(fed: Fed): unknown[] {
  return fed.events.map((e) => {
    if (e.kind !== 'packet') return e;
    if (e.packet.type !== 'publish') return e.packet;
    const p = e.packet as PublishPacket;
    return {
      ...p,
      payload: `${p.payload.length}:${p.payload.subarray(0, 8).toString('hex')}:${p.payload.subarray(-8).toString('hex')}`,
    };
  });
}

describe('FrameReader splitting the stream', () => {
  const whole = stream();
  const expected = summary(feed([whole]));

  it('decodes the whole stream in one chunk', () => {
    expect(expected).toHaveLength(8);
    expect(expected.every((e) => (e as { kind?: string }).kind === undefined)).toBe(true);
  });

  it('decodes the same byte by byte', () => {
    // one-byte chunks everywhere but inside the 300 KB payload (300 000 chunks would only be slow)
    const bytes: Buffer[] = [];
    const tail = whole.length - 2000;
    for (let at = 0; at < whole.length; ) {
      const size = at < 2000 || at >= tail ? 1 : Math.min(1000, tail - at);
      bytes.push(whole.subarray(at, at + size));
      at += size;
    }
    expect(summary(feed(bytes))).toEqual(expected);
  });

  it('decodes the same in pseudo-random chunks (fixed seeds)', () => {
    for (const seed of [1, 7, 42, 2024]) {
      const random = seeded(seed);
      const chunks: Buffer[] = [];
      for (let at = 0; at < whole.length; ) {
        const size = 1 + Math.floor(random() * (random() < 0.5 ? 16 : 70_000));
        chunks.push(whole.subarray(at, at + size));
        at += size;
      }
      expect(summary(feed(chunks))).toEqual(expected);
    }
  });

  it('assembles a large payload split across many chunks in one buffer of its final size', () => {
    const publish = generate(
      { cmd: 'publish', topic: 't', payload: Buffer.alloc(1_000_000, 1), qos: 0, retain: false, dup: false },
      4,
    );
    const chunks = [connectFor(4)];
    for (let at = 0; at < publish.length; at += 65_536) chunks.push(publish.subarray(at, at + 65_536));
    const fed = feed(chunks);
    const payload = (fed.packets[1] as PublishPacket).payload;
    expect(payload.length).toBe(1_000_000);
    expect(payload.buffer.byteLength).toBe(publish.length); // one assembled frame, not a concat per chunk
    expect(payload.every((b) => b === 1)).toBe(true);
  });

  it('hands out payloads as views of the input chunk, not copies', () => {
    const chunk = Buffer.concat([
      connectFor(4),
      generate({ cmd: 'publish', topic: 't', payload: Buffer.from('view'), qos: 0, retain: false, dup: false }, 4),
    ]);
    const payload = (feed([chunk]).packets[1] as PublishPacket).payload;
    expect(payload.buffer).toBe(chunk.buffer);
  });
});

describe('FrameReader limits and order', () => {
  it('refuses a 255 MiB PUBLISH from its fixed header alone, before any body arrives', () => {
    // given: a limit of 1 MiB and only the 5-byte fixed header of a 255 MiB PUBLISH
    const header = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]); // Remaining Length 268 435 455
    // when
    const fed = feed([connectFor(5), header], { maximumPacketSize: 1024 * 1024 });
    // then: tooLarge with the whole packet's size, the body never awaited
    expect(fed.events.slice(1)).toEqual([{ kind: 'tooLarge', size: 268_435_460 }]);
  });

  it('counts the fixed header in the limit (5.0 section 3.1.2.11.4)', () => {
    const publish = generate(
      { cmd: 'publish', topic: 't', payload: Buffer.alloc(95), qos: 0, retain: false, dup: false },
      4,
    );
    expect(publish.length).toBe(100);
    expect(feed([connectFor(4), publish], { maximumPacketSize: 100 }).packets).toHaveLength(2);
    expect(feed([connectFor(4), publish], { maximumPacketSize: 99 }).events[1]).toEqual({
      kind: 'tooLarge',
      size: 100,
    });
  });

  it('refuses a CONNECT over the limit too', () => {
    const fed = feed([frame(0x10, Buffer.alloc(600))], { maximumPacketSize: 512 });
    expect(fed.events).toEqual([{ kind: 'tooLarge', size: 603 }]);
  });

  it('treats a five-byte Remaining Length as malformed as soon as the fourth byte says more follows', () => {
    const fed = feed([connectFor(4), Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff])]);
    expect(fed.failure).toMatchObject({ reasonCode: 0x81, reason: expect.stringMatching(/four bytes/) });
    const split = feed([connectFor(4), Buffer.from([0x30, 0x80, 0x80]), Buffer.from([0x80, 0x80])]);
    expect(split.failure).toMatchObject({ reasonCode: 0x81 });
  });

  it('accepts only a CONNECT first [MQTT-3.1.0-1], refusing on the first byte', () => {
    const fed = feed([Buffer.from([0x30])]);
    expect(fed.failure).toMatchObject({ reasonCode: 0x82, reason: expect.stringMatching(/MQTT-3.1.0-1/) });
  });

  it('treats a second CONNECT as a protocol error [MQTT-3.1.0-2]', () => {
    const fed = feed([Buffer.concat([connectFor(4), connectFor(4)])]);
    expect(fed.packets).toHaveLength(1);
    expect(fed.failure).toMatchObject({ reasonCode: 0x82, reason: expect.stringMatching(/MQTT-3.1.0-2/) });
  });

  it('refuses packets only a server sends, and AUTH before 5.0', () => {
    expect(feed([connectFor(4), Buffer.from([0x20, 2, 0, 0])]).failure).toMatchObject({ reasonCode: 0x82 });
    expect(feed([connectFor(4), Buffer.from([0xf0, 0])]).failure).toMatchObject({ reasonCode: 0x81 });
    expect(feed([connectFor(5), Buffer.from([0xf0, 0])]).packets[1]).toEqual({ type: 'auth', reasonCode: 0 });
  });

  it('learns the version from CONNECT and decodes later packets with it', () => {
    // the same bytes: on 3.1.1 a PUBLISH whose payload starts 00, on 5.0 a Property Length 0 then the payload
    const bytes = frame(0x30, 0, 1, 't', 0, 'x');
    expect((feed([connectFor(4), bytes]).packets[1] as PublishPacket).payload).toEqual(Buffer.from([0, 0x78]));
    expect((feed([connectFor(5), bytes]).packets[1] as PublishPacket).payload).toEqual(Buffer.from('x'));
  });

  it('calls nothing after stop()', () => {
    const fed = feed([connectFor(4)]);
    fed.reader.stop();
    fed.reader.push(generate({ cmd: 'pingreq' }, 4));
    expect(fed.events).toHaveLength(1); // the CONNECT only
  });
});
