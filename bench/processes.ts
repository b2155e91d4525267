import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process so far, in µs: the time on CPU of each of its threads (the first field of
 * /proc/PID/task/TID/schedstat, in ns), summed. /proc/PID/stat counts in 10 ms ticks, too coarse
 * for a few seconds at 1,000 msg/s; a thread that already ended is not counted (Node's and
 * Mosquitto's threads live as long as the process).
 */
export function cpuMicros(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ns / 1000;
}

/** One numeric field (`name: value`) of /proc/PID/<file>, 0 when absent. */
function procField(pid: number, file: 'io' | 'status', field: string): number {
  const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
}

/**
 * Read and write system calls of a process so far (`syscr`, `syscw` of /proc/PID/io: read, pread,
 * readv..., write, pwrite, writev..., socket and file alike). Per message they show whether a
 * bridge wakes and writes more often than another (BENCHMARKS.md, "System calls per message").
 */
export function syscallCounts(pid: number): { reads: number; writes: number } {
  return { reads: procField(pid, 'io', 'syscr'), writes: procField(pid, 'io', 'syscw') };
}

/** One field of /proc/PID/status, in kB (0 when absent). */
function statusKb(pid: number, field: string): number {
  return procField(pid, 'status', field);
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
