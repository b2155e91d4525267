/** 3 = MQTT 3.1 (`MQIsdp`), 4 = MQTT 3.1.1, 5 = MQTT 5.0: the Protocol Level of CONNECT. */
export type ProtocolVersion = 3 | 4 | 5;
export type QoS = 0 | 1 | 2;
/** MQTT 5 User Properties in wire order; a name may repeat (5.0 section 3.3.2.3.7). */
export type UserProperties = Array<[string, string]>;

export interface ConnectProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumPacketSize?: number;
  topicAliasMaximum?: number;
  requestResponseInformation?: boolean;
  requestProblemInformation?: boolean;
  userProperties?: UserProperties;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface WillProperties {
  willDelayInterval?: number;
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface PublishProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  topicAlias?: number;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
  /** Server to client only: one per matching subscription that has one [MQTT-3.3.4-4], [MQTT-3.3.4-6]. */
  subscriptionIdentifiers?: number[];
  contentType?: string;
}

/** PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK carry only these. */
export interface ReasonProperties {
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface SubscribeProperties {
  subscriptionIdentifier?: number;
  userProperties?: UserProperties;
}

export interface UnsubscribeProperties {
  userProperties?: UserProperties;
}

export interface DisconnectProperties {
  sessionExpiryInterval?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  serverReference?: string;
}

export interface AuthProperties {
  authenticationMethod?: string;
  authenticationData?: Buffer;
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface ConnackProperties {
  sessionExpiryInterval?: number;
  receiveMaximum?: number;
  maximumQoS?: 0 | 1;
  retainAvailable?: boolean;
  maximumPacketSize?: number;
  assignedClientIdentifier?: string;
  topicAliasMaximum?: number;
  reasonString?: string;
  userProperties?: UserProperties;
  wildcardSubscriptionAvailable?: boolean;
  subscriptionIdentifiersAvailable?: boolean;
  sharedSubscriptionAvailable?: boolean;
  serverKeepAlive?: number;
  responseInformation?: string;
  serverReference?: string;
  authenticationMethod?: string;
  authenticationData?: Buffer;
}

export interface Will {
  topic: string;
  /** A view of the input chunk, like every Buffer a decoder returns. */
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface ConnectPacket {
  type: 'connect';
  protocolName: 'MQTT' | 'MQIsdp';
  protocolVersion: ProtocolVersion;
  /** Clean Start in 5.0, Clean Session in 3.1 and 3.1.1. */
  cleanStart: boolean;
  keepAlive: number;
  /** May be empty: the server then assigns one (5.0) or refuses it unless clean (3.1.1) [MQTT-3.1.3-8]. */
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
  properties?: ConnectProperties;
}

export interface PublishPacket {
  type: 'publish';
  /** Empty only on 5.0 with a Topic Alias, which the session resolves. */
  topic: string;
  /** Decoded: a view of the input chunk, not a copy. */
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0 [MQTT-2.2.1-2]. */
  packetId?: number | undefined;
  properties?: PublishProperties | undefined;
}

export type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';

export interface AckPacket {
  type: AckType;
  packetId: number;
  /** 0x00 on 3.1.1, and on 5.0 when the packet omits it (section 3.4.2.1). */
  reasonCode: number;
  properties?: ReasonProperties | undefined;
}

export interface Subscription {
  filter: string;
  qos: QoS;
  /** 5.0 only; false on 3.1.1. */
  noLocal: boolean;
  /** 5.0 only; false on 3.1.1. */
  retainAsPublished: boolean;
  /** 5.0 only (0 send at subscribe, 1 only if new, 2 never); 0 on 3.1.1. */
  retainHandling: 0 | 1 | 2;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
  properties?: SubscribeProperties | undefined;
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  filters: string[];
  properties?: UnsubscribeProperties | undefined;
}

export interface PingreqPacket {
  type: 'pingreq';
}

export interface PingrespPacket {
  type: 'pingresp';
}

export interface DisconnectPacket {
  type: 'disconnect';
  /** 0x00 on 3.1.1 and when a 5.0 DISCONNECT omits it (section 3.14.2.1). */
  reasonCode: number;
  properties?: DisconnectProperties | undefined;
}

export interface AuthPacket {
  type: 'auth';
  reasonCode: number;
  properties?: AuthProperties | undefined;
}

export interface ConnackPacket {
  type: 'connack';
  /** Written only with a success code [MQTT-3.2.2-6], and never on 3.1 (its byte is reserved there). */
  sessionPresent: boolean;
  /** The 3.1.1 return code (table 3.1) on 3.1/3.1.1, the reason code (section 3.2.2.2) on 5.0. */
  reasonCode: number;
  properties?: ConnackProperties | undefined;
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** One per filter, in the SUBSCRIBE's order [MQTT-3.8.4-6]; 3.1.1 knows 0, 1, 2 and 0x80. */
  reasonCodes: number[];
  properties?: ReasonProperties | undefined;
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  /** 5.0: one per filter [MQTT-3.11.3-1]; 3.1.1's UNSUBACK has no payload, so these are not written. */
  reasonCodes: number[];
  properties?: ReasonProperties | undefined;
}

/** What a client sends and the hub decodes. */
export type ClientPacket =
  | ConnectPacket
  | PublishPacket
  | AckPacket
  | SubscribePacket
  | UnsubscribePacket
  | PingreqPacket
  | DisconnectPacket
  | AuthPacket;

/** What the hub encodes and sends. */
export type ServerPacket =
  | ConnackPacket
  | PublishPacket
  | AckPacket
  | SubackPacket
  | UnsubackPacket
  | PingrespPacket
  | DisconnectPacket
  | AuthPacket;
