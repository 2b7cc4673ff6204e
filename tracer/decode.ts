// Pure decoder of the probe's output: length-prefixed binary records (see tracer/bpf/events.h
// and its mirror abi.ts) -> typed events. No I/O. Nothing is dropped silently: records of
// an unknown type, or too short for their type, come out as `unknown` events and are
// counted in DecodeStats.
import { posix } from 'node:path';
import {
  AckEvent,
  CgroupEvent,
  CgroupFlag,
  DigestEvent,
  DigestFlag,
  DigestKind,
  EventType,
  ExecEvent,
  ExecFlag,
  ExitEvent,
  FileEvent,
  FileId,
  FileOp,
  FileResult,
  ForkEvent,
  Header,
  Loss,
  LossEvent,
  NetEvent,
  NetFlag,
  NetOp,
  ReadyEvent,
  ReadyFlag,
  Syscall,
} from './abi.js';

export interface EventHeader {
  type: number;
  /** Record size in bytes. */
  size: number;
  /** CLOCK_BOOTTIME nanoseconds (add ReadyEvent.realtimeOffsetNs for wall-clock time). */
  tsNs: bigint;
  /** cgroup v2 id of the task that produced the event. */
  cgroupId: bigint;
  /** Thread id, host pid namespace. */
  pid: number;
  /** Process id, host pid namespace. */
  tgid: number;
}

/** Identity of a file as the kernel saw it (dev in the kernel's MAJOR<<20|MINOR encoding). */
export interface FileIdentity {
  dev: number;
  ino: bigint;
  size: bigint;
  mtimeSec: bigint;
  mtimeNsec: number;
  ctimeSec: bigint;
  ctimeNsec: number;
  mode: number;
}

export interface CgroupEventData {
  kind: 'cgroup-mkdir' | 'cgroup-rmdir';
  header: EventHeader;
  id: bigint;
  level: number;
  generation: number;
  flags: number;
  /** Path below the cgroup v2 root, e.g. /docker/buildkit/<id>. */
  path: string;
  /** Added by prefix match (false: inherited from a traced parent). */
  auto: boolean;
  /** The traced map was full: this cgroup is NOT traced. */
  notTraced: boolean;
  pathTruncated: boolean;
}

export interface ExecEventData {
  kind: 'exec';
  header: EventHeader;
  ppid: number;
  oldPid: number;
  uid: number;
  gid: number;
  flags: number;
  argc: number;
  startBoottimeNs: bigint;
  /** The file that runs (for a #! script: its interpreter). */
  exe: FileIdentity;
  /** The path given to execve (for a #! script: the script). */
  filename: string;
  /** The interpreter path of a #! script (or binfmt_misc), else undefined. */
  interp: string | undefined;
  /** Path of the file that runs, below the task's root. */
  exePath: string;
  /** Working directory, below the task's root. */
  cwd: string;
  argv: string[];
  argvTruncated: boolean;
  script: boolean;
  /** The task was stopped until the loader hashed it; a digest event follows. */
  needsDigest: boolean;
  /** A digest was needed but the task was not stopped (loader late): it may be missing. */
  digestSkipped: boolean;
  /** Another probe (a concurrent traced build) stopped it; its loader shares the digests. */
  digestByPeer: boolean;
  /** The task's exec counter: (tgid, startBoottimeNs, execId) names this exec on the host. */
  execId: bigint;
}

export interface ForkEventData {
  kind: 'fork';
  header: EventHeader;
  childPid: number;
  childTgid: number;
  childStartBoottimeNs: bigint;
}

export interface ExitEventData {
  kind: 'exit';
  header: EventHeader;
  /** Raw wait status. */
  waitStatus: number;
  /** Exit status when the process exited normally, else undefined. */
  exitCode: number | undefined;
  /** Terminating signal when killed, else undefined. */
  signal: number | undefined;
  coreDumped: boolean;
  startBoottimeNs: bigint;
  utimeNs: bigint;
  stimeNs: bigint;
  runtimeNs: bigint;
  maxRssKiB: bigint;
}

export type FileOpName =
  | 'open'
  | 'unlink'
  | 'rmdir'
  | 'rename'
  | 'mkdir'
  | 'link'
  | 'symlink'
  | 'truncate'
  | 'chmod'
  | 'chown';

export type SyscallName = keyof typeof Syscall;

export interface FileEventData {
  kind: 'file';
  header: EventHeader;
  op: FileOpName | `op-${number}`;
  syscall: SyscallName | `syscall-${number}`;
  ret: bigint;
  /** The syscall's flags argument (open flags, AT_*, RENAME_*). */
  flags: number;
  mode: number;
  dirfd1: number;
  dirfd2: number;
  uid: number;
  gid: number;
  length: bigint;
  result: number;
  /** open created the file. */
  created: boolean;
  /** Arguments as given. For symlink, path1 is the link's text and path2 the link. */
  path1: string;
  path2: string;
  /** Directory context of a relative path1 / path2 (cwd or dirfd's path). */
  dir1: string;
  dir2: string;
  /** open: the file actually opened; f* calls: the fd's path. */
  resolved: string;
  /** path1 made absolute (lexically) below the task's root; undefined if unknown. */
  absPath1: string | undefined;
  absPath2: string | undefined;
  truncated: boolean;
}

/** What a file event says about the files (FileEventData has it all; fileChangeAt reads
 * only this, straight from a record). */
export type FileChange = Pick<
  FileEventData,
  'op' | 'flags' | 'mode' | 'uid' | 'gid' | 'result' | 'created' | 'path1' | 'path2' | 'resolved' | 'absPath1' | 'absPath2' | 'truncated'
>;

export interface NetEventData {
  kind: 'net';
  header: EventHeader;
  op: 'connect' | 'sendto' | 'sendmsg' | 'bind' | 'listen' | `op-${number}`;
  syscall: SyscallName | `syscall-${number}`;
  ret: bigint;
  fd: number;
  family: 'inet' | 'inet6' | 'unix' | `family-${number}`;
  /** Dotted IPv4, IPv6 text, or the unix socket path ('@name' for an abstract one). */
  address: string;
  port: number;
  sockType: number;
  protocol: 'tcp' | 'udp' | `proto-${number}`;
  /** address/port are the socket's local address (listen). */
  local: boolean;
}

export interface ReadyEventData {
  kind: 'ready';
  header: EventHeader;
  abiVersion: number;
  ncpus: number;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, ns: wall clock = tsNs + realtimeOffsetNs. */
  realtimeOffsetNs: bigint;
  ringbufBytes: bigint;
  digests: boolean;
  traceReads: boolean;
  loaderPid: number;
}

export interface DigestEventData {
  kind: 'digest';
  /** Copied from the exec it belongs to: (header.tgid, header.tsNs) names that exec. */
  header: EventHeader;
  digestKind: 'exe' | 'script' | `kind-${number}`;
  /** 0, or the errno that prevented hashing. */
  error: number;
  /** Lowercase hex, undefined when error != 0. */
  sha256: string | undefined;
  bytes: bigint;
  fromCache: boolean;
  identityMismatch: boolean;
  wasStopped: boolean;
  /** Hashed by the loader of the probe that stopped the exec (a concurrent traced build). */
  fromPeer: boolean;
  file: FileIdentity;
}

/** Cumulative loss counters (since the probe started). */
export interface LossCounters {
  /** Events lost because the ring buffer was full, per kernel event kind. */
  ringbuf: Record<'cgroup-mkdir' | 'cgroup-rmdir' | 'exec' | 'fork' | 'exit' | 'file' | 'net', bigint>;
  ringbufTotal: bigint;
  /** Syscall entries that could not be remembered (ABI 1; since the probe reads syscalls at
   * their exit only, always 0). */
  pendingFull: bigint;
  /** Cgroups that should have been traced but did not fit the traced map. */
  tracedFull: bigint;
  scratchBusy: bigint;
  /** Execs not stopped for hashing (the loader's heartbeat was stale). */
  digestSkipped: bigint;
  signalFailed: bigint;
  /** Digests the loader could not compute. */
  digestFailed: bigint;
  /** Repeated UDP sends to a known destination, reported once (not a loss). */
  netSuppressed: bigint;
  /** Records the loader could not write. */
  output: bigint;
  /** Syscalls whose arguments the probe could not read (user memory fault; an arm64
   * 32-bit task): their events are lost. */
  argsUnread: bigint;
}

export interface LossEventData {
  kind: 'loss';
  header: EventHeader;
  counters: LossCounters;
  /** Raw slots, indexed by abi.Loss. */
  raw: bigint[];
}

export interface AckEventData {
  kind: 'ack';
  header: EventHeader;
  seq: number;
  error: number;
  value: bigint;
}

export interface UnknownEventData {
  kind: 'unknown';
  /** The header when the record was long enough to hold one. */
  header: EventHeader | undefined;
  type: number;
  reason: 'unknown-type' | 'short-record' | 'bad-size' | 'bad-strings';
  raw: Buffer;
}

export type TraceEvent =
  | CgroupEventData
  | ExecEventData
  | ForkEventData
  | ExitEventData
  | FileEventData
  | NetEventData
  | ReadyEventData
  | DigestEventData
  | LossEventData
  | AckEventData
  | UnknownEventData;

// ---- field access ----------------------------------------------------------------------
//
// Every record is decoded in place, at `base` in the buffer that holds it (a chunk of the
// loader's output): no view, reader or layout lookup per record, the offsets are
// constants. This runs ~90 000 times in a busy build, on the CPU the build also needs.

const H_TYPE = Header.fields.type.offset;
const H_SIZE = Header.fields.size.offset;
const H_TS = Header.fields.ts_ns.offset;
const H_CGROUP = Header.fields.cgroup_id.offset;
const H_PID = Header.fields.pid.offset;
const H_TGID = Header.fields.tgid.offset;

function decodeHeader(buf: Buffer, base: number): EventHeader {
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

function decodeFileId(buf: Buffer, at: number): FileIdentity {
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

/** The string of `len` bytes at `at`; '' when empty (no decoder call). */
function str(buf: Buffer, at: number, len: number): string {
  return len === 0 ? '' : buf.toString('utf8', at, at + len);
}

/** Lexically absolute path of `p` relative to `dir` (both below the task's root). */
export function absolutePath(p: string, dir: string): string | undefined {
  if (p.startsWith('/')) return posix.normalize(p);
  if (!dir) return undefined;
  const joined = posix.normalize(`${dir}/${p}`);
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

/** Syscall names by number (this runs per event). */
const SYSCALL_NAMES: ReadonlyArray<SyscallName | undefined> = (() => {
  const out: Array<SyscallName | undefined> = [];
  for (const [k, n] of Object.entries(Syscall) as Array<[SyscallName, number]>) if (out[n] === undefined) out[n] = k;
  return out;
})();

function syscallName(n: number): SyscallName | `syscall-${number}` {
  return SYSCALL_NAMES[n] ?? `syscall-${n}`;
}

const FILE_OPS: Record<number, FileOpName> = {
  [FileOp.Open]: 'open',
  [FileOp.Unlink]: 'unlink',
  [FileOp.Rmdir]: 'rmdir',
  [FileOp.Rename]: 'rename',
  [FileOp.Mkdir]: 'mkdir',
  [FileOp.Link]: 'link',
  [FileOp.Symlink]: 'symlink',
  [FileOp.Truncate]: 'truncate',
  [FileOp.Chmod]: 'chmod',
  [FileOp.Chown]: 'chown',
};

const NET_OPS: Record<number, NetEventData['op']> = {
  [NetOp.Connect]: 'connect',
  [NetOp.Sendto]: 'sendto',
  [NetOp.Sendmsg]: 'sendmsg',
  [NetOp.Bind]: 'bind',
  [NetOp.Listen]: 'listen',
};

function formatIPv6(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // the longest run (>= 2) of zero groups becomes '::'
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function emptyCounters(): LossCounters {
  return {
    ringbuf: { 'cgroup-mkdir': 0n, 'cgroup-rmdir': 0n, exec: 0n, fork: 0n, exit: 0n, file: 0n, net: 0n },
    ringbufTotal: 0n,
    pendingFull: 0n,
    tracedFull: 0n,
    scratchBusy: 0n,
    digestSkipped: 0n,
    signalFailed: 0n,
    digestFailed: 0n,
    netSuppressed: 0n,
    output: 0n,
    argsUnread: 0n,
  };
}

export function lossCountersFromSlots(raw: readonly bigint[]): LossCounters {
  const c = emptyCounters();
  const at = (i: number): bigint => raw[i] ?? 0n;
  const kinds = ['cgroup-mkdir', 'cgroup-rmdir', 'exec', 'fork', 'exit', 'file', 'net'] as const;
  kinds.forEach((k, i) => {
    c.ringbuf[k] = at(Loss.RingbufFirst + i);
    c.ringbufTotal += c.ringbuf[k];
  });
  c.pendingFull = at(Loss.PendingFull);
  c.tracedFull = at(Loss.TracedFull);
  c.scratchBusy = at(Loss.ScratchBusy);
  c.digestSkipped = at(Loss.DigestSkipped);
  c.signalFailed = at(Loss.SignalFailed);
  c.digestFailed = at(Loss.DigestFailed);
  c.netSuppressed = at(Loss.NetSuppressed);
  c.output = at(Loss.Output);
  c.argsUnread = at(Loss.ArgsUnread);
  return c;
}

/** Events lost for good (everything but netSuppressed, which only folds repeats). */
export function totalLost(c: LossCounters): bigint {
  return c.ringbufTotal + c.pendingFull + c.tracedFull + c.scratchBusy + c.digestSkipped +
    c.signalFailed + c.digestFailed + c.output + c.argsUnread;
}

// ---- decoders, keyed by event type -----------------------------------------------------

/** Decodes the record at `base` (its header already read); a string names why it is malformed. */
type Decoder = (buf: Buffer, base: number, header: EventHeader) => TraceEvent | UnknownEventData['reason'];

const CG = CgroupEvent.fields;

function decodeCgroup(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const len = buf.readUInt16LE(base + CG.path_len.offset);
  if (CgroupEvent.size + len > header.size) return 'bad-strings';
  const flags = buf.readUInt32LE(base + CG.flags.offset);
  return {
    kind: header.type === EventType.CgroupMkdir ? 'cgroup-mkdir' : 'cgroup-rmdir',
    header,
    id: buf.readBigUInt64LE(base + CG.id.offset),
    level: buf.readUInt32LE(base + CG.level.offset),
    generation: buf.readUInt32LE(base + CG.generation.offset),
    flags,
    path: str(buf, base + CgroupEvent.size, len),
    auto: (flags & CgroupFlag.Auto) !== 0,
    notTraced: (flags & CgroupFlag.MapFull) !== 0,
    pathTruncated: (flags & CgroupFlag.PathTrunc) !== 0,
  };
}

const EX = ExecEvent.fields;

/** argv as on the new stack: NUL-terminated strings, an empty one kept (`echo "" x`). */
function splitArgv(buf: Buffer, at: number, len: number): string[] {
  const argv: string[] = [];
  const end = at + len;
  let from = at;
  for (let i = at; i < end; i++) {
    if (buf[i] === 0) {
      argv.push(str(buf, from, i - from));
      from = i + 1;
    }
  }
  if (from < end) argv.push(str(buf, from, end - from)); // truncated: the last one unterminated
  return argv;
}

function decodeExec(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const filenameLen = buf.readUInt16LE(base + EX.filename_len.offset);
  const interpLen = buf.readUInt16LE(base + EX.interp_len.offset);
  const exePathLen = buf.readUInt16LE(base + EX.exe_path_len.offset);
  const cwdLen = buf.readUInt16LE(base + EX.cwd_len.offset);
  const argvLen = buf.readUInt16LE(base + EX.argv_len.offset);
  if (ExecEvent.size + filenameLen + interpLen + exePathLen + cwdLen + argvLen > header.size) return 'bad-strings';
  let at = base + ExecEvent.size;
  const filename = str(buf, at, filenameLen);
  at += filenameLen;
  const interp = str(buf, at, interpLen);
  at += interpLen;
  const exePath = str(buf, at, exePathLen);
  at += exePathLen;
  const cwd = str(buf, at, cwdLen);
  at += cwdLen;
  const flags = buf.readUInt32LE(base + EX.flags.offset);
  return {
    kind: 'exec',
    header,
    ppid: buf.readUInt32LE(base + EX.ppid.offset),
    oldPid: buf.readUInt32LE(base + EX.old_pid.offset),
    uid: buf.readUInt32LE(base + EX.uid.offset),
    gid: buf.readUInt32LE(base + EX.gid.offset),
    flags,
    argc: buf.readUInt32LE(base + EX.argc.offset),
    startBoottimeNs: buf.readBigUInt64LE(base + EX.start_boottime_ns.offset),
    exe: decodeFileId(buf, base + EX.exe.offset),
    filename,
    interp: (flags & ExecFlag.Script) !== 0 ? interp : undefined,
    exePath,
    cwd,
    argv: splitArgv(buf, at, argvLen),
    argvTruncated: (flags & ExecFlag.ArgvTrunc) !== 0,
    script: (flags & ExecFlag.Script) !== 0,
    needsDigest: (flags & ExecFlag.NeedsDigest) !== 0,
    digestSkipped: (flags & ExecFlag.DigestSkipped) !== 0,
    digestByPeer: (flags & ExecFlag.DigestByPeer) !== 0,
    execId: buf.readBigUInt64LE(base + EX.exec_id.offset),
  };
}

const FK = ForkEvent.fields;

function decodeFork(buf: Buffer, base: number, header: EventHeader): TraceEvent {
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
 * undecoded exit record by exitInfoAt). */
export interface ExitInfo {
  tsNs: bigint;
  startBoottimeNs: bigint;
  exitCode: number | undefined;
  signal: number | undefined;
  utimeNs: bigint;
  stimeNs: bigint;
  maxRssKiB: bigint;
}

function exitCodeOf(status: number): number | undefined {
  return (status & 0x7f) === 0 ? (status >> 8) & 0xff : undefined;
}

function signalOf(status: number): number | undefined {
  return (status & 0x7f) !== 0 ? status & 0x7f : undefined;
}

export function exitInfo(ev: ExitEventData): ExitInfo {
  return {
    tsNs: ev.header.tsNs,
    startBoottimeNs: ev.startBoottimeNs,
    exitCode: ev.exitCode,
    signal: ev.signal,
    utimeNs: ev.utimeNs,
    stimeNs: ev.stimeNs,
    maxRssKiB: ev.maxRssKiB,
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
    utimeNs: buf.readBigUInt64LE(base + XT.utime_ns.offset),
    stimeNs: buf.readBigUInt64LE(base + XT.stime_ns.offset),
    maxRssKiB: buf.readBigUInt64LE(base + XT.maxrss_kib.offset),
  };
}

function decodeExit(buf: Buffer, base: number, header: EventHeader): TraceEvent {
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

const FE = FileEvent.fields;
const FILE_TRUNC_MASK = FileResult.Path1Trunc | FileResult.Path2Trunc | FileResult.Dir1Trunc |
  FileResult.Dir2Trunc | FileResult.ResolvedTrunc;

/** The bytes of a file record's five strings (path1, path2, dir1, dir2, resolved, in that
 * order after its fixed part). */
function fileStringsLength(buf: Buffer, base: number): number {
  return buf.readUInt16LE(base + FE.path1_len.offset) + buf.readUInt16LE(base + FE.path2_len.offset) +
    buf.readUInt16LE(base + FE.dir1_len.offset) + buf.readUInt16LE(base + FE.dir2_len.offset) +
    buf.readUInt16LE(base + FE.resolved_len.offset);
}

function decodeFile(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  if (FileEvent.size + fileStringsLength(buf, base) > header.size) return 'bad-strings';
  const { change, dir1, dir2 } = readFileRecord(buf, base);
  return {
    kind: 'file',
    header,
    ...change,
    syscall: syscallName(buf.readUInt32LE(base + FE.syscall.offset)),
    ret: buf.readBigInt64LE(base + FE.ret.offset),
    dirfd1: buf.readInt32LE(base + FE.dirfd1.offset),
    dirfd2: buf.readInt32LE(base + FE.dirfd2.offset),
    length: buf.readBigInt64LE(base + FE.length.offset),
    dir1,
    dir2,
  };
}

/** The FileChange of a valid file record (see recordIsValid), without the event around it:
 * what decodeFile reads, by the same code. */
export function fileChangeAt(buf: Buffer, base: number): FileChange {
  return readFileRecord(buf, base).change;
}

function readFileRecord(buf: Buffer, base: number): { change: FileChange; dir1: string; dir2: string } {
  const path1Len = buf.readUInt16LE(base + FE.path1_len.offset);
  const path2Len = buf.readUInt16LE(base + FE.path2_len.offset);
  const dir1Len = buf.readUInt16LE(base + FE.dir1_len.offset);
  const dir2Len = buf.readUInt16LE(base + FE.dir2_len.offset);
  const resolvedLen = buf.readUInt16LE(base + FE.resolved_len.offset);
  let at = base + FileEvent.size;
  const path1 = str(buf, at, path1Len);
  at += path1Len;
  const path2 = str(buf, at, path2Len);
  at += path2Len;
  const dir1 = str(buf, at, dir1Len);
  at += dir1Len;
  const dir2 = str(buf, at, dir2Len);
  at += dir2Len;
  const resolved = str(buf, at, resolvedLen);
  const opNum = buf.readUInt32LE(base + FE.op.offset);
  const op = FILE_OPS[opNum] ?? (`op-${opNum}` as const);
  const result = buf.readUInt32LE(base + FE.result.offset);
  const change: FileChange = {
    op,
    flags: buf.readUInt32LE(base + FE.flags.offset),
    mode: buf.readUInt32LE(base + FE.mode.offset),
    uid: buf.readUInt32LE(base + FE.uid.offset),
    gid: buf.readUInt32LE(base + FE.gid.offset),
    result,
    created: (result & FileResult.Created) !== 0,
    path1,
    path2,
    resolved,
    // the symlink text is not a path to resolve; f* calls have only `resolved`
    absPath1: op === 'symlink' ? undefined : path1 || dir1 ? absolutePath(path1, dir1) : resolved || undefined,
    absPath2: path2 ? absolutePath(path2, dir2) : undefined,
    truncated: (result & FILE_TRUNC_MASK) !== 0,
  };
  return { change, dir1, dir2 };
}

const NE = NetEvent.fields;

function decodeNet(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const unixLen = buf.readUInt16LE(base + NE.unix_path_len.offset);
  if (NetEvent.size + unixLen > header.size) return 'bad-strings';
  const fam = buf.readUInt16LE(base + NE.family.offset);
  const flags = buf.readUInt32LE(base + NE.flags.offset);
  const a = base + NE.addr.offset;
  let family: NetEventData['family'];
  let address: string;
  if (fam === 2) {
    family = 'inet';
    address = `${buf[a]}.${buf[a + 1]}.${buf[a + 2]}.${buf[a + 3]}`;
  } else if (fam === 10) {
    family = 'inet6';
    address = formatIPv6(buf.subarray(a, a + NE.addr.size));
  } else if (fam === 1) {
    family = 'unix';
    address = (flags & NetFlag.UnixAbstract ? '@' : '') + str(buf, base + NetEvent.size, unixLen);
  } else {
    family = `family-${fam}`;
    address = '';
  }
  const proto = buf.readUInt16LE(base + NE.protocol.offset);
  const opNum = buf.readUInt32LE(base + NE.op.offset);
  return {
    kind: 'net',
    header,
    op: NET_OPS[opNum] ?? `op-${opNum}`,
    syscall: syscallName(buf.readUInt32LE(base + NE.syscall.offset)),
    ret: buf.readBigInt64LE(base + NE.ret.offset),
    fd: buf.readInt32LE(base + NE.fd.offset),
    family,
    address,
    port: buf.readUInt16LE(base + NE.port.offset),
    sockType: buf.readUInt16LE(base + NE.sock_type.offset),
    protocol: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : `proto-${proto}`,
    local: (flags & NetFlag.Local) !== 0,
  };
}

const RD = ReadyEvent.fields;

function decodeReady(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const flags = buf.readUInt32LE(base + RD.flags.offset);
  return {
    kind: 'ready',
    header,
    abiVersion: buf.readUInt32LE(base + RD.abi_version.offset),
    ncpus: buf.readUInt32LE(base + RD.ncpus.offset),
    realtimeOffsetNs: buf.readBigInt64LE(base + RD.realtime_offset_ns.offset),
    ringbufBytes: buf.readBigUInt64LE(base + RD.ringbuf_bytes.offset),
    digests: (flags & ReadyFlag.Digests) !== 0,
    traceReads: (flags & ReadyFlag.TraceReads) !== 0,
    loaderPid: buf.readUInt32LE(base + RD.loader_pid.offset),
  };
}

const DG = DigestEvent.fields;

function decodeDigest(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const kind = buf.readUInt32LE(base + DG.kind.offset);
  const error = buf.readInt32LE(base + DG.error.offset);
  const flags = buf.readUInt32LE(base + DG.flags.offset);
  const sha = base + DG.sha256.offset;
  return {
    kind: 'digest',
    header,
    digestKind: kind === DigestKind.Exe ? 'exe' : kind === DigestKind.Script ? 'script' : `kind-${kind}`,
    error,
    sha256: error === 0 ? buf.toString('hex', sha, sha + DG.sha256.size) : undefined,
    bytes: buf.readBigUInt64LE(base + DG.bytes.offset),
    fromCache: (flags & DigestFlag.FromCache) !== 0,
    identityMismatch: (flags & DigestFlag.IdentityMismatch) !== 0,
    wasStopped: (flags & DigestFlag.WasStopped) !== 0,
    fromPeer: (flags & DigestFlag.FromPeer) !== 0,
    file: decodeFileId(buf, base + DG.file.offset),
  };
}

function decodeLoss(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const raw: bigint[] = [];
  for (let i = 0; i < Loss.Max; i++) raw.push(buf.readBigUInt64LE(base + LossEvent.fields.counters.offset + 8 * i));
  return { kind: 'loss', header, counters: lossCountersFromSlots(raw), raw };
}

const AK = AckEvent.fields;

function decodeAck(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  return {
    kind: 'ack',
    header,
    seq: buf.readUInt32LE(base + AK.seq.offset),
    error: buf.readInt32LE(base + AK.error.offset),
    value: buf.readBigUInt64LE(base + AK.value.offset),
  };
}

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
]);

/** Decodes one record (without its length prefix). Never throws. */
export function decodeRecord(record: Buffer): TraceEvent {
  return decodeAt(record, 0, record.length);
}

/** Decodes the record of `len` bytes at `base` in `buf`. The event keeps no reference to
 * `buf`, except an unknown record's `raw` (a view: copy it if `buf` is reused). */
function decodeAt(buf: Buffer, base: number, len: number): TraceEvent {
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

/** Kinds whose records may be handed over undecoded (RecordStream.pushRecords): ~90% of a
 * build's records, and nothing the probe itself reads. */
export const LAZY_TYPES: ReadonlySet<number> = new Set([EventType.File, EventType.Fork, EventType.Exit]);

/** Would decodeAt give a file, fork or exit event (not an unknown one) for this record? */
export function recordIsValid(buf: Buffer, base: number, len: number, type: number): boolean {
  if (len < Header.size || buf.readUInt32LE(base + H_SIZE) !== len) return false;
  const d = DECODERS.get(type);
  if (!d || len < d.minSize) return false;
  if (type !== EventType.File) return true;
  return FileEvent.size + fileStringsLength(buf, base) <= len;
}

/** Offsets of the header and fork fields the correlator reads from undecoded records. */
export const RAW = {
  type: H_TYPE,
  tsNs: H_TS,
  cgroupId: H_CGROUP,
  tgid: H_TGID,
  forkChildTgid: FK.child_tgid.offset,
  forkChildStart: FK.child_start_boottime_ns.offset,
} as const;

function unknownRecord(record: Buffer, header: EventHeader, reason: UnknownEventData['reason']): UnknownEventData {
  return { kind: 'unknown', header, type: header.type, reason, raw: record };
}

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
   * LAZY_TYPES come undecoded (`ev` undefined). Returns the number of records. When `fn`
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

