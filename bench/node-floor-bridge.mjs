// The least a Node process can do as an MQTT bridge: subscribe to hub A, copy every PUBLISH,
// bytes unchanged, to broker B, and (QoS 1) acknowledge it to A once B acknowledged it, with the
// same packet id (A's ids are unique among what it has in flight to us, so they are unique
// towards B too). No store, no topic matching, no queue, no state but the socket buffers; every
// read's packets go out in one write per socket, as Tether's packet writer does.
// bench/rigs.ts runs it as the rig `node-floor-bridge` under the same load tools as the bridges:
// its CPU per message is the event loop's own cost for the bridge path (c) at a steady rate —
// two reads and two writes per QoS 1 message — below which no bridge written in Node can go.
// Usage: node node-floor-bridge.mjs HUB_PORT CLOUD_PORT QOS
import { connect } from 'node:net';
import { framer } from './floor-framer.mjs';

const [hubPort, cloudPort, qosArg] = process.argv.slice(2).map(Number);
const qos = qosArg === 1 ? 1 : 0;

/** An MQTT 3.1.1 CONNECT with clean session and keepalive 0. */
function connectPacket(clientId) {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0]),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

function subscribePacket(filter) {
  const f = Buffer.from(filter);
  const body = Buffer.concat([Buffer.from([0, 1, f.length >> 8, f.length & 0xff]), f, Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82, body.length]), body]);
}

const hub = connect({ host: '127.0.0.1', port: hubPort, noDelay: true });
const cloud = connect({ host: '127.0.0.1', port: cloudPort, noDelay: true });
let toCloud = [];
let toHub = [];
const flushCloud = () => {
  if (toCloud.length === 0) return;
  cloud.write(toCloud.length === 1 ? toCloud[0] : Buffer.concat(toCloud));
  toCloud = [];
};
const flushHub = () => {
  if (toHub.length === 0) return;
  hub.write(toHub.length === 1 ? toHub[0] : Buffer.concat(toHub));
  toHub = [];
};

let cloudReady = false;
cloud.on(
  'data',
  framer((type, buf, _at, body) => {
    if (type === 2) {
      cloudReady = true;
      hub.write(connectPacket('tether-bench'));
    } else if (type === 4) {
      // B's PUBACK: A gets its own, same packet id
      toHub.push(Buffer.from([0x40, 2, buf[body], buf[body + 1]]));
    }
  }, flushHub),
);
hub.on(
  'data',
  framer(
    (type, buf, at, _body, end) => {
      if (type === 2) {
        hub.write(subscribePacket('bench/#'));
        console.log('floor bridge connected');
      } else if (type === 3 && cloudReady) {
        // a view: each read gets a chunk of its own, so the bytes stay valid until written
        toCloud.push(buf.subarray(at, end));
      } else if (type === 12) {
        toHub.push(Buffer.from([0xd0, 0]));
      }
    },
    () => {
      flushCloud();
      flushHub();
    },
  ),
);
cloud.write(connectPacket('tether-bench'));
for (const s of [hub, cloud]) {
  s.on('error', (error) => {
    console.error(`floor bridge: ${error.message}`);
    process.exit(1);
  });
  s.on('close', () => process.exit(0));
}
process.on('SIGTERM', () => process.exit(0));
