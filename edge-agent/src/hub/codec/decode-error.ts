import { ReasonCode } from './reason-codes.js';
import type { ProtocolVersion } from './types.js';

/**
 * Why a packet from a client cannot be accepted: the connection closes (3.1.1 section 4.8,
 * 5.0 section 4.13). Thrown by the decoders and caught by FrameReader, which hands it to the sink;
 * it never escapes the codec. Not a TetherError: it is a wire verdict, not an operational failure.
 */
export class DecodeError extends Error {
  constructor(
    reason: string,
    /** The MQTT 5 reason code for a CONNACK or DISCONNECT (0x81 malformed, 0x82 protocol error, ...). */
    readonly reasonCode: number,
    /** For a refused CONNECT on 3.1/3.1.1: the CONNACK return code to send before closing, if one applies. */
    readonly connackReturnCode?: number,
    /** For a refused CONNECT: the version its Protocol Level claimed, once that was read and known. */
    readonly protocolVersion?: ProtocolVersion,
  ) {
    super(reason);
    this.name = 'DecodeError';
  }
}

/** The packet cannot be parsed according to the specification (5.0 section 1.2, "Malformed Packet"). */
export function malformed(reason: string): DecodeError {
  return new DecodeError(reason, ReasonCode.MalformedPacket);
}

/** The packet parses but carries data the protocol does not allow (5.0 section 1.2, "Protocol Error"). */
export function protocolError(reason: string): DecodeError {
  return new DecodeError(reason, ReasonCode.ProtocolError);
}
