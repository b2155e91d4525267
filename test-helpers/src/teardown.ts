import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withTimeout } from './wait-for.js';

type Step = { name: string; fn: () => unknown };

/**
 * Cleanup registry for tests: register as you create, run in `afterEach`.
 *
 * ```ts
 * const td = new Teardown();
 * afterEach(() => td.run());
 * const broker = await startMosquitto({ dir: tempDir(td), teardown: td });
 * const client = td.keep(await mqtt.connectAsync(broker.url), (c) => c.endAsync(true), 'client');
 * ```
 *
 * `run()` calls the steps in reverse order of registration (last created, first destroyed), each bounded
 * by `stepTimeoutMs`, keeps going when a step fails, and then throws one `AggregateError` naming every
 * failed step: a cleanup that fails (a broker that does not stop, a client that cannot close) fails the
 * test rather than leaking into the next one. The registry is emptied before the steps run, so it can be
 * reused by the next test. Test suites with factories of their own (a hub, a broker) extend this class.
 */
export class Teardown {
  readonly #steps: Step[] = [];
  readonly #stepTimeoutMs: number;

  constructor(opts: { stepTimeoutMs?: number } = {}) {
    this.#stepTimeoutMs = opts.stepTimeoutMs ?? 15_000;
  }

  /** Registers a cleanup step. `fn` may be sync or async. */
  add(name: string, fn: () => unknown): void {
    this.#steps.push({ name, fn });
  }

  /** Registers `close(value)` as a step and returns `value`, for `const x = td.keep(await open(), close)`. */
  keep<T>(value: T, close: (value: T) => unknown, name = 'resource'): T {
    this.add(name, () => close(value));
    return value;
  }

  /** Number of steps waiting to run. */
  get size(): number {
    return this.#steps.length;
  }

  async run(): Promise<void> {
    const steps = this.#steps.splice(0).reverse();
    const failures: Error[] = [];
    for (const { name, fn } of steps) {
      try {
        await withTimeout(Promise.resolve().then(fn), this.#stepTimeoutMs, `teardown step "${name}"`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failures.push(new Error(`teardown step "${name}" failed: ${message}`, { cause: err }));
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
    }
  }
}

/** A fresh folder under the OS temp dir (`<prefix>XXXXXX`), removed with everything in it on teardown. */
export function tempDir(teardown: Teardown, prefix = 'tether-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  teardown.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
