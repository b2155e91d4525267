/**
 * Child processes for tests: spawned without a shell, output captured into bounded buffers, stopped by pid
 * with bounded waits. A last-resort `exit` hook SIGKILLs anything a crashed test left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { TimeoutError, withTimeout } from './wait-for.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LineMatcher = RegExp | ((line: string) => boolean);

const matches = (matcher: LineMatcher, line: string): boolean => {
  if (typeof matcher === 'function') return matcher(line);
  matcher.lastIndex = 0; // a /g or /y regex is stateful
  return matcher.test(line);
};

/**
 * The most recent output of a stream, as lines, bounded in size: the oldest lines are dropped once
 * `maxChars` is exceeded, and a single line longer than `maxLineChars` is cut.
 */
export class LineBuffer {
  readonly #lines: string[] = [];
  readonly #listeners = new Set<(line: string) => void>();
  #partial = '';
  #chars = 0;
  #dropped = 0;

  constructor(
    readonly maxChars = 1024 * 1024,
    readonly maxLineChars = 64 * 1024,
  ) {}

  /** Adds a chunk of text; complete lines are stored and passed to line listeners. */
  push(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop() ?? '';
    if (this.#partial.length > this.maxLineChars) {
      // A line that never ends: store what we have as a line of its own.
      parts.push(this.#partial);
      this.#partial = '';
    }
    for (const part of parts) this.addLine(part);
  }

  /** Stores a complete line directly (used for the combined stdout+stderr view). */
  addLine(raw: string): void {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > this.maxLineChars) line = `${line.slice(0, this.maxLineChars)}…[line cut]`;
    this.#lines.push(line);
    this.#chars += line.length + 1;
    while (this.#chars > this.maxChars && this.#lines.length > 1) {
      this.#chars -= (this.#lines.shift() ?? '').length + 1;
      this.#dropped++;
    }
    for (const listener of this.#listeners) listener(line);
  }

  /** At end of stream: the unterminated last line becomes a line. */
  flush(): void {
    if (this.#partial !== '') {
      const last = this.#partial;
      this.#partial = '';
      this.addLine(last);
    }
  }

  lines(): string[] {
    return this.#partial === '' ? [...this.#lines] : [...this.#lines, this.#partial];
  }

  text(): string {
    const head = this.#dropped > 0 ? `[${this.#dropped} earlier lines dropped]\n` : '';
    return head + this.lines().join('\n');
  }

  tail(n = 40): string {
    return this.lines().slice(-n).join('\n');
  }

  /** Calls `listener` for each complete line from now on; returns the unsubscribe function. */
  onLine(listener: (line: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

export interface SpawnManagedOptions {
  /** Used in error messages ("mosquitto", "tether-agent"). */
  name: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bound for each captured stream. Default 1 MiB. */
  maxOutputChars?: number;
}

/** A spawned process with captured output. Create with `ManagedProcess.spawn`. */
export class ManagedProcess {
  readonly stdout: LineBuffer;
  readonly stderr: LineBuffer;
  /** stdout and stderr lines, interleaved in arrival order. */
  readonly output: LineBuffer;
  /** Resolves once the process has exited and its output has been read. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  #exitInfo: ExitInfo | undefined;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly pid: number,
    maxChars: number,
  ) {
    this.stdout = new LineBuffer(maxChars);
    this.stderr = new LineBuffer(maxChars);
    this.output = new LineBuffer(maxChars * 2);
    this.stdout.onLine((line) => this.output.addLine(line));
    this.stderr.onLine((line) => this.output.addLine(line));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.stdout.push(chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => this.stderr.push(chunk));
    this.exited = new Promise<ExitInfo>((resolve) => {
      let fallback: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(fallback);
        this.stdout.flush();
        this.stderr.flush();
        live.delete(this);
        resolve(this.#exitInfo ?? { code: child.exitCode, signal: child.signalCode });
      };
      child.once('exit', (code, signal) => {
        this.#exitInfo = { code, signal };
        live.delete(this);
        // 'close' follows once stdio is drained; do not wait forever if a grandchild holds the pipes.
        fallback = setTimeout(finish, 1_000);
      });
      child.once('close', finish);
    });
    live.add(this);
    installExitHook();
  }

  /** Spawns `command` (no shell) and resolves once it is running; rejects if it cannot be started. */
  static async spawn(command: string, args: readonly string[], opts: SpawnManagedOptions): Promise<ManagedProcess> {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: false,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (err) => reject(new Error(`Cannot start ${opts.name} (${command}): ${err.message}`)));
    });
    if (child.pid === undefined) throw new Error(`Cannot start ${opts.name} (${command}): no pid`);
    return new ManagedProcess(opts.name, child, child.pid, opts.maxOutputChars ?? 1024 * 1024);
  }

  get running(): boolean {
    return this.#exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Exit code and signal once exited. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  /** Sends `signal` to the pid if the process is still running. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** Waits (bounded) for the process to exit. */
  async waitForExit(timeoutMs: number): Promise<ExitInfo> {
    return withTimeout(this.exited, timeoutMs, `${this.name} (pid ${this.pid}) to exit`);
  }

  /** Sends `signal`, waits up to `graceMs`, then SIGKILLs and waits for the exit. */
  async terminate(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3_000): Promise<ExitInfo> {
    if (!this.running) return this.exited;
    this.signal(signal);
    try {
      return await this.waitForExit(graceMs);
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      return this.kill();
    }
  }

  /** SIGKILLs the pid and waits for the exit. */
  async kill(): Promise<ExitInfo> {
    this.signal('SIGKILL');
    return this.waitForExit(5_000);
  }

  /**
   * Resolves with the first line of stdout or stderr (already seen or still to come) that matches;
   * rejects when `timeoutMs` passes or the process exits first, with the last lines of output.
   */
  async waitForLine(matcher: LineMatcher, timeoutMs: number, what = String(matcher)): Promise<string> {
    const seen = this.output.lines().find((line) => matches(matcher, line));
    if (seen !== undefined) return seen;
    let unsubscribe: (() => void) | undefined;
    const found = new Promise<string>((resolve, reject) => {
      unsubscribe = this.output.onLine((line) => {
        if (matches(matcher, line)) resolve(line);
      });
      // `exited` resolves after the remaining output has been read, so check once more before giving up.
      void this.exited.then(() => {
        const late = this.output.lines().find((line) => matches(matcher, line));
        if (late !== undefined) resolve(late);
        else
          reject(
            new Error(`${this.name} (pid ${this.pid}) exited ${this.describeExit()} before ${what}.${this.tailText()}`),
          );
      });
    });
    try {
      return await withTimeout(found, timeoutMs, `${this.name} (pid ${this.pid}): ${what}`);
    } catch (err) {
      if (err instanceof TimeoutError) throw new TimeoutError(`${err.message}.${this.tailText()}`);
      throw err;
    } finally {
      unsubscribe?.();
    }
  }

  describeExit(): string {
    const info = this.#exitInfo;
    if (!info) return 'still running';
    return info.signal ? `by signal ${info.signal}` : `with code ${info.code}`;
  }

  tailText(n = 30): string {
    const tail = this.output.tail(n);
    return tail ? `\n--- last output of ${this.name} ---\n${tail}` : ` (${this.name} printed nothing)`;
  }
}

/** True when a process with this pid exists (signal 0 probe). A zombie still counts until reaped. */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Absolute path of an executable: `$envVar` if set, else the first match in `$PATH` or `extraDirs`
 * (for `sbin` folders that are not on a non-root user's PATH).
 */
export function findExecutable(name: string, opts: { envVar?: string; extraDirs?: string[] } = {}): string {
  const fromEnv = opts.envVar ? process.env[opts.envVar] : undefined;
  if (fromEnv) return fromEnv;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...(opts.extraDirs ?? [])].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} not found on PATH or in ${(opts.extraDirs ?? []).join(', ')}; run scripts/test.sh to install it`,
  );
}
