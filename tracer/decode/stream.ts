// The loader's byte stream -> records, across arbitrary chunk boundaries: the framer on
// the hot path (RecordStream), and its counts (DecodeStats).
import { EventType, Header } from '../abi.js';
import type { TraceEvent } from './events.js';
import { LAZY_TYPES, decodeAt, forEachInBatch, recordIsValid } from './record.js';

export interface DecodeStats {
  records: number;
  bytes: number;
  /** Records by event type (numeric). */
  byType: Map<number, number>;
  /** Records whose type has no decoder. */
  unknownType: number;
  /** Records too short, with a wrong size field or overrunning strings. */
  malformed: number;
  /** Bytes thrown away after a record length no loader writes: the framing was lost there. */
  discardedBytes: number;
}

export function newDecodeStats(): DecodeStats {
  return { records: 0, bytes: 0, byType: new Map(), unknownType: 0, malformed: 0, discardedBytes: 0 };
}

const EMPTY = Buffer.alloc(0);

/** The longest record the loader writes (bpf/output.c out_record: the length and the record
 * must fit its 1 MiB output buffer, larger ones are counted lost and not written). */
export const MAX_RECORD_BYTES = (1 << 20) - 4;

/**
 * Splits the loader's byte stream (u32 little-endian length + record, repeated) into
 * decoded events, across arbitrary chunk boundaries.
 *
 * A length outside [Header.size, MAX_RECORD_BYTES] is one no loader writes: the stream is
 * then `corrupt` for good (counted in stats.malformed once, every later byte in
 * stats.discardedBytes) rather than waiting for a record that never ends. When the input
 * ends, `buffered` > 0 means it ended inside a record. Either is for the caller to report.
 */
export class RecordStream {
  readonly stats: DecodeStats = newDecodeStats();
  private pending: Buffer = EMPTY;
  private lostFraming = false;

  /** A record length no loader writes was read: where records start is lost for good, so
   * every later byte is discarded (counted), rather than waited on for ever. */
  get corrupt(): boolean {
    return this.lostFraming;
  }

  /** Bytes received but not yet forming a whole record (at the end of the input: a partial
   * record, lost). Never more than 4 + MAX_RECORD_BYTES. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): TraceEvent[] {
    const out: TraceEvent[] = [];
    this.pushRecords(chunk, false, (_buf, _base, _len, ev) => {
      out.push(ev as TraceEvent);
    });
    return out;
  }

  /**
   * The same, one record at a time, with where it is: at `base` in `buf` (the u32 length
   * just before it); `buf` is `chunk`, or a new buffer when a record straddled the previous
   * chunk, and this stream never writes either again. With `lazy`, valid records of
   * LAZY_TYPES come undecoded (`ev` undefined), a batch whole; without, the records a batch
   * holds come one by one, decoded, each where it is inside the batch (framed by its own
   * header). Returns the number of records (a batch counts one). When `fn`
   * throws, the error propagates and the stream stays framed: the record it was called with
   * and those before it were handed over, the rest come with the next push.
   */
  pushRecords(chunk: Buffer, lazy: boolean, fn: (buf: Buffer, base: number, len: number, ev: TraceEvent | undefined) => void): number {
    const stats = this.stats;
    if (this.lostFraming) {
      stats.discardedBytes += chunk.length;
      return 0;
    }
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let n = 0;
    let off = 0;
    try {
      while (off + 4 <= buf.length) {
        const len = buf.readUInt32LE(off);
        if (len < Header.size || len > MAX_RECORD_BYTES) {
          this.lostFraming = true;
          stats.malformed++;
          stats.discardedBytes += buf.length - off;
          off = buf.length;
          break;
        }
        if (off + 4 + len > buf.length) break;
        const base = off + 4;
        off = base + len;
        stats.records++;
        stats.bytes += 4 + len;
        n++;
        const rawType = buf.readUInt32LE(base);
        if (lazy && LAZY_TYPES.has(rawType) && recordIsValid(buf, base, len, rawType)) {
          stats.byType.set(rawType, (stats.byType.get(rawType) ?? 0) + 1);
          fn(buf, base, len, undefined);
          continue;
        }
        if (rawType === EventType.Batch && forEachInBatch(buf, base, len)) {
          stats.byType.set(rawType, (stats.byType.get(rawType) ?? 0) + 1);
          forEachInBatch(buf, base, len, (at, ilen) => fn(buf, at, ilen, decodeAt(buf, at, ilen)));
          continue;
        }
        // Decoded in place: events keep no reference to the record's bytes, except an
        // unknown record's raw bytes, which are copied.
        let ev = decodeAt(buf, base, len);
        if (ev.kind === 'unknown') {
          ev = { ...ev, raw: Buffer.from(ev.raw) };
          if (ev.reason === 'unknown-type') stats.unknownType++;
          else stats.malformed++;
        }
        const type = ev.kind === 'unknown' ? ev.type : ev.header.type;
        stats.byType.set(type, (stats.byType.get(type) ?? 0) + 1);
        fn(buf, base, len, ev);
      }
    } finally {
      // also when fn threw: the records before `off` were handed over, the stream stays framed
      this.pending = off === buf.length ? EMPTY : Buffer.from(buf.subarray(off));
    }
    return n;
  }
}

/** Decodes a whole buffer of length-prefixed records; trailing partial bytes, and a framing
 * lost to a length no loader writes (the rest then in stats.discardedBytes), are reported. */
export function decodeStream(buf: Buffer): { events: TraceEvent[]; stats: DecodeStats; trailingBytes: number; corrupt: boolean } {
  const s = new RecordStream();
  const events = s.push(buf);
  return { events, stats: s.stats, trailingBytes: s.buffered, corrupt: s.corrupt };
}
