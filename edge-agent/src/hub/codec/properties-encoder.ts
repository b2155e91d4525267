import { type PropertyContext, type PropertyDef, propertiesOf } from './property-table.js';
import type { UserProperties } from './types.js';

const SUBSCRIPTION_IDENTIFIER = 0x0b;

/** A typed properties object (ConnackProperties, PublishProperties, ...) seen by field name. */
type AnyProperties = object;

/** Bytes of a Variable Byte Integer (section 1.5.5). */
export function varintSize(value: number): number {
  return value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;
}

/** Writes a Variable Byte Integer at `at`; returns the offset after it. */
export function writeVarint(buf: Buffer, at: number, value: number): number {
  let n = value;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

/**
 * The properties an encoder writes for one packet type, and how. Built once per packet type;
 * every property is written in identifier order. All identifiers are below 128, one byte each.
 * For PUBLISH, Subscription Identifier comes from `subscriptionIdentifiers`, one property per
 * value [MQTT-3.3.4-4].
 */
export class PropertiesEncoder {
  private readonly defs: readonly PropertyDef[];

  constructor(private readonly context: PropertyContext) {
    this.defs = propertiesOf(context);
  }

  /** Bytes of the properties, without the Property Length in front. */
  length(properties: AnyProperties | undefined): number {
    if (properties === undefined) return 0;
    const values = properties as Record<string, unknown>;
    let total = 0;
    for (const def of this.defs) {
      const value = this.valueOf(values, def);
      if (value === undefined) continue;
      switch (def.kind) {
        case 'byte':
        case 'bool':
          total += 2;
          break;
        case 'u16':
          total += 3;
          break;
        case 'u32':
          total += 5;
          break;
        case 'varint':
          for (const v of value as number[]) total += 1 + varintSize(v);
          break;
        case 'utf8':
          total += 3 + Buffer.byteLength(value as string);
          break;
        case 'binary':
          total += 3 + (value as Buffer).length;
          break;
        case 'pair':
          for (const [k, v] of value as UserProperties) total += 5 + Buffer.byteLength(k) + Buffer.byteLength(v);
          break;
      }
    }
    return total;
  }

  /** Writes Property Length `length` (from length()) and the properties at `at`; returns the offset after them. */
  write(buf: Buffer, at: number, properties: AnyProperties | undefined, length: number): number {
    let pos = writeVarint(buf, at, length);
    if (properties === undefined || length === 0) return pos;
    const values = properties as Record<string, unknown>;
    for (const def of this.defs) {
      const value = this.valueOf(values, def);
      if (value === undefined) continue;
      const id = def.id;
      switch (def.kind) {
        case 'byte':
          buf[pos++] = id;
          buf[pos++] = value as number;
          break;
        case 'bool':
          buf[pos++] = id;
          buf[pos++] = value ? 1 : 0;
          break;
        case 'u16':
          buf[pos++] = id;
          pos = buf.writeUInt16BE(value as number, pos);
          break;
        case 'u32':
          buf[pos++] = id;
          pos = buf.writeUInt32BE(value as number, pos);
          break;
        case 'varint':
          for (const v of value as number[]) {
            buf[pos++] = id;
            pos = writeVarint(buf, pos, v);
          }
          break;
        case 'utf8':
          buf[pos++] = id;
          pos = writeString(buf, pos, value as string);
          break;
        case 'binary':
          buf[pos++] = id;
          pos = buf.writeUInt16BE((value as Buffer).length, pos);
          pos += (value as Buffer).copy(buf, pos);
          break;
        case 'pair':
          for (const [k, v] of value as UserProperties) {
            buf[pos++] = id;
            pos = writeString(buf, pos, k);
            pos = writeString(buf, pos, v);
          }
          break;
      }
    }
    return pos;
  }

  /** A varint property as a list (PUBLISH may repeat Subscription Identifier), others as they are. */
  private valueOf(values: Record<string, unknown>, def: PropertyDef): unknown {
    if (def.id !== SUBSCRIPTION_IDENTIFIER) return values[def.name];
    if (this.context === 'publish') {
      const ids = values.subscriptionIdentifiers as number[] | undefined;
      return ids !== undefined && ids.length > 0 ? ids : undefined;
    }
    const id = values[def.name];
    return id === undefined ? undefined : [id];
  }
}

/** A UTF-8 Encoded String: two-byte length, then the bytes. */
export function writeString(buf: Buffer, at: number, text: string): number {
  const written = buf.write(text, at + 2, 'utf8');
  buf.writeUInt16BE(written, at);
  return at + 2 + written;
}
