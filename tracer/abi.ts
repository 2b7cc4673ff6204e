// The TypeScript mirror of tracer/bpf/events.h, the kernel/userspace event ABI.
//
// THIS FILE MUST STAY IN SYNC WITH tracer/bpf/events.h. tracer/abi.test.ts compiles a C
// program against the header and checks every struct size, field offset and field size
// listed here, that the fields of each struct tile it exactly (so a field added in C and
// forgotten here fails), and every constant. Bump ABI_VERSION in both places on a change.

export const ABI_VERSION = 4;

/** Limits (bytes). */
export const PATH_MAX = 4096;
export const ARGV_MAX = 4096;
export const PREFIX_MAX = 64;
export const MAX_PREFIXES = 8;

/** enum tb_event_type */
export const EventType = {
  CgroupMkdir: 1,
  CgroupRmdir: 2,
  Exec: 3,
  Fork: 4,
  Exit: 5,
  File: 6,
  Net: 7,
  Ready: 100,
  Digest: 101,
  Loss: 102,
  Ack: 103,
  Proc: 104,
  Batch: 105,
} as const;
export const KERNEL_EVENT_MAX = 8;
export const LOADER_EVENT_FIRST = 100;

/** TB_CG_* */
export const CgroupFlag = { Auto: 0x1, Inherited: 0x2, PathTrunc: 0x4, MapFull: 0x8 } as const;

/** TB_EXEC_* */
export const ExecFlag = {
  ArgvTrunc: 0x1,
  FilenameTrunc: 0x2,
  InterpTrunc: 0x4,
  ExePathTrunc: 0x8,
  CwdTrunc: 0x10,
  Script: 0x20,
  NeedsDigest: 0x40,
  DigestSkipped: 0x80,
  ExePathUnreachable: 0x100,
  CwdUnreachable: 0x200,
  DigestByPeer: 0x400,
  DigestKnown: 0x800,
  Digests: 0x1000,
} as const;

/** enum tb_file_op */
export const FileOp = {
  Open: 1,
  Unlink: 2,
  Rmdir: 3,
  Rename: 4,
  Mkdir: 5,
  Link: 6,
  Symlink: 7,
  Truncate: 8,
  Chmod: 9,
  Chown: 10,
} as const;

/** enum tb_syscall */
export const Syscall = {
  open: 1,
  openat: 2,
  openat2: 3,
  creat: 4,
  unlink: 5,
  unlinkat: 6,
  rmdir: 7,
  rename: 8,
  renameat: 9,
  renameat2: 10,
  mkdir: 11,
  mkdirat: 12,
  link: 13,
  linkat: 14,
  symlink: 15,
  symlinkat: 16,
  truncate: 17,
  ftruncate: 18,
  chmod: 19,
  fchmod: 20,
  fchmodat: 21,
  fchmodat2: 22,
  chown: 23,
  lchown: 24,
  fchown: 25,
  fchownat: 26,
  connect: 27,
  sendto: 28,
  sendmsg: 29,
  bind: 30,
  listen: 31,
  sendmmsg: 35,
} as const;

/** TB_FILE_* (result flags of a file event) */
export const FileResult = {
  Created: 0x1,
  Path1Trunc: 0x2,
  Path2Trunc: 0x4,
  Dir1Trunc: 0x8,
  Dir2Trunc: 0x10,
  ResolvedTrunc: 0x20,
  DirUnreachable: 0x40,
  ResolvedUnreachable: 0x80,
} as const;
export const AT_FDCWD = -100;

/** enum tb_net_op */
export const NetOp = { Connect: 1, Sendto: 2, Sendmsg: 3, Bind: 4, Listen: 5 } as const;
/** TB_NET_* */
export const NetFlag = { Local: 0x1, UnixAbstract: 0x2, UnixPathTrunc: 0x4, Denied: 0x8 } as const;

/** TB_EGRESS_MAX, TB_EGRESS_RULES_MAX: what the egress programs hold (attest/enforce.ts
 * checks a policy against the same limits). */
export const EGRESS_MAX = 64;
export const EGRESS_RULES_MAX = 16;

/** TB_PROC_* (a process record's parts) */
export const ProcFlag = { Forked: 0x1, Exited: 0x2, Execed: 0x4, Image: 0x8 } as const;

/** TB_BATCH_MAX: the most bytes a batch record holds in all. */
export const BATCH_MAX = 64 << 10;

/** TB_READY_* */
export const ReadyFlag = { Digests: 0x1, TraceReads: 0x2 } as const;

/** enum tb_digest_kind */
export const DigestKind = { Exe: 1, Script: 2 } as const;
/** TB_DIGEST_* */
export const DigestFlag = { FromCache: 0x1, IdentityMismatch: 0x2, WasStopped: 0x4, FromPeer: 0x8 } as const;

/** enum tb_loss: slots of the loss counters. */
export const Loss = {
  RingbufFirst: 1, // + event type - 1
  PendingFull: 8,
  TracedFull: 9,
  ScratchBusy: 10,
  DigestSkipped: 11,
  SignalFailed: 12,
  DigestFailed: 13,
  NetSuppressed: 14,
  Output: 15,
  ArgsUnread: 16,
  Max: 17,
} as const;

/** Every constant above by its C name, for the sync test. */
export const C_CONSTANTS: Readonly<Record<string, number>> = {
  TB_ABI_VERSION: ABI_VERSION,
  TB_PATH_MAX: PATH_MAX,
  TB_ARGV_MAX: ARGV_MAX,
  TB_PREFIX_MAX: PREFIX_MAX,
  TB_MAX_PREFIXES: MAX_PREFIXES,
  TB_EV_CGROUP_MKDIR: EventType.CgroupMkdir,
  TB_EV_CGROUP_RMDIR: EventType.CgroupRmdir,
  TB_EV_EXEC: EventType.Exec,
  TB_EV_FORK: EventType.Fork,
  TB_EV_EXIT: EventType.Exit,
  TB_EV_FILE: EventType.File,
  TB_EV_NET: EventType.Net,
  TB_EV_KERNEL_MAX: KERNEL_EVENT_MAX,
  TB_EV_LOADER_FIRST: LOADER_EVENT_FIRST,
  TB_EV_READY: EventType.Ready,
  TB_EV_DIGEST: EventType.Digest,
  TB_EV_LOSS: EventType.Loss,
  TB_EV_ACK: EventType.Ack,
  TB_EV_PROC: EventType.Proc,
  TB_EV_BATCH: EventType.Batch,
  TB_CG_AUTO: CgroupFlag.Auto,
  TB_CG_INHERITED: CgroupFlag.Inherited,
  TB_CG_PATH_TRUNC: CgroupFlag.PathTrunc,
  TB_CG_MAP_FULL: CgroupFlag.MapFull,
  TB_EXEC_ARGV_TRUNC: ExecFlag.ArgvTrunc,
  TB_EXEC_FILENAME_TRUNC: ExecFlag.FilenameTrunc,
  TB_EXEC_INTERP_TRUNC: ExecFlag.InterpTrunc,
  TB_EXEC_EXE_PATH_TRUNC: ExecFlag.ExePathTrunc,
  TB_EXEC_CWD_TRUNC: ExecFlag.CwdTrunc,
  TB_EXEC_SCRIPT: ExecFlag.Script,
  TB_EXEC_NEEDS_DIGEST: ExecFlag.NeedsDigest,
  TB_EXEC_DIGEST_SKIPPED: ExecFlag.DigestSkipped,
  TB_EXEC_EXE_PATH_UNREACHABLE: ExecFlag.ExePathUnreachable,
  TB_EXEC_CWD_UNREACHABLE: ExecFlag.CwdUnreachable,
  TB_EXEC_DIGEST_BY_PEER: ExecFlag.DigestByPeer,
  TB_EXEC_DIGEST_KNOWN: ExecFlag.DigestKnown,
  TB_EXEC_DIGESTS: ExecFlag.Digests,
  TB_PROC_FORKED: ProcFlag.Forked,
  TB_PROC_EXITED: ProcFlag.Exited,
  TB_PROC_EXECED: ProcFlag.Execed,
  TB_PROC_IMAGE: ProcFlag.Image,
  TB_BATCH_MAX: BATCH_MAX,
  TB_FILE_OPEN: FileOp.Open,
  TB_FILE_UNLINK: FileOp.Unlink,
  TB_FILE_RMDIR: FileOp.Rmdir,
  TB_FILE_RENAME: FileOp.Rename,
  TB_FILE_MKDIR: FileOp.Mkdir,
  TB_FILE_LINK: FileOp.Link,
  TB_FILE_SYMLINK: FileOp.Symlink,
  TB_FILE_TRUNCATE: FileOp.Truncate,
  TB_FILE_CHMOD: FileOp.Chmod,
  TB_FILE_CHOWN: FileOp.Chown,
  ...Object.fromEntries(Object.entries(Syscall).map(([k, v]) => [`TB_SC_${k.toUpperCase()}`, v])),
  TB_FILE_CREATED: FileResult.Created,
  TB_FILE_PATH1_TRUNC: FileResult.Path1Trunc,
  TB_FILE_PATH2_TRUNC: FileResult.Path2Trunc,
  TB_FILE_DIR1_TRUNC: FileResult.Dir1Trunc,
  TB_FILE_DIR2_TRUNC: FileResult.Dir2Trunc,
  TB_FILE_RESOLVED_TRUNC: FileResult.ResolvedTrunc,
  TB_FILE_DIR_UNREACHABLE: FileResult.DirUnreachable,
  TB_FILE_RESOLVED_UNREACHABLE: FileResult.ResolvedUnreachable,
  TB_AT_FDCWD: AT_FDCWD,
  TB_NET_CONNECT: NetOp.Connect,
  TB_NET_SENDTO: NetOp.Sendto,
  TB_NET_SENDMSG: NetOp.Sendmsg,
  TB_NET_BIND: NetOp.Bind,
  TB_NET_LISTEN: NetOp.Listen,
  TB_NET_LOCAL: NetFlag.Local,
  TB_NET_UNIX_ABSTRACT: NetFlag.UnixAbstract,
  TB_NET_UNIX_PATH_TRUNC: NetFlag.UnixPathTrunc,
  TB_NET_DENIED: NetFlag.Denied,
  TB_EGRESS_MAX: EGRESS_MAX,
  TB_EGRESS_RULES_MAX: EGRESS_RULES_MAX,
  TB_READY_DIGESTS: ReadyFlag.Digests,
  TB_READY_TRACE_READS: ReadyFlag.TraceReads,
  TB_DIGEST_EXE: DigestKind.Exe,
  TB_DIGEST_SCRIPT: DigestKind.Script,
  TB_DIGEST_FROM_CACHE: DigestFlag.FromCache,
  TB_DIGEST_IDENTITY_MISMATCH: DigestFlag.IdentityMismatch,
  TB_DIGEST_WAS_STOPPED: DigestFlag.WasStopped,
  TB_DIGEST_FROM_PEER: DigestFlag.FromPeer,
  TB_LOSS_RINGBUF_FIRST: Loss.RingbufFirst,
  TB_LOSS_PENDING_FULL: Loss.PendingFull,
  TB_LOSS_TRACED_FULL: Loss.TracedFull,
  TB_LOSS_SCRATCH_BUSY: Loss.ScratchBusy,
  TB_LOSS_DIGEST_SKIPPED: Loss.DigestSkipped,
  TB_LOSS_SIGNAL_FAILED: Loss.SignalFailed,
  TB_LOSS_DIGEST_FAILED: Loss.DigestFailed,
  TB_LOSS_NET_SUPPRESSED: Loss.NetSuppressed,
  TB_LOSS_OUTPUT: Loss.Output,
  TB_LOSS_ARGS_UNREAD: Loss.ArgsUnread,
  TB_LOSS_MAX: Loss.Max,
};

/** A field: byte offset and size inside its struct. */
export interface Field {
  readonly offset: number;
  readonly size: number;
}

export interface StructLayout<F extends string = string> {
  /** The C struct name in events.h. */
  readonly cName: string;
  readonly size: number;
  readonly fields: Readonly<Record<F, Field>>;
}

function layout<F extends string>(
  cName: string,
  size: number,
  fields: ReadonlyArray<readonly [F, number, number]>,
): StructLayout<F> {
  const out = {} as Record<F, Field>;
  for (const [name, offset, fsize] of fields) out[name] = { offset, size: fsize };
  return { cName, size, fields: out };
}

export const Header = layout('tb_header', 32, [
  ['type', 0, 4],
  ['size', 4, 4],
  ['ts_ns', 8, 8],
  ['cgroup_id', 16, 8],
  ['pid', 24, 4],
  ['tgid', 28, 4],
] as const);

export const FileId = layout('tb_file_id', 48, [
  ['ino', 0, 8],
  ['size', 8, 8],
  ['mtime_sec', 16, 8],
  ['ctime_sec', 24, 8],
  ['mtime_nsec', 32, 4],
  ['ctime_nsec', 36, 4],
  ['dev', 40, 4],
  ['mode', 44, 4],
] as const);

export const CgroupEvent = layout('tb_cgroup_event', 56, [
  ['hdr', 0, 32],
  ['id', 32, 8],
  ['level', 40, 4],
  ['generation', 44, 4],
  ['flags', 48, 4],
  ['path_len', 52, 2],
  ['_pad', 54, 2],
] as const);

export const ExecEvent = layout('tb_exec_event', 176, [
  ['hdr', 0, 32],
  ['ppid', 32, 4],
  ['old_pid', 36, 4],
  ['uid', 40, 4],
  ['gid', 44, 4],
  ['flags', 48, 4],
  ['argc', 52, 4],
  ['start_boottime_ns', 56, 8],
  ['exe', 64, 48],
  ['filename_len', 112, 2],
  ['interp_len', 114, 2],
  ['exe_path_len', 116, 2],
  ['cwd_len', 118, 2],
  ['argv_len', 120, 2],
  ['_pad', 122, 6],
  ['exec_id', 128, 8],
  ['known', 136, 40],
] as const);

export const ForkEvent = layout('tb_fork_event', 56, [
  ['hdr', 0, 32],
  ['child_pid', 32, 4],
  ['child_tgid', 36, 4],
  ['child_start_boottime_ns', 40, 8],
  ['parent_start_boottime_ns', 48, 8],
] as const);

export const ExitEvent = layout('tb_exit_event', 80, [
  ['hdr', 0, 32],
  ['exit_code', 32, 4],
  ['flags', 36, 4],
  ['start_boottime_ns', 40, 8],
  ['utime_ns', 48, 8],
  ['stime_ns', 56, 8],
  ['runtime_ns', 64, 8],
  ['maxrss_kib', 72, 8],
] as const);

export const FileEvent = layout('tb_file_event', 96, [
  ['hdr', 0, 32],
  ['ret', 32, 8],
  ['op', 40, 4],
  ['syscall', 44, 4],
  ['flags', 48, 4],
  ['mode', 52, 4],
  ['dirfd1', 56, 4],
  ['dirfd2', 60, 4],
  ['uid', 64, 4],
  ['gid', 68, 4],
  ['length', 72, 8],
  ['result', 80, 4],
  ['path1_len', 84, 2],
  ['path2_len', 86, 2],
  ['dir1_len', 88, 2],
  ['dir2_len', 90, 2],
  ['resolved_len', 92, 2],
  ['_pad', 94, 2],
] as const);

export const NetEvent = layout('tb_net_event', 88, [
  ['hdr', 0, 32],
  ['ret', 32, 8],
  ['op', 40, 4],
  ['syscall', 44, 4],
  ['fd', 48, 4],
  ['family', 52, 2],
  ['port', 54, 2],
  ['sock_type', 56, 2],
  ['protocol', 58, 2],
  ['flags', 60, 4],
  ['addr', 64, 16],
  ['unix_path_len', 80, 2],
  ['denied_rule', 82, 2],
  ['_pad', 84, 4],
] as const);

export const ReadyEvent = layout('tb_ready_event', 64, [
  ['hdr', 0, 32],
  ['abi_version', 32, 4],
  ['ncpus', 36, 4],
  ['realtime_offset_ns', 40, 8],
  ['ringbuf_bytes', 48, 8],
  ['flags', 56, 4],
  ['loader_pid', 60, 4],
] as const);

/** What an exec record carries per digest (TB_EXEC_DIGESTS), and a digest record after its header. */
export const DigestPart = layout('tb_digest_part', 104, [
  ['kind', 0, 4],
  ['error', 4, 4],
  ['flags', 8, 4],
  ['_pad', 12, 4],
  ['bytes', 16, 8],
  ['sha256', 24, 32],
  ['file', 56, 48],
] as const);

export const DigestEvent = layout('tb_digest_event', 136, [
  ['hdr', 0, 32],
  ['kind', 32, 4],
  ['error', 36, 4],
  ['flags', 40, 4],
  ['_pad', 44, 4],
  ['bytes', 48, 8],
  ['sha256', 56, 32],
  ['file', 88, 48],
] as const);

export const ProcEvent = layout('tb_proc_event', 128, [
  ['hdr', 0, 32],
  ['flags', 32, 4],
  ['ppid', 36, 4],
  ['start_boottime_ns', 40, 8],
  ['fork_ts_ns', 48, 8],
  ['fork_cgroup_id', 56, 8],
  ['fork_pid', 64, 4],
  ['child_pid', 68, 4],
  ['exit_code', 72, 4],
  ['image_tgid', 76, 4],
  ['image_start_boottime_ns', 80, 8],
  ['image_exec_id', 88, 8],
  ['utime_ns', 96, 8],
  ['stime_ns', 104, 8],
  ['runtime_ns', 112, 8],
  ['maxrss_kib', 120, 8],
] as const);

export const BatchEvent = layout('tb_batch_event', 40, [
  ['hdr', 0, 32],
  ['count', 32, 4],
  ['_pad', 36, 4],
] as const);

export const LossEvent = layout('tb_loss_event', 168, [
  ['hdr', 0, 32],
  ['counters', 32, 136],
] as const);

export const AckEvent = layout('tb_ack_event', 48, [
  ['hdr', 0, 32],
  ['seq', 32, 4],
  ['error', 36, 4],
  ['value', 40, 8],
] as const);

export const TracedValue = layout('tb_traced', 8, [
  ['generation', 0, 4],
  ['flags', 4, 4],
] as const);

/** Shared between concurrent probes (kernel maps, not in the stream): checked for layout only. */
export const ExecKey = layout('tb_exec_key', 24, [
  ['tgid', 0, 4],
  ['_pad', 4, 4],
  ['start_boottime_ns', 8, 8],
  ['exec_id', 16, 8],
] as const);

export const SharedDigest = layout('tb_shared_digest', 40, [
  ['sha256', 0, 32],
  ['bytes', 32, 8],
] as const);

/** Every struct of events.h, for the sync test. */
export const STRUCTS: readonly StructLayout[] = [
  Header,
  FileId,
  CgroupEvent,
  ExecEvent,
  ForkEvent,
  ExitEvent,
  FileEvent,
  NetEvent,
  ReadyEvent,
  DigestPart,
  DigestEvent,
  ProcEvent,
  BatchEvent,
  LossEvent,
  AckEvent,
  TracedValue,
  ExecKey,
  SharedDigest,
];
