// fork and exit records: a new process; how a process ended (also read from an undecoded
// record, exitInfoAt).
import { ExitEvent, ForkEvent } from '../abi.js';
import type { EventHeader, ExitEventData, TraceEvent } from './events.js';
import { u64At } from './fields.js';

const FK = ForkEvent.fields;

export function decodeFork(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  return {
    kind: 'fork',
    header,
    childPid: buf.readUInt32LE(base + FK.child_pid.offset),
    childTgid: buf.readUInt32LE(base + FK.child_tgid.offset),
    childStartBoottimeNs: buf.readBigUInt64LE(base + FK.child_start_boottime_ns.offset),
  };
}

const XT = ExitEvent.fields;

/** How a process ended, as the correlator needs it (from an ExitEventData, or read from an
 * undecoded exit record by exitInfoAt). The resources as numbers: the correlator sums and
 * rounds them, and a bigint each cost the garbage collector more than the rest. */
export interface ExitInfo {
  tsNs: bigint;
  startBoottimeNs: bigint;
  exitCode: number | undefined;
  signal: number | undefined;
  utimeNs: number;
  stimeNs: number;
  maxRssKiB: number;
}

export function exitCodeOf(status: number): number | undefined {
  return (status & 0x7f) === 0 ? (status >> 8) & 0xff : undefined;
}

export function signalOf(status: number): number | undefined {
  return (status & 0x7f) !== 0 ? status & 0x7f : undefined;
}

export function exitInfo(ev: ExitEventData): ExitInfo {
  return {
    tsNs: ev.header.tsNs,
    startBoottimeNs: ev.startBoottimeNs,
    exitCode: ev.exitCode,
    signal: ev.signal,
    utimeNs: Number(ev.utimeNs),
    stimeNs: Number(ev.stimeNs),
    maxRssKiB: Number(ev.maxRssKiB),
  };
}

/** The ExitInfo of a valid exit record (see recordIsValid), `tsNs` its header's. */
export function exitInfoAt(buf: Buffer, base: number, tsNs: bigint): ExitInfo {
  const status = buf.readUInt32LE(base + XT.exit_code.offset);
  return {
    tsNs,
    startBoottimeNs: buf.readBigUInt64LE(base + XT.start_boottime_ns.offset),
    exitCode: exitCodeOf(status),
    signal: signalOf(status),
    utimeNs: u64At(buf, base + XT.utime_ns.offset),
    stimeNs: u64At(buf, base + XT.stime_ns.offset),
    maxRssKiB: u64At(buf, base + XT.maxrss_kib.offset),
  };
}

export function decodeExit(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const status = buf.readUInt32LE(base + XT.exit_code.offset);
  return {
    kind: 'exit',
    header,
    waitStatus: status,
    exitCode: exitCodeOf(status),
    signal: signalOf(status),
    coreDumped: (status & 0x80) !== 0,
    startBoottimeNs: buf.readBigUInt64LE(base + XT.start_boottime_ns.offset),
    utimeNs: buf.readBigUInt64LE(base + XT.utime_ns.offset),
    stimeNs: buf.readBigUInt64LE(base + XT.stime_ns.offset),
    runtimeNs: buf.readBigUInt64LE(base + XT.runtime_ns.offset),
    maxRssKiB: buf.readBigUInt64LE(base + XT.maxrss_kib.offset),
  };
}
