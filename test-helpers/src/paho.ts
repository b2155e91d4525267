/**
 * Eclipse Paho's MQTT interoperability client tests (vendored in `test/paho/`, see its README) run against a
 * broker at host:port, one result per test.
 *
 * `paho_driver.py` (next to this file) imports the upstream suite, runs the tests in unittest's order under a
 * per-test alarm, and prints one `@@paho {json}` line per event. This side adds what an alarm cannot promise:
 * a watchdog per test (a driver that stops reporting is killed by pid and started again on the tests left,
 * so one hang costs one test), and a bound for the whole run.
 */
import { fileURLToPath } from 'node:url';
import { findExecutable, ManagedProcess } from './process.js';
import type { Teardown } from './teardown.js';

export type PahoSuite = '3.1.1' | '5';
export type PahoOutcome = 'pass' | 'fail' | 'error' | 'timeout' | 'not run';

export interface PahoOptions {
  /** Test method names, run in this order. Default: the whole suite in unittest's order (sorted by name). */
  tests?: readonly string[];
  /** The filter the broker refuses to subscribe (`test_subscribe_failure`). Default `test/nosubscribe`. */
  nosubscribeTopic?: string;
  /** Limit for each test (the driver's alarm). Default 30 000 ms (the longest test sleeps about 22 s). */
  testTimeoutMs?: number;
  /** Per-test limits overriding `testTimeoutMs`, e.g. a test known to hang on the broker under test. */
  testTimeoutsMs?: Readonly<Record<string, number>>;
  /** Limit for the suite's setUpClass (it cleans sessions and retained messages). Default 20 000 ms. */
  setupTimeoutMs?: number;
  /** Bound for the whole run. Default: every test's limit plus one setup per test plus 30 s. */
  timeoutMs?: number;
  /** When given, a step killing a still running driver is registered on it. */
  teardown?: Teardown;
}

export interface PahoTestResult {
  name: string;
  outcome: PahoOutcome;
  seconds: number;
  /** One line: why it failed (the exception the test swallowed, where, and the test line). Empty on a pass. */
  detail: string;
  /** The failure's traceback and what the test printed (bounded). */
  trace: string;
}

export interface PahoRun {
  suite: PahoSuite;
  passed: string[];
  failed: Array<{ name: string; detail: string }>;
  /** Every requested test, in the order run. */
  results: PahoTestResult[];
  /** Driver processes started (more than 1 after a hang or a crash). */
  drivers: number;
  seconds: number;
}

const DRIVER = fileURLToPath(new URL('./paho_driver.py', import.meta.url));
const MARK = '@@paho ';
/** On top of the driver's own alarm: the watchdog only acts when the driver itself is stuck. */
const WATCHDOG_GRACE_MS = 10_000;

/**
 * Typical seconds per test against a conforming local broker (measured against Mosquitto 2.0.11 on a 2-core
 * machine), for splitting a suite into shards of similar length. Unknown names count 5 s.
 */
export const PAHO_TYPICAL_SECONDS: Readonly<Record<string, number>> = {
  // 3.1.1
  testBasic: 2.2,
  test_dollar_topics: 1.3,
  test_keepalive: 15.1,
  test_offline_message_queueing: 4.4,
  test_overlapping_subscriptions: 1.1,
  test_redelivery_on_reconnect: 4.2,
  test_retained_messages: 4.2,
  test_subscribe_failure: 0.2,
  test_unsubscribe: 3.2,
  test_zero_length_clientid: 0.1,
  // 5 (the 3.1.1 names above that also exist in 5 take about as long)
  test_assigned_clientid: 1.1,
  test_basic: 4.2,
  test_client_topic_alias: 3.6,
  test_flow_control1: 1.5,
  test_flow_control2: 2,
  test_maximum_packet_size: 6.2,
  test_payload_format: 1.3,
  test_publication_expiry: 6.7,
  test_request_response: 3.7,
  test_retained_message: 6.3,
  test_server_keep_alive: 1.1,
  test_server_topic_alias: 2.1,
  test_session_expiry: 19.8,
  test_shared_subscriptions: 5.4,
  test_subscribe_identifiers: 2.1,
  test_subscribe_options: 21.8,
  test_user_properties: 1.2,
  test_will_delay: 11.6,
  test_will_message: 7.1,
};

/**
 * Splits tests into `count` shards of similar total length (longest first, each to the lightest shard), each
 * shard keeping the given order. Run each shard against a broker of its own: the tests share client ids and
 * topics.
 */
export function shardPahoTests(
  tests: readonly string[],
  count: number,
  seconds: (name: string) => number = (name) => PAHO_TYPICAL_SECONDS[name] ?? 5,
): string[][] {
  const shards = Array.from({ length: Math.max(1, count) }, () => ({ load: 0, tests: new Set<string>() }));
  for (const name of [...tests].sort((a, b) => seconds(b) - seconds(a))) {
    const lightest = shards.reduce((min, s) => (s.load < min.load ? s : min));
    lightest.load += seconds(name);
    lightest.tests.add(name);
  }
  return shards.map((s) => tests.filter((t) => s.tests.has(t))).filter((s) => s.length > 0);
}

function python(): string {
  return findExecutable('python3', { envVar: 'PYTHON3_BIN' });
}

type DriverEvent =
  | { event: 'plan' | 'list'; tests: string[] }
  | { event: 'start'; test: string }
  | {
      event: 'result';
      test: string;
      outcome: PahoOutcome;
      seconds: number;
      detail: string;
      trace: string;
      output: string;
    }
  | { event: 'setup-error'; where: string; detail: string; trace: string }
  | { event: 'done' };

function parseEvent(line: string): DriverEvent | undefined {
  if (!line.startsWith(MARK)) return undefined;
  try {
    return JSON.parse(line.slice(MARK.length)) as DriverEvent;
  } catch {
    return undefined;
  }
}

function spawnDriver(args: string[]): Promise<ManagedProcess> {
  return ManagedProcess.spawn(python(), ['-B', DRIVER, ...args], {
    name: 'paho driver',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' },
    maxOutputChars: 4 * 1024 * 1024,
  });
}

/** The suite's test names in unittest's order. */
export async function listPahoTests(suite: PahoSuite): Promise<string[]> {
  const proc = await spawnDriver(['--suite', suite, '--port', '0', '--list']);
  await proc.waitForExit(15_000).catch(() => proc.kill());
  for (const line of proc.stdout.lines()) {
    const event = parseEvent(line);
    if (event?.event === 'list') return event.tests;
  }
  throw new Error(`listPahoTests(${suite}): the driver listed nothing.${proc.tailText()}`);
}

/** Runs `suite` against host:port and reports every test. Never throws for a failing test; rejects only when
 * python3 cannot be started or the suite cannot be listed. */
export async function runPaho(suite: PahoSuite, host: string, port: number, opts: PahoOptions = {}): Promise<PahoRun> {
  const started = Date.now();
  const testTimeoutMs = opts.testTimeoutMs ?? 30_000;
  const setupTimeoutMs = opts.setupTimeoutMs ?? 20_000;
  const limitOf = (name: string) => opts.testTimeoutsMs?.[name] ?? testTimeoutMs;
  const tests = opts.tests ? [...opts.tests] : await listPahoTests(suite);
  const timeoutMs =
    opts.timeoutMs ?? tests.reduce((sum, t) => sum + limitOf(t), 0) + tests.length * setupTimeoutMs + 30_000;
  const deadline = started + timeoutMs;
  const results = new Map<string, PahoTestResult>();
  const record = (name: string, outcome: PahoOutcome, detail: string, seconds = 0, trace = '') => {
    if (!results.has(name)) results.set(name, { name, outcome, seconds, detail, trace });
  };

  let running: ManagedProcess | undefined;
  opts.teardown?.add(`paho ${suite} driver`, () => running?.kill());
  let drivers = 0;

  while (tests.some((t) => !results.has(t))) {
    const left = tests.filter((t) => !results.has(t));
    if (Date.now() >= deadline) {
      for (const t of left) record(t, 'not run', `not run: the whole run's bound of ${timeoutMs} ms was reached`);
      break;
    }
    const args = ['--suite', suite, '--host', host, '--port', String(port)];
    args.push('--nosubscribe-topic', opts.nosubscribeTopic ?? 'test/nosubscribe');
    args.push('--test-timeout', String(testTimeoutMs / 1000), '--setup-timeout', String(setupTimeoutMs / 1000));
    const overrides = Object.fromEntries(Object.entries(opts.testTimeoutsMs ?? {}).map(([k, v]) => [k, v / 1000]));
    args.push('--timeouts', JSON.stringify(overrides), ...left);

    const proc = await spawnDriver(args);
    running = proc;
    drivers++;
    await new Promise<void>((resolve) => {
      let current: string | undefined;
      let currentStarted = 0;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const stuck = async (what: string) => {
        if (settled) return;
        const why = `${what}; the runner killed the driver (pid ${proc.pid})`;
        const seconds = Math.round((Date.now() - currentStarted) / 100) / 10;
        if (current) record(current, 'timeout', why, seconds, proc.tailText());
        else for (const t of left) record(t, 'error', `${why} during setUpClass`, 0, proc.tailText());
        await proc.kill().catch(() => undefined);
        finish();
      };
      // Re-armed on every event: a test's limit (or the setup's) plus grace, cut at the run's deadline.
      const watch = (limitMs: number, what: string) => {
        clearTimeout(timer);
        const ms = Math.max(0, Math.min(limitMs + WATCHDOG_GRACE_MS, deadline - Date.now()));
        timer = setTimeout(() => void stuck(`${what}: no result after ${ms} ms`), ms);
      };
      const onLine = (line: string) => {
        const event = parseEvent(line);
        if (!event) return;
        switch (event.event) {
          case 'start':
            current = event.test;
            currentStarted = Date.now();
            watch(limitOf(event.test), event.test);
            break;
          case 'result': {
            const trace = [event.trace, event.output && `--- output ---\n${event.output}`].filter(Boolean).join('\n');
            record(event.test, event.outcome, event.detail, event.seconds, trace);
            current = undefined;
            watch(setupTimeoutMs, 'between tests');
            break;
          }
          case 'setup-error':
            for (const t of left)
              if (!results.has(t)) record(t, 'error', `${event.where}: ${event.detail}`, 0, event.trace);
            break;
          case 'done':
            for (const t of left) record(t, 'not run', 'the driver finished without reporting this test');
            void proc.waitForExit(5_000).then(finish, () => void stuck('after the last test'));
            break;
        }
      };
      const unsubscribe = proc.stdout.onLine(onLine);
      for (const line of proc.stdout.lines()) onLine(line); // anything printed before we listened
      watch(setupTimeoutMs, 'setUpClass');
      void proc.exited.then(() => {
        if (settled) return;
        const how = `the driver exited ${proc.describeExit()}`;
        if (current) record(current, 'error', `${how} during the test`, 0, proc.tailText());
        else if (!left.some((t) => results.has(t))) {
          for (const t of left) record(t, 'error', `${how} before the first test`, 0, proc.tailText());
        }
        finish();
      });
    });
    if (proc.running) await proc.kill().catch(() => undefined);
    running = undefined;
  }

  const ordered = tests.map((t) => results.get(t) as PahoTestResult);
  return {
    suite,
    passed: ordered.filter((r) => r.outcome === 'pass').map((r) => r.name),
    failed: ordered.filter((r) => r.outcome !== 'pass').map((r) => ({ name: r.name, detail: r.detail })),
    results: ordered,
    drivers,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

/** Several runs (e.g. shards) as one: results in the order given. */
export function mergePahoRuns(runs: readonly PahoRun[]): PahoRun {
  const first = runs[0];
  if (!first) throw new Error('mergePahoRuns: no runs');
  const results = runs.flatMap((r) => r.results);
  return {
    suite: first.suite,
    passed: runs.flatMap((r) => r.passed),
    failed: runs.flatMap((r) => r.failed),
    results,
    drivers: runs.reduce((n, r) => n + r.drivers, 0),
    seconds: Math.max(...runs.map((r) => r.seconds)),
  };
}

/** A Markdown table of a run: test, outcome, seconds, reason. */
export function formatPahoRun(run: PahoRun, title: string): string {
  const rows = [...run.results].sort((a, b) => a.name.localeCompare(b.name));
  const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [
    `${title}: ${run.passed.length} of ${run.results.length} passed (${run.seconds} s, ${run.drivers} driver process(es))`,
    '| test | outcome | s | reason |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.name} | ${r.outcome} | ${r.seconds} | ${cell(r.detail)} |`),
  ].join('\n');
}
