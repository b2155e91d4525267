/** Where a property may appear (5.0 section 2.2.2.2, table 2-4), as bits so one entry lists several. */
export const Where = {
  connect: 1 << 0,
  will: 1 << 1,
  publish: 1 << 2,
  /** PUBACK, PUBREC, PUBREL, PUBCOMP */
  ack: 1 << 3,
  subscribe: 1 << 4,
  unsubscribe: 1 << 5,
  disconnect: 1 << 6,
  auth: 1 << 7,
  connack: 1 << 8,
  suback: 1 << 9,
  unsuback: 1 << 10,
} as const;
export type PropertyContext = keyof typeof Where;

/** Wire types (section 1.5); `bool` is a Byte that must be 0 or 1. */
export type PropertyKind = 'byte' | 'bool' | 'u16' | 'u32' | 'varint' | 'utf8' | 'binary' | 'pair';

export interface PropertyDef {
  readonly id: number;
  /** The field in the typed properties object (`userProperties` holds all pairs). */
  readonly name: string;
  readonly kind: PropertyKind;
  readonly where: number;
  /** Its bit in a decoder's "seen" mask, for the duplicate rule. */
  readonly bit: number;
}

const W = Where;
const REASON = W.connack | W.ack | W.suback | W.unsuback | W.disconnect | W.auth;
const ALL = (1 << 11) - 1;

const LIST: Array<Omit<PropertyDef, 'bit'>> = [
  { id: 0x01, name: 'payloadFormatIndicator', kind: 'bool', where: W.publish | W.will },
  { id: 0x02, name: 'messageExpiryInterval', kind: 'u32', where: W.publish | W.will },
  { id: 0x03, name: 'contentType', kind: 'utf8', where: W.publish | W.will },
  { id: 0x08, name: 'responseTopic', kind: 'utf8', where: W.publish | W.will },
  { id: 0x09, name: 'correlationData', kind: 'binary', where: W.publish | W.will },
  { id: 0x0b, name: 'subscriptionIdentifier', kind: 'varint', where: W.publish | W.subscribe },
  { id: 0x11, name: 'sessionExpiryInterval', kind: 'u32', where: W.connect | W.connack | W.disconnect },
  { id: 0x12, name: 'assignedClientIdentifier', kind: 'utf8', where: W.connack },
  { id: 0x13, name: 'serverKeepAlive', kind: 'u16', where: W.connack },
  { id: 0x15, name: 'authenticationMethod', kind: 'utf8', where: W.connect | W.connack | W.auth },
  { id: 0x16, name: 'authenticationData', kind: 'binary', where: W.connect | W.connack | W.auth },
  { id: 0x17, name: 'requestProblemInformation', kind: 'bool', where: W.connect },
  { id: 0x18, name: 'willDelayInterval', kind: 'u32', where: W.will },
  { id: 0x19, name: 'requestResponseInformation', kind: 'bool', where: W.connect },
  { id: 0x1a, name: 'responseInformation', kind: 'utf8', where: W.connack },
  { id: 0x1c, name: 'serverReference', kind: 'utf8', where: W.connack | W.disconnect },
  { id: 0x1f, name: 'reasonString', kind: 'utf8', where: REASON },
  { id: 0x21, name: 'receiveMaximum', kind: 'u16', where: W.connect | W.connack },
  { id: 0x22, name: 'topicAliasMaximum', kind: 'u16', where: W.connect | W.connack },
  { id: 0x23, name: 'topicAlias', kind: 'u16', where: W.publish },
  { id: 0x24, name: 'maximumQoS', kind: 'byte', where: W.connack },
  { id: 0x25, name: 'retainAvailable', kind: 'bool', where: W.connack },
  { id: 0x26, name: 'userProperties', kind: 'pair', where: ALL },
  { id: 0x27, name: 'maximumPacketSize', kind: 'u32', where: W.connect | W.connack },
  { id: 0x28, name: 'wildcardSubscriptionAvailable', kind: 'bool', where: W.connack },
  { id: 0x29, name: 'subscriptionIdentifiersAvailable', kind: 'bool', where: W.connack },
  { id: 0x2a, name: 'sharedSubscriptionAvailable', kind: 'bool', where: W.connack },
];

export const PROPERTIES: readonly PropertyDef[] = LIST.map((p, bit) => ({ ...p, bit }));

/** Property by identifier; the identifiers are small (< 0x30), so an array beats a Map. */
export const PROPERTY_BY_ID: ReadonlyArray<PropertyDef | undefined> = (() => {
  const byId: Array<PropertyDef | undefined> = new Array(0x30).fill(undefined);
  for (const p of PROPERTIES) byId[p.id] = p;
  return byId;
})();

/** Per context, the properties an encoder looks for, in identifier order. */
export function propertiesOf(context: PropertyContext): readonly PropertyDef[] {
  const bit = Where[context];
  return PROPERTIES.filter((p) => (p.where & bit) !== 0);
}
