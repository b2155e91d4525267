import {
  chmodSync,
  closeSync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { BridgeMessage } from '../core/bridge-message.js';
import { IdRanges } from './id-ranges.js';
import {
  deletesRecordSize,
  messageRecordSize,
  parseRecord,
  writeDeletesRecord,
  writeMessageRecord,
} from './log-records.js';
import type { StoredRow } from './queue-table.js';

/**
 * One queue's messages on disk as an append-only log of segment files (`<16 digits>.log`, 0600,
 * in a 0700 folder): each group commit is one write(2) at the end of the newest segment, an ack
 * appends a few bytes (a deletes record of id ranges), and a segment whose messages are all acked
 * is unlinked whole. So a message costs its own bytes on disk and nothing else, where SQLite's
 * B-tree wrote each one about four times (WAL page, checkpoint, the delete's page, its checkpoint:
 * BENCHMARKS.md, "The durable queue's 1 KiB QoS 1 row").
 *
 * Each new segment starts with every delete still relevant (a checkpoint), so any older segment
 * may go once its own messages are acked, whatever order the segments die in: no delete record
 * that still matters lives only in a segment that is gone. A crash before a delete record is
 * written means a redelivery, never a loss.
 *
 * In memory per segment: its size, first and last ids, its live count, and the file offset of
 * every 64th message (where a read for an id starts); the deleted ids as ranges. Reads go to the
 * file (the page cache), in chunks.
 */
export interface SegmentLogOptions {
  readonly dir: string;
  /** A segment is closed and a new one begun once it is this big (a commit is never split). */
  readonly segmentBytes: number;
  /** fdatasync after every write (durability `fsync`). */
  readonly fsync: boolean;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  size: number;
  /** Ids of its messages; Infinity / 0 while it holds none. */
  firstId: number;
  lastId: number;
  messages: number;
  /** Of `messages`, those not deleted. */
  live: number;
  /** (id, offset) pairs of every MARK_EVERY-th message record. */
  readonly marks: number[];
  /** Where a read found a bad record: nothing from there on is read. */
  damagedAt?: number;
}

/** The damage a read or the start-up scan found: a record that is not one (checksum, length, type). */
export class LogDamaged extends Error {
  readonly code = 'TETHER_LOG_DAMAGED';
  constructor(
    readonly path: string,
    readonly offset: number,
    why: string,
  ) {
    super(`${path}: no valid record at byte ${offset} (${why})`);
  }
}

/** What start-up found cut off at the end of the newest segment (a write the agent never confirmed). */
export interface TornTail {
  readonly path: string;
  readonly offset: number;
  readonly bytes: number;
}

const MARK_EVERY = 64;
const READ_CHUNK = 256 * 1024;
const SEGMENT_NAME = /^(\d{16})\.log$/;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export class SegmentLog {
  /** The highest message id in the log (ids are handed out above it). */
  lastId = 0;
  /** Live messages and their payload bytes, as found at open (and migrated in). */
  openCount = 0;
  openBytes = 0;
  private readonly segments: Segment[] = [];
  private readonly deleted = new IdRanges();
  private nextSeq = 1;
  private tailFd: number | undefined;
  private reader: { seq: number; fd: number } | undefined;
  // the batch being encoded for the next write
  private buf = Buffer.allocUnsafe(64 * 1024);
  private len = 0;
  private batchOpen = false;
  private rotate = false;
  private batchMarks: number[] = [];
  private batchFirst = Number.POSITIVE_INFINITY;
  private batchLast = 0;
  private batchMessages = 0;

  private constructor(private readonly options: SegmentLogOptions) {}

  /**
   * Opens the log in `options.dir` (created 0700) and reads every segment, newest first: deletes
   * always follow the messages they delete, so each segment's live messages are known once it is
   * read. A record cut off at the end of the newest segment is a write that never completed (its
   * source was not acknowledged): it is truncated and reported to `onTornTail`. Anything else that
   * is not a record throws LogDamaged.
   */
  static open(options: SegmentLogOptions, onTornTail: (torn: TornTail) => void): SegmentLog {
    mkdirSync(options.dir, { recursive: true, mode: DIR_MODE });
    chmodSync(options.dir, DIR_MODE);
    const log = new SegmentLog(options);
    const names = readdirSync(options.dir)
      .filter((n) => SEGMENT_NAME.test(n))
      .sort();
    for (let i = names.length - 1; i >= 0; i--) {
      const name = names[i] as string;
      const path = join(options.dir, name);
      chmodSync(path, FILE_MODE);
      const seg = log.scan(path, Number(name.slice(0, 16)), i === names.length - 1, onTornTail);
      log.segments.unshift(seg);
      log.nextSeq = Math.max(log.nextSeq, seg.seq + 1);
      log.lastId = Math.max(log.lastId, seg.lastId);
    }
    log.pruneDeleted();
    const tail = log.segments.at(-1);
    if (tail) log.tailFd = openSync(tail.path, 'r+');
    return log;
  }

  private scan(path: string, seq: number, newest: boolean, onTornTail: (torn: TornTail) => void): Segment {
    const buf = readFileSync(path);
    const seg: Segment = {
      seq,
      path,
      size: 0,
      firstId: Number.POSITIVE_INFINITY,
      lastId: 0,
      messages: 0,
      live: 0,
      marks: [],
    };
    const ids: number[] = [];
    const sizes: number[] = [];
    let at = 0;
    while (at < buf.length) {
      const r = parseRecord(buf, at);
      if (r.kind === 'short' || r.kind === 'bad') {
        if (!newest) throw new LogDamaged(path, at, r.kind === 'short' ? 'cut short' : r.why);
        truncateSync(path, at);
        onTornTail({ path, offset: at, bytes: buf.length - at });
        break;
      }
      if (r.kind === 'message') {
        if (seg.messages % MARK_EVERY === 0) seg.marks.push(r.id, at);
        seg.messages++;
        seg.firstId = Math.min(seg.firstId, r.id);
        seg.lastId = Math.max(seg.lastId, r.id);
        ids.push(r.id);
        sizes.push(r.message.payload.length);
      } else {
        for (const [from, to] of r.ranges) this.deleted.addRange(from, to);
      }
      at = r.end;
    }
    seg.size = at;
    for (let k = 0; k < ids.length; k++) {
      if (this.deleted.has(ids[k] as number)) continue;
      seg.live++;
      this.openCount++;
      this.openBytes += sizes[k] as number;
    }
    return seg;
  }

  /** Adds a message to the next write. */
  appendMessage(id: number, message: BridgeMessage): void {
    this.beginBatch();
    const topicBytes = Buffer.byteLength(message.topic);
    this.reserve(messageRecordSize(topicBytes, message.payload.length));
    const tail = this.rotate ? undefined : this.segments.at(-1);
    if (((tail?.messages ?? 0) + this.batchMessages) % MARK_EVERY === 0)
      this.batchMarks.push(id, (tail?.size ?? 0) + this.len);
    this.len = writeMessageRecord(this.buf, this.len, id, message, topicBytes);
    this.batchFirst = Math.min(this.batchFirst, id);
    this.batchLast = Math.max(this.batchLast, id);
    this.batchMessages++;
  }

  /** Adds a deletes record of `ids` (sorted) to the next write: acks made durable. */
  appendDeletes(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.beginBatch();
    const ranges: Array<[number, number]> = [];
    for (const id of ids) {
      const last = ranges.at(-1);
      if (last && id <= last[1] + 1) last[1] = Math.max(last[1], id);
      else ranges.push([id, id]);
    }
    this.reserve(deletesRecordSize(ranges.length));
    this.len = writeDeletesRecord(this.buf, this.len, ranges, ranges.length);
  }

  /** An ack: the message no longer counts for its segment (it is skipped on reads from now on). */
  markDeleted(id: number): void {
    if (!this.deleted.add(id)) return;
    for (const seg of this.segments) {
      if (seg.lastId < id) continue;
      if (seg.firstId <= id) seg.live--;
      return;
    }
  }

  /**
   * Writes the batch: one write at the end of the newest segment, or at the start of a new one
   * once the newest is full (then with a checkpoint of the deletes first). A failed write (ENOSPC,
   * EIO) is cut back off the file and thrown: nothing of the batch happened, and its messages go
   * again in a later batch.
   */
  writeBatch(sync = this.options.fsync): void {
    if (!this.batchOpen) return;
    if (this.len === 0) {
      this.resetBatch();
      return;
    }
    let seg = this.segments.at(-1);
    let fd = this.tailFd;
    let created = false;
    try {
      if (this.rotate || !seg || fd === undefined) {
        const seq = this.nextSeq;
        const path = join(this.options.dir, `${String(seq).padStart(16, '0')}.log`);
        fd = openSync(path, 'wx+', FILE_MODE);
        created = true;
        seg = { seq, path, size: 0, firstId: Number.POSITIVE_INFINITY, lastId: 0, messages: 0, live: 0, marks: [] };
      }
      let done = 0;
      while (done < this.len) done += writeSync(fd, this.buf, done, this.len - done, seg.size + done);
      if (sync) {
        fdatasyncSync(fd);
        if (created) this.syncDir();
      }
    } catch (error) {
      if (created && fd !== undefined && seg) {
        closeSync(fd);
        try {
          unlinkSync(seg.path);
        } catch {}
      } else if (fd !== undefined && seg) {
        try {
          ftruncateSync(fd, seg.size);
        } catch {}
      }
      this.resetBatch();
      // name the file (ENOSPC from write(2) names none)
      if (error instanceof Error && seg && (error as { path?: string }).path === undefined)
        Object.assign(error, { path: seg.path });
      throw error;
    }
    if (created) {
      if (this.tailFd !== undefined) closeSync(this.tailFd);
      this.tailFd = fd;
      this.segments.push(seg);
      this.nextSeq = seg.seq + 1;
    }
    seg.size += this.len;
    for (const v of this.batchMarks) seg.marks.push(v);
    if (this.batchMessages > 0) {
      seg.firstId = Math.min(seg.firstId, this.batchFirst);
      seg.lastId = Math.max(seg.lastId, this.batchLast);
      seg.messages += this.batchMessages;
      seg.live += this.batchMessages;
      this.lastId = Math.max(this.lastId, this.batchLast);
    }
    this.resetBatch();
  }

  /** Forgets the batch (the store's transaction failed elsewhere, or the writes were given up). */
  discardBatch(): void {
    this.resetBatch();
  }

  /** Unlinks every segment but the newest whose messages are all acked: their room goes back to the disk. */
  dropDead(): void {
    let dropped = false;
    for (let i = 0; i < this.segments.length - 1; ) {
      const seg = this.segments[i] as Segment;
      if (seg.live > 0) {
        i++;
        continue;
      }
      try {
        unlinkSync(seg.path);
      } catch {
        i++;
        continue;
      }
      if (this.reader?.seq === seg.seq) this.closeReader();
      this.segments.splice(i, 1);
      dropped = true;
    }
    if (dropped) this.pruneDeleted();
  }

  /**
   * Messages after `id`, not deleted, oldest first, at most `limit`. A bad record ends what is
   * read of its segment (reported once to `onDamaged`); the segments after it are still read, so
   * what can be delivered is.
   */
  loadAfter(id: number, limit: number, onDamaged: (error: LogDamaged) => void): StoredRow[] {
    const rows: StoredRow[] = [];
    for (const seg of this.segments) {
      if (rows.length >= limit) break;
      if (seg.lastId <= id || seg.live === 0) continue;
      try {
        this.readSegment(seg, id, limit, rows);
      } catch (error) {
        if (!(error instanceof LogDamaged)) throw error;
        seg.damagedAt = error.offset;
        onDamaged(error);
      }
    }
    return rows;
  }

  /** Bytes of the segment files. */
  get diskBytes(): number {
    let bytes = 0;
    for (const seg of this.segments) bytes += seg.size;
    return bytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  close(): void {
    if (this.tailFd !== undefined) closeSync(this.tailFd);
    this.tailFd = undefined;
    this.closeReader();
  }

  private readSegment(seg: Segment, afterId: number, limit: number, rows: StoredRow[]): void {
    let offset = this.startOffset(seg, afterId);
    const end = seg.damagedAt ?? seg.size;
    const fd = this.readerFor(seg);
    let want = READ_CHUNK;
    while (offset < end && rows.length < limit) {
      const length = Math.min(want, end - offset);
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, buf, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
      const chunk = got < length ? buf.subarray(0, got) : buf;
      let at = 0;
      while (rows.length < limit) {
        const r = parseRecord(chunk, at);
        if (r.kind === 'short') {
          // a record larger than the chunk: read it whole; one past the written end is damage
          if (at === 0) {
            if (offset + r.needs > end) throw new LogDamaged(seg.path, offset, 'cut short');
            want = r.needs;
          }
          break;
        }
        if (r.kind === 'bad') throw new LogDamaged(seg.path, offset + at, r.why);
        if (r.kind === 'message' && r.id > afterId && !this.deleted.has(r.id))
          rows.push({ id: r.id, message: r.message });
        at = r.end;
      }
      if (at > 0) want = READ_CHUNK;
      offset += at;
    }
  }

  /** The offset of the last marked message at or before `afterId + 1` (0: the segment's start). */
  private startOffset(seg: Segment, afterId: number): number {
    const marks = seg.marks;
    let lo = 0;
    let hi = marks.length / 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((marks[mid * 2] as number) <= afterId + 1) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : (marks[(lo - 1) * 2 + 1] as number);
  }

  private readerFor(seg: Segment): number {
    if (seg === this.segments.at(-1) && this.tailFd !== undefined) return this.tailFd;
    if (this.reader?.seq === seg.seq) return this.reader.fd;
    this.closeReader();
    this.reader = { seq: seg.seq, fd: openSync(seg.path, 'r') };
    return this.reader.fd;
  }

  private closeReader(): void {
    if (this.reader) closeSync(this.reader.fd);
    this.reader = undefined;
  }

  /** Deleted ids below every segment's messages are forgotten (nothing holds them any more). */
  private pruneDeleted(): void {
    let first = Number.POSITIVE_INFINITY;
    for (const seg of this.segments) first = Math.min(first, seg.firstId);
    if (first === Number.POSITIVE_INFINITY) this.deleted.clear();
    else this.deleted.dropBelow(first);
  }

  private beginBatch(): void {
    if (this.batchOpen) return;
    this.batchOpen = true;
    const tail = this.segments.at(-1);
    this.rotate = !tail || tail.size >= this.options.segmentBytes;
    if (this.rotate && this.deleted.rangeCount > 0) {
      // the new segment starts with every delete that still matters (see the class comment)
      this.reserve(deletesRecordSize(this.deleted.rangeCount));
      this.len = writeDeletesRecord(this.buf, this.len, this.deleted.ranges(), this.deleted.rangeCount);
    }
  }

  private reserve(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  private resetBatch(): void {
    this.len = 0;
    this.batchOpen = false;
    this.rotate = false;
    this.batchMarks = [];
    this.batchFirst = Number.POSITIVE_INFINITY;
    this.batchLast = 0;
    this.batchMessages = 0;
    // a batch buffer grown for a big backlog commit is not kept for ever
    if (this.buf.length > 4 * 1024 * 1024) this.buf = Buffer.allocUnsafe(64 * 1024);
  }

  private syncDir(): void {
    try {
      const fd = openSync(this.options.dir, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {}
  }
}
