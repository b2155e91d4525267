import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReadPacer } from '../../../src/transport/lean/read-pacer.js';

/** Drives a pacer with a fake clock: each read advances time by `gapMs` first. */
function harness(pauseMs: number) {
  const changes: boolean[] = [];
  const pacer = new ReadPacer(pauseMs, (paused) => changes.push(paused));
  const read = (gapMs: number, bytes = 100) => {
    vi.advanceTimersByTime(gapMs);
    pacer.afterRead(bytes);
  };
  return { pacer, changes, read };
}

describe('ReadPacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('pauses once small reads keep coming close together, and resumes after the pause', () => {
    const { pacer, changes, read } = harness(1);
    read(0);
    for (let i = 0; i < 15; i++) read(0.1);
    expect(changes).toEqual([]); // a burst shorter than the streak is read at once
    read(0.1);
    expect(changes).toEqual([true]);
    expect(pacer.pausing).toBe(true);
    vi.advanceTimersByTime(1);
    expect(changes).toEqual([true, false]);
    expect(pacer.pausing).toBe(false);
    // data waited: the read right after the pause is close, so pacing goes on while the load lasts
    read(0);
    expect(changes).toEqual([true, false, true]);
  });

  it('lets the chunk read as the pause began through, then pauses on the backlog read after it', () => {
    const changes: boolean[] = [];
    let buffered = false;
    const pacer = new ReadPacer(
      1,
      (paused) => changes.push(paused),
      () => buffered,
    );
    const read = (gapMs: number) => {
      vi.advanceTimersByTime(gapMs);
      pacer.afterRead(100);
    };
    read(0);
    for (let i = 0; i < 16; i++) read(0.1);
    buffered = true; // Node read one more chunk after pause()
    vi.advanceTimersByTime(1);
    expect(changes).toEqual([true, false]);
    read(0); // that buffered chunk: no pause, or the kernel's backlog would wait a second pause
    expect(changes).toEqual([true, false]);
    buffered = false;
    read(0); // the backlog, read at once: paced again
    expect(changes).toEqual([true, false, true]);
  });

  it('stops pacing when reads come further apart than half the pause', () => {
    const { changes, read } = harness(1);
    read(0);
    for (let i = 0; i < 16; i++) read(0.1);
    vi.advanceTimersByTime(1);
    read(5); // the load ended: nothing waited
    for (let i = 0; i < 10; i++) read(0.1);
    expect(changes).toEqual([true, false]);
  });

  it('never pauses after large reads, at low read rates, or when off', () => {
    const large = harness(1);
    large.read(0, 64 * 1024);
    for (let i = 0; i < 40; i++) large.read(0.1, 64 * 1024);
    const slow = harness(1);
    for (let i = 0; i < 40; i++) slow.read(0.6);
    const off = harness(0);
    for (let i = 0; i < 40; i++) off.read(0.01);
    expect([large.changes, slow.changes, off.changes]).toEqual([[], [], []]);
  });

  it('stop() cancels a running pause without resuming', () => {
    const { pacer, changes, read } = harness(1);
    read(0);
    for (let i = 0; i < 16; i++) read(0.1);
    pacer.stop();
    vi.advanceTimersByTime(5);
    expect(changes).toEqual([true]);
    expect(pacer.pausing).toBe(false);
  });
});
