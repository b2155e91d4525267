import { crc32 } from 'node:zlib';
import type { BridgeMessage } from '../core/bridge-message.js';

/**
 * The records of a queue log segment. Every record is
 *
 *   crc32 u32 LE | length u32 LE | body (length bytes)
 *
 * and the CRC covers the length and the body, so a torn write (the agent killed mid-write, power
 * lost before the data reached the disk) or a damaged sector is seen, never read as a message.
 * Bodies:
 *
 *   message: 1 u8 | id f64 LE | qos u8 | retain u8 | topic length u16 LE | topic | payload
 *   deletes: 2 u8 | ranges u32 LE | (from f64 LE, to f64 LE) × ranges
 *
 * Ids are below 2^53, so a double holds them exactly.
 */
export const RECORD_HEADER = 8;
const MESSAGE = 1;
const DELETES = 2;
const MESSAGE_FIXED = 1 + 8 + 1 + 1 + 2;
const DELETES_FIXED = 1 + 4;
/** Larger than any record we write (a message is at most MQTT's 256 MB): a length beyond it is damage. */
export const MAX_RECORD = 268_435_456 + 65_536 + 64;

/** Bytes of the record of a message whose topic is `topicBytes` long (UTF-8). */
export function messageRecordSize(topicBytes: number, payloadBytes: number): number {
  return RECORD_HEADER + MESSAGE_FIXED + topicBytes + payloadBytes;
}

export function deletesRecordSize(ranges: number): number {
  return RECORD_HEADER + DELETES_FIXED + 16 * ranges;
}

/** Writes a message record at `at` (room for messageRecordSize is there); returns the end. */
export function writeMessageRecord(
  buf: Buffer,
  at: number,
  id: number,
  message: BridgeMessage,
  topicBytes: number,
): number {
  const start = at;
  at += RECORD_HEADER;
  buf[at++] = MESSAGE;
  buf.writeDoubleLE(id, at);
  at += 8;
  buf[at++] = message.qos;
  buf[at++] = message.retain ? 1 : 0;
  buf.writeUInt16LE(topicBytes, at);
  at += 2;
  at += buf.write(message.topic, at, 'utf8');
  at += message.payload.copy(buf, at);
  return seal(buf, start, at);
}

/** Writes a deletes record of `ranges` ([from, to] pairs) at `at`; returns the end. */
export function writeDeletesRecord(buf: Buffer, at: number, ranges: Iterable<[number, number]>, count: number): number {
  const start = at;
  at += RECORD_HEADER;
  buf[at++] = DELETES;
  buf.writeUInt32LE(count, at);
  at += 4;
  for (const [from, to] of ranges) {
    buf.writeDoubleLE(from, at);
    buf.writeDoubleLE(to, at + 8);
    at += 16;
  }
  return seal(buf, start, at);
}

function seal(buf: Buffer, start: number, end: number): number {
  buf.writeUInt32LE(end - start - RECORD_HEADER, start + 4);
  buf.writeUInt32LE(crc32(buf.subarray(start + 4, end)), start);
  return end;
}

export type ParsedRecord =
  | { readonly kind: 'message'; readonly id: number; readonly message: BridgeMessage; readonly end: number }
  | { readonly kind: 'deletes'; readonly ranges: Array<[number, number]>; readonly end: number }
  /** The record runs past the end of `buf`: read more (or, at the end of the file, a torn write). */
  | { readonly kind: 'short'; readonly needs: number }
  /** The bytes at `at` are not a record: damage, or a torn write at the end of the file. */
  | { readonly kind: 'bad'; readonly why: string };

/** The record at `at` of `buf`. A message's payload is a view of `buf`, not a copy. */
export function parseRecord(buf: Buffer, at: number): ParsedRecord {
  if (buf.length - at < RECORD_HEADER) return { kind: 'short', needs: RECORD_HEADER };
  const length = buf.readUInt32LE(at + 4);
  if (length < 1 || length > MAX_RECORD) return { kind: 'bad', why: `record length ${length}` };
  const end = at + RECORD_HEADER + length;
  if (end > buf.length) return { kind: 'short', needs: RECORD_HEADER + length };
  if (crc32(buf.subarray(at + 4, end)) !== buf.readUInt32LE(at)) return { kind: 'bad', why: 'checksum mismatch' };
  const body = at + RECORD_HEADER;
  const type = buf[body];
  if (type === MESSAGE && length >= MESSAGE_FIXED) {
    const id = buf.readDoubleLE(body + 1);
    const qos = buf[body + 9] as number;
    const retain = buf[body + 10] === 1;
    const topicBytes = buf.readUInt16LE(body + 11);
    const topicAt = body + MESSAGE_FIXED;
    if (topicAt + topicBytes > end || qos > 2) return { kind: 'bad', why: 'message record fields' };
    const topic = buf.toString('utf8', topicAt, topicAt + topicBytes);
    const payload = buf.subarray(topicAt + topicBytes, end);
    return { kind: 'message', id, message: { topic, payload, qos: qos as 0 | 1 | 2, retain }, end };
  }
  if (type === DELETES && length >= DELETES_FIXED) {
    const count = buf.readUInt32LE(body + 1);
    if (DELETES_FIXED + 16 * count !== length) return { kind: 'bad', why: 'deletes record length' };
    const ranges: Array<[number, number]> = [];
    for (let i = 0, p = body + DELETES_FIXED; i < count; i++, p += 16)
      ranges.push([buf.readDoubleLE(p), buf.readDoubleLE(p + 8)]);
    return { kind: 'deletes', ranges, end };
  }
  return { kind: 'bad', why: `record type ${type}` };
}
