/**
 * MQTT 5 reason codes (section 2.4, table 2-6) the hub's decoders and encoders use by name. A
 * decode failure always carries one of these, even on a 3.1.1 connection (where it only classifies
 * the failure: 3.1.1 closes the connection without saying why, section 4.8).
 */
export const ReasonCode = {
  Success: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8a,
  ServerShuttingDown: 0x8b,
  BadAuthenticationMethod: 0x8c,
  KeepAliveTimeout: 0x8d,
  SessionTakenOver: 0x8e,
  TopicFilterInvalid: 0x8f,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9a,
  QoSNotSupported: 0x9b,
  UseAnotherServer: 0x9c,
  ServerMoved: 0x9d,
  SharedSubscriptionsNotSupported: 0x9e,
  ConnectionRateExceeded: 0x9f,
  MaximumConnectTime: 0xa0,
  SubscriptionIdentifiersNotSupported: 0xa1,
  WildcardSubscriptionsNotSupported: 0xa2,
} as const;

/** MQTT 3.1 and 3.1.1 CONNACK return codes (3.1.1 section 3.2.2.3, table 3.1). */
export const ConnackReturnCode = {
  Accepted: 0x00,
  UnacceptableProtocolVersion: 0x01,
  IdentifierRejected: 0x02,
  ServerUnavailable: 0x03,
  BadUserNameOrPassword: 0x04,
  NotAuthorized: 0x05,
} as const;

/** Reason codes a client may put in PUBACK and PUBREC (sections 3.4.2.1, 3.5.2.1) [MQTT-3.4.2-1]. */
export const PUBLISH_ACK_REASONS: ReadonlySet<number> = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
/** Reason codes of PUBREL and PUBCOMP (sections 3.6.2.1, 3.7.2.1) [MQTT-3.6.2-1], [MQTT-3.7.2-1]. */
export const RELEASE_REASONS: ReadonlySet<number> = new Set([0x00, 0x92]);
/** DISCONNECT reason codes (section 3.14.2.1, table 3-10) [MQTT-3.14.2-1]. */
export const DISCONNECT_REASONS: ReadonlySet<number> = new Set([
  0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
  0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);
/** AUTH reason codes (section 3.15.2.1) [MQTT-3.15.2-1]. */
export const AUTH_REASONS: ReadonlySet<number> = new Set([0x00, 0x18, 0x19]);
