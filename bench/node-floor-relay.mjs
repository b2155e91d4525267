// The least a Node process can do as an MQTT hub: answer CONNECT and SUBSCRIBE, and copy every
// QoS 0 PUBLISH, bytes unchanged, to every subscriber socket (no topic matching, no ACL, no state).
// bench/node-floor.ts runs it under the same load tools as the hubs: its CPU per message is the
// floor of the event loop's own cost (one read callback and one socket write per message at a
// steady rate), below which no hub written in Node can go. Usage: node node-floor-relay.mjs PORT
import { createServer } from 'node:net';
import { framer } from './floor-framer.mjs';

const port = Number(process.argv[2]);
const subscribers = new Set();

const server = createServer({ noDelay: true }, (socket) => {
  socket.on(
    'data',
    framer((type, buf, at, body, end) => {
      if (type === 1)
        socket.write(Buffer.from([0x20, 2, 0, 0])); // CONNACK accepted
      else if (type === 8) {
        // SUBACK granting QoS 0 for one filter
        socket.write(Buffer.from([0x90, 3, buf[body], buf[body + 1], 0]));
        subscribers.add(socket);
      } else if (type === 3) {
        const packet = buf.subarray(at, end);
        for (const s of subscribers) s.write(packet);
      } else if (type === 12) socket.write(Buffer.from([0xd0, 0])); // PINGRESP
    }),
  );
  socket.on('error', () => {});
  socket.on('close', () => subscribers.delete(socket));
});
server.listen(port, '127.0.0.1', () => console.log('relay listening'));
process.on('SIGTERM', () => process.exit(0));
