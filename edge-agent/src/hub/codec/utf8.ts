import { isUtf8 } from 'node:buffer';
import { DecodeError, malformed } from './decode-error.js';
import { ReasonCode } from './reason-codes.js';

/** Strict: throws on ill-formed input instead of replacing it; keeps a leading BOM [MQTT-1.5.4-3]. */
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const REPLACEMENT = '\ufffd';
const NUL = 0x00;
const HASH = 0x23;
const PLUS = 0x2b;

/**
 * Reads an MQTT UTF-8 Encoded String's bytes `buf[start, end)` (the length prefix already read):
 * well-formed UTF-8, no surrogate code points [MQTT-1.5.4-1] (3.1.1: [MQTT-1.5.3-1]) and no U+0000
 * [MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-2]); either fault makes the packet malformed. With
 * `topicName` it also refuses the wildcards `+` and `#` [MQTT-3.3.2-2] in the same pass, so a
 * topic is scanned once.
 *
 * Speed (bench/hub-codec.ts): one byte loop finds the pure-ASCII case, decoded as latin1 (every
 * byte < 0x80 is its own code point). Otherwise Buffer's UTF-8 decoder runs; it never fails but
 * replaces ill-formed sequences (overlong forms, encoded surrogates, truncated sequences) with
 * U+FFFD, so only a result holding U+FFFD needs the strict decoder, which tells a real U+FFFD
 * (EF BF BD, valid) from a replacement.
 */
export function readUtf8(buf: Buffer, start: number, end: number, field: string, topicName = false): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 0x80) ascii = false;
    else if (c === NUL) throw malformed(`${field} contains U+0000 [MQTT-1.5.4-2]`);
    else if (topicName && (c === PLUS || c === HASH)) {
      throw new DecodeError(`${field} contains a wildcard character [MQTT-3.3.2-2]`, ReasonCode.TopicNameInvalid);
    }
  }
  if (ascii) return buf.toString('latin1', start, end);
  const text = buf.toString('utf8', start, end);
  if (text.includes(REPLACEMENT)) {
    try {
      strict.decode(buf.subarray(start, end));
    } catch {
      throw malformed(`${field} is not well-formed UTF-8 [MQTT-1.5.4-1]`);
    }
  }
  return text;
}

/**
 * Whether `data` is well-formed UTF-8 (surrogates and overlong forms refused): for a payload whose
 * Payload Format Indicator is 1, which the server MAY check [MQTT-3.3.2-4] and answer with 0x99.
 */
export function isWellFormedUtf8(data: Buffer): boolean {
  return isUtf8(data);
}
