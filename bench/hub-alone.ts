import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { freePort } from '@tether/test-helpers/ports';
import { stringify } from 'yaml';
import { runGenerator, startIdleClients, startSink } from './load-tools.js';
import { cpuMicros, currentRssMb, rssSplitMb } from './processes.js';

/**
 * `npx tsx bench/hub-alone.ts`: the hub with no bridge, Tether's (`tether-agent hub`) against
 * Mosquitto, same load tools (bench/tools/mqtt-load.c), one run:
 * - publisher → hub → one subscriber: CPU per message and p50/p99 at 5,000 msg/s, then msg/s at
 *   full speed, QoS 0 and 1, 64 B and 1 KiB;
 * - 1 → 50 fan-out: one publisher, 50 subscribers of the topic; CPU per delivered copy at 200
 *   msg/s in (10,000 copies/s out) and the delivered copies/s at full speed;
 * - 10,000 idle connections: RSS before, with them connected (private + file-backed) and the
 *   time to connect them.
 * Writes bench/hub-alone-results.md. TETHER_BENCH_QUICK=1 for fewer messages.
 */
const QUICK = process.env.TETHER_BENCH_QUICK === '1';
const FIXED = { rate: 5_000, count: QUICK ? 10_000 : 25_000 };
const FULL = { 0: QUICK ? 50_000 : 200_000, 1: QUICK ? 30_000 : 100_000 } as const;
const FANOUT = { subscribers: 50, rate: 200, count: QUICK ? 1_000 : 2_000, fullCount: QUICK ? 2_000 : 5_000 };
const IDLE_CONNS = 10_000;
const BROKER_CONF = 'max_inflight_messages 1000\nmax_queued_messages 1000000\nset_tcp_nodelay true\n';

type HubKind = 'mosquitto' | 'tether' | 'node-floor';
interface Hub {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<unknown>;
}

async function startHub(kind: HubKind, dir: string): Promise<Hub> {
  if (kind === 'node-floor') {
    const port = await freePort();
    const relay = spawn(process.execPath, [new URL('./node-floor-relay.mjs', import.meta.url).pathname, String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(relay.stdout, 'data');
    return {
      port,
      pid: relay.pid as number,
      stop: async () => {
        relay.kill('SIGTERM');
        if (relay.exitCode === null) await once(relay, 'exit');
      },
    };
  }
  if (kind === 'mosquitto') {
    const m = await startMosquitto({ dir, name: 'hub', extraConf: `${BROKER_CONF}max_connections -1\n` });
    return { port: m.port, pid: m.pid, stop: () => m.stop() };
  }
  const port = await freePort();
  const config = join(dir, 'hub.yml');
  await writeFile(
    config,
    stringify({
      listen: [`tcp://127.0.0.1:${port}`],
      storage: { dir: join(dir, 'data') },
      // the same bounds as Mosquitto's above, and room for the idle connections
      limits: { inflight: 1000, connections: IDLE_CONNS + 100, queue: { messages: 1_000_000, bytes: '1g' } },
      // info for the "listening" line only; the per-message path logs nothing
      logger: { level: 'info' },
    }),
  );
  const agent = await startAgent({
    args: ['hub', '--config', config],
    cwd: dir,
    nodeArgs: (process.env.TETHER_BENCH_NODE_ARGS ?? '--max-semi-space-size=4').split(' ').filter(Boolean),
  });
  await agent.waitForLog(/embedded hub listening/, 15_000);
  return { port, pid: agent.pid, stop: () => agent.stop('SIGTERM', 15_000) };
}

interface FlowResult {
  /** Copies delivered per second, over all subscribers. */
  readonly rate: number;
  /** The hub's CPU per delivered copy, µs. */
  readonly cpu: number;
  readonly toolsCpu: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly lost: number;
}

async function flow(
  hub: Hub,
  opts: { qos: 0 | 1; size: number; count: number; rate: number; subscribers: number },
): Promise<FlowResult> {
  const sinks = Array.from({ length: opts.subscribers }, () =>
    startSink({
      host: '127.0.0.1',
      port: hub.port,
      filter: 'bench/#',
      qos: opts.qos,
      count: opts.count,
      idleMs: 3_000,
      batchBytes: opts.rate === 0 ? 65_536 : 0,
    }),
  );
  await Promise.all(sinks.map((s) => s.ready));
  const before = cpuMicros(hub.pid);
  const gen = runGenerator({
    host: '127.0.0.1',
    port: hub.port,
    topic: 'bench/load',
    count: opts.count,
    qos: opts.qos,
    size: opts.size,
    rate: opts.rate,
    window: 1_000,
    conns: opts.subscribers > 1 ? 1 : 4,
  });
  const g = await gen.result;
  const results = await Promise.all(sinks.map((s) => s.result));
  const delivered = Math.max(
    1,
    results.reduce((n, r) => n + r.distinct, 0),
  );
  const last = results.reduce((m, r) => (BigInt(r.lastNs) > m ? BigInt(r.lastNs) : m), 0n);
  const p = (key: 'p50us' | 'p99us') =>
    results.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(results.length / 2)] ?? 0;
  return {
    rate: delivered / (Number(last - BigInt(g.startNs)) / 1e9),
    cpu: (cpuMicros(hub.pid) - before) / delivered,
    toolsCpu: (g.cpuUs + results.reduce((n, r) => n + r.cpuUs, 0)) / delivered,
    p50us: p('p50us'),
    p99us: p('p99us'),
    lost: results.reduce((n, r) => n + r.lost, 0),
  };
}

async function withHub<T>(kind: HubKind, run: (hub: Hub) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `tether-hub-alone-${kind}-`));
  const hub = await startHub(kind, dir);
  try {
    return await run(hub);
  } finally {
    await hub.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const KINDS = ['mosquitto', 'tether'] as const;
const lines: string[] = [];
const out = (line: string) => {
  lines.push(line);
  console.log(line);
};
const f1 = (n: number) => n.toFixed(1);
const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
const ratio = (t: number, m: number) => `${(t / m).toFixed(2)}×`;

const SECTIONS = process.env.TETHER_BENCH_SECTIONS?.split(',') ?? ['flow', 'floor', 'fanout', 'idle'];
if (SECTIONS.includes('flow')) {
  out('## Publisher → hub → one subscriber');
  out('');
  out(
    '| QoS | payload | hub | µs/msg at 5,000 msg/s | p50 / p99 µs | full speed msg/s | µs/msg full | load tools µs/msg | lost |',
  );
  out('|---|---|---|---|---|---|---|---|---|');
  for (const qos of [0, 1] as const) {
    for (const size of [64, 1024]) {
      const rows = {} as Record<(typeof KINDS)[number], { fixed: FlowResult; full: FlowResult }>;
      for (const kind of KINDS) {
        rows[kind] = await withHub(kind, async (hub) => {
          await flow(hub, { qos, size, count: 2_000, rate: 5_000, subscribers: 1 }); // warm-up
          const fixed = await flow(hub, { qos, size, ...FIXED, subscribers: 1 });
          const full = await flow(hub, { qos, size, count: FULL[qos], rate: 0, subscribers: 1 });
          return { fixed, full };
        });
      }
      for (const kind of KINDS) {
        const r = rows[kind];
        const m = rows.mosquitto;
        const vs = kind === 'tether' ? ` (${ratio(r.fixed.cpu, m.fixed.cpu)})` : '';
        const vsFull = kind === 'tether' ? ` (${ratio(r.full.rate, m.full.rate)})` : '';
        out(
          `| ${qos} | ${size} B | ${kind} | ${f1(r.fixed.cpu)}${vs} | ${r.fixed.p50us.toFixed(0)} / ${r.fixed.p99us.toFixed(0)} | ${k(r.full.rate)}${vsFull} | ${f1(r.full.cpu)} | ${f1(r.full.toolsCpu)} | ${r.fixed.lost + r.full.lost} |`,
        );
      }
    }
  }
}

if (SECTIONS.includes('floor')) {
  out('');
  out('## The floor of a hub in Node (QoS 0, 64 B, one subscriber)');
  out('');
  out(
    'node-floor = bench/node-floor-relay.mjs: answers CONNECT and SUBSCRIBE and copies each PUBLISH to the subscriber, nothing else.',
  );
  out('');
  out('| hub | µs/msg at 1,000 msg/s | µs/msg at 5,000 msg/s | p50 µs at 5,000 |');
  out('|---|---|---|---|');
  for (const kind of ['mosquitto', 'node-floor', 'tether'] as const) {
    await withHub(kind, async (hub) => {
      await flow(hub, { qos: 0, size: 64, count: 2_000, rate: 5_000, subscribers: 1 }); // warm-up
      const at1k = await flow(hub, { qos: 0, size: 64, count: QUICK ? 3_000 : 10_000, rate: 1_000, subscribers: 1 });
      const at5k = await flow(hub, { qos: 0, size: 64, ...FIXED, subscribers: 1 });
      out(`| ${kind} | ${f1(at1k.cpu)} | ${f1(at5k.cpu)} | ${at5k.p50us.toFixed(0)} |`);
    });
  }
}

if (SECTIONS.includes('fanout')) {
  out('');
  out(`## 1 → ${FANOUT.subscribers} fan-out (64 B)`);
  out('');
  out(
    `| QoS | hub | µs per copy at ${FANOUT.rate} msg/s in (${k(FANOUT.rate * FANOUT.subscribers)} copies/s) | full speed copies/s | µs per copy full | lost |`,
  );
  out('|---|---|---|---|---|---|');
  for (const qos of [0, 1] as const) {
    const rows = {} as Record<(typeof KINDS)[number], { fixed: FlowResult; full: FlowResult }>;
    for (const kind of KINDS) {
      rows[kind] = await withHub(kind, async (hub) => {
        const base = { qos, size: 64, subscribers: FANOUT.subscribers };
        const fixed = await flow(hub, { ...base, count: FANOUT.count, rate: FANOUT.rate });
        const full = await flow(hub, { ...base, count: FANOUT.fullCount, rate: 0 });
        return { fixed, full };
      });
    }
    for (const kind of KINDS) {
      const r = rows[kind];
      const m = rows.mosquitto;
      const vs = kind === 'tether' ? ` (${ratio(r.fixed.cpu, m.fixed.cpu)})` : '';
      const vsFull = kind === 'tether' ? ` (${ratio(r.full.rate, m.full.rate)})` : '';
      out(
        `| ${qos} | ${kind} | ${f1(r.fixed.cpu)}${vs} | ${k(r.full.rate)}${vsFull} | ${f1(r.full.cpu)} | ${r.fixed.lost + r.full.lost} |`,
      );
    }
  }
}

if (SECTIONS.includes('idle')) {
  out('');
  out(`## ${IDLE_CONNS.toLocaleString('en')} idle connections`);
  out('');
  out('| hub | RSS MB before | RSS MB with them | private + file-backed MB | KB per connection | seconds to connect |');
  out('|---|---|---|---|---|---|');
  for (const kind of ['mosquitto', 'node-floor', 'tether'] as const) {
    await withHub(kind, async (hub) => {
      const before = currentRssMb(hub.pid);
      const idle = startIdleClients({ host: '127.0.0.1', port: hub.port, conns: IDLE_CONNS, holdMs: 120_000 });
      await idle.ready;
      await new Promise((r) => setTimeout(r, 2_000)); // let the hub settle (GC) before reading
      const rss = currentRssMb(hub.pid);
      const split = rssSplitMb(hub.pid);
      const report = await idle.close();
      out(
        `| ${kind} | ${f1(before)} | ${f1(rss)} | ${f1(split.privateMb)} + ${f1(split.fileMb)} | ${f1(((rss - before) * 1024) / IDLE_CONNS)} | ${(report.connectMs / 1000).toFixed(1)} |`,
      );
    });
  }
}

await writeFile(
  new URL('./hub-alone-results.md', import.meta.url),
  `<!-- written by bench/hub-alone.ts -->\n${lines.join('\n')}\n`,
);
