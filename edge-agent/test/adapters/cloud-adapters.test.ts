import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { issueCertificate, writePemFiles } from '@tether/node-shared/pki';
import { RemoteSchema } from '@tether/shared';
import { mutualTls, startMosquitto } from '@tether/test-helpers/mosquitto';
import { connectClient } from '@tether/test-helpers/mqtt-clients';
import { type Teardown, tempDir } from '@tether/test-helpers/teardown';
import { makeTlsFixture, type TlsFixture } from '@tether/test-helpers/tls-fixture';
import { createCloudAdapter } from '../../src/adapters/registry.js';
import { type CloudSetup, cloudAdapterContract } from './cloud-adapter-contract.js';

/**
 * The contract against Mosquitto configured like each cloud: the generic provider over plain TCP
 * (3.1.1) and mutual TLS (MQTT 5), Baidu IoT Core's signature login and Baidu IoT Hub's username
 * and password over TLS, AWS IoT Core's mutual TLS with the thing name as certificate CN and client id.
 */

const AGENT_CN = 'edge-thing-1';

/** An ACL for a broker that knows the agent as `user` and the cloud application as `cloud-app`. */
const acl = (user: string) =>
  [
    `user ${user}`,
    'topic read up/denied/#',
    'topic readwrite up/fine',
    'topic readwrite up/+',
    'topic readwrite down/#',
    // Mosquitto checks a shared SUBSCRIBE against the whole $share/ filter
    'topic read $share/edges/down/#',
    'user cloud-app',
    'topic readwrite #',
  ].join('\n');

async function tlsCloud(
  td: Teardown,
  name: string,
): Promise<{ dir: string; certs: TlsFixture; cloudApp: { cert: string; key: string } }> {
  const dir = tempDir(td, `tether-adapter-${name}-`);
  const certs = await makeTlsFixture(join(dir, 'certs'), { clientCommonName: AGENT_CN });
  const app = await writePemFiles(
    join(dir, 'certs'),
    'cloud-app',
    await issueCertificate(certs.pems.ca, { commonName: 'cloud-app', usage: 'client' }),
  );
  return { dir, certs, cloudApp: { cert: app.certPath, key: app.keyPath } };
}

const genericTcp: CloudSetup = async (td) => {
  const dir = tempDir(td, 'tether-adapter-tcp-');
  const broker = await startMosquitto({ dir, teardown: td });
  return {
    broker,
    adapter: ({ clientId, logger }) =>
      createCloudAdapter(
        RemoteSchema.parse({
          name: 'plain',
          address: `tcp://127.0.0.1:${broker.port}`,
          backoff: { min: 50, max: 200 },
        }),
        { clientId, logger, configDir: dir, field: 'remotes[0]' },
      ),
    cloudClient: (clientId) => connectClient(broker.url, { clientId, teardown: td }),
  };
};

const genericMutualTlsV5: CloudSetup = async (td) => {
  const { dir, certs, cloudApp } = await tlsCloud(td, 'mtls');
  const broker = await startMosquitto({
    dir,
    tls: mutualTls(certs),
    acl: acl(AGENT_CN),
    allowAnonymous: false,
    teardown: td,
  });
  return {
    broker,
    adapter: ({ clientId, logger, cert }) =>
      createCloudAdapter(
        RemoteSchema.parse({
          name: 'mosquitto-v5',
          provider: 'mqtt',
          address: `ssl://127.0.0.1:${broker.port}`,
          protocol: 5,
          ca: certs.ca,
          cert: cert === 'untrusted' ? certs.otherClient.cert : certs.client.cert,
          key: cert === 'untrusted' ? certs.otherClient.key : certs.client.key,
          backoff: { min: 50, max: 200 },
        }),
        { clientId, logger, configDir: dir, field: 'remotes[0]' },
      ),
    cloudClient: (clientId) =>
      connectClient(broker.url, {
        clientId,
        protocolVersion: 5,
        tlsFiles: { ca: certs.ca, ...cloudApp },
        teardown: td,
      }),
  };
};

const baiduIotHub: CloudSetup = async (td) => {
  // Baidu IoT Hub: TLS on its ssl port, username <endpoint>/<thing>, the identity's key as password
  const { dir, certs } = await tlsCloud(td, 'baidu');
  const broker = await startMosquitto({
    dir,
    tls: { ca: certs.ca, cert: certs.server.cert, key: certs.server.key },
    users: { 'tether-ep/edge-1': 'identity-secret', 'cloud-app': 'app-secret' },
    acl: acl('tether-ep/edge-1'),
    teardown: td,
  });
  return {
    broker,
    adapter: ({ clientId, logger }) =>
      createCloudAdapter(
        RemoteSchema.parse({
          name: 'iothub',
          provider: 'baidu-iothub',
          address: `ssl://127.0.0.1:${broker.port}`,
          endpoint: 'tether-ep',
          thing: 'edge-1',
          password: 'identity-secret',
          ca: certs.ca,
          backoff: { min: 50, max: 200 },
        }),
        { clientId, logger, configDir: dir, field: 'remotes[0]' },
      ),
    cloudClient: (clientId) =>
      connectClient(broker.url, {
        clientId,
        username: 'cloud-app',
        password: 'app-secret',
        tlsFiles: { ca: certs.ca },
        teardown: td,
      }),
  };
};

const baiduIotCore: CloudSetup = async (td) => {
  // Baidu IoT Core: TLS on its ssl port; the broker knows the login Baidu's document describes,
  // written out here by hand: thingidp@{IoTCoreId}|{DeviceKey}|0|SHA256 and
  // sha256hex("{DeviceKey}&0&SHA256{DeviceSecret}"); the agent is given only the console's fields
  const { dir, certs } = await tlsCloud(td, 'baidu-iotcore');
  const username = 'thingidp@tethercore|edge-1|0|SHA256';
  const password = createHash('sha256').update('edge-1&0&SHA256identity-secret').digest('hex');
  const broker = await startMosquitto({
    dir,
    tls: { ca: certs.ca, cert: certs.server.cert, key: certs.server.key },
    users: { [username]: password, 'cloud-app': 'app-secret' },
    acl: acl(username),
    teardown: td,
  });
  return {
    broker,
    adapter: ({ clientId, logger }) =>
      createCloudAdapter(
        RemoteSchema.parse({
          name: 'iotcore',
          provider: 'baidu-iotcore',
          address: `ssl://127.0.0.1:${broker.port}`,
          iotcoreid: 'tethercore',
          devicekey: 'edge-1',
          devicesecret: 'identity-secret',
          ca: certs.ca,
          backoff: { min: 50, max: 200 },
        }),
        { clientId, logger, configDir: dir, field: 'remotes[0]' },
      ),
    cloudClient: (clientId) =>
      connectClient(broker.url, {
        clientId,
        username: 'cloud-app',
        password: 'app-secret',
        tlsFiles: { ca: certs.ca },
        teardown: td,
      }),
  };
};

const awsIot: CloudSetup = async (td) => {
  // AWS IoT Core: mutual TLS, the thing's certificate is its identity, MQTT 5
  const { dir, certs, cloudApp } = await tlsCloud(td, 'aws');
  const broker = await startMosquitto({
    dir,
    tls: mutualTls(certs),
    acl: acl(AGENT_CN),
    allowAnonymous: false,
    teardown: td,
  });
  return {
    broker,
    adapter: ({ clientId, logger, cert }) =>
      createCloudAdapter(
        RemoteSchema.parse({
          name: 'aws',
          provider: 'aws-iot',
          endpoint: '127.0.0.1',
          port: broker.port,
          thing: clientId,
          ca: certs.ca,
          cert: cert === 'untrusted' ? certs.otherClient.cert : certs.client.cert,
          key: cert === 'untrusted' ? certs.otherClient.key : certs.client.key,
          backoff: { min: 50, max: 200 },
        }),
        { clientId, logger, configDir: dir, field: 'remotes[0]' },
      ),
    cloudClient: (clientId) =>
      connectClient(broker.url, {
        clientId,
        protocolVersion: 5,
        tlsFiles: { ca: certs.ca, ...cloudApp },
        teardown: td,
      }),
  };
};

cloudAdapterContract('mqtt over tcp, MQTT 3.1.1', genericTcp, { refusesByPuback: false, mutualTls: false });
cloudAdapterContract('mqtt over mutual TLS, MQTT 5', genericMutualTlsV5, {
  refusesByPuback: true,
  mutualTls: true,
  mqtt5: true,
});
cloudAdapterContract('baidu-iotcore (TLS, thingidp signature login)', baiduIotCore, {
  refusesByPuback: false,
  mutualTls: false,
});
cloudAdapterContract('baidu-iothub (TLS, endpoint/thing username)', baiduIotHub, {
  refusesByPuback: false,
  mutualTls: false,
});
cloudAdapterContract('aws-iot (mutual TLS, AWS IoT Device SDK MQTT 5)', awsIot, {
  refusesByPuback: true,
  mutualTls: true,
  mqtt5: true,
});
