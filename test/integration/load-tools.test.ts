import { startMosquitto } from '@tether/test-helpers/mosquitto';
import { Teardown, tempDir } from '@tether/test-helpers/teardown';
import { afterEach, describe, expect, it } from 'vitest';
import { runGenerator, startSink } from '../../bench/load-tools.js';

// The benchmark's C load generator and sink (bench/tools/mqtt-load.c) through a real Mosquitto:
// every number in BENCHMARKS.md rests on them counting and timing right.
const td = new Teardown();
afterEach(() => td.run());

// Mosquitto drops QoS 1 messages for an online client past max_queued_messages (default 1,000)
async function broker() {
  const dir = tempDir(td, 'tether-load-tools-');
  return startMosquitto({
    dir,
    name: 'b',
    teardown: td,
    extraConf: 'max_inflight_messages 1000\nmax_queued_messages 100000\n',
  });
}

async function through(port: number, qos: 0 | 1, count: number, rate: number, size: number, batchBytes: number) {
  const sink = startSink({ host: '127.0.0.1', port, filter: 'load/#', qos, count, idleMs: 2_000, batchBytes });
  td.add('stop sink', () => void sink.child.kill());
  await sink.ready;
  const gen = runGenerator({ host: '127.0.0.1', port, topic: 'load/t', count, qos, size, rate, window: 100, conns: 3 });
  td.add('stop generator', () => void gen.child.kill());
  const [g, s] = await Promise.all([gen.result, sink.result]);
  return { g, s };
}

describe('bench load tools (mqtt-load)', () => {
  it('delivers every sequence number once at QoS 1 over several connections and reports latency and CPU', async () => {
    const b = await broker();
    const { g, s } = await through(b.port, 1, 20_000, 0, 1024, 65_536);
    expect(g.sent).toBe(20_000);
    expect(s).toMatchObject({ distinct: 20_000, duplicates: 0, lost: 0 });
    // the send time in each payload and the sink's clock are the same monotonic clock
    expect(s.p50us).toBeGreaterThan(0);
    expect(s.p99us).toBeGreaterThanOrEqual(s.p50us);
    expect(BigInt(s.lastNs)).toBeGreaterThan(BigInt(g.startNs));
    expect(g.cpuUs).toBeGreaterThan(0);
  });

  it('keeps to a fixed rate at QoS 0: the last message cannot leave before count / rate', async () => {
    const b = await broker();
    const { g, s } = await through(b.port, 0, 1_000, 2_000, 64, 0);
    expect(s).toMatchObject({ distinct: 1_000, lost: 0 });
    const seconds = Number(BigInt(g.endNs) - BigInt(g.startNs)) / 1e9;
    expect(seconds).toBeGreaterThanOrEqual(0.49);
  });

  it('counts what never arrived as lost once the sink has waited its idle time', async () => {
    const b = await broker();
    // 500 published, 800 expected: the sink reports 300 lost after 2 s without a message
    const sink = startSink({
      host: '127.0.0.1',
      port: b.port,
      filter: 'load/#',
      qos: 1,
      count: 800,
      idleMs: 2_000,
      batchBytes: 0,
    });
    td.add('stop sink', () => void sink.child.kill());
    await sink.ready;
    const gen = runGenerator({
      host: '127.0.0.1',
      port: b.port,
      topic: 'load/t',
      count: 500,
      qos: 1,
      size: 64,
      rate: 0,
      window: 50,
      conns: 2,
    });
    await gen.result;
    expect(await sink.result).toMatchObject({ distinct: 500, lost: 300, duplicates: 0 });
  });
});
