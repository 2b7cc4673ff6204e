// The records pushed, in arrival order, by index: most kept as the loader's bytes, outside
// the JS heap, and decoded again only if a step's speculation fails (see Correlation, correlation.ts).
import type { TraceEvent } from '../decode/events.js';
import { decodeRecord } from '../decode/record.js';

/** An event that a cgroup's steps take (every kind but the loader's own). */
export type KernelEvent = Exclude<TraceEvent, { kind: 'ready' | 'loss' | 'ack' }>;

export class RecordStore {
  /** Events pushed without their record's bytes, and exec events (attribution reads them). */
  private readonly kept = new Map<number, TraceEvent>();
  /** Where the others' records are: chunks of the loader's output, and per event the chunk
   * (-1: kept) and the offset. Decoded again only if a step's speculation fails: bytes
   * outside the JS heap cost the garbage collector nothing, ~90 000 event objects did. */
  private readonly chunks: Buffer[] = [];
  private readonly recChunk: number[] = [];
  private readonly recBase: number[] = [];
  /** Records pushed so far. */
  count = 0;

  /** The next record is at `base` in `chunk` (its u32 length just before; never written
   * again): its index. */
  addBytes(chunk: Buffer, base: number): number {
    if (this.chunks[this.chunks.length - 1] !== chunk) this.chunks.push(chunk);
    this.recChunk.push(this.chunks.length - 1);
    this.recBase.push(base);
    return this.count++;
  }

  /** The next record is this event, kept as it is: its index. */
  keep(ev: TraceEvent): number {
    const i = this.count++;
    this.kept.set(i, ev);
    this.recChunk.push(-1);
    this.recBase.push(0);
    return i;
  }

  /** The i-th event pushed. */
  event(i: number): TraceEvent {
    const kept = this.kept.get(i);
    if (kept) return kept;
    const chunk = this.chunks[this.recChunk[i] as number] as Buffer;
    const base = this.recBase[i] as number;
    // the stream's length prefix precedes every record (RecordStream)
    return decodeRecord(chunk.subarray(base, base + chunk.readUInt32LE(base - 4)));
  }
}
