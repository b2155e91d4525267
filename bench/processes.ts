import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SinkArgs, SinkResult } from './sink.js';

const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const CLOCK_TICKS_PER_SECOND = 100; // Linux USER_HZ

/** CPU time (user + system) of a process so far, in µs, from /proc. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
}

/** One field of /proc/PID/status, in kB (0 when absent). */
function statusKb(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

/** Peak resident set size of a process, in MB (VmHWM). */
export function peakRssMb(pid: number): number {
  return statusKb(pid, 'VmHWM') / 1024;
}

/** Resident set size of a process now, in MB (VmRSS). */
export function currentRssMb(pid: number): number {
  return statusKb(pid, 'VmRSS') / 1024;
}

/**
 * Resident memory now, split into private (anonymous: heaps, buffers) and file-backed pages (the
 * executable and libraries, shared with every process that maps them, and dropped first when the
 * system needs memory), in MB.
 */
export function rssSplitMb(pid: number): { privateMb: number; fileMb: number } {
  return { privateMb: statusKb(pid, 'RssAnon') / 1024, fileMb: statusKb(pid, 'RssFile') / 1024 };
}

/** Runs a bench script (tsx) with one JSON argument; resolves with its last stdout line, parsed. */
export function runScript<T>(
  script: string,
  args: object,
  onReady?: () => void,
): { child: ChildProcess; result: Promise<T> } {
  const child = spawn(TSX, [fileURLToPath(new URL(script, import.meta.url)), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
    child.on('exit', (code) => {
      const lines = out.trim().split('\n');
      const last = lines[lines.length - 1] ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as T);
      else reject(new Error(`${script} exited ${code}: ${err.slice(-2000)}${out.slice(-500)}`));
    });
  });
  return { child, result };
}

/**
 * Starts the sink (bench/sink.ts); `ready` resolves once it is subscribed and rejects if it exits
 * before. `result` is its report; the caller stops `child` if it gives up on it.
 */
export function startSink(args: SinkArgs): { child: ChildProcess; ready: Promise<void>; result: Promise<SinkResult> } {
  let subscribed: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    subscribed = resolve;
  });
  const sink = runScript<SinkResult>('./sink.ts', args, () => subscribed());
  sink.result.catch(() => {}); // the caller awaits it; a sink that dies early fails `ready` instead
  return {
    child: sink.child,
    result: sink.result,
    ready: Promise.race([
      ready,
      sink.result.then(() => {
        throw new Error('sink exited before it subscribed');
      }),
    ]),
  };
}
