// The records pushed, in arrival order, by index, for the one case that reads them again: a
// step whose speculation failed is built at the end from its records (see Correlation,
// correlation.ts). Decoded events (execs, cgroups, digests, loss reports: few) are kept as
// they are; the others (file, process and batch records: nearly all) as the loader's bytes,
// in a buffer of bounded size and, beyond it, in an unlinked temporary file: the CLI's memory
// does not grow with the records of a build.
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { TraceEvent } from '../decode/events.js';
import { decodeAt } from '../decode/record.js';

/** An event that a cgroup's steps take (every kind but the loader's own). */
export type KernelEvent = Exclude<TraceEvent, { kind: 'ready' | 'loss' | 'ack' | 'batch' }>;

/** Bytes of records kept in memory before they go to the temporary file (default). */
export const RECORDS_IN_MEMORY = 8 << 20;
const CHUNK = 1 << 20;

export class RecordStore {
  /** Events pushed decoded (execs: attribution reads them). */
  private readonly kept = new Map<number, TraceEvent>();
  /** The others: [u32 index][u32 length][record] each, in chunks; `file` once they outgrew
   * inMemoryMax (the chunks then only hold what is not written yet). */
  private chunks: Buffer[] = [];
  /** Chunk buffers whose records went to the file, to be filled again: a new buffer's pages
   * are faulted in as the records are copied into it, which cost more than the copy. */
  private spare: Buffer[] = [];
  private tail: Buffer | undefined;
  private tailLen = 0;
  private inMemory = 0;
  private file: { fd: number; bytes: number } | undefined;
  private closed = false;
  /** Records pushed so far. */
  count = 0;

  /** `inMemoryMax`: bytes of records kept in memory before the temporary file. */
  constructor(private readonly inMemoryMax = RECORDS_IN_MEMORY) {}

  /** The next record is the `len` bytes at `base` in `buf`: kept as bytes; its index. */
  addBytes(buf: Buffer, base: number, len: number): number {
    const need = 8 + len;
    if (this.tail === undefined || this.tailLen + need > this.tail.length) this.newTail(need);
    const t = this.tail as Buffer;
    t.writeUInt32LE(this.count, this.tailLen);
    t.writeUInt32LE(len, this.tailLen + 4);
    buf.copy(t, this.tailLen + 8, base, base + len);
    this.tailLen += need;
    this.inMemory += need;
    return this.count++;
  }

  /** The next record is this event, kept as it is: its index. */
  keep(ev: TraceEvent): number {
    const i = this.count++;
    this.kept.set(i, ev);
    return i;
  }

  /** The i-th record, if it was kept decoded. */
  event(i: number): TraceEvent | undefined {
    return this.kept.get(i);
  }

  private newTail(need: number): void {
    if (this.tail !== undefined) this.chunks.push(this.tail.subarray(0, this.tailLen));
    if (this.inMemory > this.inMemoryMax) this.spill();
    const size = this.chunks.length === 0 && this.file === undefined ? Math.min(64 << 10, this.inMemoryMax) : CHUNK;
    const want = Math.max(need, Math.min(size, this.inMemoryMax));
    const reused = this.spare.pop();
    this.tail = reused !== undefined && reused.length >= want ? reused : Buffer.allocUnsafe(want);
    this.tailLen = 0;
  }

  /** Writes the full chunks to the temporary file (made on first use); if there is none to
   * be had, they stay in memory. */
  private spill(): void {
    if (this.file === undefined) {
      const name = path.join(tmpdir(), `tracebuild-records-${process.pid}-${randomBytes(6).toString('hex')}`);
      try {
        const fd = openSync(name, 'wx+', 0o600);
        unlinkSync(name);
        this.file = { fd, bytes: 0 };
      } catch {
        return;
      }
    }
    for (const c of this.chunks) {
      for (let off = 0; off < c.length; ) off += writeSync(this.file.fd, c, off, c.length - off, this.file.bytes + off);
      this.file.bytes += c.length;
      // the whole buffer the chunk was cut from (a chunk is a tail's filled part)
      if (c.byteOffset === 0 && c.buffer.byteLength === CHUNK) this.spare.push(Buffer.from(c.buffer, 0, CHUNK));
    }
    this.chunks = [];
    this.inMemory = 0;
  }

  /**
   * Every record in arrival order: a kept event, or the decoded record (a batch as the
   * records it holds, each with the batch's index). Reads the temporary file back in chunks.
   */
  replay(fn: (index: number, ev: TraceEvent) => void): void {
    if (this.closed) throw new Error('RecordStore: replayed after close');
    let next = 0;
    const upTo = (limit: number): void => {
      for (; next < limit; next++) {
        const ev = this.kept.get(next);
        if (ev !== undefined) fn(next, ev);
      }
    };
    const fromBytes = (b: Buffer, len: number): number => {
      let off = 0;
      while (off + 8 <= len) {
        const index = b.readUInt32LE(off);
        const rlen = b.readUInt32LE(off + 4);
        if (off + 8 + rlen > len) break;
        upTo(index);
        const ev = decodeAt(b, off + 8, rlen);
        if (ev.kind === 'batch') for (const e of ev.events) fn(index, e);
        else fn(index, ev);
        next = index + 1;
        off += 8 + rlen;
      }
      return off;
    };
    if (this.file !== undefined) {
      let buf = Buffer.allocUnsafe(CHUNK + 64);
      let have = 0;
      for (let pos = 0; pos < this.file.bytes; ) {
        if (buf.length - have < CHUNK) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, have);
          buf = bigger;
        }
        const n = readSync(this.file.fd, buf, have, Math.min(CHUNK, this.file.bytes - pos), pos);
        if (n <= 0) break;
        pos += n;
        have += n;
        const used = fromBytes(buf, have);
        buf.copy(buf, 0, used, have);
        have -= used;
      }
    }
    for (const c of this.chunks) fromBytes(c, c.length);
    if (this.tail !== undefined) fromBytes(this.tail, this.tailLen);
    upTo(this.count);
  }

  /** Releases the temporary file and the buffers; the store cannot be replayed after. */
  close(): void {
    if (this.file !== undefined) closeSync(this.file.fd);
    this.file = undefined;
    this.chunks = [];
    this.spare = [];
    this.tail = undefined;
    this.closed = true;
  }
}
