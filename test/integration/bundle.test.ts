import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/agent-process.js';
import { ManagedProcess } from '../helpers/process.js';
import { Teardown } from '../helpers/teardown.js';

const run = promisify(execFile);
const td = new Teardown();
afterEach(() => td.run());

/**
 * Edge nodes get one bundled file plus native modules: the bundle, copied alone into an
 * empty folder next to better-sqlite3 only, runs the quick start end to end.
 */
describe('the one-file bundle', () => {
  it('runs on its own beside its native module', async () => {
    await run(process.execPath, [join(REPO_ROOT, 'edge-agent/scripts/bundle.mjs')], {
      cwd: REPO_ROOT,
      timeout: 60_000,
    });
    const node = await mkdtemp(join(tmpdir(), 'tether-edge-node-'));
    td.add('remove temp dir', () => rm(node, { recursive: true, force: true }));
    await cp(join(REPO_ROOT, 'edge-agent/bundle/tether-agent.mjs'), join(node, 'tether-agent.mjs'));
    await mkdir(join(node, 'node_modules'));
    // better-sqlite3 and what it loads at run time (its install-time helpers are not needed)
    for (const pkg of ['better-sqlite3', 'bindings', 'file-uri-to-path']) {
      await symlink(join(REPO_ROOT, 'node_modules', pkg), join(node, 'node_modules', pkg));
    }

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
