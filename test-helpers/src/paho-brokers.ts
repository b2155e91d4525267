/**
 * The brokers Paho's interoperability tests (`paho.ts`) run against, configured for what the tests expect of
 * a broker's configuration. The tests connect without a username, so everything here is for anonymous clients.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type AgentProcess, startAgent } from './agent-process.js';
import { type MosquittoProcess, startMosquitto } from './mosquitto.js';
import { freePort } from './ports.js';
import type { Teardown } from './teardown.js';

const DYNSEC_PLUGIN_PATHS = [
  '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so',
  '/usr/lib/mosquitto_dynamic_security.so',
  '/usr/local/lib/mosquitto_dynamic_security.so',
  '/opt/homebrew/lib/mosquitto_dynamic_security.so',
];

function dynsecPlugin(): string {
  const fromEnv = process.env.MOSQUITTO_DYNSEC_PLUGIN;
  const found = fromEnv ?? DYNSEC_PLUGIN_PATHS.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`mosquitto_dynamic_security.so not found in ${DYNSEC_PLUGIN_PATHS.join(', ')}`);
  }
  return found;
}

/**
 * Mosquitto 2 for the Paho tests:
 * - `test_subscribe_failure` needs a filter whose SUBSCRIBE is refused (`test/nosubscribe`). Mosquitto 2.0's
 *   acl_file never refuses a SUBSCRIBE (its check returns success for subscribe: "FIXME - implement ACL
 *   subscription strings"), so the dynamic security plugin does it: the anonymous clients' group has a role
 *   denying that subscribePattern, and everything else is allowed by default.
 * - `test_server_keep_alive` (v5) expects the broker to answer keep alive 120 with Server Keep Alive 60:
 *   `max_keepalive 60`.
 * Otherwise Mosquitto's defaults (so `test_overlapping_subscriptions` fails: with the deprecated
 * `allow_duplicate_messages` left false, Mosquitto 2.0.11 sends one copy at the QoS of one matching
 * subscription, not the highest).
 */
export async function startPahoMosquitto(opts: { dir: string; teardown: Teardown }): Promise<MosquittoProcess> {
  await mkdir(opts.dir, { recursive: true });
  const dynsec = join(opts.dir, 'dynamic-security.json');
  await writeFile(
    dynsec,
    JSON.stringify({
      defaultACLAccess: { publishClientSend: true, publishClientReceive: true, subscribe: true, unsubscribe: true },
      clients: [],
      groups: [{ groupname: 'paho-anonymous', roles: [{ rolename: 'paho-nosubscribe' }], clients: [] }],
      roles: [
        {
          rolename: 'paho-nosubscribe',
          acls: [{ acltype: 'subscribePattern', topic: 'test/nosubscribe', priority: 0, allow: false }],
        },
      ],
      anonymousGroup: 'paho-anonymous',
    }),
    { mode: 0o600 },
  );
  return startMosquitto({
    dir: opts.dir,
    allowAnonymous: true,
    extraConf: [`plugin ${dynsecPlugin()}`, `plugin_opt_config_file ${dynsec}`, 'max_keepalive 60'].join('\n'),
    teardown: opts.teardown,
  });
}

export interface PahoHub {
  readonly port: number;
  readonly agent: AgentProcess;
}

/**
 * The embedded hub (`tether-agent hub`, compiled `dist/`) for the Paho tests, configured like the Mosquitto
 * above: the tests send no username, so the hub's `anonymous` principal may do anything but subscribe to
 * `test/nosubscribe` (`test_subscribe_failure`), and `limits.keepalive: 60s` (`test_server_keep_alive`).
 */
export async function startPahoHub(opts: { dir: string; teardown: Teardown }): Promise<PahoHub> {
  await mkdir(opts.dir, { recursive: true });
  const port = await freePort();
  const config = join(opts.dir, 'hub.yml');
  await writeFile(
    config,
    stringify({
      listen: [`tcp://127.0.0.1:${port}`],
      storage: { dir: join(opts.dir, 'data') },
      anonymous: {
        permissions: [
          { action: 'pub', permit: ['#'] },
          { action: 'sub', permit: ['#'], deny: ['test/nosubscribe'] },
        ],
      },
      limits: { keepalive: '60s' },
      logger: { level: 'info' },
    }),
  );
  const agent = await startAgent({ args: ['hub', '--config', config], cwd: opts.dir, teardown: opts.teardown });
  await agent.waitForLog(/embedded hub listening/, 15_000);
  return { port, agent };
}
