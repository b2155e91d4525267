import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentProcess, startAgent } from '@tether/test-helpers/agent-process';
import { type MosquittoProcess, startMosquitto } from '@tether/test-helpers/mosquitto';
import { freePort } from '@tether/test-helpers/ports';
import { readMetric } from '@tether/test-helpers/sequence';
import { withTimeout } from '@tether/test-helpers/wait-for';
import mqtt, { type MqttClient } from 'mqtt';
import { stringify } from 'yaml';
import { runGenerator } from './load-tools.js';
import { cpuMicros, currentRssMb, rssSplitMb } from './processes.js';

/**
 * `npm run soak` (not in CI; issue 18 item 7): hours of steady traffic through the embedded hub and
 * the bridge to a remote Mosquitto that goes away now and then, and once a full disk under the
 * agent's store. It prints a line every TETHER_SOAK_SAMPLE_SECONDS (RSS, fds, queue depth, store
 * size, delivered, duplicates, missing) and ends with a summary that flags what looks like a leak
 * or a loss. Exit code 0 when nothing is flagged, 1 when something is, 130 on Ctrl-C.
 *
 *   generator (bench/tools/mqtt-load.c, QoS 1, TETHER_SOAK_CONNS connections)
 *     → tether-agent: embedded hub + bridge, store on a tmpfs of TETHER_SOAK_DISK_MB (as root)
 *     → remote Mosquitto (persistence on) → sink (mqtt.js, persistent session, in this process)
 *
 * The generator runs in segments as long as a sample (at most a minute), each on its own topic (soak/s0, soak/s1…)
 * with sequence numbers from 0, so the sink tells every message apart. A message is offered once the
 * hub acknowledged it (the generator waits for every PUBACK); lost = offered and never at the sink
 * after the final drain; duplicates = arrivals beyond the first.
 *
 * Remote outages, one every TETHER_SOAK_OUTAGE_EVERY seconds, in turn from TETHER_SOAK_OUTAGES:
 * - restart: the remote stops (SIGTERM, it saves its store), stays down TETHER_SOAK_OUTAGE_SECONDS, starts;
 * - kill: the same with SIGKILL. The remote then loses what it acknowledged and had not saved or sent
 *   on, so "lost" may count the remote's own losses: not in the default list;
 * - drop: the remote stays up and drops the bridge's connection (a client takes over its client id),
 *   as a network cut would; the bridge reconnects on its own.
 * The disk-full episode (root only: it mounts a tmpfs; TETHER_SOAK_DISK_FULL=0 skips it): the remote
 * stops, 5 s later a file fills the agent's disk, TETHER_SOAK_DISK_FULL_SECONDS later it goes, 5 s
 * later the remote is back.
 *
 * Options (environment), defaults in brackets:
 *   TETHER_SOAK_MINUTES [60]            length of the traffic phase
 *   TETHER_SOAK_RATE [2000]             msg/s offered
 *   TETHER_SOAK_SIZE [256]              payload bytes (at least 12: sequence number and send time)
 *   TETHER_SOAK_CONNS [4]               publisher connections
 *   TETHER_SOAK_SAMPLE_SECONDS [60]     one line every this many seconds
 *   TETHER_SOAK_OUTAGE_EVERY [300]      seconds between remote outages; 0 = none
 *   TETHER_SOAK_OUTAGE_SECONDS [15]     how long the remote stays down (restart, kill)
 *   TETHER_SOAK_OUTAGES [restart,drop]  outage kinds, used in turn
 *   TETHER_SOAK_DISK_FULL [1]           0: no disk-full episode
 *   TETHER_SOAK_DISK_FULL_AT [half the run]  seconds from the start
 *   TETHER_SOAK_DISK_FULL_SECONDS [20]  how long the disk stays full
 *   TETHER_SOAK_DISK_MB [256]           size of the agent's tmpfs
 *   TETHER_SOAK_DRAIN_SECONDS [120]     longest wait for the sink to have everything at the end
 *   TETHER_SOAK_RSS_SLOPE_MB_H [10]     RSS growth (least squares, after the first fifth) flagged above this
 *   TETHER_SOAK_NODE_ARGS [--max-semi-space-size=4]  the agent's node flags (as README's deployment)
 */

// ---------------------------------------------------------------- options

function numberOption(name: string, fallback: number, min = 0): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name}=${text}: expected a number ≥ ${min}`);
  return value;
}

const OUTAGE_KINDS = ['restart', 'kill', 'drop'] as const;
type OutageKind = (typeof OUTAGE_KINDS)[number];

const MINUTES = numberOption('TETHER_SOAK_MINUTES', 60, 0.5);
const DURATION_MS = MINUTES * 60_000;
const RATE = numberOption('TETHER_SOAK_RATE', 2_000, 1);
const SIZE = Math.max(12, numberOption('TETHER_SOAK_SIZE', 256));
const CONNS = numberOption('TETHER_SOAK_CONNS', 4, 1);
const SAMPLE_MS = numberOption('TETHER_SOAK_SAMPLE_SECONDS', 60, 1) * 1000;
const OUTAGE_EVERY_MS = numberOption('TETHER_SOAK_OUTAGE_EVERY', 300) * 1000;
const OUTAGE_MS = numberOption('TETHER_SOAK_OUTAGE_SECONDS', 15) * 1000;
const OUTAGES = (process.env.TETHER_SOAK_OUTAGES || 'restart,drop').split(',').map((k) => {
  if (!(OUTAGE_KINDS as readonly string[]).includes(k)) {
    throw new Error(`TETHER_SOAK_OUTAGES: unknown kind ${k} (expected ${OUTAGE_KINDS.join(', ')})`);
  }
  return k as OutageKind;
});
const DISK_FULL_WANTED = process.env.TETHER_SOAK_DISK_FULL !== '0';
const DISK_FULL_AT_MS = numberOption('TETHER_SOAK_DISK_FULL_AT', DURATION_MS / 2000) * 1000;
const DISK_FULL_MS = numberOption('TETHER_SOAK_DISK_FULL_SECONDS', 20) * 1000;
const DISK_MB = numberOption('TETHER_SOAK_DISK_MB', 256, 16);
const DRAIN_MS = numberOption('TETHER_SOAK_DRAIN_SECONDS', 120) * 1000;
const RSS_SLOPE_LIMIT = numberOption('TETHER_SOAK_RSS_SLOPE_MB_H', 10);
const NODE_ARGS = (process.env.TETHER_SOAK_NODE_ARGS ?? '--max-semi-space-size=4').split(' ').filter(Boolean);
/**
 * One generator run (the C tool gives up after 10 minutes; a segment's topic keys the sink's count):
 * as long as a sample, at most a minute, so "offered" moves with the samples.
 */
const SEGMENT_MS = Math.min(SAMPLE_MS, 60_000);
const BRIDGE_CLIENT_ID = 'tether-soak';
const DISK_FULL_LEAD_MS = 5_000;

// ---------------------------------------------------------------- the sink

interface Segment {
  readonly count: number;
  readonly seen: Uint8Array;
  distinct: number;
  /** The generator finished: every message of it was acknowledged by the hub. */
  offered: boolean;
}

/**
 * One mqtt.js subscriber on the remote with a persistent session (the remote keeps what arrives
 * while the sink is away, across its restarts): counts distinct messages and duplicates per
 * segment, and the latency of each first arrival from the send time in the payload
 * (CLOCK_MONOTONIC in the C generator and in process.hrtime).
 */
class Sink {
  readonly segments = new Map<string, Segment>();
  distinct = 0;
  duplicates = 0;
  unexpected = 0;
  /** Latencies (µs) of the first arrivals since the last sample. */
  latencies: number[] = [];
  private readonly client: MqttClient;

  constructor(url: string) {
    this.client = mqtt.connect(url, {
      clientId: 'soak-sink',
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 500,
      connectTimeout: 5_000,
    });
    // a session the remote lost (kill before it saved) has no subscription: make it again
    this.client.on('connect', (ack) => {
      if (!ack.sessionPresent) this.client.subscribe('soak/#', { qos: 1 });
    });
    this.client.on('error', () => {}); // reconnects on its own; the samples show the gaps
    this.client.on('message', (topic, payload) => this.take(topic, payload));
  }

  /** Resolves once subscribed (bounded). */
  ready(): Promise<unknown> {
    return withTimeout(
      new Promise((resolve) =>
        this.client.once('connect', () => resolve(this.client.subscribeAsync('soak/#', { qos: 1 }))),
      ),
      10_000,
      'the sink to subscribe on the remote',
    );
  }

  expect(topic: string, count: number): Segment {
    const segment: Segment = { count, seen: new Uint8Array(count), distinct: 0, offered: false };
    this.segments.set(topic, segment);
    return segment;
  }

  /** Offered messages not (yet) at the sink, over the segments the generator finished. */
  missing(): number {
    let n = 0;
    for (const s of this.segments.values()) if (s.offered) n += s.count - s.distinct;
    return n;
  }

  offered(): number {
    let n = 0;
    for (const s of this.segments.values()) if (s.offered) n += s.count;
    return n;
  }

  close(): Promise<void> {
    return withTimeout(this.client.endAsync(true), 5_000, 'the sink to close').catch(() => {});
  }

  private take(topic: string, payload: Buffer): void {
    const segment = this.segments.get(topic);
    if (!segment || payload.length < 12) {
      this.unexpected++;
      return;
    }
    const seq = payload.readUInt32BE(0);
    if (seq >= segment.count) {
      this.unexpected++;
      return;
    }
    if (segment.seen[seq] === 1) {
      this.duplicates++;
      return;
    }
    segment.seen[seq] = 1;
    segment.distinct++;
    this.distinct++;
    this.latencies.push(Number(process.hrtime.bigint() - payload.readBigUInt64BE(4)) / 1000);
  }
}

// ---------------------------------------------------------------- the rig

interface Rig {
  readonly dir: string;
  readonly dataDir: string;
  /** The tmpfs under the data dir, when mounted. */
  readonly disk: string | undefined;
  readonly remote: MosquittoProcess;
  readonly agent: AgentProcess;
  readonly hubPort: number;
  readonly metricsUrl: string;
  readonly sink: Sink;
}

/** What was started so far, stopped in reverse by stopAll(): by pid, each bounded. */
const stops: Array<{ what: string; stop: () => Promise<unknown> | unknown }> = [];

async function stopAll(): Promise<void> {
  for (const { what, stop } of stops.splice(0).reverse()) {
    try {
      await withTimeout(Promise.resolve().then(stop), 20_000, what);
    } catch (error) {
      console.error(`soak: stopping ${what}: ${(error as Error).message}`);
    }
  }
}

function mountDisk(disk: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MB}m,mode=0700`, 'tmpfs', disk], { stdio: 'pipe' });
    return true;
  } catch (error) {
    console.log(`soak: could not mount a tmpfs (${(error as Error).message.split('\n')[0]}): no disk-full episode`);
    return false;
  }
}

async function startRigs(): Promise<Rig> {
  const dir = await mkdtemp(join(tmpdir(), 'tether-soak-'));
  stops.push({ what: `remove ${dir}`, stop: () => rm(dir, { recursive: true, force: true }) });
  const diskDir = join(dir, 'disk');
  await mkdir(diskDir);
  const mounted = DISK_FULL_WANTED && mountDisk(diskDir);
  if (mounted) stops.push({ what: `unmount ${diskDir}`, stop: () => execFileSync('umount', ['-l', diskDir]) });
  const dataDir = join(diskDir, 'data');

  // the remote keeps the sink's session and queue across its restarts; nothing it queues is dropped
  const remote = await startMosquitto({
    dir,
    name: 'remote',
    persistence: true,
    extraConf: 'max_queued_messages 0\nmax_inflight_messages 1000\nset_tcp_nodelay true\nautosave_interval 10\n',
  });
  stops.push({ what: `mosquitto (remote) pid ${remote.pid}`, stop: () => remote.stop() });
  const sink = new Sink(remote.url);
  stops.push({ what: 'the sink', stop: () => sink.close() });
  await sink.ready();

  const hubPort = await freePort();
  const hubConfig = join(dir, 'hub.yml');
  await writeFile(hubConfig, stringify({ listen: [`tcp://127.0.0.1:${hubPort}`], logger: { level: 'warn' } }));
  const bridgeConfig = join(dir, 'bridge.yml');
  await writeFile(
    bridgeConfig,
    stringify({
      name: 'soak',
      hub: { address: `tcp://127.0.0.1:${hubPort}`, clientid: BRIDGE_CLIENT_ID },
      // reconnect at most 1 s after the remote is back (the default cap is 60 s)
      remotes: [
        { name: 'remote', address: `tcp://127.0.0.1:${remote.port}`, clientid: BRIDGE_CLIENT_ID, interval: '1s' },
      ],
      rules: [{ hub: { subscriptions: [{ topic: 'soak/#', qos: 1 }] }, remote: { name: 'remote' } }],
      metrics: { listen: '127.0.0.1:0' },
      // info: the store's "disk full" / "room again" and the connections' lines; nothing per message
      logger: { level: 'info' },
    }),
  );
  const agent = await startAgent({
    args: ['--config', bridgeConfig, '--hub-config', hubConfig, '--data-dir', dataDir],
    cwd: dir,
    nodeArgs: NODE_ARGS,
    maxOutputChars: 16 * 1024 * 1024,
  });
  stops.push({ what: `tether-agent pid ${agent.pid}`, stop: () => agent.stop('SIGTERM', 15_000) });
  const metricsUrl = /"url":"([^"]+)"/.exec(await agent.waitForLog(/metrics listening/, 15_000))?.[1];
  if (!metricsUrl) throw new Error('the agent printed no metrics URL');
  await agent.waitForLog(/bridge started/, 15_000);
  return { dir, dataDir, disk: mounted ? diskDir : undefined, remote, agent, hubPort, metricsUrl, sink };
}

// ---------------------------------------------------------------- measurements

interface Sample {
  readonly atMs: number;
  readonly rssMb: number;
  readonly privateMb: number;
  readonly fds: number;
  readonly cpuPct: number;
  readonly queued: number;
  readonly inflight: number;
  readonly storeMb: number;
  readonly offered: number;
  readonly delivered: number;
  readonly rate: number;
  readonly duplicates: number;
  readonly missing: number;
  readonly redelivered: number;
  readonly reconnects: number;
  readonly deadLetters: number;
  readonly remoteUp: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly events: string;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** queue.db, its WAL and shared-memory files, and the queue logs' segments. */
function storeBytes(dataDir: string): number {
  let total = 0;
  try {
    for (const name of readdirSync(dataDir))
      if (name.startsWith('queue.db')) total += statSync(join(dataDir, name)).size;
    const queues = join(dataDir, 'queues');
    for (const queue of readdirSync(queues))
      for (const segment of readdirSync(join(queues, queue))) total += statSync(join(queues, queue, segment)).size;
  } catch {
    // not created yet
  }
  return total;
}

async function metric(url: string, name: string, labels = ''): Promise<number> {
  try {
    return await withTimeout(readMetric(url, name, labels), 5_000, `metric ${name}`);
  } catch {
    return Number.NaN;
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '–');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '–');
const count = (n: number) => (Number.isFinite(n) ? n.toLocaleString('en-US') : '–');
const clock = (ms: number) => {
  const s = Math.round(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};

const HEADER = [
  'time',
  'rss MB',
  'priv MB',
  'fds',
  'cpu %',
  'queued',
  'in flight',
  'store MB',
  'offered',
  'delivered',
  'msg/s',
  'dup',
  'missing',
  'p50/p99 ms',
  'remote',
  'events',
];

function sampleRow(s: Sample): string[] {
  return [
    clock(s.atMs),
    f1(s.rssMb),
    f1(s.privateMb),
    f0(s.fds),
    f0(s.cpuPct),
    count(s.queued),
    count(s.inflight),
    f1(s.storeMb),
    count(s.offered),
    count(s.delivered),
    count(Math.round(s.rate)),
    count(s.duplicates),
    count(s.missing),
    `${f1(s.p50ms)}/${f1(s.p99ms)}`,
    s.remoteUp === 1 ? 'up' : 'down',
    s.events,
  ];
}

const WIDTHS = [6, 7, 7, 4, 5, 8, 9, 8, 10, 10, 6, 6, 8, 13, 6, 0];
const line = (cells: readonly string[]) =>
  cells.map((c, i) => (i === cells.length - 1 ? c : c.padStart(WIDTHS[i] ?? 8))).join(' ');

/** Least-squares slope of y over x. */
function slope(points: ReadonlyArray<readonly [number, number]>): number {
  const n = points.length;
  if (n < 2) return Number.NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

// ---------------------------------------------------------------- the plan

interface Step {
  readonly atMs: number;
  readonly label: string;
  run(rig: Rig): Promise<void> | void;
}

/** Fills the disk with one file until the file system refuses more; returns its bytes. */
function fillDisk(path: string): number {
  const fd = openSync(path, 'w', 0o600);
  const chunk = Buffer.alloc(1024 * 1024, 0x7a);
  let bytes = 0;
  try {
    // bounded: at most the disk's size in MiB, then in 4 KiB pieces for the last MiB
    for (let i = 0; i <= DISK_MB; i++) {
      const n = writeSync(fd, chunk);
      bytes += n;
      if (n < chunk.length) break;
    }
  } catch {
    // ENOSPC: the rest in pages
  }
  const page = chunk.subarray(0, 4096);
  try {
    for (let i = 0; i < 256; i++) bytes += writeSync(fd, page);
  } catch {
    // full
  }
  closeSync(fd);
  return bytes;
}

/** Connects with the bridge's client id: the remote closes the bridge's connection (session takeover). */
async function dropBridgeConnection(url: string): Promise<void> {
  const client = await mqtt.connectAsync(url, {
    clientId: BRIDGE_CLIENT_ID,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  await withTimeout(client.endAsync(true), 5_000, 'the takeover client to close');
}

async function remoteUp(remote: MosquittoProcess): Promise<void> {
  // restart() stops it if running (not here) and starts it on the same port and conf; bounded, so retried
  for (let attempt = 1; ; attempt++) {
    try {
      await remote.restart();
      return;
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

function plan(diskMounted: boolean): { steps: Step[]; notes: string[] } {
  const steps: Step[] = [];
  const notes: string[] = [];
  const endMargin = 20_000; // traffic after the last outage, before the drain
  const diskWindow = DISK_FULL_LEAD_MS * 2 + DISK_FULL_MS;
  let diskAt = -1;
  if (DISK_FULL_WANTED && diskMounted) {
    diskAt = Math.min(DISK_FULL_AT_MS, DURATION_MS - endMargin - diskWindow);
    if (diskAt < 10_000) {
      notes.push('the run is too short for the disk-full episode: skipped');
      diskAt = -1;
    }
  } else if (DISK_FULL_WANTED) {
    notes.push('no tmpfs (needs root and mount): no disk-full episode');
  }
  if (diskAt >= 0) {
    const fillAt = diskAt + DISK_FULL_LEAD_MS;
    const freeAt = fillAt + DISK_FULL_MS;
    let filler = '';
    steps.push(
      { atMs: diskAt, label: 'disk-full episode: remote down (SIGTERM)', run: (rig) => rig.remote.stop() },
      {
        atMs: fillAt,
        label: 'disk full',
        run: (rig) => {
          filler = join(rig.disk as string, 'filler');
          const bytes = fillDisk(filler);
          console.log(`soak: ${clock(Date.now() - startedAt)} filler of ${f1(bytes / 1024 ** 2)} MB: disk full`);
        },
      },
      { atMs: freeAt, label: 'disk freed', run: () => unlinkSync(filler) },
      { atMs: freeAt + DISK_FULL_LEAD_MS, label: 'remote up', run: (rig) => remoteUp(rig.remote) },
    );
  }
  if (OUTAGE_EVERY_MS > 0) {
    let k = 0;
    for (let at = OUTAGE_EVERY_MS; at + OUTAGE_MS + endMargin <= DURATION_MS; at += OUTAGE_EVERY_MS) {
      // none overlapping the disk-full episode
      if (diskAt >= 0 && at + OUTAGE_MS + 10_000 > diskAt && at < diskAt + diskWindow + 10_000) continue;
      const kind = OUTAGES[k++ % OUTAGES.length] as OutageKind;
      if (kind === 'drop') {
        steps.push({ atMs: at, label: 'remote drops the bridge', run: (rig) => dropBridgeConnection(rig.remote.url) });
      } else {
        const how = kind === 'kill' ? 'SIGKILL' : 'SIGTERM';
        steps.push(
          {
            atMs: at,
            label: `remote down (${how})`,
            run: (rig) => (kind === 'kill' ? rig.remote.kill() : rig.remote.stop()),
          },
          { atMs: at + OUTAGE_MS, label: 'remote up', run: (rig) => remoteUp(rig.remote) },
        );
      }
    }
  }
  steps.sort((a, b) => a.atMs - b.atMs);
  return { steps, notes };
}

// ---------------------------------------------------------------- the run

const abort = new AbortController();
let startedAt = Date.now();
let currentGenerator: { kill(): void } | undefined;

async function sleepUntil(at: number): Promise<void> {
  const ms = at - Date.now();
  if (ms <= 0 || abort.signal.aborted) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      abort.signal.removeEventListener('abort', done);
      resolve();
    }
    abort.signal.addEventListener('abort', done, { once: true });
  });
}

/** Generator segments back to back until the traffic phase ends. */
async function generate(rig: Rig, failures: string[]): Promise<void> {
  const end = startedAt + DURATION_MS;
  for (let index = 0; !abort.signal.aborted && index < Math.ceil(DURATION_MS / SEGMENT_MS) + 1; index++) {
    const seconds = Math.min(SEGMENT_MS, end - Date.now()) / 1000;
    const total = Math.floor(RATE * seconds);
    if (total < 1) break;
    const topic = `soak/s${index}`;
    const segment = rig.sink.expect(topic, total);
    const run = runGenerator({
      host: '127.0.0.1',
      port: rig.hubPort,
      topic,
      count: total,
      qos: 1,
      size: SIZE,
      rate: RATE,
      window: 1_000,
      conns: CONNS,
    });
    currentGenerator = { kill: () => run.child.kill('SIGKILL') };
    try {
      const result = await run.result;
      segment.offered = result.sent === total;
    } catch (error) {
      // which of its messages the hub acknowledged is unknown: the segment is not counted
      failures.push(`${topic}: ${(error as Error).message.split('\n')[0]}`);
      rig.sink.segments.delete(topic);
    } finally {
      currentGenerator = undefined;
    }
  }
}

async function measure(rig: Rig, last: { cpuUs: number; atMs: number; delivered: number }, events: string[]) {
  const now = Date.now();
  const pid = rig.agent.pid;
  const cpuUs = cpuMicros(pid);
  const sorted = rig.sink.latencies.sort((a, b) => a - b);
  rig.sink.latencies = [];
  const url = rig.metricsUrl;
  const sample: Sample = {
    atMs: now - startedAt,
    rssMb: currentRssMb(pid),
    privateMb: rssSplitMb(pid).privateMb,
    fds: fdCount(pid),
    cpuPct: ((cpuUs - last.cpuUs) / 1000 / Math.max(1, now - last.atMs)) * 100,
    queued: await metric(url, 'tether_queue_messages'),
    inflight: await metric(url, 'tether_inflight_messages'),
    storeMb: storeBytes(rig.dataDir) / 1024 ** 2,
    offered: rig.sink.offered(),
    delivered: rig.sink.distinct,
    rate: ((rig.sink.distinct - last.delivered) * 1000) / Math.max(1, now - last.atMs),
    duplicates: rig.sink.duplicates,
    missing: rig.sink.missing(),
    redelivered: await metric(url, 'tether_redelivered_total'),
    reconnects: await metric(url, 'tether_reconnects_total', 'remote/'),
    deadLetters: await metric(url, 'tether_dead_letters_total'),
    remoteUp: await metric(url, 'tether_connection_up', 'remote/'),
    p50ms: percentile(sorted, 0.5) / 1000,
    p99ms: percentile(sorted, 0.99) / 1000,
    events: events.splice(0).join('; '),
  };
  last.cpuUs = cpuUs;
  last.atMs = now;
  last.delivered = rig.sink.distinct;
  return sample;
}

/** The agent's warn/error lines, grouped by message. */
function agentComplaints(agent: AgentProcess): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const text of agent.output().split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      const entry = JSON.parse(text) as { level?: string | number; msg?: string };
      const level = entry.level;
      if (level === 'warn' || level === 'error' || level === 'fatal' || (typeof level === 'number' && level >= 40)) {
        const key = `${level} ${entry.msg ?? ''}`.slice(0, 140);
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    } catch {
      // not a log line
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 12);
}

function summarise(
  rig: Rig,
  samples: readonly Sample[],
  steps: readonly Step[],
  failures: readonly string[],
  drainedMs: number,
): boolean {
  const sink = rig.sink;
  const offered = sink.offered();
  const lost = sink.missing();
  const flags: string[] = [];
  const out = (text = '') => console.log(text);
  out();
  out('## Summary');
  out();
  const elapsed = samples.at(-1)?.atMs ?? 0;
  out(
    `- traffic: ${clock(DURATION_MS)} at ${count(RATE)} msg/s of ${SIZE} B (QoS 1, ${CONNS} publisher connections); run ${clock(elapsed)} with the drain`,
  );
  out(`- offered (acknowledged by the hub): ${count(offered)}; delivered distinct: ${count(sink.distinct)}`);
  if (abort.signal.aborted) {
    out(`- interrupted before the drain: ${count(lost)} offered messages not at the sink (not a verdict on loss)`);
    flags.push('interrupted');
  } else if (lost > 0) flags.push(`${count(lost)} messages lost`);
  out(
    `- lost: ${abort.signal.aborted ? '(not drained)' : count(lost)}; duplicates: ${count(sink.duplicates)} (${f1((100 * sink.duplicates) / Math.max(1, offered))} %); unexpected: ${count(sink.unexpected)}`,
  );
  if (failures.length > 0) {
    out(`- generator segments not counted (the generator failed): ${failures.length}`);
    for (const f of failures.slice(0, 5)) out(`  - ${f}`);
    flags.push(`${failures.length} generator segments failed`);
  }
  const drain = abort.signal.aborted
    ? 'skipped (interrupted)'
    : drainedMs >= 0
      ? `${f1(drainedMs / 1000)} s`
      : `not complete after ${DRAIN_MS / 1000} s`;
  out(`- final drain: ${drain}`);
  if (drainedMs < 0 && !abort.signal.aborted) flags.push('the sink did not get everything within the drain');

  // leaks: after the first fifth of the run (start-up, JIT, the store file's first growth)
  const settled = samples.filter((s) => s.atMs >= DURATION_MS / 5 && s.atMs <= DURATION_MS + SAMPLE_MS);
  const rss = settled.map((s) => [s.atMs / 3_600_000, s.rssMb] as const);
  const rssSlope = slope(rss);
  const privSlope = slope(settled.map((s) => [s.atMs / 3_600_000, s.privateMb] as const));
  const rssValues = samples.map((s) => s.rssMb);
  out(
    `- RSS: first ${f1(samples[0]?.rssMb ?? Number.NaN)} MB, min ${f1(Math.min(...rssValues))}, max ${f1(Math.max(...rssValues))}, last ${f1(samples.at(-1)?.rssMb ?? Number.NaN)}; slope after the first fifth ${f1(rssSlope)} MB/h (private ${f1(privSlope)} MB/h) over ${settled.length} samples`,
  );
  if (rssSlope > RSS_SLOPE_LIMIT && privSlope > RSS_SLOPE_LIMIT) {
    const short = MINUTES < 30 ? ': a run under 30 minutes cannot tell a leak from the heap still settling' : '';
    flags.push(`RSS grows ${f1(rssSlope)} MB/h (limit ${RSS_SLOPE_LIMIT})${short}`);
  }
  // the steady state between outages: the last sample before each one (and the last of all)
  const before = steps
    .filter((s) => !s.label.endsWith('up') && s.label !== 'disk full' && s.label !== 'disk freed')
    .map((step) => samples.filter((s) => s.atMs < step.atMs).at(-1))
    .filter((s): s is Sample => s !== undefined);
  if (before.length > 0) {
    out(
      `- RSS just before each outage, then at the end (a leak keeps climbing; a heap settling levels off): ${[...before, samples.at(-1) as Sample].map((s) => `${clock(s.atMs)} ${f1(s.rssMb)}`).join(', ')} MB`,
    );
  }
  const fds = samples.map((s) => s.fds);
  const firstFds = settled[0]?.fds ?? samples[0]?.fds ?? 0;
  const lastFds = samples.at(-1)?.fds ?? 0;
  out(
    `- file descriptors: first ${firstFds} (after the first fifth), min ${Math.min(...fds)}, max ${Math.max(...fds)}, last ${lastFds}`,
  );
  if (lastFds > firstFds + 4) flags.push(`file descriptors grew ${firstFds} → ${lastFds}`);
  out(`- queue depth: max ${count(Math.max(...samples.map((s) => s.queued)))} messages over the samples`);
  const store = samples.map((s) => s.storeMb);
  out(
    `- store (queue logs + queue.db + WAL): max ${f1(Math.max(...store))} MB, last ${f1(samples.at(-1)?.storeMb ?? Number.NaN)} MB (acked log segments are deleted: it shrinks as a backlog drains)`,
  );
  const end = samples.at(-1);
  if (end) {
    out(
      `- queue at the end: ${count(end.queued)} queued, ${count(end.inflight)} in flight; dead letters ${count(end.deadLetters)}; remote reconnects ${count(end.reconnects)}; redelivered ${count(end.redelivered)}`,
    );
    if (end.queued > 0) flags.push(`${count(end.queued)} messages still queued at the end`);
    if (end.deadLetters > 0) flags.push(`${count(end.deadLetters)} dead letters`);
  }
  const complaints = agentComplaints(rig.agent);
  out(`- the agent's warn/error lines (${complaints.reduce((n, [, c]) => n + c, 0)}, by message):`);
  for (const [text, n] of complaints) out(`  - ${n} × ${text}`);
  out();
  out(flags.length === 0 ? 'RESULT: nothing flagged' : `RESULT: FLAGGED: ${flags.join('; ')}`);
  return flags.length === 0;
}

async function main(): Promise<number> {
  const diskNote = DISK_FULL_WANTED ? `, disk full once for ${DISK_FULL_MS / 1000} s` : '';
  console.log(
    `soak: ${MINUTES} min at ${RATE} msg/s of ${SIZE} B, a sample every ${SAMPLE_MS / 1000} s, remote outages every ${OUTAGE_EVERY_MS / 1000} s (${OUTAGES.join(', ')}, ${OUTAGE_MS / 1000} s down)${diskNote}; Node ${process.version}`,
  );
  const rig = await startRigs();
  const { steps, notes } = plan(rig.disk !== undefined);
  for (const note of notes) console.log(`soak: ${note}`);
  console.log(
    `soak: agent pid ${rig.agent.pid}, remote pid ${rig.remote.pid} on :${rig.remote.port}, data dir ${rig.dataDir}${rig.disk ? ` (tmpfs ${DISK_MB} MB)` : ''}`,
  );
  console.log(`soak: plan: ${steps.map((s) => `${clock(s.atMs)} ${s.label}`).join(', ') || 'no outages'}`);
  console.log(
    "soak: offered = acknowledged by the hub (finished generator segments); missing = offered, not at the sink (yet); queued, in flight = the agent's queue; store = queue logs + queue.db + WAL; dup = arrivals beyond the first; p50/p99 = latency of the first arrivals in the interval; remote = the bridge's connection",
  );
  console.log();
  console.log(line(HEADER));

  startedAt = Date.now();
  const samples: Sample[] = [];
  const events: string[] = [];
  const failures: string[] = [];
  const last = { cpuUs: cpuMicros(rig.agent.pid), atMs: startedAt, delivered: 0 };
  const traffic = generate(rig, failures);
  const sampleAt = (k: number) => k * SAMPLE_MS;
  let nextSample = 1;
  let nextStep = 0;
  // the traffic phase: steps and samples in time order, bounded by the duration
  while (!abort.signal.aborted) {
    const stepAt = steps[nextStep]?.atMs ?? Number.POSITIVE_INFINITY;
    const at = Math.min(stepAt, sampleAt(nextSample));
    if (at > DURATION_MS) break;
    await sleepUntil(startedAt + at);
    if (abort.signal.aborted) break;
    if (stepAt <= sampleAt(nextSample)) {
      const step = steps[nextStep++] as Step;
      events.push(step.label);
      try {
        await withTimeout(
          Promise.resolve().then(() => step.run(rig)),
          30_000,
          step.label,
        );
      } catch (error) {
        events.push(`(${step.label} failed: ${(error as Error).message.split('\n')[0]})`);
      }
    } else {
      nextSample++;
      const sample = await measure(rig, last, events);
      samples.push(sample);
      console.log(line(sampleRow(sample)));
    }
  }
  await traffic;
  // the drain: everything offered at the sink, bounded
  let drainedMs = -1;
  if (!abort.signal.aborted) {
    const drainStart = Date.now();
    if (!rig.remote.running) await remoteUp(rig.remote);
    events.push('traffic ends, drain');
    for (let i = 0; i < DRAIN_MS / 250 && !abort.signal.aborted; i++) {
      const queued = await metric(rig.metricsUrl, 'tether_queue_messages');
      if (rig.sink.missing() === 0 && queued === 0) {
        drainedMs = Date.now() - drainStart;
        break;
      }
      await sleepUntil(Date.now() + 250);
    }
    // what else arrives (duplicates) in a moment more
    await sleepUntil(Date.now() + 2_000);
  }
  try {
    const final = await measure(rig, last, events);
    samples.push(final);
    console.log(line(sampleRow(final)));
  } catch (error) {
    // Ctrl-C reaches the agent too (same process group): it may be gone already
    console.log(`soak: no final sample: ${(error as Error).message}`);
  }
  const clean = summarise(rig, samples, steps, failures, drainedMs);
  return abort.signal.aborted ? 130 : clean ? 0 : 1;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\nsoak: ${signal}: stopping the generator, the agent and the remote (by pid)…`);
    currentGenerator?.kill();
    abort.abort();
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(`soak: ${(error as Error).stack ?? error}`);
} finally {
  currentGenerator?.kill();
  await stopAll();
}
process.exit(code);
