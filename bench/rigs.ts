import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startAgent } from '@tether/test-helpers/agent-process';
import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { freePort } from '@tether/test-helpers/ports';
import { stringify } from 'yaml';
import { type CloudLink, startCloudLink } from './cloud-link.js';

export type RigKind = 'direct' | 'mosquitto-bridge' | 'tether-bridge' | 'tether-hub' | 'node-floor-bridge';

export const RIG_LABELS: Record<RigKind, string> = {
  direct: '(a) direct: pub → B → sub',
  'mosquitto-bridge': '(b) Mosquitto A + its bridge → B',
  'tether-bridge': '(c) Mosquitto A → Tether agent → B',
  'tether-hub': '(d) Tether hub + bridge (one process) → B',
  'node-floor-bridge': '(f) Mosquitto A → the Node floor bridge → B',
};

/** One setup under test: where the generator publishes, where the sink reads, whose CPU counts. */
export interface Rig {
  readonly publishPort: number;
  readonly sinkPort: number;
  /** The process that is the edge site's hub and/or bridge (absent for the direct path). */
  readonly bridgePid?: number;
  /** (c): Mosquitto A, the edge site's hub beside the Tether agent. */
  readonly hubPid?: number;
  /** Tether's Prometheus endpoint (Tether rigs only). */
  readonly metricsUrl?: string;
  /** Tether's data dir (the durable queue's database). */
  readonly dataDir?: string;
  /** With `cloudDown`: the link to B, cut until `up()`. */
  readonly cloudLink?: CloudLink;
  stop(): Promise<void>;
}

export interface RigOptions {
  /** Tether's `queue.durability`. Default `process` (the durable queue on). */
  readonly durability?: 'process' | 'memory';
  /** Tether's `queue.memory` (messages of a durable backlog held in memory). Default: Tether's own. */
  readonly queueMemory?: number;
  /**
   * The bridge reaches B only through a link that starts cut (the cloud is offline), so a backlog
   * builds at the edge; both bridges then retry every second. Mosquitto's bridge gets
   * `cleansession false`, without which it does not queue messages while disconnected.
   */
  readonly cloudDown?: boolean;
}

/** The same broker settings everywhere, so only the bridge differs. */
const BROKER_CONF = 'max_inflight_messages 1000\nmax_queued_messages 1000000\nset_tcp_nodelay true\n';

export async function startRig(kind: RigKind, qos: 0 | 1, dir: string, options: RigOptions = {}): Promise<Rig> {
  const { durability = 'process', queueMemory, cloudDown = false } = options;
  const cloud = await startMosquitto({ dir, name: 'broker-b', extraConf: BROKER_CONF });
  const stops: Array<() => Promise<unknown>> = [() => cloud.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    if (kind === 'direct') return { publishPort: cloud.port, sinkPort: cloud.port, stop };
    const cloudLink = cloudDown ? await startCloudLink(cloud.port) : undefined;
    if (cloudLink) stops.push(() => cloudLink.close());
    const cloudPort = cloudLink?.port ?? cloud.port;
    if (kind === 'mosquitto-bridge') {
      const bridge = [
        'connection to-b',
        `address 127.0.0.1:${cloudPort}`,
        `topic bench/# out ${qos}`,
        'bridge_protocol_version mqttv311',
        `cleansession ${cloudDown ? 'false' : 'true'}`,
        ...(cloudDown ? ['restart_timeout 1'] : []),
        'notifications false',
        '',
      ].join('\n');
      const hub = await startMosquitto({ dir, name: 'broker-a', extraConf: BROKER_CONF + bridge });
      stops.push(() => hub.stop());
      return {
        publishPort: hub.port,
        sinkPort: cloud.port,
        bridgePid: hub.pid,
        stop,
        ...(cloudLink ? { cloudLink } : {}),
      };
    }
    if (kind === 'node-floor-bridge') {
      const hub = await startMosquitto({ dir, name: 'broker-a', extraConf: BROKER_CONF });
      stops.push(() => hub.stop());
      const script = new URL('./node-floor-bridge.mjs', import.meta.url).pathname;
      const floor = spawn(process.execPath, [script, String(hub.port), String(cloudPort), String(qos)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      stops.push(async () => {
        floor.kill('SIGTERM');
        if (floor.exitCode === null) await once(floor, 'exit');
      });
      await once(floor.stdout, 'data'); // "floor bridge connected": subscribed to A
      await new Promise((resolve) => setTimeout(resolve, 200)); // its SUBACK
      return { publishPort: hub.port, sinkPort: cloud.port, bridgePid: floor.pid as number, hubPid: hub.pid, stop };
    }
    let hubPort: number;
    let hubPid: number | undefined;
    let hubConfig: string | undefined;
    if (kind === 'tether-bridge') {
      const hub = await startMosquitto({ dir, name: 'broker-a', extraConf: BROKER_CONF });
      stops.push(() => hub.stop());
      hubPort = hub.port;
      hubPid = hub.pid;
    } else {
      hubPort = await freePort();
      hubConfig = join(dir, 'hub.yml');
      await writeFile(hubConfig, stringify({ listen: [`tcp://127.0.0.1:${hubPort}`], logger: { level: 'warn' } }));
    }
    const bridgeConfig = join(dir, 'bridge.yml');
    // TETHER_BENCH_READPAUSE (e.g. 0ms = no read pacing) on both of the agent's connections; default Tether's own
    const readPause = process.env.TETHER_BENCH_READPAUSE ? { readpause: process.env.TETHER_BENCH_READPAUSE } : {};
    await writeFile(
      bridgeConfig,
      stringify({
        name: 'bench',
        hub: { address: `tcp://127.0.0.1:${hubPort}`, clientid: 'tether-bench', ...readPause },
        remotes: [
          {
            name: 'b',
            address: `tcp://127.0.0.1:${cloudPort}`,
            clientid: 'tether-bench',
            ...(cloudDown ? { interval: '1s' } : {}),
            ...readPause,
          },
        ],
        rules: [{ hub: { subscriptions: [{ topic: 'bench/#', qos }] }, remote: { name: 'b' } }],
        queue: {
          durability,
          inflight: 1000,
          ...(queueMemory ? { memory: queueMemory } : {}),
          ...(process.env.TETHER_BENCH_COMMITDELAY ? { commitdelay: process.env.TETHER_BENCH_COMMITDELAY } : {}),
        },
        metrics: { listen: '127.0.0.1:0' },
        logger: { level: 'info' },
      }),
    );
    const dataDir = join(dir, 'data');
    const args = ['--config', bridgeConfig, '--data-dir', dataDir];
    if (hubConfig) args.push('--hub-config', hubConfig);
    const agent = await startAgent({
      args,
      cwd: dir,
      nodeArgs: [
        // as README's deployment runs it: a 4 MB young generation (Node's default grows to 16 MB)
        ...(process.env.TETHER_BENCH_NODE_ARGS ?? '--max-semi-space-size=4').split(' ').filter(Boolean),
        ...(process.env.TETHER_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TETHER_BENCH_PROF}`] : []),
      ],
    });
    let stopping = false;
    stops.push(() => {
      stopping = true;
      return agent.stop('SIGTERM', 15_000);
    });
    // the process under test dying mid-run is a finding, not a number: say so with its last words
    void agent.exited.then((info) => {
      if (!stopping)
        console.error(`the agent exited during the run (${JSON.stringify(info)}):\n${agent.output().slice(-4_000)}`);
    });
    // logger level info only for this line; the per-message path logs nothing
    const metricsUrl = /"url":"([^"]+)"/.exec(await agent.waitForLog(/metrics listening/, 15_000))?.[1];
    return {
      publishPort: hubPort,
      sinkPort: cloud.port,
      bridgePid: agent.pid,
      ...(hubPid ? { hubPid } : {}),
      dataDir,
      stop,
      ...(metricsUrl ? { metricsUrl } : {}),
      ...(cloudLink ? { cloudLink } : {}),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
