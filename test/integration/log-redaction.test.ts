import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startAgent } from '../helpers/agent-process.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { freePort } from '../helpers/ports.js';
import { Teardown } from '../helpers/teardown.js';
import { waitFor } from '../helpers/wait-for.js';

/** README: passwords never reach a log — not even one written into an address (`tcp://user:secret@host`). */
const td = new Teardown();
afterEach(() => td.run());

const SECRET = 'Sup3rS3cretPW';

it('a remote address with a password that fails to connect: the log never holds the secret', async () => {
  const root = await mkdtemp(join(tmpdir(), 'tether-redact-'));
  td.add('remove temp dir', () => rm(root, { recursive: true, force: true }));
  const hub = await startMosquitto({ dir: join(root, 'hub'), teardown: td });
  // nothing listens on this port: every attempt fails and is logged with the address
  const closedPort = await freePort();
  const logFile = join(root, 'agent.log');
  const configFile = join(root, 'bridge.yml');
  const backoff = { min: 50, max: 50, jitter: 0 };
  await writeFile(
    configFile,
    stringify({
      name: 'redact',
      hub: { address: hub.url.replace('mqtt://', 'tcp://'), clientid: 'edge-1', backoff },
      remotes: [
        {
          name: 'cloud',
          address: `tcp://edge:${SECRET}@127.0.0.1:${closedPort}`,
          clientid: 'edge-1',
          backoff,
        },
      ],
      rules: [{ hub: { subscriptions: [{ topic: 't', qos: 1 }] }, remote: { name: 'cloud' } }],
      queue: { durability: 'memory' },
      logger: { level: 'debug', path: logFile },
    }),
  );
  const agent = await startAgent({ args: ['--config', configFile], cwd: root, teardown: td });
  // bounded: the failure and a few retries are on disk (pino writes asynchronously, so poll the file)
  const failures = await waitFor(
    async () => {
      const lines = (await readFile(logFile, 'utf8').catch(() => '')).split('\n');
      const retries = lines.filter((l) => l.includes('remote/cloud') && l.includes('still failing'));
      const named = lines.filter((l) => l.includes(`127.0.0.1:${closedPort}`));
      return retries.length >= 3 && named.length > 0 ? named : undefined;
    },
    { what: 'a logged connection failure and three retries', timeoutMs: 15_000 },
  );
  await agent.stop();
  const log = await readFile(logFile, 'utf8');
  expect(log).not.toContain(SECRET);
  expect(agent.output()).not.toContain(SECRET);
  // the address is still there for whoever reads the log, without its credentials
  expect(failures.join('\n')).toContain(`tcp://[redacted]@127.0.0.1:${closedPort}`);
});
