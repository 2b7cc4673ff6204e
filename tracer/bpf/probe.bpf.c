// SPDX-License-Identifier: GPL-2.0
/*
 * tracebuild probe (CO-RE). Emits events (see events.h) for tasks whose cgroup v2 id is
 * in the traced set. The traced set is filled by the kernel itself: a new cgroup whose
 * path starts with a configured prefix (e.g. /docker/buildkit/) or whose parent is
 * traced is added at cgroup_mkdir, before any task can run in it. Everything else pays
 * one hash lookup on the hooks below.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

#define SIGCONT 18
#define SIGSTOP 19
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_TRUNC 01000
#define AT_REMOVEDIR 0x200
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define FMODE_CREATED 0x100000 /* 1 << 20 */

#define EV_OFF_MASK 32767      /* offsets into the event scratch */
#define EV_SCRATCH (32768 + TB_PATH_MAX + 64)
#define PATHBUF_END 4096       /* a walked path is written backwards, ending here */
#define WALK_MAX 64            /* components (and mount crossings) per path */

/* ---- configuration ---------------------------------------------------------------- */
const volatile __u32 cfg_flags = 0;                 /* TB_CFG_* */
const volatile __u32 cfg_nprefixes = 0;
const volatile char cfg_prefix[TB_MAX_PREFIXES][TB_PREFIX_MAX] = {};
const volatile __u32 cfg_prefix_len[TB_MAX_PREFIXES] = {};
const volatile __u64 cfg_heartbeat_timeout_ns = 2000000000ULL;

/* Written by the loader at run time (mmapped .bss). */
volatile __u32 cfg_generation = 0; /* 0: do not add new cgroups */
volatile __u64 heartbeat_ns = 0;   /* loader alive: bpf_ktime_get_boot_ns() of its last poll */

/* ---- maps ------------------------------------------------------------------------- */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* the loader sets the size */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct tb_traced);
} traced SEC(".maps");

struct pending {
	__u64 path1, path2; /* user pointers */
	__u64 addr;         /* user sockaddr pointer */
	__s64 length;
	__s32 dirfd1, dirfd2;
	__u32 flags, mode, uid, gid;
	__u32 sc, op;
	__u32 addrlen;
	__u8 is_net;
	__u8 literal1; /* path1 is not resolved (symlink text) */
	__u8 fd_op;    /* dirfd1 is the operated fd (ftruncate, fchmod, fchown) */
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct pending);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tb_file_id);
	__type(value, __u8);
} digested SEC(".maps");

struct net_key {
	__u32 tgid;
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct net_key);
	__type(value, __u8);
} net_seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TB_LOSS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

struct scratch {
	__u32 busy;
	__u32 _pad;
	char ev[EV_SCRATCH];
	char path[2 * PATHBUF_END];
};

/* One slot per CPU (indexed by CPU id; the loader sets max_entries). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* ---- helpers ---------------------------------------------------------------------- */
static __always_inline void count_loss(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&losses, &slot);
	if (v)
		*v += 1;
}

static __always_inline struct tb_traced *traced_lookup(__u64 cg)
{
	return bpf_map_lookup_elem(&traced, &cg);
}

static __always_inline struct scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return 0;
	if (__sync_val_compare_and_swap(&s->busy, 0, 1) != 0) {
		count_loss(TB_LOSS_SCRATCH_BUSY);
		return 0;
	}
	return s;
}

static __always_inline void scratch_put(struct scratch *s)
{
	s->busy = 0;
}

static __always_inline void fill_header(struct tb_header *h, __u32 type, __u64 cg)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->size = 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = cg;
	h->pid = (__u32)id;
	h->tgid = id >> 32;
}

/*
 * Wake the loader once per batch, not once per event: a wakeup per record cost the loader
 * an epoll_wait and a pipe write per event (and the traced task an irq_work). Records sit
 * in the ring buffer until WAKEUP_BYTES are pending or the loader's next poll (it polls
 * every few ms anyway); an exec stopped for hashing always wakes it at once.
 */
#define WAKEUP_BYTES (128 << 10)

static __always_inline int output_flags(struct scratch *s, __u32 size, __u32 type, __u64 wake)
{
	struct tb_header *h = (void *)s->ev;
	size &= EV_OFF_MASK;
	h->size = size;
	if (!wake)
		wake = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= WAKEUP_BYTES
			       ? BPF_RB_FORCE_WAKEUP
			       : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, s->ev, size, wake)) {
		count_loss(TB_LOSS_RINGBUF_FIRST + type - 1);
		return -1;
	}
	return 0;
}

static __always_inline int output(struct scratch *s, __u32 size, __u32 type)
{
	return output_flags(s, size, type, 0);
}

/* Copies a kernel string to ev+off; returns its length (no NUL). */
static __always_inline __u32 put_kstr(struct scratch *s, __u32 off, const void *src,
				      __u32 *flags, __u32 trunc_flag)
{
	long n = bpf_probe_read_kernel_str(&s->ev[off & EV_OFF_MASK], TB_PATH_MAX, src);
	if (n <= 0)
		return 0;
	if (n >= TB_PATH_MAX)
		*flags |= trunc_flag;
	return (__u32)(n - 1) & (TB_PATH_MAX - 1);
}

static __always_inline __u32 put_ustr(struct scratch *s, __u32 off, __u64 src, __u32 *flags,
				      __u32 trunc_flag)
{
	if (!src)
		return 0;
	long n = bpf_probe_read_user_str(&s->ev[off & EV_OFF_MASK], TB_PATH_MAX, (void *)src);
	if (n <= 0)
		return 0;
	if (n >= TB_PATH_MAX)
		*flags |= trunc_flag;
	return (__u32)(n - 1) & (TB_PATH_MAX - 1);
}

static __always_inline void fill_file_id(struct tb_file_id *id, struct file *f)
{
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	id->ino = BPF_CORE_READ(ino, i_ino);
	id->size = BPF_CORE_READ(ino, i_size);
	id->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	id->mode = BPF_CORE_READ(ino, i_mode);
	id->mtime_sec = BPF_CORE_READ(ino, i_mtime_sec);
	id->ctime_sec = BPF_CORE_READ(ino, i_ctime_sec);
	id->mtime_nsec = BPF_CORE_READ(ino, i_mtime_nsec) & 0x3fffffff;
	/* the top bit of i_ctime_nsec is the multigrain "queried" flag */
	id->ctime_nsec = BPF_CORE_READ(ino, i_ctime_nsec) & 0x3fffffff;
}

static __always_inline struct file *fd_file(struct task_struct *t, int fd)
{
	struct file *f = 0;
	if (fd < 0)
		return 0;
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned int)fd >= max)
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* ---- path walk: dentry -> "/a/b" below the task's root ---------------------------- */
enum { WALK_GOING = 0, WALK_DONE = 1, WALK_TRUNC = 2, WALK_UNREACHABLE = 3 };

struct walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__u32 pos;
	__u32 status;
};

static long walk_step(__u32 i, void *vctx)
{
	struct walk_ctx *c = vctx;
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s) {
		c->status = WALK_UNREACHABLE;
		return 1;
	}
	struct dentry *d = c->dentry;
	if (d == c->root_dentry && c->vfsmnt == c->root_mnt) {
		c->status = WALK_DONE;
		return 1;
	}
	struct vfsmount *vm = c->vfsmnt;
	struct dentry *mnt_root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == mnt_root || d == parent) {
		struct mount *m = c->mnt;
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (d != mnt_root || m == mp) {
			/* global root or a detached tree: not below the task's root */
			c->status = WALK_UNREACHABLE;
			return 1;
		}
		c->dentry = BPF_CORE_READ(m, mnt_mountpoint);
		c->mnt = mp;
		c->vfsmnt = &mp->mnt;
		return 0;
	}
	__u32 len = BPF_CORE_READ(d, d_name.len);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);
	if (len > 255)
		len = 255;
	if (len + 1 >= c->pos) {
		c->status = WALK_TRUNC;
		return 1;
	}
	__u32 pos = c->pos - len;
	bpf_probe_read_kernel(&s->path[pos & (PATHBUF_END - 1)], len & 255, name);
	pos -= 1;
	s->path[pos & (PATHBUF_END - 1)] = '/';
	c->pos = pos;
	c->dentry = parent;
	return 0;
}

/* Writes the path of (dentry, vfsmnt) relative to task's root at ev+off; returns the
 * length. Sets trunc_flag / unreach_flag in *flags. */
static __always_inline __u32 put_path(struct scratch *s, __u32 off, struct task_struct *t,
				      struct dentry *dentry, struct vfsmount *vfsmnt,
				      __u32 *flags, __u32 trunc_flag, __u32 unreach_flag)
{
	struct walk_ctx c = {};
	if (!dentry || !vfsmnt)
		return 0;
	c.dentry = dentry;
	c.vfsmnt = vfsmnt;
	c.mnt = (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	c.root_dentry = BPF_CORE_READ(t, fs, root.dentry);
	c.root_mnt = BPF_CORE_READ(t, fs, root.mnt);
	c.pos = PATHBUF_END;
	c.status = WALK_GOING;
	bpf_loop(WALK_MAX, walk_step, &c, 0);
	if (c.status == WALK_GOING || c.status == WALK_TRUNC)
		*flags |= trunc_flag;
	else if (c.status == WALK_UNREACHABLE)
		*flags |= unreach_flag;
	__u32 pos = c.pos;
	if (pos >= PATHBUF_END) {
		pos = PATHBUF_END - 1;
		s->path[pos] = '/';
	}
	__u32 len = (PATHBUF_END - pos) & (PATHBUF_END - 1);
	bpf_probe_read_kernel(&s->ev[off & EV_OFF_MASK], len, &s->path[pos & (PATHBUF_END - 1)]);
	return len;
}

static __always_inline __u32 put_file_path(struct scratch *s, __u32 off, struct task_struct *t,
					   struct file *f, __u32 *flags, __u32 trunc_flag,
					   __u32 unreach_flag)
{
	if (!f)
		return 0;
	return put_path(s, off, t, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt),
			flags, trunc_flag, unreach_flag);
}

static __always_inline __u32 put_cwd(struct scratch *s, __u32 off, struct task_struct *t,
				     __u32 *flags, __u32 trunc_flag, __u32 unreach_flag)
{
	return put_path(s, off, t, BPF_CORE_READ(t, fs, pwd.dentry), BPF_CORE_READ(t, fs, pwd.mnt),
			flags, trunc_flag, unreach_flag);
}

/* ---- cgroups ---------------------------------------------------------------------- */
static __always_inline int prefix_match(struct scratch *s, __u32 off, __u32 len)
{
	for (__u32 p = 0; p < TB_MAX_PREFIXES; p++) {
		if (p >= cfg_nprefixes)
			break;
		__u32 plen = cfg_prefix_len[p];
		if (plen == 0 || plen > len || plen > TB_PREFIX_MAX)
			continue;
		int ok = 1;
		for (__u32 i = 0; i < TB_PREFIX_MAX; i++) {
			if (i >= plen)
				break;
			if (s->ev[(off + i) & EV_OFF_MASK] != cfg_prefix[p][i]) {
				ok = 0;
				break;
			}
		}
		if (ok)
			return 1;
	}
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0) /* only the unified hierarchy */
		return 0;
	__u32 gen = cfg_generation;
	if (gen == 0)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	__u64 parent_id = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	struct tb_traced *pt = traced_lookup(parent_id);

	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_cgroup_event *e = (void *)s->ev;
	__u32 flags = 0;
	__u32 off = sizeof(*e);
	__u32 len = put_kstr(s, off, path, &flags, TB_CG_PATH_TRUNC);
	if (pt)
		flags |= TB_CG_INHERITED;
	else if (prefix_match(s, off, len))
		flags |= TB_CG_AUTO;
	else
		goto out;

	struct tb_traced v = { .generation = pt ? pt->generation : gen, .flags = flags };
	if (bpf_map_update_elem(&traced, &id, &v, BPF_ANY)) {
		flags |= TB_CG_MAP_FULL;
		count_loss(TB_LOSS_TRACED_FULL);
	}
	fill_header(&e->hdr, TB_EV_CGROUP_MKDIR, bpf_get_current_cgroup_id());
	e->id = id;
	e->level = BPF_CORE_READ(cgrp, level);
	e->generation = v.generation;
	e->flags = flags;
	e->path_len = len;
	e->_pad = 0;
	output(s, off + len, TB_EV_CGROUP_MKDIR);
out:
	scratch_put(s);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(on_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	__u64 id = BPF_CORE_READ(cgrp, kn, id);
	struct tb_traced *t = traced_lookup(id);
	if (!t)
		return 0;
	__u32 gen = t->generation;
	bpf_map_delete_elem(&traced, &id);
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_cgroup_event *e = (void *)s->ev;
	__u32 flags = 0;
	__u32 off = sizeof(*e);
	__u32 len = put_kstr(s, off, path, &flags, TB_CG_PATH_TRUNC);
	fill_header(&e->hdr, TB_EV_CGROUP_RMDIR, bpf_get_current_cgroup_id());
	e->id = id;
	e->level = BPF_CORE_READ(cgrp, level);
	e->generation = gen;
	e->flags = flags;
	e->path_len = len;
	e->_pad = 0;
	output(s, off + len, TB_EV_CGROUP_RMDIR);
	scratch_put(s);
	return 0;
}

/* ---- processes -------------------------------------------------------------------- */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct tb_exec_event *e = (void *)s->ev;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, TB_EV_EXEC, cg);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->old_pid = old_pid;
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->argc = BPF_CORE_READ(bprm, argc);
	e->start_boottime_ns = BPF_CORE_READ(t, start_boottime);
	struct file *file = BPF_CORE_READ(bprm, file);
	fill_file_id(&e->exe, file);

	__u32 flags = 0, off = sizeof(*e), n;
	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	n = put_kstr(s, off, filename, &flags, TB_EXEC_FILENAME_TRUNC);
	e->filename_len = n;
	off += n;
	if (interp != filename) {
		flags |= TB_EXEC_SCRIPT;
		n = put_kstr(s, off, interp, &flags, TB_EXEC_INTERP_TRUNC);
		e->interp_len = n;
		off += n;
	}
	n = put_file_path(s, off, t, file, &flags, TB_EXEC_EXE_PATH_TRUNC,
			  TB_EXEC_EXE_PATH_UNREACHABLE);
	e->exe_path_len = n;
	off += n;
	n = put_cwd(s, off, t, &flags, TB_EXEC_CWD_TRUNC, TB_EXEC_CWD_UNREACHABLE);
	e->cwd_len = n;
	off += n;

	__u64 arg_start = BPF_CORE_READ(t, mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(t, mm, arg_end);
	__u64 alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > TB_ARGV_MAX) {
		alen = TB_ARGV_MAX;
		flags |= TB_EXEC_ARGV_TRUNC;
	}
	alen &= (2 * TB_ARGV_MAX - 1);
	if (alen && bpf_probe_read_user(&s->ev[off & EV_OFF_MASK], alen, (void *)arg_start) == 0) {
		e->argv_len = alen;
		off += alen;
	}

	/* Digest: stop the task before its first instruction unless this exact file
	 * identity was hashed already; the loader hashes /proc/<pid>/exe and SIGCONTs. */
	int stopped = 0;
	if (cfg_flags & TB_CFG_DIGESTS) {
		if ((flags & TB_EXEC_SCRIPT) || !bpf_map_lookup_elem(&digested, &e->exe)) {
			__u64 now = bpf_ktime_get_boot_ns();
			__u64 hb = heartbeat_ns;
			if (hb && now - hb < cfg_heartbeat_timeout_ns) {
				if (bpf_send_signal(SIGSTOP) == 0) {
					flags |= TB_EXEC_NEEDS_DIGEST;
					stopped = 1;
				} else {
					flags |= TB_EXEC_DIGEST_SKIPPED;
					count_loss(TB_LOSS_SIGNAL_FAILED);
				}
			} else {
				flags |= TB_EXEC_DIGEST_SKIPPED;
				count_loss(TB_LOSS_DIGEST_SKIPPED);
			}
		}
	}
	e->flags = flags;
	if (output_flags(s, off, TB_EV_EXEC, stopped ? BPF_RB_FORCE_WAKEUP : 0) && stopped)
		bpf_send_signal(SIGCONT); /* nobody will hash it: do not leave it stopped */
	scratch_put(s);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	if (ctgid == BPF_CORE_READ(parent, tgid))
		return 0; /* a thread */
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_fork_event *e = (void *)s->ev;
	fill_header(&e->hdr, TB_EV_FORK, cg);
	e->child_pid = BPF_CORE_READ(child, pid);
	e->child_tgid = ctgid;
	e->child_start_boottime_ns = BPF_CORE_READ(child, start_boottime);
	output(s, sizeof(*e), TB_EV_FORK);
	scratch_put(s);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct signal_struct *sig = BPF_CORE_READ(t, signal);
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0; /* not the last thread */
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_exit_event *e = (void *)s->ev;
	fill_header(&e->hdr, TB_EV_EXIT, cg);
	e->exit_code = BPF_CORE_READ(t, exit_code);
	e->flags = 0;
	e->start_boottime_ns = BPF_CORE_READ(t, start_boottime);
	e->utime_ns = BPF_CORE_READ(sig, utime) + BPF_CORE_READ(t, utime);
	e->stime_ns = BPF_CORE_READ(sig, stime) + BPF_CORE_READ(t, stime);
	e->runtime_ns = BPF_CORE_READ(sig, sum_sched_runtime) + BPF_CORE_READ(t, se.sum_exec_runtime);
	e->maxrss_kib = (__u64)BPF_CORE_READ(sig, maxrss) * 4; /* pages of 4 KiB (x86-64) */
	output(s, sizeof(*e), TB_EV_EXIT);
	scratch_put(s);
	return 0;
}

/* ---- syscalls: entry remembers the arguments, exit reports ------------------------ */
static __always_inline int remember(struct pending *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&pending, &id, p, BPF_ANY))
		count_loss(TB_LOSS_PENDING_FULL);
	return 0;
}

/*
 * Syscalls are hooked at the two raw tracepoints every syscall passes (sys_enter and
 * sys_exit), not at the per-syscall trace events: the dispatcher below tail-calls the
 * handler of the syscall number (the loader fills sys_enter_progs from the host's
 * <sys/syscall.h>), so a syscall nobody asked about costs a bounds check and an empty
 * slot. Per-syscall trace events are perf events: each needed its own attachment, and
 * each detach waits for an RCU grace period under a global mutex (seconds at exit).
 */
#define SYSCALL_NR_MAX 512

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_NR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} sys_enter_progs SEC(".maps");

SEC("raw_tracepoint/sys_enter")
int on_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	__u64 nr = ctx->args[1];
	if (nr >= SYSCALL_NR_MAX)
		return 0;
	bpf_tail_call(ctx, &sys_enter_progs, (__u32)nr);
	return 0;
}

/* A 32-bit (ia32) syscall of a 64-bit kernel: its numbers are another table; not traced
 * (the per-syscall trace events ignore them too). */
static __always_inline int compat_syscall(void)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *t = (void *)bpf_get_current_task();
	return BPF_CORE_READ(t, thread_info.status) & 0x0002; /* TS_COMPAT */
#else
	return 0;
#endif
}

#define TRACED_OR_RETURN()                                                                   \
	do {                                                                                 \
		if (!traced_lookup(bpf_get_current_cgroup_id()) || compat_syscall())        \
			return 0;                                                            \
	} while (0)

/* libbpf 1.1 stops at the fifth syscall argument. */
#ifndef PT_REGS_PARM6_CORE_SYSCALL
#if defined(__TARGET_ARCH_x86)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ((x), r9)
#elif defined(__TARGET_ARCH_arm64)
#define PT_REGS_PARM6_CORE_SYSCALL(x) BPF_CORE_READ((const struct user_pt_regs *)(x), regs[5])
#else
#error "the sixth syscall argument is not known for this architecture"
#endif
#endif

/* The syscall's n-th argument, from the registers the raw tracepoint passes. */
static __always_inline __u64 sc_arg(struct bpf_raw_tracepoint_args *ctx, int n)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	switch (n) {
	case 0:
		return PT_REGS_PARM1_CORE_SYSCALL(regs);
	case 1:
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	case 2:
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	case 3:
		return PT_REGS_PARM4_CORE_SYSCALL(regs);
	case 4:
		return PT_REGS_PARM5_CORE_SYSCALL(regs);
	default:
		return PT_REGS_PARM6_CORE_SYSCALL(regs);
	}
}

#define ARG(n) sc_arg(ctx, n)

static __always_inline int want_open(__u32 flags)
{
	return (cfg_flags & TB_CFG_TRACE_READS) || (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC));
}

static __always_inline int enter_file(__u32 sc, __u32 op, __s32 d1, __u64 p1, __s32 d2, __u64 p2,
				      __u32 flags, __u32 mode)
{
	struct pending p = {};
	p.sc = sc;
	p.op = op;
	p.dirfd1 = d1;
	p.path1 = p1;
	p.dirfd2 = d2;
	p.path2 = p2;
	p.flags = flags;
	p.mode = mode;
	p.uid = (__u32)-1;
	p.gid = (__u32)-1;
	return remember(&p);
}

/* A handler, tail-called by on_sys_enter for its syscall number (never attached itself). */
#define SYS_ENTER(name) SEC("raw_tracepoint") \
	int sys_enter_##name(struct bpf_raw_tracepoint_args *ctx)

SYS_ENTER(open)
{
	TRACED_OR_RETURN();
	if (!want_open(ARG(1)))
		return 0;
	return enter_file(TB_SC_OPEN, TB_FILE_OPEN, TB_AT_FDCWD, ARG(0), 0, 0, ARG(1), ARG(2));
}

SYS_ENTER(openat)
{
	TRACED_OR_RETURN();
	if (!want_open(ARG(2)))
		return 0;
	return enter_file(TB_SC_OPENAT, TB_FILE_OPEN, ARG(0), ARG(1), 0, 0, ARG(2), ARG(3));
}

SYS_ENTER(openat2)
{
	TRACED_OR_RETURN();
	struct open_how how = {};
	bpf_probe_read_user(&how, sizeof(how), (void *)ARG(2));
	if (!want_open(how.flags))
		return 0;
	return enter_file(TB_SC_OPENAT2, TB_FILE_OPEN, ARG(0), ARG(1), 0, 0, how.flags, how.mode);
}

SYS_ENTER(creat)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_CREAT, TB_FILE_OPEN, TB_AT_FDCWD, ARG(0), 0, 0,
			  O_CREAT | O_WRONLY | O_TRUNC, ARG(1));
}

SYS_ENTER(unlink)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_UNLINK, TB_FILE_UNLINK, TB_AT_FDCWD, ARG(0), 0, 0, 0, 0);
}

SYS_ENTER(unlinkat)
{
	TRACED_OR_RETURN();
	__u32 fl = ARG(2);
	return enter_file(TB_SC_UNLINKAT, (fl & AT_REMOVEDIR) ? TB_FILE_RMDIR : TB_FILE_UNLINK,
			  ARG(0), ARG(1), 0, 0, fl, 0);
}

SYS_ENTER(rmdir)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_RMDIR, TB_FILE_RMDIR, TB_AT_FDCWD, ARG(0), 0, 0, 0, 0);
}

SYS_ENTER(rename)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_RENAME, TB_FILE_RENAME, TB_AT_FDCWD, ARG(0), TB_AT_FDCWD, ARG(1), 0, 0);
}

SYS_ENTER(renameat)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_RENAMEAT, TB_FILE_RENAME, ARG(0), ARG(1), ARG(2), ARG(3), 0, 0);
}

SYS_ENTER(renameat2)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_RENAMEAT2, TB_FILE_RENAME, ARG(0), ARG(1), ARG(2), ARG(3), ARG(4), 0);
}

SYS_ENTER(mkdir)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_MKDIR, TB_FILE_MKDIR, TB_AT_FDCWD, ARG(0), 0, 0, 0, ARG(1));
}

SYS_ENTER(mkdirat)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_MKDIRAT, TB_FILE_MKDIR, ARG(0), ARG(1), 0, 0, 0, ARG(2));
}

SYS_ENTER(link)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_LINK, TB_FILE_LINK, TB_AT_FDCWD, ARG(0), TB_AT_FDCWD, ARG(1), 0, 0);
}

SYS_ENTER(linkat)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_LINKAT, TB_FILE_LINK, ARG(0), ARG(1), ARG(2), ARG(3), ARG(4), 0);
}

static __always_inline int enter_symlink(__u32 sc, __u64 target, __s32 d2, __u64 linkpath)
{
	struct pending p = {};
	p.sc = sc;
	p.op = TB_FILE_SYMLINK;
	p.path1 = target;
	p.literal1 = 1;
	p.dirfd1 = TB_AT_FDCWD;
	p.dirfd2 = d2;
	p.path2 = linkpath;
	p.uid = (__u32)-1;
	p.gid = (__u32)-1;
	return remember(&p);
}

SYS_ENTER(symlink)
{
	TRACED_OR_RETURN();
	return enter_symlink(TB_SC_SYMLINK, ARG(0), TB_AT_FDCWD, ARG(1));
}

SYS_ENTER(symlinkat)
{
	TRACED_OR_RETURN();
	return enter_symlink(TB_SC_SYMLINKAT, ARG(0), ARG(1), ARG(2));
}

static __always_inline int enter_fd_op(__u32 sc, __u32 op, __s32 fd, __u32 mode, __u32 uid,
				       __u32 gid, __s64 length)
{
	struct pending p = {};
	p.sc = sc;
	p.op = op;
	p.dirfd1 = fd;
	p.fd_op = 1;
	p.mode = mode;
	p.uid = uid;
	p.gid = gid;
	p.length = length;
	return remember(&p);
}

SYS_ENTER(truncate)
{
	TRACED_OR_RETURN();
	struct pending p = {};
	p.sc = TB_SC_TRUNCATE;
	p.op = TB_FILE_TRUNCATE;
	p.dirfd1 = TB_AT_FDCWD;
	p.path1 = ARG(0);
	p.length = ARG(1);
	p.uid = (__u32)-1;
	p.gid = (__u32)-1;
	return remember(&p);
}

SYS_ENTER(ftruncate)
{
	TRACED_OR_RETURN();
	return enter_fd_op(TB_SC_FTRUNCATE, TB_FILE_TRUNCATE, ARG(0), 0, -1, -1, ARG(1));
}

SYS_ENTER(chmod)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_CHMOD, TB_FILE_CHMOD, TB_AT_FDCWD, ARG(0), 0, 0, 0, ARG(1));
}

SYS_ENTER(fchmod)
{
	TRACED_OR_RETURN();
	return enter_fd_op(TB_SC_FCHMOD, TB_FILE_CHMOD, ARG(0), ARG(1), -1, -1, 0);
}

SYS_ENTER(fchmodat)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_FCHMODAT, TB_FILE_CHMOD, ARG(0), ARG(1), 0, 0, 0, ARG(2));
}

SYS_ENTER(fchmodat2)
{
	TRACED_OR_RETURN();
	return enter_file(TB_SC_FCHMODAT2, TB_FILE_CHMOD, ARG(0), ARG(1), 0, 0, ARG(3), ARG(2));
}

static __always_inline int enter_chown(__u32 sc, __s32 d, __u64 path, __u32 uid, __u32 gid,
				       __u32 flags)
{
	struct pending p = {};
	p.sc = sc;
	p.op = TB_FILE_CHOWN;
	p.dirfd1 = d;
	p.path1 = path;
	p.uid = uid;
	p.gid = gid;
	p.flags = flags;
	return remember(&p);
}

SYS_ENTER(chown)
{
	TRACED_OR_RETURN();
	return enter_chown(TB_SC_CHOWN, TB_AT_FDCWD, ARG(0), ARG(1), ARG(2), 0);
}

SYS_ENTER(lchown)
{
	TRACED_OR_RETURN();
	return enter_chown(TB_SC_LCHOWN, TB_AT_FDCWD, ARG(0), ARG(1), ARG(2), 0x100);
}

SYS_ENTER(fchownat)
{
	TRACED_OR_RETURN();
	return enter_chown(TB_SC_FCHOWNAT, ARG(0), ARG(1), ARG(2), ARG(3), ARG(4));
}

SYS_ENTER(fchown)
{
	TRACED_OR_RETURN();
	return enter_fd_op(TB_SC_FCHOWN, TB_FILE_CHOWN, ARG(0), 0, ARG(1), ARG(2), 0);
}

static __always_inline int enter_net(__u32 sc, __u32 op, __s32 fd, __u64 addr, __u32 addrlen,
				     __u32 backlog)
{
	struct pending p = {};
	p.is_net = 1;
	p.sc = sc;
	p.op = op;
	p.dirfd1 = fd;
	p.addr = addr;
	p.addrlen = addrlen;
	p.flags = backlog;
	return remember(&p);
}

SYS_ENTER(connect)
{
	TRACED_OR_RETURN();
	return enter_net(TB_SC_CONNECT, TB_NET_CONNECT, ARG(0), ARG(1), ARG(2), 0);
}

SYS_ENTER(sendto)
{
	if (!ARG(4))
		return 0; /* no destination: connected socket */
	TRACED_OR_RETURN();
	return enter_net(TB_SC_SENDTO, TB_NET_SENDTO, ARG(0), ARG(4), ARG(5), 0);
}

SYS_ENTER(sendmsg)
{
	TRACED_OR_RETURN();
	struct user_msghdr m = {};
	if (bpf_probe_read_user(&m, sizeof(m), (void *)ARG(1)) || !m.msg_name)
		return 0;
	return enter_net(TB_SC_SENDMSG, TB_NET_SENDMSG, ARG(0), (__u64)m.msg_name, m.msg_namelen, 0);
}

SYS_ENTER(bind)
{
	TRACED_OR_RETURN();
	return enter_net(TB_SC_BIND, TB_NET_BIND, ARG(0), ARG(1), ARG(2), 0);
}

SYS_ENTER(listen)
{
	TRACED_OR_RETURN();
	return enter_net(TB_SC_LISTEN, TB_NET_LISTEN, ARG(0), 0, 0, ARG(1));
}

/* Relative path at ev+off (len bytes)? Empty counts as relative (AT_EMPTY_PATH). */
static __always_inline int is_relative(struct scratch *s, __u32 off, __u32 len)
{
	return len == 0 || s->ev[off & EV_OFF_MASK] != '/';
}

static __always_inline __u32 put_dir(struct scratch *s, __u32 off, struct task_struct *t,
				     __s32 dirfd, __u32 *flags, __u32 trunc_flag)
{
	if (dirfd == TB_AT_FDCWD)
		return put_cwd(s, off, t, flags, trunc_flag, TB_FILE_DIR_UNREACHABLE);
	return put_file_path(s, off, t, fd_file(t, dirfd), flags, trunc_flag,
			     TB_FILE_DIR_UNREACHABLE);
}

static __always_inline int exit_file(struct pending *p, long ret)
{
	if (ret < 0)
		return 0; /* only successful operations count */
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct tb_file_event *e = (void *)s->ev;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, TB_EV_FILE, bpf_get_current_cgroup_id());
	e->ret = ret;
	e->op = p->op;
	e->syscall = p->sc;
	e->flags = p->flags;
	e->mode = p->mode;
	e->dirfd1 = p->dirfd1;
	e->dirfd2 = p->dirfd2;
	e->uid = p->uid;
	e->gid = p->gid;
	e->length = p->length;

	__u32 r = 0, off = sizeof(*e), n;
	__u32 off1 = off;
	n = put_ustr(s, off, p->path1, &r, TB_FILE_PATH1_TRUNC);
	e->path1_len = n;
	off += n;
	__u32 n1 = n;
	__u32 off2 = off;
	n = put_ustr(s, off, p->path2, &r, TB_FILE_PATH2_TRUNC);
	e->path2_len = n;
	off += n;
	__u32 n2 = n;
	if (p->path1 && !p->literal1 && !p->fd_op && is_relative(s, off1, n1)) {
		n = put_dir(s, off, t, p->dirfd1, &r, TB_FILE_DIR1_TRUNC);
		e->dir1_len = n;
		off += n;
	}
	if (p->path2 && is_relative(s, off2, n2)) {
		n = put_dir(s, off, t, p->dirfd2, &r, TB_FILE_DIR2_TRUNC);
		e->dir2_len = n;
		off += n;
	}
	struct file *f = 0;
	if (p->op == TB_FILE_OPEN) {
		f = fd_file(t, ret);
		if (f && (BPF_CORE_READ(f, f_mode) & FMODE_CREATED))
			r |= TB_FILE_CREATED;
	} else if (p->fd_op) {
		f = fd_file(t, p->dirfd1);
	}
	if (f) {
		n = put_file_path(s, off, t, f, &r, TB_FILE_RESOLVED_TRUNC,
				  TB_FILE_RESOLVED_UNREACHABLE);
		e->resolved_len = n;
		off += n;
	}
	e->result = r;
	output(s, off, TB_EV_FILE);
	scratch_put(s);
	return 0;
}

static __always_inline void sock_info(struct task_struct *t, int fd, struct tb_net_event *e)
{
	struct file *f = fd_file(t, fd);
	if (!f)
		return;
	__u16 mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	e->sock_type = BPF_CORE_READ(sock, type);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	e->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (e->op == TB_NET_LISTEN) {
		e->flags |= TB_NET_LOCAL;
		e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
		e->port = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (e->family == AF_INET) {
			__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
			__builtin_memcpy(e->addr, &a, 4);
		} else if (e->family == AF_INET6) {
			BPF_CORE_READ_INTO(&e->addr, sk, __sk_common.skc_v6_rcv_saddr);
		}
	}
}

static __always_inline int exit_net(struct pending *p, long ret)
{
	if (ret < 0 && p->op != TB_NET_CONNECT)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	__u16 family = 0;
	__u8 sa[28] = {};
	if (p->addr) {
		__u32 alen = p->addrlen;
		if (alen > sizeof(sa))
			alen = sizeof(sa);
		if (alen < 2 || bpf_probe_read_user(sa, alen & 31, (void *)p->addr))
			return 0;
		family = *(__u16 *)sa;
		if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
			return 0;
	}
	struct net_key k = {};
	if (family && p->op != TB_NET_CONNECT && p->op != TB_NET_BIND) {
		/* sendto/sendmsg: once per (process, destination) */
		k.tgid = bpf_get_current_pid_tgid() >> 32;
		k.family = family;
		k.port = ((__u16)sa[2] << 8) | sa[3];
		if (family == AF_INET)
			__builtin_memcpy(k.addr, &sa[4], 4);
		else if (family == AF_INET6)
			__builtin_memcpy(k.addr, &sa[8], 16);
		__u8 one = 1;
		if (bpf_map_update_elem(&net_seen, &k, &one, BPF_NOEXIST)) {
			count_loss(TB_LOSS_NET_SUPPRESSED);
			return 0;
		}
	}
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct tb_net_event *e = (void *)s->ev;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, TB_EV_NET, bpf_get_current_cgroup_id());
	e->ret = ret;
	e->op = p->op;
	e->syscall = p->sc;
	e->fd = p->dirfd1;
	__u32 off = sizeof(*e);
	if (family) {
		e->family = family;
		if (family == AF_INET) {
			e->port = ((__u16)sa[2] << 8) | sa[3];
			__builtin_memcpy(e->addr, &sa[4], 4);
		} else if (family == AF_INET6) {
			e->port = ((__u16)sa[2] << 8) | sa[3];
			__builtin_memcpy(e->addr, &sa[8], 16);
		} else {
			/* AF_UNIX: sun_path follows the family */
			__u32 plen = p->addrlen > 2 ? p->addrlen - 2 : 0;
			if (plen > TB_UNIX_PATH_MAX)
				plen = TB_UNIX_PATH_MAX;
			__u64 src = p->addr + 2;
			if (plen > 0 && sa[2] == 0) {
				e->flags |= TB_NET_UNIX_ABSTRACT;
				src += 1;
				plen -= 1;
				plen &= 127;
				if (bpf_probe_read_user(&s->ev[off & EV_OFF_MASK], plen, (void *)src) == 0) {
					e->unix_path_len = plen;
					off += plen;
				}
			} else if (plen > 0) {
				long m = bpf_probe_read_user_str(&s->ev[off & EV_OFF_MASK], (plen & 127) + 1,
								 (void *)src);
				if (m > 0) {
					e->unix_path_len = (m - 1) & 127;
					off += (m - 1) & 127;
				}
			}
		}
	}
	if (p->op == TB_NET_LISTEN)
		e->ret = ret;
	sock_info(t, p->dirfd1, e);
	output(s, off, TB_EV_NET);
	scratch_put(s);
	return 0;
}

/* Syscalls that have a handler (set by the loader with sys_enter_progs): the exit of any
 * other syscall, in any process, returns before touching a map. */
volatile __u8 sc_wanted[SYSCALL_NR_MAX] = {};

/* Every syscall exit: a thread is in one syscall at a time, so the pending entry its
 * sys_enter handler left (if any) belongs to the syscall that returns now. tp_btf: the
 * registers are read directly, without a helper call. */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_x86)
	__u64 nr = regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	__u64 nr = (__u64)(__s64)regs->syscallno;
#else
#error "the syscall number is not known for this architecture"
#endif
	if (nr >= SYSCALL_NR_MAX || !sc_wanted[nr])
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pending, &id);
	if (!pp)
		return 0;
	struct pending p = *pp;
	bpf_map_delete_elem(&pending, &id);
	if (p.is_net)
		return exit_net(&p, ret);
	return exit_file(&p, ret);
}
