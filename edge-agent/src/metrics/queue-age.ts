/** Samples kept per queue; past this, every other one is dropped (coarser, still bounded). */
const MAX_MARKS = 2_048;

interface Mark {
  /** Messages ever queued (backlog at start + appended) when sampled. */
  readonly total: number;
  readonly atMs: number;
}

/**
 * The age of a queue's oldest message without a timestamp per message: the queue is FIFO, so
 * the oldest is the (total − size + 1)-th ever queued, and the first sample that had counted
 * that many tells when it came (to the sampling interval). Messages a previous run left count
 * from the start of this one. Sampled off the message path (a timer, and each read).
 */
export class QueueAge {
  private readonly marks: Mark[] = [];
  private readonly initial: number;

  constructor(
    private readonly queue: { readonly size: number; readonly stats: { readonly appended: number } },
    private readonly startMs = Date.now(),
  ) {
    this.initial = queue.size - queue.stats.appended;
  }

  sample(now = Date.now()): void {
    const total = this.initial + this.queue.stats.appended;
    const last = this.marks[this.marks.length - 1];
    if (last && last.total === total) return;
    this.marks.push({ total, atMs: now });
    this.prune();
    if (this.marks.length > MAX_MARKS) {
      for (let i = this.marks.length - 2; i > 0; i -= 2) this.marks.splice(i, 1);
    }
  }

  /** Seconds the oldest queued message has waited; 0 when the queue is empty. */
  oldestSeconds(now = Date.now()): number {
    this.sample(now);
    const size = this.queue.size;
    if (size <= 0) return 0;
    const oldest = this.initial + this.queue.stats.appended - size + 1;
    if (oldest <= this.initial) return (now - this.startMs) / 1000;
    const mark = this.marks.find((m) => m.total >= oldest);
    return mark ? (now - mark.atMs) / 1000 : 0;
  }

  /** Forgets samples older than the one that covers the oldest message. */
  private prune(): void {
    const oldest = this.initial + this.queue.stats.appended - this.queue.size + 1;
    let drop = 0;
    while (drop + 1 < this.marks.length && (this.marks[drop] as Mark).total < oldest) drop++;
    if (drop > 0) this.marks.splice(0, drop);
  }
}
