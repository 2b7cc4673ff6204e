// The events the probe's records decode to (see bpf/events.h and its mirror abi.ts): one
// interface per kind, and TraceEvent, their union. Types only.
import type { Syscall } from '../abi.js';
import type { LossCounters } from './losses.js';

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
  /** The digests the loader appended to the record (TB_EXEC_DIGESTS): the exe's, then a
   * script's. Absent when they come as digest records of their own (from a concurrent
   * probe's loader, later). */
  digests?: DigestEventData[];
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

/** A process, from its fork to its exit: the loader's one record for both (TB_EV_PROC). */
export interface ProcessEventData {
  kind: 'process';
  /** The exit's header (`exited`), else the fork's time and cgroup with the child's pid. */
  header: EventHeader;
  startBoottimeNs: bigint;
  /** It exec'd in a traced cgroup (its images are exec records of their own). */
  execed: boolean;
  /** The fork, when a traced process forked it: the parent's header and the child's pid. */
  fork: { tsNs: bigint; cgroupId: bigint; ppid: number; parentPid: number; childPid: number } | undefined;
  /** The exec whose image it ran when forked (for a process that never execs: its argv
   * and exe), when known: (tgid, startBoottimeNs, execId) of that exec. */
  image: { tgid: number; startBoottimeNs: bigint; execId: bigint } | undefined;
  /** How it ended, when seen (else it still ran when the probe stopped, or its exit was lost). */
  exit: Omit<ExitEventData, 'kind' | 'header' | 'startBoottimeNs'> | undefined;
}

/** File, net and process records of one cgroup packed by the loader (TB_EV_BATCH).
 * RecordStream never delivers one: it hands over the records it holds, one by one, or the
 * batch undecoded. */
export interface BatchEventData {
  kind: 'batch';
  header: EventHeader;
  events: Array<FileEventData | NetEventData | ProcessEventData>;
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
  /** Refused by the egress rule of this index (build --enforce); the process was killed. */
  deniedRule?: number;
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
  | ProcessEventData
  | BatchEventData
  | FileEventData
  | NetEventData
  | ReadyEventData
  | DigestEventData
  | LossEventData
  | AckEventData
  | UnknownEventData;
