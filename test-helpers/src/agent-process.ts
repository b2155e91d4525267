/**
 * The compiled edge agent CLI (`edge-agent/dist/cli/main.js`, built by `npx tsc -b`) as a child process.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type ExitInfo, type LineMatcher, ManagedProcess } from './process.js';
import type { Teardown } from './teardown.js';

/** Repository root (this file is `test-helpers/src/agent-process.ts`). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The compiled CLI entry point. */
export const AGENT_CLI_PATH = fileURLToPath(new URL('../../edge-agent/dist/cli/main.js', import.meta.url));

export interface StartAgentOptions {
  /** CLI arguments, e.g. `['run', '--config', path]`. */
  args: string[];
  /** Default: the repository root. */
  cwd?: string;
  /** Merged over this process's environment; an `undefined` value removes a variable. */
  env?: Record<string, string | undefined>;
  /** Extra `node` flags before the script, e.g. `['--enable-source-maps']`. */
  nodeArgs?: string[];
  /** When given, `stop()` is registered on it. */
  teardown?: Teardown;
  /** Bound for each of stdout and stderr. Default 1 MiB. */
  maxOutputChars?: number;
}

export interface AgentProcess {
  readonly pid: number;
  readonly running: boolean;
  /** Exit code and signal once exited. */
  readonly exitInfo: ExitInfo | undefined;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  stdout(): string;
  stderr(): string;
  /** stdout and stderr lines interleaved in arrival order. */
  output(): string;
  /**
   * Resolves with the first output line (stdout or stderr, already printed or still to come) matching
   * the regex or predicate; rejects on timeout (default 10 s) or if the agent exits first, quoting its output.
   */
  waitForLog(matcher: LineMatcher, timeoutMs?: number): Promise<string>;
  /** Waits (bounded, default 10 s) for the agent to exit by itself. */
  waitForExit(timeoutMs?: number): Promise<ExitInfo>;
  /**
   * Sends `signal` (default SIGTERM) to the pid, waits up to `timeoutMs` (default 10 s), then SIGKILLs.
   * Returns the exit code: `null` when it ended by a signal (see `exitInfo.signal`, `SIGKILL` on escalation).
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL by pid (a crash); waits for the exit and returns the code (`null`). */
  kill(): Promise<number | null>;
}

/** Spawns `node edge-agent/dist/cli/main.js ...args` with captured, bounded output. */
export async function startAgent(opts: StartAgentOptions): Promise<AgentProcess> {
  if (!existsSync(AGENT_CLI_PATH)) {
    throw new Error(`startAgent: ${AGENT_CLI_PATH} does not exist; build it first with \`npx tsc -b\``);
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(opts.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const proc = await ManagedProcess.spawn(process.execPath, [...(opts.nodeArgs ?? []), AGENT_CLI_PATH, ...opts.args], {
    name: 'tether-agent',
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    ...(opts.maxOutputChars === undefined ? {} : { maxOutputChars: opts.maxOutputChars }),
  });

  const agent: AgentProcess = {
    pid: proc.pid,
    get running() {
      return proc.running;
    },
    get exitInfo() {
      return proc.exitInfo;
    },
    exited: proc.exited,
    stdout: () => proc.stdout.text(),
    stderr: () => proc.stderr.text(),
    output: () => proc.output.text(),
    waitForLog: (matcher, timeoutMs = 10_000) => proc.waitForLine(matcher, timeoutMs),
    waitForExit: (timeoutMs = 10_000) => proc.waitForExit(timeoutMs),
    async stop(signal = 'SIGTERM', timeoutMs = 10_000) {
      return (await proc.terminate(signal, timeoutMs)).code;
    },
    async kill() {
      return (await proc.kill()).code;
    },
  };
  opts.teardown?.add(`tether-agent pid ${proc.pid}`, () => agent.stop());
  return agent;
}
