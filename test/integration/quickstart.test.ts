import { startAgent } from '@tether/test-helpers/agent-process';
import { mosquittoPub, mosquittoSub } from '@tether/test-helpers/mqtt-clients';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';

/** The README's first command (`npm start` runs `tether-agent demo`) does what it says. */
const td = new Teardown();
afterEach(() => td.run());

describe('the quick start', () => {
  it('shows a message crossing each way, then serves your own clients until Ctrl-C', async () => {
    const cwd = tempDir(td, 'tether-quickstart-');
    const demo = await startAgent({ args: ['demo'], cwd, teardown: td });

    await demo.waitForLog(/cloud \(MQTT\.fx\) received on t1: This message is from MQTTBox\./, 20_000);
    await demo.waitForLog(/hub {3}\(MQTTBox\) received on t2: This message is from MQTT\.fx\./, 10_000);
    await demo.waitForLog(/Both directions work/, 5_000);

    // then a user's own client (mosquitto_pub, as the README shows) gets through the hub to the cloud
    const pubLine = await demo.waitForLog(/mosquitto_pub -h 127\.0\.0\.1 -p \d+ -u test -P hahaha -t t1/, 1_000);
    const hubPort = /-p (\d+)/.exec(pubLine)?.[1] as string;
    const cloudLine = await demo.waitForLog(/--cafile/, 1_000);
    const [, cloudPort, cafile] = /-p (\d+) --cafile (\S+)/.exec(cloudLine) ?? [];
    const atCloud = await mosquittoSub(
      [
        '-h',
        '127.0.0.1',
        '-p',
        cloudPort as string,
        '--cafile',
        cafile as string,
        '-u',
        'mqttfx',
        '-P',
        'demo',
        '-t',
        't1',
      ],
      { teardown: td },
    );
    const pub = await mosquittoPub([
      '-h',
      '127.0.0.1',
      '-p',
      hubPort,
      '-u',
      'test',
      '-P',
      'hahaha',
      '-t',
      't1',
      '-m',
      'hello from me',
    ]);
    expect(pub.code).toBe(0);
    expect(await atCloud.waitForMessages(1, 10_000)).toEqual(['hello from me']);

    expect(await demo.stop('SIGINT')).toBe(0);
  });
});
