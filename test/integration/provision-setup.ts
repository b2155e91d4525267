import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMosquitto } from '@tether/test-helpers/mosquitto';
import { ManagedProcess } from '@tether/test-helpers/process';
import type { Teardown } from '@tether/test-helpers/teardown';
import { waitFor } from '@tether/test-helpers/wait-for';

/** The compiled `tether-cloud` CLI (built by `npx tsc -b`). */
export const CLOUD_CLI_PATH = fileURLToPath(new URL('../../cloud/dist/cli/main.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tether-cloud …args` to its end (bounded); a non-zero exit is returned, not thrown. */
export async function runCloudCli(
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliRun> {
  if (!existsSync(CLOUD_CLI_PATH))
    throw new Error(`${CLOUD_CLI_PATH} does not exist; build it first with \`npx tsc -b\``);
  const proc = await ManagedProcess.spawn(process.execPath, [CLOUD_CLI_PATH, ...args], {
    name: 'tether-cloud',
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...opts.env },
  });
  try {
    const exit = await proc.waitForExit(opts.timeoutMs ?? 60_000);
    return { code: exit.code, stdout: proc.stdout.text(), stderr: proc.stderr.text() };
  } catch (error) {
    await proc.kill();
    throw new Error(`tether-cloud ${args.join(' ')}: ${(error as Error).message}.${proc.tailText()}`);
  }
}

/** A started long-running `tether-cloud` (serve), stopped by pid on teardown. */
export async function startCloudCli(
  args: string[],
  td: Teardown,
  env: Record<string, string> = {},
): Promise<ManagedProcess> {
  const proc = await ManagedProcess.spawn(process.execPath, [CLOUD_CLI_PATH, ...args], {
    name: 'tether-cloud',
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  td.add(`tether-cloud pid ${proc.pid}`, () => proc.terminate('SIGTERM', 5_000));
  return proc;
}

export interface KitBroker {
  readonly proc: ManagedProcess;
  /** SIGHUP (re-reads the ACL and the CRL), resolved once Mosquitto logged the reload. */
  reload(): Promise<void>;
}

/** `mosquitto -c <ca-dir>/mosquitto.conf`, exactly the kit tether-cloud wrote (see `runMosquitto`); stopped on teardown. */
export async function startKitBroker(caDir: string, port: number, td: Teardown): Promise<KitBroker> {
  const proc = await runMosquitto(join(caDir, 'mosquitto.conf'), port);
  td.add(`mosquitto pid ${proc.pid}`, () => proc.terminate('SIGTERM', 3_000));
  let reloads = 0;
  return {
    proc,
    async reload() {
      reloads++;
      const target = reloads;
      proc.signal('SIGHUP');
      await waitFor(() => proc.output.lines().filter((l) => l.includes('Reloading config.')).length >= target, {
        what: 'mosquitto to reload its config',
        timeoutMs: 5_000,
      });
    },
  };
}

/** `--broker-user root` when the tests run as root: Mosquitto would otherwise drop to a user that cannot read the 0600 keys. */
export function brokerUserArgs(): string[] {
  return process.getuid?.() === 0 ? ['--broker-user', 'root'] : [];
}
