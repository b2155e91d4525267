import { execFile } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '@tether/test-helpers/agent-process';
import { ManagedProcess } from '@tether/test-helpers/process';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const td = new Teardown();
afterEach(() => td.run());

/**
 * Edge nodes get the bundle (one entry file and its chunks): copied alone into an empty folder (no
 * node_modules: the store is node:sqlite), it runs the quick start end to end.
 */
describe('the one-file bundle', () => {
  it('runs on its own, with no node_modules beside it', async () => {
    await run(process.execPath, [join(REPO_ROOT, 'edge-agent/scripts/bundle.mjs')], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    const node = tempDir(td, 'tether-edge-node-');
    // the entry and its chunks (the parts it imports on use)
    await cp(join(REPO_ROOT, 'edge-agent/bundle'), node, { recursive: true });

    const version = await run(process.execPath, [join(node, 'tether-agent.mjs'), '--version'], {
      cwd: node,
      timeout: 10_000,
    });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);

    const demo = await ManagedProcess.spawn(process.execPath, [join(node, 'tether-agent.mjs'), 'demo', '--once'], {
      name: 'bundle demo',
      cwd: node,
    });
    td.add('stop demo', () => demo.terminate('SIGTERM', 3_000));
    const exit = await demo.waitForExit(30_000);
    expect(demo.output.text()).toContain('hub   (MQTTBox) received on t2: This message is from MQTT.fx.');
    expect(exit.code).toBe(0);
  });
});
