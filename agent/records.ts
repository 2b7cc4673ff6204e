// The probe's records as the agent handles them: it reads their headers (which cgroup), and
// rewrites two kinds for each build it sends them to: the loss reports, counted from the
// build's start (the probe's counters are cumulative since the agent started it), and the
// READY record, whose clock offset is measured again for long-running probes.
import { abi, RECORD_FIELDS } from '../tracer/index.js';

const LOSS_COUNTERS = abi.LossEvent.fields.counters;
const LOSS_SLOTS = LOSS_COUNTERS.size / 8;
const READY_OFFSET = abi.ReadyEvent.fields.realtime_offset_ns.offset;

export function recordType(buf: Buffer, base: number): number {
  return buf.readUInt32LE(base + RECORD_FIELDS.type);
}

export function recordCgroup(buf: Buffer, base: number): bigint {
  return buf.readBigUInt64LE(base + RECORD_FIELDS.cgroupId);
}

export function recordTs(buf: Buffer, base: number): bigint {
  return buf.readBigUInt64LE(base + RECORD_FIELDS.tsNs);
}

/** The raw counters of a loss record. */
export function lossSlots(buf: Buffer, base: number): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < LOSS_SLOTS; i++) out.push(buf.readBigUInt64LE(base + LOSS_COUNTERS.offset + i * 8));
  return out;
}

/**
 * A copy of the record at `base` with its u32 length before it, as the loader frames it:
 * the record is at offset 4 (FRAMED_BASE) of the copy. Every record handed on is framed so:
 * the correlator reads a record's length just before it.
 */
export function framedCopy(buf: Buffer, base: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(4 + len);
  out.writeUInt32LE(len, 0);
  buf.copy(out, 4, base, base + len);
  return out;
}

export const FRAMED_BASE = 4;

/** A framed copy of a loss record with these counters. */
export function withLossSlots(buf: Buffer, base: number, len: number, slots: readonly bigint[]): Buffer {
  const out = framedCopy(buf, base, len);
  for (let i = 0; i < LOSS_SLOTS; i++) out.writeBigUInt64LE(slots[i] ?? 0n, FRAMED_BASE + LOSS_COUNTERS.offset + i * 8);
  return out;
}

/** Counters since `baseline` (never below 0: a restarted probe starts again from 0). */
export function rebaseSlots(slots: readonly bigint[], baseline: readonly bigint[]): bigint[] {
  return slots.map((v, i) => {
    const d = v - (baseline[i] ?? 0n);
    return d > 0n ? d : 0n;
  });
}

/** A framed copy of the READY record with another clock offset. */
export function withReadyOffset(buf: Buffer, base: number, len: number, offsetNs: bigint): Buffer {
  const out = framedCopy(buf, base, len);
  out.writeBigInt64LE(offsetNs, FRAMED_BASE + READY_OFFSET);
  return out;
}

export { LOSS_SLOTS };
