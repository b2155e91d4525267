import type { ByteReader } from './byte-reader.js';
import { malformed, protocolError } from './decode-error.js';
import { PROPERTY_BY_ID, type PropertyContext, Where } from './property-table.js';
import type { UserProperties } from './types.js';

/** Properties where 0 is a Protocol Error (5.0 sections 3.1.2.11.3, 3.1.2.11.4, 3.3.2.3.4, 3.8.2.1.2). */
const NON_ZERO: ReadonlySet<string> = new Set([
  'receiveMaximum',
  'maximumPacketSize',
  'topicAlias',
  'subscriptionIdentifier',
]);

/**
 * Reads a 5.0 Properties block (section 2.2.2): the Property Length, then identifier/value pairs up
 * to it. An identifier unknown or not valid for `context` makes the packet malformed (section
 * 2.2.2.2); a property given twice, other than User Property, is a Protocol Error (each property's
 * section says so); so are the zero values the spec forbids and a Byte flag other than 0 or 1.
 * Returns undefined for an empty block, so the common case allocates nothing.
 */
export function readProperties(
  r: ByteReader,
  context: PropertyContext,
  packet: string,
): Record<string, unknown> | undefined {
  const length = r.varint(`${packet} Property Length`);
  if (length === 0) return undefined;
  const end = r.pos + length;
  if (end > r.end) throw malformed(`${packet} Property Length ${length} runs past the packet`);
  const where = Where[context];
  const out: Record<string, unknown> = {};
  let seen = 0;
  const outerEnd = r.end;
  r.end = end; // a value may not run past the block
  while (r.pos < end) {
    const id = r.varint(`${packet} property identifier`);
    const def = PROPERTY_BY_ID[id];
    if (def === undefined || (def.where & where) === 0) {
      throw malformed(`${packet} has property 0x${id.toString(16)}, not valid there (section 2.2.2.2)`);
    }
    const name = def.name;
    if (def.kind === 'pair') {
      const key = r.utf8(`${packet} User Property name`);
      const value = r.utf8(`${packet} User Property value`);
      let list = out[name] as UserProperties | undefined;
      if (list === undefined) {
        list = [];
        out[name] = list;
      }
      list.push([key, value]);
      continue;
    }
    if ((seen & (1 << def.bit)) !== 0) {
      throw protocolError(`${packet} has ${name} more than once`);
    }
    seen |= 1 << def.bit;
    out[name] = readValue(r, def.kind, name, packet);
  }
  r.end = outerEnd;
  return out;
}

function readValue(r: ByteReader, kind: string, name: string, packet: string): unknown {
  const field = `${packet} ${name}`;
  switch (kind) {
    case 'byte':
      return r.u8(field);
    case 'bool': {
      const v = r.u8(field);
      if (v > 1) throw protocolError(`${field} is ${v}, not 0 or 1`);
      return v === 1;
    }
    case 'u16':
      return nonZero(r.u16(field), name, field);
    case 'u32':
      return nonZero(r.u32(field), name, field);
    case 'varint':
      return nonZero(r.varint(field), name, field);
    case 'utf8':
      return r.utf8(field);
    default:
      return r.binary(field);
  }
}

function nonZero(value: number, name: string, field: string): number {
  if (value === 0 && NON_ZERO.has(name)) throw protocolError(`${field} is 0`);
  return value;
}
