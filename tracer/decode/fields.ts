// Reading a record's fields where it lies: its header, a file identity, a string, a
// syscall's name.
import { FileId, Header, Syscall } from '../abi.js';
import type { EventHeader, FileIdentity, SyscallName } from './events.js';

// Every record is decoded in place, at `base` in the buffer that holds it (a chunk of the
// loader's output): no view, reader or layout lookup per record, the offsets are
// constants. This runs ~90 000 times in a busy build, on the CPU the build also needs.

export const H_TYPE = Header.fields.type.offset;
export const H_SIZE = Header.fields.size.offset;
export const H_TS = Header.fields.ts_ns.offset;
export const H_CGROUP = Header.fields.cgroup_id.offset;
const H_PID = Header.fields.pid.offset;
export const H_TGID = Header.fields.tgid.offset;

export function decodeHeader(buf: Buffer, base: number): EventHeader {
  return {
    type: buf.readUInt32LE(base + H_TYPE),
    size: buf.readUInt32LE(base + H_SIZE),
    tsNs: buf.readBigUInt64LE(base + H_TS),
    cgroupId: buf.readBigUInt64LE(base + H_CGROUP),
    pid: buf.readUInt32LE(base + H_PID),
    tgid: buf.readUInt32LE(base + H_TGID),
  };
}

const F = FileId.fields;

export function decodeFileId(buf: Buffer, at: number): FileIdentity {
  return {
    dev: buf.readUInt32LE(at + F.dev.offset),
    ino: buf.readBigUInt64LE(at + F.ino.offset),
    size: buf.readBigUInt64LE(at + F.size.offset),
    mtimeSec: buf.readBigInt64LE(at + F.mtime_sec.offset),
    mtimeNsec: buf.readUInt32LE(at + F.mtime_nsec.offset),
    ctimeSec: buf.readBigInt64LE(at + F.ctime_sec.offset),
    ctimeNsec: buf.readUInt32LE(at + F.ctime_nsec.offset),
    mode: buf.readUInt32LE(at + F.mode.offset),
  };
}

/** A u64 at `at` as a number, read without making a bigint: exact below 2^53 (a duration
 * in ns up to 104 days, a size, a count). */
export function u64At(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * 4294967296;
}

/** The string of `len` bytes at `at`; '' when empty (no decoder call). */
export function str(buf: Buffer, at: number, len: number): string {
  return len === 0 ? '' : buf.toString('utf8', at, at + len);
}

/** Syscall names by number (this runs per event). */
const SYSCALL_NAMES: ReadonlyArray<SyscallName | undefined> = (() => {
  const out: Array<SyscallName | undefined> = [];
  for (const [k, n] of Object.entries(Syscall) as Array<[SyscallName, number]>) if (out[n] === undefined) out[n] = k;
  return out;
})();

export function syscallName(n: number): SyscallName | `syscall-${number}` {
  return SYSCALL_NAMES[n] ?? `syscall-${n}`;
}
