// The MQTT framing the floor scripts (node-floor-relay.mjs, node-floor-bridge.mjs) share: whole
// packets out of a stream of chunks, nothing decoded but the fixed header.

/**
 * Returns a 'data' listener that calls onPacket(type, buf, start, bodyStart, end) for every whole
 * packet and onChunkDone() after each chunk; a partial packet waits for the next chunk.
 */
export function framer(onPacket, onChunkDone = () => {}) {
  let pending;
  return (chunk) => {
    const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let len = 0;
      let mul = 1;
      let pos = at + 1;
      let done = false;
      while (pos < buf.length && pos < at + 5) {
        const b = buf[pos++];
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          done = true;
          break;
        }
      }
      if (!done || buf.length < pos + len) break;
      onPacket(buf[at] >> 4, buf, at, pos, pos + len);
      at = pos + len;
    }
    if (at < buf.length) pending = Buffer.from(buf.subarray(at));
    onChunkDone();
  };
}
