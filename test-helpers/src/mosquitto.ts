/**
 * A real Mosquitto 2 broker per test, on 127.0.0.1 only.
 *
 * Running as root: Mosquitto 2 drops privileges to the `mosquitto` user when started as root without a
 * `user` setting, and that user cannot read the password file, ACL or keys in a root-only `mkdtemp` dir
 * (it exits with "Unable to open pwfile"). So when this process runs as root the conf says `user root`:
 * the broker keeps root's rights and reads the files where they are. That is fine for a throw-away test
 * broker bound to loopback; it logs "Mosquitto should not be run as root" once. As a non-root user the
 * setting is left out and the broker runs as that user.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { findExecutable, type LineMatcher, ManagedProcess } from './process.js';
import type { Teardown } from './teardown.js';
import { waitFor } from './wait-for.js';

const execFileAsync = promisify(execFile);
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/opt/homebrew/sbin'];

export interface MosquittoTlsOptions {
  /** CA file used to verify client certificates. */
  ca: string;
  cert: string;
  key: string;
  /** `require_certificate`: clients must present a cert signed by `ca`. Default false. */
  requireCertificate?: boolean;
  /** `use_identity_as_username`: the client cert's CN becomes the MQTT username. Default false. */
  useIdentityAsUsername?: boolean;
}

/**
 * A cloud broker's mutual TLS from a certificate fixture: the server's own cert, client
 * certificates required, and a client's certificate CN as its MQTT username.
 */
export function mutualTls(certs: { ca: string; server: { cert: string; key: string } }): MosquittoTlsOptions {
  return {
    ca: certs.ca,
    cert: certs.server.cert,
    key: certs.server.key,
    requireCertificate: true,
    useIdentityAsUsername: true,
  };
}

export interface StartMosquittoOptions {
  /** Folder for the conf, password file, ACL and persistence data (created if missing). */
  dir: string;
  /** Default: a free port. */
  port?: number;
  /** Makes the listener TLS-only (`mqtts://`). */
  tls?: MosquittoTlsOptions;
  /** username → password, written with `mosquitto_passwd -b`. */
  users?: Record<string, string>;
  /** Default: true when no `users` are given, else false. */
  allowAnonymous?: boolean;
  /** Contents of an ACL file (`acl_file`), e.g. "user alice\ntopic readwrite a/#\n". */
  acl?: string;
  /**
   * Appended verbatim to the conf. Keep `connection_messages` on and the information log level: the
   * start waits for the "running" line and for the broker to log the readiness probe's connection.
   */
  extraConf?: string;
  /** Keep retained messages and sessions across restarts (in `dir`). Default false. */
  persistence?: boolean;
  /** Prefix of the files written into `dir`, for several brokers in one folder. Default `mosquitto`. */
  name?: string;
  /** Bound for the start (and each restart). Default 10 000 ms. */
  startTimeoutMs?: number;
  /** When given, `stop()` is registered on it. */
  teardown?: Teardown;
}

export interface MosquittoProcess {
  readonly port: number;
  /** Pid of the current broker process (changes on restart). */
  readonly pid: number;
  /** `mqtt://127.0.0.1:PORT`, or `mqtts://127.0.0.1:PORT` with `tls`. */
  readonly url: string;
  readonly confPath: string;
  readonly running: boolean;
  /** Broker output (all runs, most recent last; bounded). */
  logs(): string;
  /** Waits for a broker log line (current run). */
  waitForLog(matcher: LineMatcher, timeoutMs?: number): Promise<string>;
  /** SIGCONT (in case it is stopped), SIGTERM, then SIGKILL after 3 s; waits for the exit. No-op when not running. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: no clean shutdown, no persistence save); waits for the exit. */
  kill(): Promise<void>;
  /** Sends `signal` (SIGSTOP freezes the broker, SIGCONT resumes it); for SIGTERM and SIGKILL waits for the exit. */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** Stops the broker if it runs, then starts it again on the same port with the same conf. */
  restart(): Promise<void>;
}

function confValue(value: string, what: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`startMosquitto: ${what} must not contain line breaks`);
  return value;
}

async function writePasswordFile(path: string, users: Record<string, string>): Promise<void> {
  const passwd = findExecutable('mosquitto_passwd', { envVar: 'MOSQUITTO_PASSWD_BIN', extraDirs: SBIN_DIRS });
  let first = true;
  for (const [user, password] of Object.entries(users)) {
    if (user.includes(':') || user === '') throw new Error(`startMosquitto: invalid username ${JSON.stringify(user)}`);
    const args = first ? ['-b', '-c', path, user, password] : ['-b', path, user, password];
    await execFileAsync(passwd, args, { timeout: 10_000 });
    first = false;
  }
  await chmod(path, 0o600);
}

/** Opens and closes a TCP connection; resolves with the probe's local port, or false when refused. */
function probeTcp(port: number): Promise<number | false> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: number | false) => {
      socket.destroy();
      resolvePromise(result);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(socket.localPort ?? false));
    socket.once('error', () => done(false));
  });
}

/**
 * Runs `mosquitto -c confPath` (found on PATH or in the sbin folders, or `$MOSQUITTO_BIN`) and resolves once
 * its main loop serves `port` on 127.0.0.1; kills it and rejects (with its last output) when it does not
 * within `startTimeoutMs`. For a conf written elsewhere (tether-cloud's broker kit); `startMosquitto` writes
 * its own. The conf must log at the information level with `connection_messages true`.
 */
export async function runMosquitto(
  confPath: string,
  port: number,
  opts: { startTimeoutMs?: number; onSpawn?: (proc: ManagedProcess) => void } = {},
): Promise<ManagedProcess> {
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  const bin = findExecutable('mosquitto', { envVar: 'MOSQUITTO_BIN', extraDirs: SBIN_DIRS });
  const proc = await ManagedProcess.spawn(bin, ['-c', confPath], { name: `mosquitto :${port}` });
  opts.onSpawn?.(proc);
  try {
    // "running" is logged once the listeners are open; a failed bind exits (and rejects) instead.
    await proc.waitForLine(/mosquitto version \S+ running/, startTimeoutMs, 'mosquitto to report "running"');
    // The kernel completes TCP handshakes on the listen socket before Mosquitto's main loop runs, and
    // Mosquitto 2.0 sets its run flag only after logging "running": a SIGTERM sent in that gap is lost
    // (seen here as a 3 s stop). So wait until the main loop has accepted (logged) our probe connection.
    const probePort = await waitFor(async () => proc.running && (await probeTcp(port)), {
      what: `mosquitto (pid ${proc.pid}) to accept TCP on 127.0.0.1:${port}`,
      timeoutMs: startTimeoutMs,
      intervalMs: 50,
    });
    // On a TLS listener the probe (no handshake) shows up as "Client connection from 127.0.0.1 failed: …".
    await proc.waitForLine(
      (line) =>
        line.includes(`New connection from 127.0.0.1:${probePort} on port ${port}`) ||
        line.includes('Client connection from 127.0.0.1 failed'),
      startTimeoutMs,
      'mosquitto to accept the readiness probe',
    );
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}

export async function startMosquitto(opts: StartMosquittoOptions): Promise<MosquittoProcess> {
  const dir = resolve(opts.dir);
  const name = opts.name ?? 'mosquitto';
  const port = opts.port ?? (await freePort());
  const startTimeoutMs = opts.startTimeoutMs ?? 10_000;
  await mkdir(dir, { recursive: true });

  const conf: string[] = [`# written by test-helpers/src/mosquitto.ts for port ${port}`];
  if (process.getuid?.() === 0) conf.push('user root'); // see the note at the top of this file
  conf.push(`listener ${port} 127.0.0.1`);
  if (opts.tls) {
    conf.push(
      `cafile ${confValue(resolve(opts.tls.ca), 'tls.ca')}`,
      `certfile ${confValue(resolve(opts.tls.cert), 'tls.cert')}`,
      `keyfile ${confValue(resolve(opts.tls.key), 'tls.key')}`,
      `require_certificate ${opts.tls.requireCertificate === true}`,
      `use_identity_as_username ${opts.tls.useIdentityAsUsername === true}`,
    );
  }
  conf.push(`allow_anonymous ${opts.allowAnonymous ?? opts.users === undefined}`);
  if (opts.users) {
    const passwordFile = join(dir, `${name}.passwd`);
    await writePasswordFile(passwordFile, opts.users);
    conf.push(`password_file ${confValue(passwordFile, 'dir')}`);
  }
  if (opts.acl !== undefined) {
    const aclFile = join(dir, `${name}.acl`);
    await writeFile(aclFile, opts.acl.endsWith('\n') ? opts.acl : `${opts.acl}\n`, { mode: 0o600 });
    conf.push(`acl_file ${confValue(aclFile, 'dir')}`);
  }
  if (opts.persistence) {
    const dataDir = join(dir, `${name}-data`);
    await mkdir(dataDir, { recursive: true });
    conf.push('persistence true', `persistence_location ${confValue(dataDir, 'dir')}/`);
  } else {
    conf.push('persistence false');
  }
  conf.push(
    // stderr, not stdout: Mosquitto's stdout is block-buffered when piped, so log lines (and the "running"
    // line the start waits for) would arrive late or only at exit.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information', // "Opening … listen socket" and "… running" are information-level
    'log_timestamp true',
    'connection_messages true',
  );
  if (opts.extraConf) conf.push(opts.extraConf);
  const confPath = join(dir, `${name}.conf`);
  await writeFile(confPath, `${conf.join('\n')}\n`, { mode: 0o600 });

  const url = `${opts.tls ? 'mqtts' : 'mqtt'}://127.0.0.1:${port}`;
  const earlierLogs: string[] = [];
  let current: ManagedProcess | undefined;

  const launch = async (): Promise<ManagedProcess> =>
    runMosquitto(confPath, port, {
      startTimeoutMs,
      onSpawn: (proc) => {
        current = proc;
      },
    });

  const active = (): ManagedProcess => {
    if (!current) throw new Error('mosquitto was never started');
    return current;
  };

  await launch();

  const broker: MosquittoProcess = {
    port,
    url,
    confPath,
    get pid() {
      return active().pid;
    },
    get running() {
      return current?.running ?? false;
    },
    logs() {
      const now = current?.output.text() ?? '';
      return [...earlierLogs, now].join('\n--- mosquitto restarted ---\n');
    },
    waitForLog(matcher, timeoutMs = 5_000) {
      return active().waitForLine(matcher, timeoutMs);
    },
    async stop() {
      if (!current?.running) return;
      current.signal('SIGCONT'); // a SIGSTOPped broker would not act on SIGTERM
      await current.terminate('SIGTERM', 3_000);
    },
    async kill() {
      if (current?.running) await current.kill();
    },
    async signal(signal) {
      if (!current?.running) return;
      current.signal(signal);
      if (signal === 'SIGTERM' || signal === 'SIGKILL') await current.waitForExit(5_000);
    },
    async restart() {
      await broker.stop();
      if (current) earlierLogs.push(current.output.text());
      if (earlierLogs.length > 5) earlierLogs.splice(0, earlierLogs.length - 5); // bounded
      await launch();
    },
  };
  opts.teardown?.add(`mosquitto :${port}`, () => broker.stop());
  return broker;
}
