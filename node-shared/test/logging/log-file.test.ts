import { readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { DAY_MS, RotatingLogFile } from '../../src/logging/log-file.js';
import { sinkSettings } from '../../src/logging/log-sink.js';
import { createLogControl } from '../../src/logging/logger.js';

const td = new Teardown();
afterEach(() => td.run());

/** Line n, exactly 100 bytes with its newline. */
const line = (n: number) => `${`line ${n} `.padEnd(99, '.')}\n`;

describe('RotatingLogFile', () => {
  it('rotates by size and keeps backup.max files, newest first, dropping the oldest', () => {
    const dir = tempDir(td, 'tether-log-');
    const path = join(dir, 'agent.log');
    const file = new RotatingLogFile(path, { maxBytes: 1_000, maxAgeMs: 0, maxBackups: 3 });
    for (let n = 0; n < 55; n++) file.write(line(n));
    file.close();

    expect(readdirSync(dir).sort()).toEqual(['agent.log', 'agent.log.1', 'agent.log.2', 'agent.log.3']);
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).size).toBeLessThanOrEqual(1_000);
    // 10 lines per file: the current one has 50..54, .1 40..49, .2 30..39, .3 20..29; older ones are gone
    const numbers = (name: string) =>
      readFileSync(join(dir, name), 'utf8')
        .trim()
        .split('\n')
        .map((l) => Number(l.split(' ')[1]));
    expect(numbers('agent.log')).toEqual([50, 51, 52, 53, 54]);
    expect(numbers('agent.log.1')).toEqual([40, 41, 42, 43, 44, 45, 46, 47, 48, 49]);
    expect(numbers('agent.log.3')).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });

  it('deletes rotated files older than age.max, and extra ones after backup.max was lowered', () => {
    const dir = tempDir(td, 'tether-log-');
    const path = join(dir, 'agent.log');
    for (const n of [1, 2, 3, 4]) writeFileSync(`${path}.${n}`, `old ${n}\n`);
    const old = (Date.now() - 3 * DAY_MS) / 1000;
    utimesSync(`${path}.2`, old, old);
    const file = new RotatingLogFile(path, { maxBytes: 1_000, maxAgeMs: 2 * DAY_MS, maxBackups: 3 });
    file.close();
    expect(readdirSync(dir).sort()).toEqual(['agent.log', 'agent.log.1', 'agent.log.3']);
  });

  it('reopen() writes to a new file at the path after a rename', () => {
    const dir = tempDir(td, 'tether-log-');
    const path = join(dir, 'agent.log');
    const file = new RotatingLogFile(path, { maxBytes: 0, maxAgeMs: 0, maxBackups: 0 });
    file.write('before\n');
    renameSync(path, `${path}.old`);
    file.write('still the renamed file\n');
    file.reopen();
    file.write('after\n');
    file.close();
    expect(readFileSync(`${path}.old`, 'utf8')).toBe('before\nstill the renamed file\n');
    expect(readFileSync(path, 'utf8')).toBe('after\n');
  });
});

describe('logger settings', () => {
  it('format: text writes one readable line per event; a reload switches level and format', () => {
    const dir = tempDir(td, 'tether-log-');
    const path = join(dir, 'agent.log');
    const log = createLogControl({ path, level: 'info', format: 'text' });
    const child = log.logger.child({ module: 'bridge' });
    child.info({ remote: 'cloud', attempts: 3, reason: 'connection refused' }, 'remote down');
    child.debug('not at info');
    log.reconfigure({ path, level: 'debug', format: 'json' });
    child.debug({ remote: 'cloud' }, 'now at debug');
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}bridge: remote down remote=cloud attempts=3 reason="connection refused"$/,
    );
    expect(JSON.parse(lines[1] as string)).toMatchObject({ level: 'debug', module: 'bridge', msg: 'now at debug' });
  });

  it('secrets stay redacted in text lines', () => {
    const dir = tempDir(td, 'tether-log-');
    const path = join(dir, 'agent.log');
    const log = createLogControl({ path, level: 'info', format: 'text' });
    log.logger.info({ remote: { password: 'hunter2', devicesecret: 'baidu-secret' } }, 'connecting');
    log.logger.info({ answer: { secretKey: 'baidu-answer' } }, 'created');
    const text = readFileSync(path, 'utf8');
    for (const secret of ['hunter2', 'baidu-secret', 'baidu-answer']) expect(text).not.toContain(secret);
  });

  it("reads Baetyl's units: size.max in megabytes, age.max in days, backup.max a count", () => {
    expect(sinkSettings({ size: { max: 2 }, age: { max: 3 }, backup: { max: 4 } }, undefined).rotation).toEqual({
      maxBytes: 2 * 1024 * 1024,
      maxAgeMs: 3 * DAY_MS,
      maxBackups: 4,
    });
    // Baetyl's defaults
    expect(sinkSettings(undefined, undefined).rotation).toEqual({
      maxBytes: 50 * 1024 * 1024,
      maxAgeMs: 15 * DAY_MS,
      maxBackups: 15,
    });
  });
});
