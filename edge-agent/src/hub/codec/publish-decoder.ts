import type { ByteReader } from './byte-reader.js';
import { checkResponseTopic } from './connect-decoder.js';
import { DecodeError, malformed, protocolError } from './decode-error.js';
import { readProperties } from './properties-decoder.js';
import { ReasonCode } from './reason-codes.js';
import type { ProtocolVersion, PublishPacket, PublishProperties, QoS } from './types.js';

/**
 * PUBLISH from a client (section 3.3): `flags` is the fixed header's low nibble. The hot path: a
 * property-less PUBLISH costs the topic string, the packet object and a payload view (no copy).
 * A Topic Alias is returned as is; mapping it to a topic (and checking it against the Topic Alias
 * Maximum the server announced, [MQTT-3.3.2-9]) is the session's job, as it is connection state.
 */
export function decodePublish(r: ByteReader, flags: number, version: ProtocolVersion): PublishPacket {
  const qos = (flags >> 1) & 0x03;
  if (qos === 3) throw malformed('PUBLISH with QoS 3 [MQTT-3.3.1-4]');
  const dup = (flags & 0x08) !== 0;
  if (dup && qos === 0) throw malformed('PUBLISH with DUP 1 at QoS 0 [MQTT-3.3.1-2]');
  const topic = r.utf8('Topic Name', true);
  let packetId: number | undefined;
  if (qos > 0) {
    packetId = r.u16('Packet Identifier');
    if (packetId === 0) throw protocolError('PUBLISH with Packet Identifier 0 [MQTT-2.3.1-1] (5.0: [MQTT-2.2.1-3])');
  }
  let properties: PublishProperties | undefined;
  if (version === 5) {
    // Property Length 0 is the common case: skip the generic reader
    if (r.pos < r.end && r.buf[r.pos] === 0) r.pos++;
    else properties = readPublishProperties(r);
  }
  if (topic.length === 0 && properties?.topicAlias === undefined) {
    if (version === 5) throw protocolError('PUBLISH with an empty Topic Name and no Topic Alias (3.3.2.3.4)');
    throw new DecodeError('PUBLISH with an empty Topic Name [MQTT-4.7.3-1]', ReasonCode.TopicNameInvalid);
  }
  return {
    type: 'publish',
    topic,
    payload: r.rest(),
    qos: qos as QoS,
    retain: (flags & 0x01) !== 0,
    dup,
    packetId,
    properties,
  };
}

function readPublishProperties(r: ByteReader): PublishProperties | undefined {
  const properties = readProperties(r, 'publish', 'PUBLISH');
  if (properties === undefined) return undefined;
  if (properties.subscriptionIdentifier !== undefined) {
    throw protocolError('PUBLISH from a client with a Subscription Identifier [MQTT-3.3.4-6]');
  }
  if (typeof properties.responseTopic === 'string') checkResponseTopic(properties.responseTopic);
  return properties as PublishProperties;
}
