// process records (TB_EV_PROC): a process from its fork to its exit, the loader's one record
// for both (bpf/procs.c); also read in place by the correlator (PROC: the offsets).
import { ProcEvent, ProcFlag } from '../abi.js';
import type { EventHeader, ProcessEventData, TraceEvent } from './events.js';
import { exitCodeOf, signalOf } from './fork-exit.js';

const PR = ProcEvent.fields;

/** Offsets of a process record's fields, for reading them where the record lies. */
export const PROC = {
  flags: PR.flags.offset,
  ppid: PR.ppid.offset,
  start: PR.start_boottime_ns.offset,
  forkTs: PR.fork_ts_ns.offset,
  forkCgroup: PR.fork_cgroup_id.offset,
  forkPid: PR.fork_pid.offset,
  childPid: PR.child_pid.offset,
  exitCode: PR.exit_code.offset,
  imageTgid: PR.image_tgid.offset,
  imageStart: PR.image_start_boottime_ns.offset,
  imageExecId: PR.image_exec_id.offset,
  utime: PR.utime_ns.offset,
  stime: PR.stime_ns.offset,
  runtime: PR.runtime_ns.offset,
  maxRss: PR.maxrss_kib.offset,
} as const;

export function decodeProc(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  if (header.size !== ProcEvent.size) return 'bad-strings';
  const flags = buf.readUInt32LE(base + PROC.flags);
  const status = buf.readUInt32LE(base + PROC.exitCode);
  const ev: ProcessEventData = {
    kind: 'process',
    header,
    startBoottimeNs: buf.readBigUInt64LE(base + PROC.start),
    execed: (flags & ProcFlag.Execed) !== 0,
    fork:
      (flags & ProcFlag.Forked) === 0
        ? undefined
        : {
            tsNs: buf.readBigUInt64LE(base + PROC.forkTs),
            cgroupId: buf.readBigUInt64LE(base + PROC.forkCgroup),
            ppid: buf.readUInt32LE(base + PROC.ppid),
            parentPid: buf.readUInt32LE(base + PROC.forkPid),
            childPid: buf.readUInt32LE(base + PROC.childPid),
          },
    image:
      (flags & ProcFlag.Image) === 0
        ? undefined
        : {
            tgid: buf.readUInt32LE(base + PROC.imageTgid),
            startBoottimeNs: buf.readBigUInt64LE(base + PROC.imageStart),
            execId: buf.readBigUInt64LE(base + PROC.imageExecId),
          },
    exit:
      (flags & ProcFlag.Exited) === 0
        ? undefined
        : {
            waitStatus: status,
            exitCode: exitCodeOf(status),
            signal: signalOf(status),
            coreDumped: (status & 0x80) !== 0,
            utimeNs: buf.readBigUInt64LE(base + PROC.utime),
            stimeNs: buf.readBigUInt64LE(base + PROC.stime),
            runtimeNs: buf.readBigUInt64LE(base + PROC.runtime),
            maxRssKiB: buf.readBigUInt64LE(base + PROC.maxRss),
          },
  };
  return ev;
}
