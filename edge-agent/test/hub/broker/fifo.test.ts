import { describe, expect, it } from 'vitest';
import { Fifo } from '../../../src/hub/broker/fifo.js';

describe('Fifo', () => {
  it('gives items back in order across compactions, with put-back fronts first', () => {
    const q = new Fifo<number>();
    const expected: number[] = [];
    let next = 0;
    const got: number[] = [];
    // interleave pushes and shifts so the head passes the compaction point many times
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) {
        q.push(next);
        expected.push(next++);
      }
      for (let i = 0; i < 250; i++) got.push(q.shift() as number);
    }
    expect(q.length).toBe(50 * 50);
    q.unshiftAll([-3, -2, -1]);
    expect([...q].slice(0, 4)).toEqual([-3, -2, -1, got.length]);
    expect(q.length).toBe(50 * 50 + 3);
    for (let i = 0; i < 3; i++) q.shift();
    while (q.length > 0) got.push(q.shift() as number);
    expect(got).toEqual(expected);
    expect(q.shift()).toBeUndefined();
  });
});
