import type { Broker } from './broker.js';

/**
 * The hub's statistics as retained messages under `$SYS/broker/...`, with Mosquitto's topic
 * names, every `interval` (the hub config's metrics.report.interval). A filter starting with a
 * wildcard never sees them [MQTT-4.7.2-1]: subscribe to `$SYS/#` (a principal needs that permit).
 */
export class SysTopics {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(private readonly broker: Broker) {}

  start(intervalMs: number): void {
    this.publish();
    this.timer = setInterval(() => this.publish(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private publish(): void {
    const s = this.broker.status();
    let dropped = 0;
    for (const n of s.stats.drops.values()) dropped += n;
    const values: Array<[string, string | number]> = [
      ['version', 'tether-agent'],
      ['uptime', `${Math.round((Date.now() - this.started) / 1000)} seconds`],
      ['clients/connected', s.clientsConnected],
      ['clients/total', s.sessions],
      ['clients/disconnected', s.sessions - s.clientsConnected],
      ['messages/received', s.stats.received],
      ['messages/sent', s.stats.sent],
      ['publish/messages/dropped', dropped],
      ['retained messages/count', s.retained],
      ['store/messages/count', s.queued],
    ];
    for (const [name, value] of values) {
      this.broker.publishAsHub(`$SYS/broker/${name}`, Buffer.from(String(value)), 0, true, undefined, '');
    }
  }
}
