import type { ByteReader } from './byte-reader.js';
import { DecodeError, malformed, protocolError } from './decode-error.js';
import { readProperties } from './properties-decoder.js';
import { ReasonCode } from './reason-codes.js';
import { isSharedFilter, topicFilterProblem } from './topic-rules.js';
import type {
  ProtocolVersion,
  QoS,
  SubscribePacket,
  SubscribeProperties,
  Subscription,
  UnsubscribePacket,
  UnsubscribeProperties,
} from './types.js';

/**
 * SUBSCRIBE (section 3.8). A filter that breaks the wildcard or shared-subscription syntax fails
 * the whole packet with 0x8F (Topic Filter invalid), which a 5.0 server can send in DISCONNECT;
 * a server that would rather refuse only that filter in the SUBACK can check with topicFilterProblem
 * itself. Clause ids are 5.0's, with 3.1.1's where they differ.
 */
export function decodeSubscribe(r: ByteReader, version: ProtocolVersion): SubscribePacket {
  const packetId = r.u16('Packet Identifier');
  if (packetId === 0) throw protocolError('SUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])');
  const v5 = version === 5;
  const properties = v5 ? (readProperties(r, 'subscribe', 'SUBSCRIBE') as SubscribeProperties | undefined) : undefined;
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const filter = readFilter(r);
    const options = r.u8('Subscription Options');
    const qos = options & 0x03;
    if (qos === 3) throw malformed('SUBSCRIBE with QoS 3 [MQTT-3-8.3-4]');
    if (!v5) {
      if ((options & 0xfc) !== 0) throw malformed('SUBSCRIBE reserved bits are not 0 [MQTT-3-8.3-4]');
      subscriptions.push({ filter, qos: qos as QoS, noLocal: false, retainAsPublished: false, retainHandling: 0 });
      continue;
    }
    if ((options & 0xc0) !== 0) throw malformed('Subscription Options reserved bits are not 0 [MQTT-3.8.3-5]');
    const retainHandling = (options >> 4) & 0x03;
    if (retainHandling === 3) throw protocolError('SUBSCRIBE with Retain Handling 3 (3.8.3.1)');
    const noLocal = (options & 0x04) !== 0;
    if (noLocal && isSharedFilter(filter)) throw protocolError('No Local on a Shared Subscription [MQTT-3.8.3-4]');
    subscriptions.push({
      filter,
      qos: qos as QoS,
      noLocal,
      retainAsPublished: (options & 0x08) !== 0,
      retainHandling: retainHandling as 0 | 1 | 2,
    });
  }
  if (subscriptions.length === 0) {
    throw protocolError('SUBSCRIBE without a Topic Filter [MQTT-3.8.3-2] (3.1.1: [MQTT-3.8.3-3])');
  }
  return { type: 'subscribe', packetId, subscriptions, properties };
}

/** UNSUBSCRIBE (section 3.10): at least one filter [MQTT-3.10.3-2], each with the SUBSCRIBE rules. */
export function decodeUnsubscribe(r: ByteReader, version: ProtocolVersion): UnsubscribePacket {
  const packetId = r.u16('Packet Identifier');
  if (packetId === 0)
    throw protocolError('UNSUBSCRIBE with Packet Identifier 0 [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])');
  const properties =
    version === 5 ? (readProperties(r, 'unsubscribe', 'UNSUBSCRIBE') as UnsubscribeProperties | undefined) : undefined;
  const filters: string[] = [];
  while (r.remaining > 0) filters.push(readFilter(r));
  if (filters.length === 0) throw protocolError('UNSUBSCRIBE without a Topic Filter [MQTT-3.10.3-2]');
  return { type: 'unsubscribe', packetId, filters, properties };
}

function readFilter(r: ByteReader): string {
  const filter = r.utf8('Topic Filter'); // UTF-8 [MQTT-3.8.3-1], [MQTT-3.10.3-1]
  const problem = topicFilterProblem(filter, false);
  if (problem !== undefined) {
    throw new DecodeError(`Topic Filter ${JSON.stringify(filter)}: ${problem}`, ReasonCode.TopicFilterInvalid);
  }
  return filter;
}
