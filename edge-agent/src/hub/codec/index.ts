export { DecodeError } from './decode-error.js';
export { FrameReader, type FrameReaderOptions, type HubPacketSink } from './frame-reader.js';
export {
  encodeAck,
  encodeAuth,
  encodeConnack,
  encodeDisconnect,
  encodePacket,
  encodePingresp,
  encodePublish,
  encodePublishHeader,
  encodeSuback,
  encodeUnsuback,
} from './packet-encoder.js';
export { fitToMaximumPacketSize, packetSize } from './packet-size.js';
export { ConnackReturnCode, ReasonCode } from './reason-codes.js';
export {
  isSharedFilter,
  parseSharedSubscription,
  type SharedSubscription,
  stringProblem,
  topicFilterProblem,
  topicNameProblem,
} from './topic-rules.js';
export type * from './types.js';
export { isWellFormedUtf8 } from './utf8.js';
