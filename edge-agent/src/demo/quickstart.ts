import { once } from 'node:events';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { createLogger } from '@tether/node-shared/logging';
import mqtt, { type MqttClient } from 'mqtt';
import { Agent } from '../agent.js';
import { loadBridgeConfig, loadHubConfig } from '../config/load-config.js';
import { EmbeddedHub } from '../hub/embedded-hub.js';
import { writeDemoFiles } from './demo-files.js';

/**
 * `npm start`: the seed guide's scenario on one machine with nothing but Node. The embedded
 * hub plays Baetyl-Hub, a second embedded hub with mutual TLS plays Baidu IoTHub, and the
 * agent runs the seed's rules (t1 up, t2 down). One message crosses each way, then it keeps
 * running for your own clients.
 */
export async function runDemo(options: { once?: boolean; dir?: string } = {}): Promise<number> {
  const dir = resolve(options.dir ?? '.tether/demo');
  const ports = { hub: await portOr(1883), cloud: await portOr(8883) };
  const files = await writeDemoFiles(dir, ports);
  // Baetyl resolves cert paths against its root: run from the demo folder like Baetyl would
  process.chdir(dir);
  const logger = createLogger({ level: process.env.TETHER_LOG_LEVEL === 'debug' ? 'debug' : 'warn' });

  const cloud = new EmbeddedHub(loadHubConfig(files.cloudConfig).config, {
    logger: logger.child({ module: 'cloud-standin' }),
    configDir: dir,
  });
  await cloud.start();
  const agent = new Agent({
    bridge: loadBridgeConfig(files.bridgeConfig),
    hub: loadHubConfig(files.hubConfig),
    logger,
    dataDir: resolve(dir, 'var/lib/tether'),
  });
  await agent.start();

  const hubUrl = `mqtt://127.0.0.1:${ports.hub}`;
  const cloudUrl = `mqtts://127.0.0.1:${ports.cloud}`;
  const mqttbox = await mqtt.connectAsync(hubUrl, {
    username: 'test',
    password: 'hahaha',
    clientId: 'mqttbox',
    reconnectPeriod: 0,
  });
  const mqttfx = await mqtt.connectAsync(cloudUrl, {
    username: 'mqttfx',
    password: 'demo',
    clientId: 'mqttfx',
    ca: [await readText(`${files.certDir}/ca.pem`)],
    reconnectPeriod: 0,
  });
  await mqttbox.subscribeAsync('t2', { qos: 1 });
  await mqttfx.subscribeAsync('t1', { qos: 1 });
  mqttbox.on('message', (topic, payload) =>
    console.log(`  hub   (MQTTBox) received on ${topic}: ${payload.toString()}`),
  );
  mqttfx.on('message', (topic, payload) =>
    console.log(`  cloud (MQTT.fx) received on ${topic}: ${payload.toString()}`),
  );

  console.log(`Tether quick start — files in ${dir}`);
  console.log(`  embedded hub:      ${hubUrl} (user test / hahaha), config ${files.hubConfig}`);
  console.log(`  cloud stand-in:    ${cloudUrl} (mutual TLS, CA ${files.certDir}/ca.pem)`);
  console.log(`  bridge rules:      t1 hub → cloud, t2 cloud → hub (${files.bridgeConfig})\n`);

  const up = waitForMessage(mqttfx, 't1');
  console.log('MQTTBox publishes "This message is from MQTTBox." on t1 at the hub');
  await mqttbox.publishAsync('t1', 'This message is from MQTTBox.', { qos: 1 });
  await up;
  const down = waitForMessage(mqttbox, 't2');
  console.log('MQTT.fx publishes "This message is from MQTT.fx." on t2 at the cloud');
  await mqttfx.publishAsync('t2', 'This message is from MQTT.fx.', { qos: 1 });
  await down;
  console.log('\nBoth directions work. Try it yourself (Ctrl-C to stop):');
  console.log(`  mosquitto_sub -h 127.0.0.1 -p ${ports.hub} -u test -P hahaha -t t2 -v`);
  console.log(`  mosquitto_pub -h 127.0.0.1 -p ${ports.hub} -u test -P hahaha -t t1 -m hello`);
  console.log(
    `  mosquitto_pub -h 127.0.0.1 -p ${ports.cloud} --cafile ${files.certDir}/ca.pem -u mqttfx -P demo -t t2 -m hi`,
  );

  const shutdown = async () => {
    await Promise.all([mqttbox.endAsync(), mqttfx.endAsync()]);
    await agent.stop();
    await cloud.stop();
  };
  if (options.once) {
    await shutdown();
    return 0;
  }
  const keepAlive = setInterval(() => {}, 1 << 30);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  clearInterval(keepAlive);
  console.log('\nstopping');
  await shutdown();
  return 0;
}

function waitForMessage(client: MqttClient, topic: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (t: string) => {
      if (t !== topic) return;
      clearTimeout(timer);
      client.off('message', onMessage);
      resolvePromise();
    };
    client.on('message', onMessage);
  });
}

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

/** The conventional port when free (so MQTTBox's defaults work), else any free port. */
async function portOr(preferred: number): Promise<number> {
  for (const port of [preferred, 0]) {
    const server = createServer();
    try {
      await new Promise<void>((ok, fail) => {
        server.once('error', fail);
        server.listen(port, '127.0.0.1', ok);
      });
      const address = server.address();
      await new Promise((r) => server.close(r));
      if (address && typeof address === 'object') return address.port;
    } catch {
      // taken: try the next
    }
  }
  throw new Error('no free port on 127.0.0.1');
}
