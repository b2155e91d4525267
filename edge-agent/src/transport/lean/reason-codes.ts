/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3, table 3.1). */
const V4_CONNACK: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorized',
};

/** MQTT 5 reason codes (section 2.4); the ones a server sends in CONNACK, PUBACK, PUBREC, SUBACK, DISCONNECT. */
const V5_REASONS: Record<number, string> = {
  128: 'unspecified error',
  129: 'malformed packet',
  130: 'protocol error',
  131: 'implementation specific error',
  132: 'unsupported protocol version',
  133: 'client identifier not valid',
  134: 'bad user name or password',
  135: 'not authorized',
  136: 'server unavailable',
  137: 'server busy',
  138: 'banned',
  139: 'server shutting down',
  140: 'bad authentication method',
  141: 'keep alive timeout',
  142: 'session taken over',
  143: 'topic filter invalid',
  144: 'topic name invalid',
  145: 'packet identifier in use',
  147: 'receive maximum exceeded',
  148: 'topic alias invalid',
  149: 'packet too large',
  150: 'message rate too high',
  151: 'quota exceeded',
  152: 'administrative action',
  153: 'payload format invalid',
  154: 'retain not supported',
  155: 'QoS not supported',
  156: 'use another server',
  157: 'server moved',
  158: 'shared subscriptions not supported',
  159: 'connection rate exceeded',
  160: 'maximum connect time',
  161: 'subscription identifiers not supported',
  162: 'wildcard subscriptions not supported',
};

export function describeReason(code: number, protocolVersion: 4 | 5, connack = false): string {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  const name = protocolVersion === 4 && connack ? V4_CONNACK[code] : V5_REASONS[code];
  return name ? `${name} (${protocolVersion === 4 ? code : hex})` : `code ${protocolVersion === 4 ? code : hex}`;
}
