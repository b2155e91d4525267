/**
 * A benchmark message: sequence number (4 bytes), send time on the monotonic clock that every
 * process on this machine shares (8 bytes, ns), then filler up to the payload size.
 */
export const HEADER_BYTES = 12;

export function makePayload(size: number, seq: number, filler: Buffer): Buffer {
  const payload = Buffer.allocUnsafe(Math.max(size, HEADER_BYTES));
  payload.writeUInt32BE(seq, 0);
  payload.writeBigUInt64BE(process.hrtime.bigint(), 4);
  filler.copy(payload, HEADER_BYTES, 0, payload.length - HEADER_BYTES);
  return payload;
}

export function readHeader(payload: Buffer): { seq: number; sentNs: bigint } {
  return { seq: payload.readUInt32BE(0), sentNs: payload.readBigUInt64BE(4) };
}
