import type { PacketWriter } from './packet-writer.js';

/**
 * Client side of Keep Alive (section 3.1.2.10): a PINGREQ when nothing was sent for the keepalive
 * period (the broker drops a client silent for 1.5 periods [MQTT-3.1.2-24]), and the connection is
 * given up when nothing at all arrives within 1.5 periods of a PINGREQ. One unref'd timer, re-armed
 * when it fires rather than on every packet, so the hot path only stores a timestamp.
 */
export class Keepalive {
  /** Date.now() of the last data received; the owner sets it per socket chunk. */
  lastReceivedAt = Date.now();
  private pingSentAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly periodMs: number,
    private readonly writer: PacketWriter,
    /** True while reading is paused for pending acks: a PINGRESP may sit unread in the socket. */
    private readonly readPaused: () => boolean,
    private readonly onTimeout: () => void,
  ) {}

  start(): void {
    if (this.periodMs <= 0) return;
    this.arm(this.periodMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private readonly tick = (): void => {
    if (this.stopped) return;
    const now = Date.now();
    const deadlineMs = this.periodMs * 1.5;
    if (this.pingSentAt > 0 && this.lastReceivedAt >= this.pingSentAt) this.pingSentAt = 0;
    const paused = this.readPaused();
    if (this.pingSentAt > 0 && now - this.pingSentAt >= deadlineMs && !paused) {
      this.onTimeout();
      return;
    }
    // Also while a PINGREQ is unanswered: the broker's own 1.5-period timer counts from our last packet
    if (now - this.writer.lastWriteAt >= this.periodMs) {
      this.writer.pingreq();
      if (this.pingSentAt === 0) this.pingSentAt = now;
    }
    const nextPing = this.writer.lastWriteAt + this.periodMs;
    const deadline = this.pingSentAt > 0 && !paused ? this.pingSentAt + deadlineMs : Number.POSITIVE_INFINITY;
    // A PINGREQ is flushed on the next tick, so lastWriteAt may still be old here: never spin below 50 ms
    this.arm(Math.max(50, Math.min(nextPing, deadline) - now));
  };

  private arm(ms: number): void {
    this.timer = setTimeout(this.tick, ms);
    this.timer.unref();
  }
}
