/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tracebuild probe: THE kernel/userspace event ABI.
 *
 * Every record the loader writes to stdout is
 *     u32 length (little endian) | record of `length` bytes
 * and every record starts with struct tb_header, whose `size` equals `length`.
 * Records of types < TB_EV_LOADER_FIRST come from the kernel (probe.bpf.c); the loader
 * passes cgroup, file and net records on unchanged, exec records with their digests
 * appended (TB_EXEC_DIGESTS), and folds fork and exit records into one process record per
 * process (TB_EV_PROC, procs.c). Records of types >= TB_EV_LOADER_FIRST are the loader's
 * (tracebuild-probe: ready in main.c, digest in digests.c, proc in procs.c, loss, ack and
 * batch in output.c, which writes them all). Consecutive file, net and proc records of one
 * cgroup reach stdout packed into one TB_EV_BATCH record.
 *
 * Layout rules: fixed-size structs, natural alignment, explicit padding, sizes a multiple
 * of 8. Variable-length strings follow the fixed struct, packed in the order documented
 * for each struct, each exactly `*_len` bytes long, never NUL-terminated. All integers are
 * host (little) endian except where noted.
 *
 * The TypeScript mirror is tracer/abi.ts; it MUST stay in sync with this file.
 * tracer/abi.test.ts compiles a C program against this header and compares every size,
 * offset and constant with abi.ts. Bump TB_ABI_VERSION on any change.
 */
#ifndef TRACEBUILD_EVENTS_H
#define TRACEBUILD_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define TB_ABI_VERSION 4 /* 4: net records say when enforcement denied them (TB_NET_DENIED) */

/* Limits. */
#define TB_PATH_MAX 4096     /* one path string in an event, bytes (longer: *_TRUNC flag) */
#define TB_ARGV_MAX 4096     /* argv bytes in an exec event (longer: TB_EXEC_ARGV_TRUNC) */
#define TB_PREFIX_MAX 64     /* one cgroup path prefix, bytes */
#define TB_MAX_PREFIXES 8    /* cgroup path prefixes watched for auto-tracing */
#define TB_UNIX_PATH_MAX 108 /* sun_path */

enum tb_event_type {
	/* from the kernel */
	TB_EV_CGROUP_MKDIR = 1, /* struct tb_cgroup_event */
	TB_EV_CGROUP_RMDIR = 2, /* struct tb_cgroup_event */
	TB_EV_EXEC = 3,         /* struct tb_exec_event */
	TB_EV_FORK = 4,         /* struct tb_fork_event (to the loader only, since ABI 3) */
	TB_EV_EXIT = 5,         /* struct tb_exit_event (to the loader only, since ABI 3) */
	TB_EV_FILE = 6,         /* struct tb_file_event */
	TB_EV_NET = 7,          /* struct tb_net_event */
	TB_EV_KERNEL_MAX = 8,
	/* from the loader */
	TB_EV_LOADER_FIRST = 100,
	TB_EV_READY = 100,  /* struct tb_ready_event: attached, tracing */
	TB_EV_DIGEST = 101, /* struct tb_digest_event: sha256 of an exec's file */
	TB_EV_LOSS = 102,   /* struct tb_loss_event: cumulative loss counters */
	TB_EV_ACK = 103,    /* struct tb_ack_event: answer to a stdin command */
	TB_EV_PROC = 104,   /* struct tb_proc_event: a process, from its fork to its exit */
	TB_EV_BATCH = 105,  /* struct tb_batch_event: file, net and proc records of one cgroup */
};

/* Common header (32 bytes). */
struct tb_header {
	__u32 type;      /* enum tb_event_type */
	__u32 size;      /* total record size in bytes, header included */
	__u64 ts_ns;     /* bpf_ktime_get_boot_ns() (CLOCK_BOOTTIME) */
	__u64 cgroup_id; /* cgroup v2 id of the task that produced the event */
	__u32 pid;       /* thread id (host pid namespace) */
	__u32 tgid;      /* process id (host pid namespace) */
};

/* Identity of a file as the kernel sees it (48 bytes). Also the key of the kernel's
 * "already digested" map. dev is the kernel dev_t encoding (MAJOR << 20 | MINOR). */
struct tb_file_id {
	__u64 ino;
	__u64 size;
	__s64 mtime_sec;
	__s64 ctime_sec;
	__u32 mtime_nsec;
	__u32 ctime_nsec;
	__u32 dev;
	__u32 mode; /* i_mode (type and permission bits) */
};

/* ---- cgroups ---------------------------------------------------------------------- */
#define TB_CG_AUTO 0x1       /* added to the traced set by the kernel (prefix match) */
#define TB_CG_INHERITED 0x2  /* added because its parent cgroup is traced */
#define TB_CG_PATH_TRUNC 0x4 /* path longer than TB_PATH_MAX */
#define TB_CG_MAP_FULL 0x8   /* matched, but the traced map was full: NOT traced */

/* TB_EV_CGROUP_MKDIR: a cgroup matching a prefix (or under a traced cgroup) was created;
 * TB_EV_CGROUP_RMDIR: a traced cgroup was removed (and left the traced set).
 * Header cgroup_id/pid/tgid are those of the task doing mkdir/rmdir.
 * Followed by: path[path_len] (relative to the cgroup v2 root, e.g. /docker/buildkit/x). */
struct tb_cgroup_event {
	struct tb_header hdr;
	__u64 id;         /* the cgroup's v2 id */
	__u32 level;      /* depth below the root */
	__u32 generation; /* build generation active when it was added */
	__u32 flags;      /* TB_CG_* */
	__u16 path_len;
	__u16 _pad;
};

/* ---- processes -------------------------------------------------------------------- */
#define TB_EXEC_ARGV_TRUNC 0x1
#define TB_EXEC_FILENAME_TRUNC 0x2
#define TB_EXEC_INTERP_TRUNC 0x4
#define TB_EXEC_EXE_PATH_TRUNC 0x8
#define TB_EXEC_CWD_TRUNC 0x10
#define TB_EXEC_SCRIPT 0x20           /* interp differs from filename (#! or binfmt_misc) */
#define TB_EXEC_NEEDS_DIGEST 0x40     /* task was sent SIGSTOP; the loader hashes and SIGCONTs */
#define TB_EXEC_DIGEST_SKIPPED 0x80   /* a digest was needed but the task was not stopped */
#define TB_EXEC_EXE_PATH_UNREACHABLE 0x100 /* exe path is not below the task's root */
#define TB_EXEC_CWD_UNREACHABLE 0x200
#define TB_EXEC_DIGEST_BY_PEER 0x400 /* another probe stopped it for hashing; see "shared" below */
#define TB_EXEC_DIGEST_KNOWN 0x800   /* kernel: exe's identity was in TB_SHARED_DIGESTS: `known` */
#define TB_EXEC_DIGESTS 0x1000       /* loader: digest parts follow the strings (see below) */

/* A digest as the probes share it (the value of TB_SHARED_DIGESTS, below). */
struct tb_shared_digest {
	__u8 sha256[32];
	__u64 bytes;
};

/* TB_EV_EXEC: sched_process_exec, i.e. a successful execve/execveat, in the new image.
 * Followed by, in order:
 *   filename[filename_len]  bprm->filename: the path given to execve (the script for #!)
 *   interp[interp_len]      bprm->interp when it differs (the interpreter of a script)
 *   exe_path[exe_path_len]  path of the file that runs (bprm->file), below the task's root
 *   cwd[cwd_len]            working directory, below the task's root
 *   argv[argv_len]          the arguments, each NUL-terminated, as on the new stack
 *   (TB_EXEC_DIGESTS, written by the loader) struct tb_digest_part exe, and for a script
 *                           (TB_EXEC_SCRIPT) struct tb_digest_part script; hdr.size counts
 *                           them. Without the flag, the digests come in TB_EV_DIGEST records
 *                           (an exec another probe stopped: when that probe shares them). */
struct tb_exec_event {
	struct tb_header hdr;
	__u32 ppid;    /* tgid of the real parent */
	__u32 old_pid; /* tid that called execve (differs if a non-leader thread exec'd) */
	__u32 uid;
	__u32 gid;
	__u32 flags; /* TB_EXEC_* */
	__u32 argc;
	__u64 start_boottime_ns; /* task start time, CLOCK_BOOTTIME: (tgid, start) is unique */
	struct tb_file_id exe;   /* bprm->file: the binary (for scripts: the interpreter) */
	__u16 filename_len;
	__u16 interp_len;
	__u16 exe_path_len;
	__u16 cwd_len;
	__u16 argv_len;
	__u16 _pad[3];
	__u64 exec_id; /* the task's self_exec_id: with tgid and start_boottime_ns, names the exec */
	struct tb_shared_digest known; /* TB_EXEC_DIGEST_KNOWN: the exe's digest, as the kernel
					* found it when it decided not to stop the exec */
};

/* TB_EV_FORK: a new process (not a thread). Header: the parent. */
struct tb_fork_event {
	struct tb_header hdr;
	__u32 child_pid;
	__u32 child_tgid;
	__u64 child_start_boottime_ns;
	__u64 parent_start_boottime_ns; /* the parent process's start (its leader's) */
};

/* TB_EV_EXIT: the last thread of a process exits. Header: that thread. */
struct tb_exit_event {
	struct tb_header hdr;
	__u32 exit_code; /* wait status: (status << 8) | termsig (0x80: core dumped) */
	__u32 flags;
	__u64 start_boottime_ns;
	__u64 utime_ns;   /* user CPU time of all threads */
	__u64 stime_ns;   /* system CPU time of all threads */
	__u64 runtime_ns; /* scheduler runtime of all threads (precise) */
	__u64 maxrss_kib; /* peak resident set size */
};

/* ---- file syscalls ---------------------------------------------------------------- */
enum tb_file_op {
	TB_FILE_OPEN = 1,  /* open for writing (or any open with TB_CFG_TRACE_READS) */
	TB_FILE_UNLINK = 2,
	TB_FILE_RMDIR = 3,
	TB_FILE_RENAME = 4,  /* path1 -> path2 */
	TB_FILE_MKDIR = 5,
	TB_FILE_LINK = 6,    /* hard link: path1 (existing) -> path2 (new) */
	TB_FILE_SYMLINK = 7, /* path1 is the link's text (target), path2 the new link */
	TB_FILE_TRUNCATE = 8,
	TB_FILE_CHMOD = 9,
	TB_FILE_CHOWN = 10,
};

/* Which syscall produced a file or network event (architecture neutral). */
enum tb_syscall {
	TB_SC_OPEN = 1,
	TB_SC_OPENAT = 2,
	TB_SC_OPENAT2 = 3,
	TB_SC_CREAT = 4,
	TB_SC_UNLINK = 5,
	TB_SC_UNLINKAT = 6,
	TB_SC_RMDIR = 7,
	TB_SC_RENAME = 8,
	TB_SC_RENAMEAT = 9,
	TB_SC_RENAMEAT2 = 10,
	TB_SC_MKDIR = 11,
	TB_SC_MKDIRAT = 12,
	TB_SC_LINK = 13,
	TB_SC_LINKAT = 14,
	TB_SC_SYMLINK = 15,
	TB_SC_SYMLINKAT = 16,
	TB_SC_TRUNCATE = 17,
	TB_SC_FTRUNCATE = 18,
	TB_SC_CHMOD = 19,
	TB_SC_FCHMOD = 20,
	TB_SC_FCHMODAT = 21,
	TB_SC_FCHMODAT2 = 22,
	TB_SC_CHOWN = 23,
	TB_SC_LCHOWN = 24,
	TB_SC_FCHOWN = 25,
	TB_SC_FCHOWNAT = 26,
	TB_SC_CONNECT = 27,
	TB_SC_SENDTO = 28,
	TB_SC_SENDMSG = 29,
	TB_SC_BIND = 30,
	TB_SC_LISTEN = 31,
	/* 32-34 are the loader's ids below. sendmmsg is reported only when an egress rule
	 * refused one of its messages (build --enforce): the refused message's destination. */
	TB_SC_SENDMMSG = 35,
};

/* Ids of the 32-bit entry's own syscalls (x86-64), used between the loader and the probe
 * only: the probe reports each as the syscall above that does the same (socketcall(2) as
 * the socket call it carries, truncate64 as truncate). TB_SC_UID16 marks the chown calls
 * whose uid and gid are 16-bit. */
#define TB_SC_SOCKETCALL 32
#define TB_SC_TRUNCATE64 33
#define TB_SC_FTRUNCATE64 34
#define TB_SC_UID16 0x80

#define TB_FILE_CREATED 0x1        /* open created the file (FMODE_CREATED) */
#define TB_FILE_PATH1_TRUNC 0x2
#define TB_FILE_PATH2_TRUNC 0x4
#define TB_FILE_DIR1_TRUNC 0x8
#define TB_FILE_DIR2_TRUNC 0x10
#define TB_FILE_RESOLVED_TRUNC 0x20
#define TB_FILE_DIR_UNREACHABLE 0x40      /* a dir context is not below the task's root */
#define TB_FILE_RESOLVED_UNREACHABLE 0x80

#define TB_AT_FDCWD (-100)

/* TB_EV_FILE: a successful file syscall (ret >= 0; failures are not reported).
 * Followed by, in order:
 *   path1[path1_len]  first path argument as given (symlink: the link text)
 *   path2[path2_len]  second path argument as given (rename/link/symlink: the new name)
 *   dir1[dir1_len]    when path1 is relative: the directory it is relative to (the cwd
 *                     for AT_FDCWD, else dirfd1's path), below the task's root; absolute
 *                     path = dir1 + "/" + path1. Empty when path1 is absolute (and for
 *                     the symlink text, which is not resolved).
 *   dir2[dir2_len]    the same for path2
 *   resolved[resolved_len]  open: the path of the file actually opened (after symlinks);
 *                     ftruncate/fchmod/fchown: the path of fd. Below the task's root. */
struct tb_file_event {
	struct tb_header hdr;
	__s64 ret;
	__u32 op;      /* enum tb_file_op */
	__u32 syscall; /* enum tb_syscall */
	__u32 flags;   /* the syscall's flags argument (open flags, AT_*, RENAME_*) */
	__u32 mode;    /* open/creat/mkdir/chmod mode argument */
	__s32 dirfd1;  /* dirfd for path1 (TB_AT_FDCWD), or the fd of f* calls */
	__s32 dirfd2;
	__u32 uid;     /* chown: new owner ((u32)-1: unchanged) */
	__u32 gid;
	__s64 length;  /* truncate/ftruncate: new length */
	__u32 result;  /* TB_FILE_* */
	__u16 path1_len;
	__u16 path2_len;
	__u16 dir1_len;
	__u16 dir2_len;
	__u16 resolved_len;
	__u16 _pad;
};

/* ---- network ---------------------------------------------------------------------- */
enum tb_net_op {
	TB_NET_CONNECT = 1, /* reported whatever the result (ret: 0, -EINPROGRESS, -errno) */
	TB_NET_SENDTO = 2,  /* with a destination; once per (process, destination) */
	TB_NET_SENDMSG = 3, /* with msg_name; once per (process, destination) */
	TB_NET_BIND = 4,    /* successful only */
	TB_NET_LISTEN = 5,  /* successful only; address is the socket's local address */
};

#define TB_NET_LOCAL 0x1          /* addr/port are the local address */
#define TB_NET_UNIX_ABSTRACT 0x2  /* unix path is an abstract name (leading NUL dropped) */
#define TB_NET_UNIX_PATH_TRUNC 0x4
#define TB_NET_DENIED 0x8 /* refused by an egress rule (denied_rule); the process was killed */

/* TB_EV_NET. family: AF_INET (2), AF_INET6 (10), AF_UNIX (1).
 * Followed by: unix_path[unix_path_len] for AF_UNIX. */
struct tb_net_event {
	struct tb_header hdr;
	__s64 ret;
	__u32 op;      /* enum tb_net_op */
	__u32 syscall; /* enum tb_syscall */
	__s32 fd;
	__u16 family;
	__u16 port;      /* host byte order */
	__u16 sock_type; /* SOCK_STREAM (1), SOCK_DGRAM (2), ... 0: unknown */
	__u16 protocol;  /* IPPROTO_TCP (6), IPPROTO_UDP (17), ... */
	__u32 flags;     /* TB_NET_* */
	__u8 addr[16];   /* IPv4: first 4 bytes; network byte order */
	__u16 unix_path_len;
	__u16 denied_rule; /* with TB_NET_DENIED: index of the egress rule that refused it */
	__u16 _pad[2];
};

/* ---- written by the loader -------------------------------------------------------- */
/* TB_EV_PROC: one process, from its fork to its exit (procs.c), instead of its fork and exit
 * records: written at its exit, or when the loader stops while it runs. Header: the exit's
 * (TB_PROC_EXITED; pid: the thread that ended the process), else the fork's time and
 * cgroup with the child's pid and tgid. The fork part (TB_PROC_FORKED) is the fork record's
 * (its header's time, cgroup, thread and process); the exit part the exit record's. A process
 * whose fork was not traced (forked from outside a traced cgroup) has no fork part. */
#define TB_PROC_FORKED 0x1 /* fork_* and ppid, child_pid are set */
#define TB_PROC_EXITED 0x2 /* exit_code and the resources are set */
#define TB_PROC_EXECED 0x4 /* it exec'd (in a traced cgroup) since the loader knew it */
#define TB_PROC_IMAGE 0x8  /* image_*: the exec whose image it ran when forked (its
			    * parent's last exec, or what its parent had inherited) */

struct tb_proc_event {
	struct tb_header hdr;
	__u32 flags; /* TB_PROC_* */
	__u32 ppid;  /* the parent's tgid (fork header tgid) */
	__u64 start_boottime_ns;
	__u64 fork_ts_ns;
	__u64 fork_cgroup_id;
	__u32 fork_pid;  /* the parent's thread that forked (fork header pid) */
	__u32 child_pid;
	__u32 exit_code; /* wait status, as tb_exit_event */
	__u32 image_tgid;
	__u64 image_start_boottime_ns;
	__u64 image_exec_id;
	__u64 utime_ns;
	__u64 stime_ns;
	__u64 runtime_ns;
	__u64 maxrss_kib;
};

/* TB_EV_BATCH: records of one cgroup (header cgroup_id; ts_ns the first one's; pid, tgid 0)
 * that came one after the other, packed: followed by `count` whole records of types
 * TB_EV_FILE, TB_EV_NET and TB_EV_PROC, each framed by its own hdr.size (no length prefix).
 * Never empty, never one record alone, never more than TB_BATCH_MAX bytes in all. */
#define TB_BATCH_MAX (64 << 10)

struct tb_batch_event {
	struct tb_header hdr;
	__u32 count;
	__u32 _pad;
};

#define TB_READY_DIGESTS 0x1
#define TB_READY_TRACE_READS 0x2

/* TB_EV_READY: the probe is loaded and attached; tracing starts now. */
struct tb_ready_event {
	struct tb_header hdr;
	__u32 abi_version; /* TB_ABI_VERSION */
	__u32 ncpus;
	__s64 realtime_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME at start */
	__u64 ringbuf_bytes;
	__u32 flags;      /* TB_READY_* */
	__u32 loader_pid;
};

enum tb_digest_kind {
	TB_DIGEST_EXE = 1,    /* the file that runs (/proc/<pid>/exe) */
	TB_DIGEST_SCRIPT = 2, /* the #! script named by the exec's filename */
};

#define TB_DIGEST_FROM_CACHE 0x1        /* same identity hashed before */
#define TB_DIGEST_IDENTITY_MISMATCH 0x2 /* the file read does not match the exec's identity */
#define TB_DIGEST_WAS_STOPPED 0x4       /* the task was stopped while hashing */
#define TB_DIGEST_FROM_PEER 0x8         /* from the loader of the probe that stopped the exec */

/* The sha256 of one file an exec runs: the part of a digest record after its header, and
 * what an exec record carries (TB_EXEC_DIGESTS). */
struct tb_digest_part {
	__u32 kind;  /* enum tb_digest_kind */
	__s32 error; /* 0, or the errno that prevented hashing */
	__u32 flags; /* TB_DIGEST_* */
	__u32 _pad;
	__u64 bytes; /* bytes hashed */
	__u8 sha256[32];
	struct tb_file_id file; /* identity of what was hashed (exe: the kernel's identity) */
};

/* TB_EV_DIGEST: sha256 for one exec. Header: copied from the exec event (ts_ns, pid,
 * tgid, cgroup_id), so (tgid, ts_ns) names the exec. Follows its exec in the stream (later
 * when it waited for another probe's results). Its fields are a struct tb_digest_part. */
struct tb_digest_event {
	struct tb_header hdr;
	__u32 kind;  /* enum tb_digest_kind */
	__s32 error; /* 0, or the errno that prevented hashing */
	__u32 flags; /* TB_DIGEST_* */
	__u32 _pad;
	__u64 bytes; /* bytes hashed */
	__u8 sha256[32];
	struct tb_file_id file; /* identity of what was hashed (exe: the kernel's identity) */
};

/* Loss counters (cumulative since start). Slots 1..7 count ring buffer reservations
 * that failed, per event type (an event of that type was lost). */
enum tb_loss {
	TB_LOSS_RINGBUF_FIRST = 1, /* + tb_event_type - 1 */
	TB_LOSS_PENDING_FULL = 8,  /* (ABI 1: a syscall entry not remembered; syscalls are now
				    * read whole at their exit, so this stays 0) */
	TB_LOSS_TRACED_FULL = 9,   /* a cgroup to trace did not fit the traced map */
	TB_LOSS_SCRATCH_BUSY = 10, /* per-CPU scratch in use (nesting): event lost */
	TB_LOSS_DIGEST_SKIPPED = 11, /* exec not stopped (loader heartbeat stale) */
	TB_LOSS_SIGNAL_FAILED = 12,  /* bpf_send_signal failed: exec not stopped */
	TB_LOSS_DIGEST_FAILED = 13,  /* loader: a digest could not be computed */
	TB_LOSS_NET_SUPPRESSED = 14, /* repeated sendto/sendmsg to a known destination (not a loss) */
	TB_LOSS_OUTPUT = 15,         /* loader: records not written (stdout error) */
	TB_LOSS_ARGS_UNREAD = 16,    /* a reported syscall whose arguments could not be read
				      * (user memory fault; an arm64 32-bit task): event lost */
	TB_LOSS_MAX = 17,
};

/* TB_EV_LOSS: cumulative counters; written periodically when they change and at exit. */
struct tb_loss_event {
	struct tb_header hdr;
	__u64 counters[TB_LOSS_MAX]; /* indexed by enum tb_loss; slot 0 unused */
};

/* TB_EV_ACK: answer to the stdin command numbered `seq`. */
struct tb_ack_event {
	struct tb_header hdr;
	__u32 seq;
	__s32 error; /* 0 or errno */
	__u64 value; /* command specific (addpath: the cgroup id) */
};

/* Kernel-side configuration (not part of the stream). */
#define TB_CFG_DIGESTS 0x1     /* stop unknown executables until the loader hashed them */
#define TB_CFG_TRACE_READS 0x2 /* report read-only opens too */
#define TB_CFG_ENFORCE 0x4     /* egress rules are attached: kill a process they refused */

/* Egress enforcement (build --enforce; not part of the stream). The cgroup/connect4,
 * connect6, sendmsg4 and sendmsg6 programs, attached to each of the build's cgroup parents
 * (one per set of rules in force), check a destination against these entries: each egress
 * rule in force below the parent (bit `rule` of its enforce_parents mask) must allow it
 * through at least one of its entries. IPv4 is matched as
 * its v4-mapped IPv6 form, so ::ffff:a.b.c.d and a.b.c.d are one destination. */
#define TB_EGRESS_MAX 64       /* allow entries in all */
#define TB_EGRESS_RULES_MAX 16 /* egress rules */
/* Cgroup parents of one build: each is also a traced prefix, beside /docker/buildkit/. */
#define TB_ENFORCE_PARENTS_MAX (TB_MAX_PREFIXES - 1)
/* The rule a refusal is reported under when the socket's parent has no mask in this probe
 * (cannot happen: the programs are attached only where the mask was set first). */
#define TB_EGRESS_RULE_UNKNOWN 0xfffe

struct tb_egress_allow {
	__u8 addr[16];   /* network byte order */
	__u8 prefix;     /* bits of addr that must match, 0..128 */
	__u8 protocol;   /* IPPROTO_TCP (6), IPPROTO_UDP (17); 0: any */
	__u8 rule;       /* 0..TB_EGRESS_RULES_MAX-1 */
	__u8 _pad;
	__u16 port_low;  /* host byte order, inclusive */
	__u16 port_high;
};

struct tb_traced {
	__u32 generation;
	__u32 flags; /* TB_CG_* */
};

/* ---- shared between concurrent probes (not part of the stream) ---------------------
 * Every running probe traces every new cgroup under its prefixes, so two traced builds on
 * one daemon see each other's execs. Stopping is not exclusive: SIGCONT from one loader
 * resumes a task another loader is still hashing (it may exit before that loader opens
 * /proc/<pid>/exe). So the probes share three maps, found by name and created by the first
 * loader (claims.c, under a lock file):
 *   TB_SHARED_DIGESTS  file identity -> sha256 (the kernel does not stop an exec of a known
 *                      identity; a loader that misses its own cache looks here)
 *   TB_SHARED_CLAIMS   exec -> pid of the loader whose probe stopped it. The first probe to
 *                      claim an exec (BPF_NOEXIST) stops it; the others flag the exec
 *                      TB_EXEC_DIGEST_BY_PEER and never stop or continue it.
 *   TB_SHARED_RESULTS  exec -> the claimant's digest records (loader-only), written before
 *                      its SIGCONT; the other loaders copy them (TB_DIGEST_FROM_PEER).
 * The names carry a layout version: maps of another layout are never shared. */
#define TB_SHARED_DIGESTS "tb2_digests"
#define TB_SHARED_CLAIMS "tb2_claims"
#define TB_SHARED_RESULTS "tb2_results"

struct tb_exec_key {
	__u32 tgid;
	__u32 _pad;
	__u64 start_boottime_ns;
	__u64 exec_id;
};

#endif /* TRACEBUILD_EVENTS_H */
