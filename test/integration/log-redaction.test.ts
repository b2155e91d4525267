import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { freePort } from '@tether/test-helpers/ports';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';

/** README: passwords never reach a log — not even one written into an address (`tcp://user:secret@host`). */
const td = new Teardown();
afterEach(() => td.run());

const SECRET = 'Sup3rS3cretPW';

it('a remote address with a password is refused naming the field; the secret is in no log and no output', async () => {
  const root = tempDir(td, 'tether-redact-');
  const hub = await startMosquitto({ dir: join(root, 'hub'), teardown: td });
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
  // the config refuses credentials in an address (they belong in username/password) and says
  // so naming the field: the secret reaches neither the log nor the terminal
  const agent = await startAgent({ args: ['--config', configFile], cwd: root, teardown: td });
  const exit = await agent.waitForExit(15_000);
  expect(exit.code).toBe(2);
  expect(agent.output()).toContain('remotes[0].address');
  expect(agent.output()).not.toContain(SECRET);
  const log = await readFile(logFile, 'utf8').catch(() => '');
  expect(log).not.toContain(SECRET);
});
