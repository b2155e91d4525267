import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The load generator and the sink: bench/tools/mqtt-load.c, built here with the machine's C
 * compiler on first use (into bench/out/, rebuilt when the source is newer). Written in C on plain
 * sockets so that they cost a small fraction of any broker per message (their own CPU is in every
 * result, and the bench prints it): with the Node generator the direct path was barely faster than
 * the bridges, so the generator, not the bridges, set the pace.
 */
const SOURCE = fileURLToPath(new URL('./tools/mqtt-load.c', import.meta.url));
const BINARY = fileURLToPath(new URL('./out/mqtt-load', import.meta.url));

export function loadToolPath(): string {
  if (!existsSync(BINARY) || statSync(BINARY).mtimeMs < statSync(SOURCE).mtimeMs) {
    mkdirSync(fileURLToPath(new URL('./out/', import.meta.url)), { recursive: true });
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-Wall', '-o', BINARY, SOURCE], { stdio: 'inherit' });
  }
  return BINARY;
}

export interface GenArgs {
  readonly host: string;
  readonly port: number;
  readonly topic: string;
  readonly count: number;
  readonly qos: 0 | 1;
  readonly size: number;
  /** Messages per second in all; 0 = as fast as the broker takes them. */
  readonly rate: number;
  /** QoS 1: unacknowledged messages in all, split over the connections. */
  readonly window: number;
  /** Publisher connections; messages go round robin over them. */
  readonly conns: number;
  readonly username?: string;
  readonly password?: string;
}

/** The generator's JSON line (CLOCK_MONOTONIC ns, as the sink's; cpuUs = its own user + system time). */
export interface GenResult {
  readonly sent: number;
  readonly startNs: string;
  readonly endNs: string;
  readonly cpuUs: number;
}

export interface SinkArgs {
  readonly host: string;
  readonly port: number;
  readonly filter: string;
  readonly qos: 0 | 1;
  readonly count: number;
  /** The sink reports once nothing arrived for this long (after the first message). */
  readonly idleMs: number;
  /** Full-speed runs: wake once this many bytes wait or 1 ms passed. 0 (latency runs): every segment. */
  readonly batchBytes: number;
}

/** The sink's JSON line: latency from the send time in each payload to its arrival, one clock. */
export interface SinkResult {
  readonly distinct: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly firstNs: string;
  readonly lastNs: string;
  readonly p50us: number;
  readonly p99us: number;
  readonly cpuUs: number;
}

interface Run<T> {
  readonly child: ChildProcess;
  readonly result: Promise<T>;
}

/** Runs the tool; resolves with its last stdout line, parsed; calls onReady at a line "ready". */
function runTool<T>(args: string[], onReady?: () => void, stdin: 'ignore' | 'pipe' = 'ignore'): Run<T> {
  const child = spawn(loadToolPath(), args, { stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const result = new Promise<T>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (onReady && out.includes('ready\n')) {
        const ready = onReady;
        onReady = undefined;
        ready();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    // 'close', not 'exit': stdout may still hold the last line when the process has exited
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as T);
      else reject(new Error(`mqtt-load ${args[0]} exited ${code}: ${err.slice(-2000)}`));
    });
  });
  return { child, result };
}

export function runGenerator(a: GenArgs): Run<GenResult> {
  const args = ['pub', a.host, a.port, a.topic, a.count, a.qos, a.size, a.rate, a.window, a.conns].map(String);
  if (a.username) args.push(a.username, a.password ?? '');
  return runTool<GenResult>(args);
}

/**
 * Starts the sink; `ready` resolves once it is subscribed and rejects if it exits before. `result`
 * is its report; the caller stops `child` if it gives up on it.
 */
export function startSink(a: SinkArgs): Run<SinkResult> & { ready: Promise<void> } {
  let subscribed: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    subscribed = resolve;
  });
  const args = ['sub', a.host, a.port, a.filter, a.count, a.qos, a.idleMs, a.batchBytes].map(String);
  const sink = runTool<SinkResult>(args, () => subscribed());
  sink.result.catch(() => {}); // the caller awaits it; a sink that dies early fails `ready` instead
  return {
    ...sink,
    ready: Promise.race([
      ready,
      sink.result.then(() => {
        throw new Error('sink exited before it subscribed');
      }),
    ]),
  };
}

/** The idle-connections tool's JSON line. */
export interface IdleResult {
  readonly conns: number;
  readonly connectMs: number;
  readonly cpuUs: number;
}

/**
 * Opens `conns` MQTT connections that then stay idle; `ready` once all are CONNACKed, `close()`
 * ends them (the tool exits when its stdin closes) and resolves with its report.
 */
export function startIdleClients(a: { host: string; port: number; conns: number; holdMs: number }): {
  ready: Promise<void>;
  close(): Promise<IdleResult>;
} {
  let connected: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    connected = resolve;
  });
  const run = runTool<IdleResult>(['idle', a.host, a.port, a.conns, a.holdMs].map(String), () => connected(), 'pipe');
  run.result.catch(() => {});
  return {
    ready: Promise.race([
      ready,
      run.result.then(() => {
        throw new Error('idle clients exited before they were connected');
      }),
    ]),
    close: () => {
      run.child.stdin?.end();
      return run.result;
    },
  };
}
