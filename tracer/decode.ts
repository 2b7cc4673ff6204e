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
  KERNEL_EVENT_MAX,
  Loss,
  LossEvent,
  NetEvent,
  NetFlag,
  NetOp,
  ReadyEvent,
  ReadyFlag,
  Syscall,
  type StructLayout,
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
  file: FileIdentity;
}

/** Cumulative loss counters (since the probe started). */
export interface LossCounters {
  /** Events lost because the ring buffer was full, per kernel event kind. */
  ringbuf: Record<'cgroup-mkdir' | 'cgroup-rmdir' | 'exec' | 'fork' | 'exit' | 'file' | 'net', bigint>;
  ringbufTotal: bigint;
  /** Syscall entries that could not be remembered (their events are lost). */
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

type Reader<F extends string> = {
  u16(f: F): number;
  u32(f: F): number;
  s32(f: F): number;
  u64(f: F): bigint;
  s64(f: F): bigint;
  bytes(f: F): Buffer;
};

/** One object per record and struct (methods on the prototype): this runs for every event. */
class StructReader<F extends string> implements Reader<F> {
  constructor(
    private readonly buf: Buffer,
    private readonly l: StructLayout<F>,
    private readonly base: number,
  ) {}
  private o(f: F): number {
    return this.base + this.l.fields[f].offset;
  }
  u16(f: F): number {
    return this.buf.readUInt16LE(this.o(f));
  }
  u32(f: F): number {
    return this.buf.readUInt32LE(this.o(f));
  }
  s32(f: F): number {
    return this.buf.readInt32LE(this.o(f));
  }
  u64(f: F): bigint {
    return this.buf.readBigUInt64LE(this.o(f));
  }
  s64(f: F): bigint {
    return this.buf.readBigInt64LE(this.o(f));
  }
  bytes(f: F): Buffer {
    return this.buf.subarray(this.o(f), this.o(f) + this.l.fields[f].size);
  }
}

function reader<F extends string>(buf: Buffer, l: StructLayout<F>, base = 0): Reader<F> {
  return new StructReader(buf, l, base);
}

function decodeHeader(buf: Buffer): EventHeader {
  const r = reader(buf, Header);
  return {
    type: r.u32('type'),
    size: r.u32('size'),
    tsNs: r.u64('ts_ns'),
    cgroupId: r.u64('cgroup_id'),
    pid: r.u32('pid'),
    tgid: r.u32('tgid'),
  };
}

function decodeFileId(buf: Buffer, base: number): FileIdentity {
  const r = reader(buf, FileId, base);
  return {
    dev: r.u32('dev'),
    ino: r.u64('ino'),
    size: r.u64('size'),
    mtimeSec: r.s64('mtime_sec'),
    mtimeNsec: r.u32('mtime_nsec'),
    ctimeSec: r.s64('ctime_sec'),
    ctimeNsec: r.u32('ctime_nsec'),
    mode: r.u32('mode'),
  };
}

/** Consecutive strings after a fixed struct; undefined when they overrun the record. */
function strings(buf: Buffer, start: number, lens: number[]): string[] | undefined {
  const out: string[] = [];
  let off = start;
  for (const len of lens) {
    if (off + len > buf.length) return undefined;
    out.push(buf.toString('utf8', off, off + len));
    off += len;
  }
  return out;
}

/** Lexically absolute path of `p` relative to `dir` (both below the task's root). */
export function absolutePath(p: string, dir: string): string | undefined {
  if (p.startsWith('/')) return posix.normalize(p);
  if (!dir) return undefined;
  const joined = posix.normalize(`${dir}/${p}`);
  return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
}

const reverseTables = new WeakMap<object, Map<number, string>>();

/** The name of `v` in `table` (value -> key, built once per table: this runs per event). */
function named<T extends string>(table: Readonly<Record<string, number>>, v: number, prefix: T): string {
  let reverse = reverseTables.get(table);
  if (reverse === undefined) {
    reverse = new Map();
    for (const [k, n] of Object.entries(table)) if (!reverse.has(n)) reverse.set(n, k);
    reverseTables.set(table, reverse);
  }
  return reverse.get(v) ?? `${prefix}-${v}`;
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
  return c;
}

/** Events lost for good (everything but netSuppressed, which only folds repeats). */
export function totalLost(c: LossCounters): bigint {
  return c.ringbufTotal + c.pendingFull + c.tracedFull + c.scratchBusy + c.digestSkipped +
    c.signalFailed + c.digestFailed + c.output;
}

// ---- decoders, keyed by event type -----------------------------------------------------

type Decoder = (buf: Buffer, header: EventHeader) => TraceEvent | UnknownEventData['reason'];

function decodeCgroup(buf: Buffer, header: EventHeader): TraceEvent | 'bad-strings' {
  const r = reader(buf, CgroupEvent);
  const s = strings(buf, CgroupEvent.size, [r.u16('path_len')]);
  if (!s) return 'bad-strings';
  const flags = r.u32('flags');
  return {
    kind: header.type === EventType.CgroupMkdir ? 'cgroup-mkdir' : 'cgroup-rmdir',
    header,
    id: r.u64('id'),
    level: r.u32('level'),
    generation: r.u32('generation'),
    flags,
    path: s[0] ?? '',
    auto: (flags & CgroupFlag.Auto) !== 0,
    notTraced: (flags & CgroupFlag.MapFull) !== 0,
    pathTruncated: (flags & CgroupFlag.PathTrunc) !== 0,
  };
}

function decodeExec(buf: Buffer, header: EventHeader): TraceEvent | 'bad-strings' {
  const r = reader(buf, ExecEvent);
  const s = strings(buf, ExecEvent.size, [
    r.u16('filename_len'),
    r.u16('interp_len'),
    r.u16('exe_path_len'),
    r.u16('cwd_len'),
    r.u16('argv_len'),
  ]);
  if (!s) return 'bad-strings';
  const [filename = '', interp = '', exePath = '', cwd = '', argvRaw = ''] = s;
  const flags = r.u32('flags');
  const argv = argvRaw.split('\0');
  if (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
  return {
    kind: 'exec',
    header,
    ppid: r.u32('ppid'),
    oldPid: r.u32('old_pid'),
    uid: r.u32('uid'),
    gid: r.u32('gid'),
    flags,
    argc: r.u32('argc'),
    startBoottimeNs: r.u64('start_boottime_ns'),
    exe: decodeFileId(buf, ExecEvent.fields.exe.offset),
    filename,
    interp: (flags & ExecFlag.Script) !== 0 ? interp : undefined,
    exePath,
    cwd,
    argv,
    argvTruncated: (flags & ExecFlag.ArgvTrunc) !== 0,
    script: (flags & ExecFlag.Script) !== 0,
    needsDigest: (flags & ExecFlag.NeedsDigest) !== 0,
    digestSkipped: (flags & ExecFlag.DigestSkipped) !== 0,
  };
}

function decodeFork(buf: Buffer, header: EventHeader): TraceEvent {
  const r = reader(buf, ForkEvent);
  return {
    kind: 'fork',
    header,
    childPid: r.u32('child_pid'),
    childTgid: r.u32('child_tgid'),
    childStartBoottimeNs: r.u64('child_start_boottime_ns'),
  };
}

function decodeExit(buf: Buffer, header: EventHeader): TraceEvent {
  const r = reader(buf, ExitEvent);
  const status = r.u32('exit_code');
  const sig = status & 0x7f;
  return {
    kind: 'exit',
    header,
    waitStatus: status,
    exitCode: sig === 0 ? (status >> 8) & 0xff : undefined,
    signal: sig !== 0 ? sig : undefined,
    coreDumped: (status & 0x80) !== 0,
    startBoottimeNs: r.u64('start_boottime_ns'),
    utimeNs: r.u64('utime_ns'),
    stimeNs: r.u64('stime_ns'),
    runtimeNs: r.u64('runtime_ns'),
    maxRssKiB: r.u64('maxrss_kib'),
  };
}

function decodeFile(buf: Buffer, header: EventHeader): TraceEvent | 'bad-strings' {
  const r = reader(buf, FileEvent);
  const s = strings(buf, FileEvent.size, [
    r.u16('path1_len'),
    r.u16('path2_len'),
    r.u16('dir1_len'),
    r.u16('dir2_len'),
    r.u16('resolved_len'),
  ]);
  if (!s) return 'bad-strings';
  const [path1 = '', path2 = '', dir1 = '', dir2 = '', resolved = ''] = s;
  const opNum = r.u32('op');
  const op = FILE_OPS[opNum] ?? (`op-${opNum}` as const);
  const result = r.u32('result');
  const truncMask = FileResult.Path1Trunc | FileResult.Path2Trunc | FileResult.Dir1Trunc |
    FileResult.Dir2Trunc | FileResult.ResolvedTrunc;
  return {
    kind: 'file',
    header,
    op,
    syscall: named(Syscall, r.u32('syscall'), 'syscall') as FileEventData['syscall'],
    ret: r.s64('ret'),
    flags: r.u32('flags'),
    mode: r.u32('mode'),
    dirfd1: r.s32('dirfd1'),
    dirfd2: r.s32('dirfd2'),
    uid: r.u32('uid'),
    gid: r.u32('gid'),
    length: r.s64('length'),
    result,
    created: (result & FileResult.Created) !== 0,
    path1,
    path2,
    dir1,
    dir2,
    resolved,
    // the symlink text is not a path to resolve; f* calls have only `resolved`
    absPath1: op === 'symlink' ? undefined : path1 || dir1 ? absolutePath(path1, dir1) : resolved || undefined,
    absPath2: path2 ? absolutePath(path2, dir2) : undefined,
    truncated: (result & truncMask) !== 0,
  };
}

function decodeNet(buf: Buffer, header: EventHeader): TraceEvent | 'bad-strings' {
  const r = reader(buf, NetEvent);
  const s = strings(buf, NetEvent.size, [r.u16('unix_path_len')]);
  if (!s) return 'bad-strings';
  const fam = r.u16('family');
  const flags = r.u32('flags');
  const addr = r.bytes('addr');
  let family: NetEventData['family'];
  let address: string;
  if (fam === 2) {
    family = 'inet';
    address = `${addr[0]}.${addr[1]}.${addr[2]}.${addr[3]}`;
  } else if (fam === 10) {
    family = 'inet6';
    address = formatIPv6(addr);
  } else if (fam === 1) {
    family = 'unix';
    address = (flags & NetFlag.UnixAbstract ? '@' : '') + (s[0] ?? '');
  } else {
    family = `family-${fam}`;
    address = '';
  }
  const proto = r.u16('protocol');
  const opNum = r.u32('op');
  return {
    kind: 'net',
    header,
    op: NET_OPS[opNum] ?? `op-${opNum}`,
    syscall: named(Syscall, r.u32('syscall'), 'syscall') as NetEventData['syscall'],
    ret: r.s64('ret'),
    fd: r.s32('fd'),
    family,
    address,
    port: r.u16('port'),
    sockType: r.u16('sock_type'),
    protocol: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : `proto-${proto}`,
    local: (flags & NetFlag.Local) !== 0,
  };
}

function decodeReady(buf: Buffer, header: EventHeader): TraceEvent {
  const r = reader(buf, ReadyEvent);
  const flags = r.u32('flags');
  return {
    kind: 'ready',
    header,
    abiVersion: r.u32('abi_version'),
    ncpus: r.u32('ncpus'),
    realtimeOffsetNs: r.s64('realtime_offset_ns'),
    ringbufBytes: r.u64('ringbuf_bytes'),
    digests: (flags & ReadyFlag.Digests) !== 0,
    traceReads: (flags & ReadyFlag.TraceReads) !== 0,
    loaderPid: r.u32('loader_pid'),
  };
}

function decodeDigest(buf: Buffer, header: EventHeader): TraceEvent {
  const r = reader(buf, DigestEvent);
  const kind = r.u32('kind');
  const error = r.s32('error');
  const flags = r.u32('flags');
  return {
    kind: 'digest',
    header,
    digestKind: kind === DigestKind.Exe ? 'exe' : kind === DigestKind.Script ? 'script' : `kind-${kind}`,
    error,
    sha256: error === 0 ? r.bytes('sha256').toString('hex') : undefined,
    bytes: r.u64('bytes'),
    fromCache: (flags & DigestFlag.FromCache) !== 0,
    identityMismatch: (flags & DigestFlag.IdentityMismatch) !== 0,
    wasStopped: (flags & DigestFlag.WasStopped) !== 0,
    file: decodeFileId(buf, DigestEvent.fields.file.offset),
  };
}

function decodeLoss(buf: Buffer, header: EventHeader): TraceEvent {
  const raw: bigint[] = [];
  for (let i = 0; i < Loss.Max; i++) raw.push(buf.readBigUInt64LE(LossEvent.fields.counters.offset + 8 * i));
  return { kind: 'loss', header, counters: lossCountersFromSlots(raw), raw };
}

function decodeAck(buf: Buffer, header: EventHeader): TraceEvent {
  const r = reader(buf, AckEvent);
  return { kind: 'ack', header, seq: r.u32('seq'), error: r.s32('error'), value: r.u64('value') };
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
  if (record.length < Header.size) {
    return { kind: 'unknown', header: undefined, type: record.length >= 4 ? record.readUInt32LE(0) : -1, reason: 'short-record', raw: record };
  }
  const header = decodeHeader(record);
  if (header.size !== record.length) return unknownRecord(record, header, 'bad-size');
  const d = DECODERS.get(header.type);
  if (!d) return unknownRecord(record, header, 'unknown-type');
  if (record.length < d.minSize) return unknownRecord(record, header, 'short-record');
  const ev = d.decode(record, header);
  return typeof ev === 'string' ? unknownRecord(record, header, ev) : ev;
}

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
}

export function newDecodeStats(): DecodeStats {
  return { records: 0, bytes: 0, byType: new Map(), unknownType: 0, malformed: 0 };
}

/**
 * Splits the loader's byte stream (u32 little-endian length + record, repeated) into
 * decoded events, across arbitrary chunk boundaries.
 */
export class RecordStream {
  readonly stats: DecodeStats = newDecodeStats();
  private pending: Buffer = Buffer.alloc(0);

  /** Bytes received but not yet forming a whole record. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Buffer): TraceEvent[] {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: TraceEvent[] = [];
    let off = 0;
    while (off + 4 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (off + 4 + len > buf.length) break;
      // Decoded in place: events keep no reference to the record's bytes, except an
      // unknown record's raw bytes, which are copied (the chunk's memory may be reused).
      let ev = decodeRecord(buf.subarray(off + 4, off + 4 + len));
      if (ev.kind === 'unknown') ev = { ...ev, raw: Buffer.from(ev.raw) };
      off += 4 + len;
      this.count(ev, len);
      out.push(ev);
    }
    this.pending = Buffer.from(buf.subarray(off));
    return out;
  }

  private count(ev: TraceEvent, len: number): void {
    this.stats.records++;
    this.stats.bytes += 4 + len;
    const type = ev.kind === 'unknown' ? ev.type : ev.header.type;
    this.stats.byType.set(type, (this.stats.byType.get(type) ?? 0) + 1);
    if (ev.kind === 'unknown') {
      if (ev.reason === 'unknown-type') this.stats.unknownType++;
      else this.stats.malformed++;
    }
  }
}

/** Decodes a whole buffer of length-prefixed records; trailing partial bytes are reported. */
export function decodeStream(buf: Buffer): { events: TraceEvent[]; stats: DecodeStats; trailingBytes: number } {
  const s = new RecordStream();
  const events = s.push(buf);
  return { events, stats: s.stats, trailingBytes: s.buffered };
}

/** Kernel event kinds (for loss accounting by type). */
export const KERNEL_EVENT_TYPES: readonly number[] = Array.from({ length: KERNEL_EVENT_MAX - 1 }, (_, i) => i + 1);
