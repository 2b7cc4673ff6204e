// One record (see bpf/events.h and its mirror abi.ts) -> its event, by a table keyed by
// event type. No I/O. Nothing is dropped silently: records of an unknown type, or too
// short for their type, come out as `unknown` events (RecordStream counts them).
import {
  AckEvent,
  BatchEvent,
  CgroupEvent,
  DigestEvent,
  EventType,
  ExecEvent,
  ExitEvent,
  FileEvent,
  ForkEvent,
  Header,
  LossEvent,
  NetEvent,
  ProcEvent,
  ReadyEvent,
} from '../abi.js';
import { decodeCgroup } from './cgroup.js';
import type { BatchEventData, EventHeader, TraceEvent, UnknownEventData } from './events.js';
import { decodeExec } from './exec.js';
import { H_CGROUP, H_SIZE, H_TGID, H_TS, H_TYPE, decodeHeader } from './fields.js';
import { decodeFile, fileStringsLength } from './file.js';
import { decodeExit, decodeFork } from './fork-exit.js';
import { decodeAck, decodeDigest, decodeLoss, decodeReady } from './loader.js';
import { decodeNet } from './net.js';
import { decodeProc } from './proc.js';

/** Decodes the record at `base` (its header already read); a string names why it is malformed. */
type Decoder = (buf: Buffer, base: number, header: EventHeader) => TraceEvent | UnknownEventData['reason'];

/** The decoder table: event type -> (fixed struct size, decoder). */
export const DECODERS: ReadonlyMap<number, { minSize: number; decode: Decoder }> = new Map<
  number,
  { minSize: number; decode: Decoder }
>([
  [EventType.CgroupMkdir, { minSize: CgroupEvent.size, decode: decodeCgroup }],
  [EventType.CgroupRmdir, { minSize: CgroupEvent.size, decode: decodeCgroup }],
  [EventType.Exec, { minSize: ExecEvent.size, decode: decodeExec }],
  [EventType.Fork, { minSize: ForkEvent.size, decode: decodeFork }],
  [EventType.Exit, { minSize: ExitEvent.size, decode: decodeExit }],
  [EventType.File, { minSize: FileEvent.size, decode: decodeFile }],
  [EventType.Net, { minSize: NetEvent.size, decode: decodeNet }],
  [EventType.Ready, { minSize: ReadyEvent.size, decode: decodeReady }],
  [EventType.Digest, { minSize: DigestEvent.size, decode: decodeDigest }],
  [EventType.Loss, { minSize: LossEvent.size, decode: decodeLoss }],
  [EventType.Ack, { minSize: AckEvent.size, decode: decodeAck }],
  [EventType.Proc, { minSize: ProcEvent.size, decode: decodeProc }],
  [EventType.Batch, { minSize: BatchEvent.size, decode: decodeBatch }],
]);

/** Decodes one record (without its length prefix). Never throws. */
export function decodeRecord(record: Buffer): TraceEvent {
  return decodeAt(record, 0, record.length);
}

/** Decodes the record of `len` bytes at `base` in `buf`. The event keeps no reference to
 * `buf`, except an unknown record's `raw` (a view: copy it if `buf` is reused). */
export function decodeAt(buf: Buffer, base: number, len: number): TraceEvent {
  if (len < Header.size) {
    const raw = buf.subarray(base, base + len);
    return { kind: 'unknown', header: undefined, type: len >= 4 ? raw.readUInt32LE(0) : -1, reason: 'short-record', raw };
  }
  const header = decodeHeader(buf, base);
  if (header.size !== len) return unknownRecord(buf.subarray(base, base + len), header, 'bad-size');
  const d = DECODERS.get(header.type);
  if (!d) return unknownRecord(buf.subarray(base, base + len), header, 'unknown-type');
  if (len < d.minSize) return unknownRecord(buf.subarray(base, base + len), header, 'short-record');
  const ev = d.decode(buf, base, header);
  return typeof ev === 'string' ? unknownRecord(buf.subarray(base, base + len), header, ev) : ev;
}

/** Kinds whose records may be handed over undecoded (RecordStream.pushRecords): most of a
 * build's records, and nothing the probe itself reads. */
export const LAZY_TYPES: ReadonlySet<number> = new Set([EventType.File, EventType.Fork, EventType.Exit, EventType.Proc, EventType.Batch]);

/** The types a batch record holds. */
const BATCHED_TYPES: ReadonlySet<number> = new Set([EventType.File, EventType.Net, EventType.Proc]);

/** A record inside a batch (its own header frames it) that decodes to its event. */
function innerValid(buf: Buffer, at: number, len: number, type: number): boolean {
  if (type === EventType.Proc) return len === ProcEvent.size;
  if (type === EventType.File) return len >= FileEvent.size && FileEvent.size + fileStringsLength(buf, at) <= len;
  return len >= NetEvent.size && NetEvent.size + buf.readUInt16LE(at + NetEvent.fields.unix_path_len.offset) <= len;
}

/**
 * Calls `fn` with where each record of the batch at `base` (`len` bytes) is, in order, if
 * all of them are whole and of the types a batch holds (then returns true); else calls
 * nothing and returns false.
 */
export function forEachInBatch(buf: Buffer, base: number, len: number, fn?: (at: number, len: number, type: number) => void): boolean {
  const count = buf.readUInt32LE(base + BatchEvent.fields.count.offset);
  const end = base + len;
  let n = 0;
  for (let at = base + BatchEvent.size; at < end; n++) {
    if (at + Header.size > end) return false;
    const ilen = buf.readUInt32LE(at + H_SIZE);
    const type = buf.readUInt32LE(at + H_TYPE);
    if (ilen < Header.size || at + ilen > end || !BATCHED_TYPES.has(type) || !innerValid(buf, at, ilen, type)) return false;
    at += ilen;
  }
  if (n !== count || n < 2) return false;
  if (fn) for (let at = base + BatchEvent.size; at < end; at += buf.readUInt32LE(at + H_SIZE)) fn(at, buf.readUInt32LE(at + H_SIZE), buf.readUInt32LE(at + H_TYPE));
  return true;
}

function decodeBatch(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const events: BatchEventData['events'] = [];
  const ok = forEachInBatch(buf, base, header.size, (at, len) => {
    events.push(decodeAt(buf, at, len) as BatchEventData['events'][number]);
  });
  return ok ? { kind: 'batch', header, events } : 'bad-strings';
}

/** Would decodeAt give a lazy type's event (not an unknown one) for this record? */
export function recordIsValid(buf: Buffer, base: number, len: number, type: number): boolean {
  if (len < Header.size || buf.readUInt32LE(base + H_SIZE) !== len) return false;
  const d = DECODERS.get(type);
  if (!d || len < d.minSize) return false;
  if (type === EventType.File) return FileEvent.size + fileStringsLength(buf, base) <= len;
  if (type === EventType.Proc) return len === ProcEvent.size;
  if (type === EventType.Batch) return forEachInBatch(buf, base, len);
  return true;
}

/** Offsets of the header and fork fields the correlator reads from undecoded records (a
 * process record's: PROC, proc.ts). */
export const RAW = {
  type: H_TYPE,
  size: H_SIZE,
  tsNs: H_TS,
  cgroupId: H_CGROUP,
  tgid: H_TGID,
  forkChildTgid: ForkEvent.fields.child_tgid.offset,
  forkChildStart: ForkEvent.fields.child_start_boottime_ns.offset,
} as const;

function unknownRecord(record: Buffer, header: EventHeader, reason: UnknownEventData['reason']): UnknownEventData {
  return { kind: 'unknown', header, type: header.type, reason, raw: record };
}
