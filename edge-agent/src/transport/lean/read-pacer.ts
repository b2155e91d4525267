/**
 * A read that filled Node's whole 64 KiB read buffer: more is waiting, and a pause would only cap the
 * connection (at 64 KiB per pause). Smaller reads, even the large ones a pause gathers, keep pacing on.
 */
const SMALL_READ_BYTES = 64 * 1024;
/**
 * Close reads in a row before pacing starts: a burst (a publisher's batch, a broker's backlog of a few
 * messages) is read at once; only a stream of reads that goes on is paced.
 */
const STREAK = 16;

/**
 * Interrupt moderation for one connection's reads. Every read costs a wakeup, a syscall and a pass
 * through Node's stream machinery, and a fast peer (Mosquitto writes each packet on its own) makes
 * them small: under load a bridge read a few messages per read and wrote as often, and those
 * wakeups were most of its CPU (BENCHMARKS.md, "Measurements behind the code"). When STREAK small reads in a row follow each other closer than half
 * of `pauseMs`, reading pauses for `pauseMs` after each read, so the next read takes everything that
 * arrived meanwhile in one piece (and the writes it causes leave as one), for as long as data keeps
 * waiting. Bursts shorter than the streak, and connections that read less often (a few thousand
 * messages per second sent in batches), are never paused; the price under sustained load is up to
 * `pauseMs` of added latency. 0 turns pacing off.
 *
 * The stream must stop reading the socket when paused: Node's net.Socket keeps reading into its
 * buffer up to readableHighWaterMark while paused, so the tcp streams are opened with a 1-byte mark
 * (stream-builder.ts). With the default 16 KB mark a pause gathered nothing and, against a peer
 * sending each PUBACK as its own segment, QoS 1 throughput collapsed. Even with it, the one chunk
 * read as the pause began is delivered first on resume; the pacer lets it through without pausing,
 * so what waited in the kernel follows at once (else messages waited two pauses, and the median
 * latency under load more than doubled).
 */
export class ReadPacer {
  private lastReadAt = Number.NEGATIVE_INFINITY;
  private closeReads = 0;
  /** The chunk Node read just as the pause began comes first after it: no pause after that one. */
  private skipNext = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pauseMs: number,
    /** Stops and restarts reading; the owner combines this with its own reasons to pause. */
    private readonly setPaused: (paused: boolean) => void,
    /** True when the stream holds a chunk it read after pause() (it reads at most one more). */
    private readonly hasBuffered: () => boolean = () => false,
  ) {}

  /** True while a pause is running. */
  get pausing(): boolean {
    return this.timer !== undefined;
  }

  /** Called once a read chunk of `bytes` was handled. */
  afterRead(bytes: number): void {
    if (this.pauseMs <= 0 || this.timer !== undefined) return;
    const now = performance.now();
    if (this.skipNext) {
      // pausing after it would leave everything that waited in the kernel for another pause
      this.skipNext = false;
      this.lastReadAt = now;
      return;
    }
    const gap = now - this.lastReadAt;
    this.lastReadAt = now;
    if (gap >= this.pauseMs / 2 || bytes >= SMALL_READ_BYTES) {
      this.closeReads = 0;
      return;
    }
    if (++this.closeReads < STREAK) return;
    this.timer = setTimeout(this.onPauseEnd, this.pauseMs);
    this.setPaused(true);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private readonly onPauseEnd = (): void => {
    this.timer = undefined;
    // The read of what waited follows at once and counts as a close one: pacing goes on while the load lasts
    this.lastReadAt = performance.now();
    this.skipNext = this.hasBuffered();
    this.setPaused(false);
  };
}
