import { type Duplex, PassThrough, Writable } from 'node:stream';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { describe, expect, it, vi } from 'vitest';
import { InboundAcks } from '../../../src/transport/lean/inbound-acks.js';
import { PacketIds } from '../../../src/transport/lean/packet-ids.js';
import { PacketWriter, PUBACK } from '../../../src/transport/lean/packet-writer.js';

/** A writer on a PassThrough; `take()` flushes and returns the packets written so far, parsed. */
function harness(protocolVersion: 4 | 5 = 4) {
  const stream = new PassThrough();
  const writer = new PacketWriter(stream, protocolVersion);
  const take = (): Packet[] => {
    writer.flushNow();
    const packets: Packet[] = [];
    const parser = mqttPacket.parser({ protocolVersion });
    parser.on('packet', (p) => packets.push(p));
    parser.on('error', (e) => {
      throw e;
    });
    let chunk: Buffer | null = stream.read() as Buffer | null;
    while (chunk) {
      parser.parse(chunk);
      chunk = stream.read() as Buffer | null;
    }
    return packets;
  };
  return { stream, writer, take };
}

const idsOf = (packets: Packet[]) => packets.map((p) => `${p.cmd}:${p.messageId}`);

describe('PacketWriter', () => {
  it('encodes PUBLISH byte for byte like mqttPacket.generate (3.1.1 and 5)', () => {
    const topics = ['a', 'sensors/ä/温度', 'x'.repeat(300)];
    const sizes = [0, 5, 100, 257, 16_000, 70_000, 2_100_000];
    for (const protocolVersion of [4, 5] as const) {
      for (const qos of [0, 1, 2] as const) {
        for (const topic of topics) {
          for (const size of sizes) {
            for (const [retain, dup] of [
              [false, false],
              [true, true],
            ] as const) {
              const { stream, writer } = harness(protocolVersion);
              const payload = Buffer.alloc(size, size % 251);
              const messageId = qos > 0 ? 40_000 + (size % 1000) : 0;
              writer.publish(topic, payload, qos, retain, dup, messageId);
              writer.flushNow();
              const expected = mqttPacket.generate(
                { cmd: 'publish', topic, payload, qos, retain, dup, ...(qos > 0 ? { messageId } : {}) },
                { protocolVersion },
              );
              const actual = stream.read() as Buffer;
              expect(actual.equals(expected), `v${protocolVersion} qos${qos} ${topic.length}B topic ${size}B`).toBe(
                true,
              );
            }
          }
        }
      }
    }
  });

  it('refuses topic names that are empty or hold wildcards, queueing nothing', () => {
    const { writer, take } = harness();
    for (const topic of ['', 'a/+/b', 'a/#']) {
      expect(() => writer.publish(topic, Buffer.from('x'), 1, false, false, 1)).toThrow(/invalid topic/);
    }
    expect(take()).toEqual([]);
  });

  it('coalesces every packet of a tick into one socket write, in order', async () => {
    const { stream, writer, take } = harness();
    const write = vi.spyOn(stream, 'write');
    for (let id = 1; id <= 100; id++) writer.ack(PUBACK, id);
    writer.publish('t', Buffer.alloc(10_000), 1, false, false, 200);
    writer.publish('t', Buffer.from('small'), 0, false, false, 0);
    writer.ack(PUBACK, 101);
    const flushed = new Promise<void>((resolve, reject) => writer.flushed((e) => (e ? reject(e) : resolve())));
    expect(write).not.toHaveBeenCalled();
    await flushed;
    expect(write).toHaveBeenCalledTimes(1);
    const packets = take();
    expect(packets.map((p) => p.cmd)).toEqual([...Array(100).fill('puback'), 'publish', 'publish', 'puback']);
    expect(packets.at(-1)?.messageId).toBe(101);
  });

  it('rejects QoS 0 waiters when closed before the flush', async () => {
    const { writer } = harness();
    writer.publish('t', Buffer.from('x'), 0, false, false, 0);
    const flushed = new Promise<void>((resolve, reject) => writer.flushed((e) => (e ? reject(e) : resolve())));
    writer.close(Object.assign(new Error('gone'), { code: 'ECONNCLOSED' }));
    await expect(flushed).rejects.toMatchObject({ code: 'ECONNCLOSED' });
  });

  it('reports a QoS 0 send done at once under 1 MiB buffered, and only at drain beyond', async () => {
    // a socket whose peer reads nothing until told to: everything written stays in its buffer
    let reading = false;
    const held: Array<() => void> = [];
    const stream = new Writable({
      highWaterMark: 1024,
      write(_chunk, _encoding, callback) {
        if (reading) setImmediate(callback);
        else held.push(callback);
      },
    });
    const writer = new PacketWriter(stream as unknown as Duplex, 4);
    const done: string[] = [];
    writer.publish('t', Buffer.alloc(512 * 1024), 0, false, false, 0);
    writer.flushed(() => done.push('first'));
    writer.flushNow();
    expect(done).toEqual(['first']); // 0.5 MiB buffered: not a backlog yet
    writer.publish('t', Buffer.alloc(768 * 1024), 0, false, false, 0);
    writer.flushed(() => done.push('second'));
    writer.flushNow();
    expect(done).toEqual(['first']); // 1.25 MiB buffered: waits for the reader
    const drained = new Promise<void>((resolve) => stream.once('drain', () => setImmediate(resolve)));
    reading = true; // the peer reads: the buffer drains
    for (const callback of held.splice(0)) callback();
    await drained;
    expect(done).toEqual(['first', 'second']);
  });
});

describe('InboundAcks', () => {
  it('sends PUBACKs in arrival order whatever order ack() is called in [MQTT-4.6.0-2]', () => {
    const { writer, take } = harness();
    const acks = new InboundAcks(writer, 1000, () => {});
    const ack = [1, 2, 3, 4, 5].map((id) => acks.receive(id, 1) as () => void);
    ack[2]?.();
    expect(take()).toEqual([]);
    ack[0]?.();
    expect(idsOf(take())).toEqual(['puback:1']);
    ack[1]?.();
    expect(idsOf(take())).toEqual(['puback:2', 'puback:3']);
    ack[4]?.();
    ack[4]?.(); // idempotent
    expect(take()).toEqual([]);
    ack[3]?.();
    expect(idsOf(take())).toEqual(['puback:4', 'puback:5']);
    ack[0]?.(); // after release: ignored
    expect(take()).toEqual([]);
    expect(acks.pending).toBe(0);
  });

  it('QoS 2: delivers once, PUBREC on ack, PUBREC again for a re-send, PUBCOMP on PUBREL', () => {
    const { writer, take } = harness();
    const acks = new InboundAcks(writer, 1000, () => {});
    const ack = acks.receive(7, 2);
    expect(ack).toBeTypeOf('function');
    expect(acks.receive(7, 2)).toBeUndefined(); // DUP before ack: not delivered, nothing sent
    expect(take()).toEqual([]);
    ack?.();
    expect(idsOf(take())).toEqual(['pubrec:7']);
    expect(acks.receive(7, 2)).toBeUndefined(); // DUP after PUBREC: PUBREC again
    expect(idsOf(take())).toEqual(['pubrec:7']);
    acks.pubrel(7);
    expect(idsOf(take())).toEqual(['pubcomp:7']);
    expect(acks.receive(7, 2)).toBeTypeOf('function'); // the id is free again: a new message
  });

  it('orders QoS 1 and QoS 2 acks in one FIFO and grows past its initial ring', () => {
    const { writer, take } = harness();
    const acks = new InboundAcks(writer, 10_000, () => {});
    const ack = Array.from({ length: 300 }, (_, i) => acks.receive(i + 1, i % 3 === 0 ? 2 : 1) as () => void);
    for (const a of [...ack].reverse()) a();
    const packets = take();
    expect(packets.map((p) => p.messageId)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(packets[0]?.cmd).toBe('pubrec');
    expect(packets[1]?.cmd).toBe('puback');
  });

  it('asks to pause at maxPendingAcks and to resume once acks are released', () => {
    const { writer } = harness();
    const pressure: boolean[] = [];
    const acks = new InboundAcks(writer, 3, (paused) => pressure.push(paused));
    const ack = [1, 2, 3].map((id) => acks.receive(id, 1) as () => void);
    expect(pressure).toEqual([true]);
    ack[1]?.(); // held back by id 1: still 3 pending
    expect(pressure).toEqual([true]);
    ack[0]?.();
    expect(pressure).toEqual([true, false]);
    expect(acks.pending).toBe(1);
  });

  it('ignores acks after close', () => {
    const { writer, take } = harness();
    const acks = new InboundAcks(writer, 10, () => {});
    const ack = acks.receive(1, 1);
    acks.close();
    ack?.();
    expect(take()).toEqual([]);
  });
});

describe('PacketIds', () => {
  it('allocates round-robin, skips ids in use, wraps, and reports exhaustion with 0', () => {
    const ids = new PacketIds();
    expect([ids.allocate(), ids.allocate(), ids.allocate()]).toEqual([1, 2, 3]);
    ids.release(2);
    expect(ids.allocate()).toBe(4); // not the just-released 2
    let zeros = 0;
    while (ids.inUse < 65535) if (ids.allocate() === 0) zeros++;
    expect(zeros).toBe(0);
    expect(ids.allocate()).toBe(0);
    ids.release(2);
    expect(ids.allocate()).toBe(2);
    expect(ids.has(2)).toBe(true);
  });
});
