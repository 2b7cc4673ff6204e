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
#define EEXIST 17
#define EFAULT 14
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
const volatile __u32 cfg_loader_pid = 0; /* stored in the claims this probe makes */

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

/* A file or network syscall that returned, with its arguments (from its registers). */
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


/* Shared with every other running probe (events.h "shared"; the loader swaps in the
 * shared maps before loading): identities already hashed, and which probe stopped an exec. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tb_file_id);
	__type(value, struct tb_shared_digest);
} tb2_digests SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct tb_exec_key);
	__type(value, __u32);
} tb2_claims SEC(".maps");

/* A process (tgid and its leader's start: pids are reused, 32768 of them by default) and
 * a destination it sent to. */
struct net_key {
	__u64 start_boottime_ns;
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

static __always_inline __u64 wake_flags(__u32 size)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										     : BPF_RB_NO_WAKEUP;
}

static __always_inline int output_flags(struct scratch *s, __u32 size, __u32 type, __u64 wake)
{
	struct tb_header *h = (void *)s->ev;
	size &= EV_OFF_MASK;
	h->size = size;
	if (!wake)
		wake = wake_flags(size);
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

/* Copies a user string to ev+off; returns its length (no NUL). *fault is set when the
 * string could not be read: not the same as an empty path, which names the directory. */
static __always_inline __u32 put_ustr(struct scratch *s, __u32 off, __u64 src, __u32 *flags,
				      __u32 trunc_flag, int *fault)
{
	if (!src)
		return 0;
	long n = bpf_probe_read_user_str(&s->ev[off & EV_OFF_MASK], TB_PATH_MAX, (void *)src);
	if (n < 0)
		*fault = 1;
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

/* ---- path walk: dentry -> "/a/b" below the task's root ----------------------------
 * One global function (walk_path): the verifier checks it once, not at each of the five
 * places a path is written (inlined, they made on_exec and on_sys_exit take ~0.13 s to
 * verify, on the way of every traced build's start). Pointers travel as numbers: they are
 * only read through bpf_probe_read_kernel. */
enum { WALK_GOING = 0, WALK_DONE = 1, WALK_TRUNC = 2, WALK_UNREACHABLE = 3 };

struct walk_ctx {
	__u64 dentry;      /* struct dentry * */
	__u64 vfsmnt;      /* struct vfsmount * */
	__u64 mnt;         /* the struct mount of vfsmnt */
	__u64 mnt_root;    /* vfsmnt->mnt_root, read once per mount */
	__u64 root_dentry; /* the task's root */
	__u64 root_mnt;
	__u32 pos;
	__u32 status;
};

/* walk_path's result: the length, and what stopped the walk */
#define WALKED_LEN_MASK 0xffff
#define WALKED_TRUNC (1u << 16)
#define WALKED_UNREACHABLE (1u << 17)

static long walk_step(__u32 i, void *vctx)
{
	struct walk_ctx *c = vctx;
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s) {
		c->status = WALK_UNREACHABLE;
		return 1;
	}
	if (c->dentry == c->root_dentry && c->vfsmnt == c->root_mnt) {
		c->status = WALK_DONE;
		return 1;
	}
	struct dentry *d = (void *)c->dentry;
	/* d_parent and d_name sit together at the head of struct dentry: one read for both */
	const __u32 o_parent = bpf_core_field_offset(struct dentry, d_parent);
	const __u32 o_name = bpf_core_field_offset(struct dentry, d_name);
	const __u32 o_len = bpf_core_field_offset(struct qstr, len);
	const __u32 o_str = bpf_core_field_offset(struct qstr, name);
	__u64 parent, name;
	__u32 len;
	char head[64];
	if (o_parent + 8 <= sizeof(head) && o_name + o_len + 4 <= sizeof(head) &&
	    o_name + o_str + 8 <= sizeof(head)) {
		if (bpf_probe_read_kernel(head, sizeof(head), d)) {
			c->status = WALK_UNREACHABLE;
			return 1;
		}
		parent = *(__u64 *)(head + o_parent);
		len = *(__u32 *)(head + o_name + o_len);
		name = *(__u64 *)(head + o_name + o_str);
	} else {
		parent = (__u64)BPF_CORE_READ(d, d_parent);
		len = BPF_CORE_READ(d, d_name.len);
		name = (__u64)BPF_CORE_READ(d, d_name.name);
	}
	if (c->dentry == c->mnt_root || c->dentry == parent) {
		struct mount *m = (void *)c->mnt;
		__u64 mp = (__u64)BPF_CORE_READ(m, mnt_parent);
		if (c->dentry != c->mnt_root || c->mnt == mp) {
			/* global root or a detached tree: not below the task's root */
			c->status = WALK_UNREACHABLE;
			return 1;
		}
		c->dentry = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		c->mnt = mp;
		c->vfsmnt = mp + bpf_core_field_offset(struct mount, mnt);
		struct vfsmount *vm = (void *)c->vfsmnt; /* (a cast inside BPF_CORE_READ would relocate c) */
		c->mnt_root = (__u64)BPF_CORE_READ(vm, mnt_root);
		return 0;
	}
	if (len > 255)
		len = 255;
	if (len + 1 >= c->pos) {
		c->status = WALK_TRUNC;
		return 1;
	}
	__u32 pos = c->pos - len;
	bpf_probe_read_kernel(&s->path[pos & (PATHBUF_END - 1)], len & 255, (void *)name);
	pos -= 1;
	s->path[pos & (PATHBUF_END - 1)] = '/';
	c->pos = pos;
	c->dentry = parent;
	return 0;
}

/* Writes the path of at->dentry in at->vfsmnt, below the root at->root_dentry/root_mnt, at
 * ev+off. Returns its length | WALKED_*. */
__noinline __u32 walk_path(struct scratch *s, __u32 off, struct walk_ctx *at)
{
	if (!s || !at || !at->dentry || !at->vfsmnt)
		return 0;
	struct walk_ctx c = *at;
	c.mnt = c.vfsmnt - bpf_core_field_offset(struct mount, mnt);
	struct vfsmount *vm = (void *)c.vfsmnt;
	c.mnt_root = (__u64)BPF_CORE_READ(vm, mnt_root);
	c.pos = PATHBUF_END;
	c.status = WALK_GOING;
	bpf_loop(WALK_MAX, walk_step, &c, 0);
	__u32 r = 0;
	if (c.status == WALK_GOING || c.status == WALK_TRUNC)
		r = WALKED_TRUNC;
	else if (c.status == WALK_UNREACHABLE)
		r = WALKED_UNREACHABLE;
	__u32 pos = c.pos;
	if (pos >= PATHBUF_END) {
		pos = PATHBUF_END - 1;
		s->path[pos] = '/';
	}
	__u32 len = (PATHBUF_END - pos) & (PATHBUF_END - 1);
	bpf_probe_read_kernel(&s->ev[off & EV_OFF_MASK], len, &s->path[pos & (PATHBUF_END - 1)]);
	return len | r;
}

/* Writes the path of (dentry, vfsmnt) relative to task's root at ev+off; returns the
 * length. Sets trunc_flag / unreach_flag in *flags. */
static __always_inline __u32 put_path(struct scratch *s, __u32 off, struct task_struct *t,
				      struct dentry *dentry, struct vfsmount *vfsmnt,
				      __u32 *flags, __u32 trunc_flag, __u32 unreach_flag)
{
	struct walk_ctx at = {};
	at.dentry = (__u64)dentry;
	at.vfsmnt = (__u64)vfsmnt;
	at.root_dentry = (__u64)BPF_CORE_READ(t, fs, root.dentry);
	at.root_mnt = (__u64)BPF_CORE_READ(t, fs, root.mnt);
	__u32 r = walk_path(s, off, &at);
	if (r & WALKED_TRUNC)
		*flags |= trunc_flag;
	if (r & WALKED_UNREACHABLE)
		*flags |= unreach_flag;
	return r & WALKED_LEN_MASK & (PATHBUF_END - 1);
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
	e->exec_id = BPF_CORE_READ(t, self_exec_id);
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
	 * identity was hashed already (by any probe); the loader hashes /proc/<pid>/exe and
	 * SIGCONTs. Only one probe may stop an exec: another probe's SIGCONT would resume it
	 * while this loader still hashes. The first to claim it stops it; the others leave it
	 * to that probe's loader, which shares what it hashed (events.h "shared"). */
	int stopped = 0;
	if (cfg_flags & TB_CFG_DIGESTS) {
		if ((flags & TB_EXEC_SCRIPT) || !bpf_map_lookup_elem(&tb2_digests, &e->exe)) {
			/* signed: the loader may write a fresher heartbeat between these two reads */
			__s64 age = (__s64)(bpf_ktime_get_boot_ns() - heartbeat_ns);
			if (heartbeat_ns && age < (__s64)cfg_heartbeat_timeout_ns) {
				struct tb_exec_key k = { .tgid = e->hdr.tgid,
							 .start_boottime_ns = e->start_boottime_ns,
							 .exec_id = e->exec_id };
				__u32 me = cfg_loader_pid;
				long c = bpf_map_update_elem(&tb2_claims, &k, &me, BPF_NOEXIST);
				if (c == -EEXIST) {
					flags |= TB_EXEC_DIGEST_BY_PEER;
				} else if (c != 0) {
					/* unclaimed: stopping it could race another probe's SIGCONT */
					flags |= TB_EXEC_DIGEST_SKIPPED;
					count_loss(TB_LOSS_DIGEST_SKIPPED);
				} else if (bpf_send_signal(SIGSTOP) == 0) {
					flags |= TB_EXEC_NEEDS_DIGEST;
					stopped = 1;
				} else {
					/* not stopped: let a later probe claim and stop it */
					bpf_map_delete_elem(&tb2_claims, &k);
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
	if (output_flags(s, off, TB_EV_EXEC, stopped ? BPF_RB_FORCE_WAKEUP : 0) && stopped) {
		/* our loader will never hear of it: release the claim, so that a probe later in
		 * the chain stops and hashes it instead of waiting for results, and continue it */
		struct tb_exec_key k = { .tgid = e->hdr.tgid,
					 .start_boottime_ns = e->start_boottime_ns,
					 .exec_id = e->exec_id };
		bpf_map_delete_elem(&tb2_claims, &k);
		bpf_send_signal(SIGCONT);
	}
	scratch_put(s);
	return 0;
}

/* Fork and exit records have a fixed size: written straight into the ring buffer, their
 * fields loaded directly through the tracepoint's typed pointers (no helper call, no
 * scratch copy). They are ~60% of a build's records. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	__u32 ctgid = child->tgid;
	if (ctgid == parent->tgid)
		return 0; /* a thread */
	struct tb_fork_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(TB_LOSS_RINGBUF_FIRST + TB_EV_FORK - 1);
		return 0;
	}
	fill_header(&e->hdr, TB_EV_FORK, cg);
	e->hdr.size = sizeof(*e);
	e->child_pid = child->pid;
	e->child_tgid = ctgid;
	e->child_start_boottime_ns = child->start_boottime;
	bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
	return 0;
}

/* Kernels that pass sched_process_exit `group_dead` (whether this thread ended its
 * process: it took signal->live to 0) also have this raw event struct with that field:
 * CO-RE tells them apart, and on the others the branch that reads the argument is dead
 * code the verifier never sees. */
struct trace_event_raw_sched_process_exit___gd {
	bool group_dead;
} __attribute__((preserve_access_index));

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct signal_struct *sig = t->signal;
	if (bpf_core_field_exists(struct trace_event_raw_sched_process_exit___gd, group_dead)) {
		if (!(__u8)ctx[1])
			return 0; /* not the thread that ended the process */
	} else if (sig->live.counter != 0) {
		/* Not the last thread. Two threads exiting at once can both read 0 here: the
		 * process then has two exit records (the correlator tolerates that). */
		return 0;
	}
	struct tb_exit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(TB_LOSS_RINGBUF_FIRST + TB_EV_EXIT - 1);
		return 0;
	}
	fill_header(&e->hdr, TB_EV_EXIT, cg);
	e->hdr.size = sizeof(*e);
	e->exit_code = t->exit_code;
	e->flags = 0;
	/* the process's start (with tgid, its name in fork and exec records) is its leader's:
	 * the last thread to exit is often another one */
	e->start_boottime_ns = t->group_leader->start_boottime;
	e->utime_ns = sig->utime + t->utime;
	e->stime_ns = sig->stime + t->stime;
	e->runtime_ns = sig->sum_sched_runtime + t->se.sum_exec_runtime;
	e->maxrss_kib = (__u64)sig->maxrss * 4; /* pages of 4 KiB (x86-64) */
	bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
	return 0;
}

/* ---- syscalls: reported at their exit, with the arguments from their registers -------
 * One hook, the raw tracepoint sys_exit, which every syscall passes: a syscall nobody asked
 * about costs a bounds check and a byte of sc_wanted (the loader fills it from the host's
 * <sys/syscall.h> with our TB_SC_* ids). The arguments are still in the syscall's saved
 * registers at its exit (the return value goes to ax, or x0 whose argument arm64 keeps in
 * orig_x0); user memory (paths, struct open_how, msghdr) is read at exit too, as the paths
 * always were. Why not sys_enter as well: a second program on every syscall of the machine
 * cost ~0.1 us per syscall, and the map entry carried from one to the other another ~0.2 us
 * per traced syscall. Per-syscall trace events are perf events: detaching ~60 of them
 * waits for an RCU grace period each, under a global mutex (seconds at exit).
 */
#define SYSCALL_NR_MAX 512

/* The 32-bit entry of x86-64 (int $0x80, sysenter, and every syscall of an i386 program):
 * the i386 numbering and registers, and 32-bit pointers. A 64-bit program can use it too,
 * so a tracer that read only the 64-bit table would miss every file a build step made
 * that way (testdata/trace-fidelity, Dockerfile:15). TS_COMPAT is set in the task's
 * thread_info for the whole syscall and cleared only on the way back to user space, after
 * this tracepoint. (arm64's 32-bit tasks: not handled, see tracer/README.md.) */
static __always_inline int compat_syscall(struct task_struct *t)
{
#if defined(__TARGET_ARCH_x86)
	return t->thread_info.status & 0x0002; /* TS_COMPAT */
#elif defined(__TARGET_ARCH_arm64)
	return (t->thread_info.flags >> 22) & 1; /* TIF_32BIT: an AArch32 task */
#else
	return 0;
#endif
}

/* The syscall's n-th argument (1-based), from its saved registers. */
#if defined(__TARGET_ARCH_x86)
#define SC_ARG6(regs) ((regs)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define SC_ARG6(regs) BPF_CORE_READ((const struct user_pt_regs *)(regs), regs[5])
#else
#error "the sixth syscall argument is not known for this architecture"
#endif
#define SC_ARG(regs, n) ((__u64)PT_REGS_PARM##n##_SYSCALL(regs))

/* A syscall's arguments, whichever entry it came through. The 32-bit entry's are 32-bit
 * values: zero-extended here (pointers, flags), so signed ones (fds, AT_FDCWD, lengths)
 * are narrowed back by their users. */
struct sc_args {
	__u64 a[7]; /* a[1]..a[6] */
};

static __always_inline void read_args(struct sc_args *args, struct pt_regs *regs, int compat)
{
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		args->a[1] = (__u32)regs->bx;
		args->a[2] = (__u32)regs->cx;
		args->a[3] = (__u32)regs->dx;
		args->a[4] = (__u32)regs->si;
		args->a[5] = (__u32)regs->di;
		args->a[6] = (__u32)regs->bp;
		return;
	}
#endif
	args->a[1] = SC_ARG(regs, 1);
	args->a[2] = SC_ARG(regs, 2);
	args->a[3] = SC_ARG(regs, 3);
	args->a[4] = SC_ARG(regs, 4);
	args->a[5] = SC_ARG(regs, 5);
	args->a[6] = SC_ARG6(regs);
}

static __always_inline int want_open(__u32 flags)
{
	return (cfg_flags & TB_CFG_TRACE_READS) || (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC));
}

static __always_inline void file_args(struct pending *p, __u32 op, __s32 d1, __u64 p1, __s32 d2,
				      __u64 p2, __u32 flags, __u32 mode)
{
	p->op = op;
	p->dirfd1 = d1;
	p->path1 = p1;
	p->dirfd2 = d2;
	p->path2 = p2;
	p->flags = flags;
	p->mode = mode;
}

static __always_inline void fd_args(struct pending *p, __u32 op, __s32 fd, __u32 mode, __u32 uid,
				    __u32 gid, __s64 length)
{
	p->op = op;
	p->dirfd1 = fd;
	p->fd_op = 1;
	p->mode = mode;
	p->uid = uid;
	p->gid = gid;
	p->length = length;
}

static __always_inline void net_args(struct pending *p, __u32 op, __s32 fd, __u64 addr,
				     __u32 addrlen, __u32 backlog)
{
	p->is_net = 1;
	p->op = op;
	p->dirfd1 = fd;
	p->addr = addr;
	p->addrlen = addrlen;
	p->flags = backlog;
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

/* Global functions (verified once, not for each syscall that leads here). */
__noinline int file_event(struct pending *p, long ret)
{
	if (!p || ret < 0)
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
	int fault = 0;
	n = put_ustr(s, off, p->path1, &r, TB_FILE_PATH1_TRUNC, &fault);
	e->path1_len = n;
	off += n;
	__u32 n1 = n;
	__u32 off2 = off;
	n = put_ustr(s, off, p->path2, &r, TB_FILE_PATH2_TRUNC, &fault);
	if (fault) {
		/* a path the syscall used but we could not read (paged out meanwhile): the event
		 * would name the wrong file (its directory); lost, and counted as such */
		count_loss(TB_LOSS_ARGS_UNREAD);
		scratch_put(s);
		return 0;
	}
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

__noinline int net_event(struct pending *p, long ret)
{
	if (!p || (ret < 0 && p->op != TB_NET_CONNECT))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	__u16 family = 0;
	__u8 sa[28] = {};
	if (p->addr) {
		__u32 alen = p->addrlen;
		if (alen > sizeof(sa))
			alen = sizeof(sa);
		if (alen < 2)
			return 0; /* the kernel refused it too (EINVAL) */
		if (bpf_probe_read_user(sa, alen & 31, (void *)p->addr)) {
			if (ret != -EFAULT) /* the kernel read it: we could not */
				count_loss(TB_LOSS_ARGS_UNREAD);
			return 0;
		}
		family = *(__u16 *)sa;
		if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
			return 0;
	}
	struct net_key k = {};
	if (family && p->op != TB_NET_CONNECT && p->op != TB_NET_BIND) {
		/* sendto/sendmsg: once per (process, destination) */
		k.tgid = bpf_get_current_pid_tgid() >> 32;
		k.start_boottime_ns = t->group_leader->start_boottime;
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

/* The TB_SC_* id of each syscall number to report (set by the loader; 0: not reported),
 * for the 64-bit entry and (x86-64) the 32-bit one, whose ids may carry TB_SC_UID16. */
volatile __u8 sc_wanted[SYSCALL_NR_MAX] = {};
volatile __u8 sc_wanted_compat[SYSCALL_NR_MAX] = {};

/* socketcall(2) of the 32-bit entry: the socket call it carries (0: none we report), its
 * arguments read as 32-bit values from user memory in place of the syscall's own, as many
 * as the kernel reads for that call. */
static __always_inline __u32 socketcall_args(struct sc_args *args, long ret)
{
	__u32 v[6] = {};
	__u32 call = args->a[1], sc, n;
	switch (call) {
	case 2: sc = TB_SC_BIND; n = 3; break;     /* SYS_BIND */
	case 3: sc = TB_SC_CONNECT; n = 3; break;  /* SYS_CONNECT */
	case 4: sc = TB_SC_LISTEN; n = 2; break;   /* SYS_LISTEN */
	case 11: sc = TB_SC_SENDTO; n = 6; break;  /* SYS_SENDTO */
	case 16: sc = TB_SC_SENDMSG; n = 3; break; /* SYS_SENDMSG */
	default: return 0;
	}
	if (bpf_probe_read_user(v, (n * 4) & 31, (void *)args->a[2])) {
		if (ret != -EFAULT)
			count_loss(TB_LOSS_ARGS_UNREAD);
		return 0;
	}
	for (int i = 0; i < 6; i++)
		args->a[i + 1] = v[i];
	return sc;
}

/* A chown uid or gid argument; the 16-bit calls' "unchanged" is 0xffff. */
static __always_inline __u32 owner_arg(__u64 v, int uid16)
{
	if (!uid16)
		return v;
	return (__u16)v == 0xffff ? (__u32)-1 : (__u16)v;
}

/* A signed (long, off_t) argument: the 32-bit entry's is 32 bits wide. */
static __always_inline __s64 signed_arg(__u64 v, int compat)
{
	return compat ? (__s64)(__s32)v : (__s64)v;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_x86)
	/* x32 (a 64-bit task with 32-bit pointers) numbers the common syscalls as the 64-bit
	 * entry does, with this bit set; its own compat calls (512 and up) are not traced */
	__u64 nr = regs->orig_ax & ~0x40000000ULL;
#elif defined(__TARGET_ARCH_arm64)
	__u64 nr = (__u64)(__s64)regs->syscallno;
#else
#error "the syscall number is not known for this architecture"
#endif
	if (nr >= SYSCALL_NR_MAX)
		return 0;
	__u32 sc = sc_wanted[nr];
	__u32 sc_compat = sc_wanted_compat[nr];
	if (!sc && !sc_compat)
		return 0; /* neither entry reports this number: the common case, kept cheapest */
	/* Which entry, before the map lookup: the i386 numbers of the compat table are 64-bit
	 * fstat, mmap, ioctl... (looking up the cgroup for each of those cost ~10%). */
	int compat = compat_syscall(bpf_get_current_task_btf());
	int uid16 = 0;
#if defined(__TARGET_ARCH_arm64)
	if (compat) {
		/* AArch32 numbers its syscalls otherwise, and no table of them is loaded: read
		 * with the arm64 one they would be other syscalls. Not decoded; counted. */
		if (sc && traced_lookup(bpf_get_current_cgroup_id()))
			count_loss(TB_LOSS_ARGS_UNREAD);
		return 0;
	}
#endif
	if (compat) {
		sc = sc_compat & ~TB_SC_UID16;
		uid16 = sc_compat & TB_SC_UID16;
	}
	if (!sc || !traced_lookup(bpf_get_current_cgroup_id()))
		return 0;
	struct sc_args args = {};
	read_args(&args, regs, compat);
	if (sc == TB_SC_SOCKETCALL) {
		sc = socketcall_args(&args, ret);
		if (!sc)
			return 0;
	}
	struct pending p = {};
	p.sc = sc;
	p.uid = (__u32)-1;
	p.gid = (__u32)-1;
	switch (sc) {
	case TB_SC_OPEN:
		if (!want_open(args.a[2]))
			return 0;
		file_args(&p, TB_FILE_OPEN, TB_AT_FDCWD, args.a[1], 0, 0, args.a[2], args.a[3]);
		break;
	case TB_SC_OPENAT:
		if (!want_open(args.a[3]))
			return 0;
		file_args(&p, TB_FILE_OPEN, args.a[1], args.a[2], 0, 0, args.a[3], args.a[4]);
		break;
	case TB_SC_OPENAT2: {
		struct open_how how = {};
		if (bpf_probe_read_user(&how, sizeof(how), (void *)args.a[3])) {
			if (ret >= 0) /* the kernel read it: we could not (failed calls do not count) */
				count_loss(TB_LOSS_ARGS_UNREAD);
			return 0;
		}
		if (!want_open(how.flags))
			return 0;
		file_args(&p, TB_FILE_OPEN, args.a[1], args.a[2], 0, 0, how.flags, how.mode);
		break;
	}
	case TB_SC_CREAT:
		file_args(&p, TB_FILE_OPEN, TB_AT_FDCWD, args.a[1], 0, 0, O_CREAT | O_WRONLY | O_TRUNC,
			  args.a[2]);
		break;
	case TB_SC_UNLINK:
		file_args(&p, TB_FILE_UNLINK, TB_AT_FDCWD, args.a[1], 0, 0, 0, 0);
		break;
	case TB_SC_UNLINKAT: {
		__u32 fl = args.a[3];
		file_args(&p, (fl & AT_REMOVEDIR) ? TB_FILE_RMDIR : TB_FILE_UNLINK, args.a[1],
			  args.a[2], 0, 0, fl, 0);
		break;
	}
	case TB_SC_RMDIR:
		file_args(&p, TB_FILE_RMDIR, TB_AT_FDCWD, args.a[1], 0, 0, 0, 0);
		break;
	case TB_SC_RENAME:
		file_args(&p, TB_FILE_RENAME, TB_AT_FDCWD, args.a[1], TB_AT_FDCWD, args.a[2], 0, 0);
		break;
	case TB_SC_RENAMEAT:
		file_args(&p, TB_FILE_RENAME, args.a[1], args.a[2], args.a[3], args.a[4], 0, 0);
		break;
	case TB_SC_RENAMEAT2:
		file_args(&p, TB_FILE_RENAME, args.a[1], args.a[2], args.a[3], args.a[4],
			  args.a[5], 0);
		break;
	case TB_SC_MKDIR:
		file_args(&p, TB_FILE_MKDIR, TB_AT_FDCWD, args.a[1], 0, 0, 0, args.a[2]);
		break;
	case TB_SC_MKDIRAT:
		file_args(&p, TB_FILE_MKDIR, args.a[1], args.a[2], 0, 0, 0, args.a[3]);
		break;
	case TB_SC_LINK:
		file_args(&p, TB_FILE_LINK, TB_AT_FDCWD, args.a[1], TB_AT_FDCWD, args.a[2], 0, 0);
		break;
	case TB_SC_LINKAT:
		file_args(&p, TB_FILE_LINK, args.a[1], args.a[2], args.a[3], args.a[4],
			  args.a[5], 0);
		break;
	case TB_SC_SYMLINK:
		/* path1 is the link's text: not a path to resolve */
		file_args(&p, TB_FILE_SYMLINK, TB_AT_FDCWD, args.a[1], TB_AT_FDCWD, args.a[2], 0, 0);
		p.literal1 = 1;
		break;
	case TB_SC_SYMLINKAT:
		file_args(&p, TB_FILE_SYMLINK, TB_AT_FDCWD, args.a[1], args.a[2], args.a[3], 0, 0);
		p.literal1 = 1;
		break;
	case TB_SC_TRUNCATE:
		file_args(&p, TB_FILE_TRUNCATE, TB_AT_FDCWD, args.a[1], 0, 0, 0, 0);
		p.length = signed_arg(args.a[2], compat);
		break;
	case TB_SC_FTRUNCATE:
		fd_args(&p, TB_FILE_TRUNCATE, args.a[1], 0, -1, -1,
			signed_arg(args.a[2], compat));
		break;
	case TB_SC_TRUNCATE64: /* 32-bit entry: the 64-bit length in two registers */
		p.sc = TB_SC_TRUNCATE;
		file_args(&p, TB_FILE_TRUNCATE, TB_AT_FDCWD, args.a[1], 0, 0, 0, 0);
		p.length = (__s64)(args.a[2] | args.a[3] << 32);
		break;
	case TB_SC_FTRUNCATE64:
		p.sc = TB_SC_FTRUNCATE;
		fd_args(&p, TB_FILE_TRUNCATE, args.a[1], 0, -1, -1, (__s64)(args.a[2] | args.a[3] << 32));
		break;
	case TB_SC_CHMOD:
		file_args(&p, TB_FILE_CHMOD, TB_AT_FDCWD, args.a[1], 0, 0, 0, args.a[2]);
		break;
	case TB_SC_FCHMOD:
		fd_args(&p, TB_FILE_CHMOD, args.a[1], args.a[2], -1, -1, 0);
		break;
	case TB_SC_FCHMODAT:
		file_args(&p, TB_FILE_CHMOD, args.a[1], args.a[2], 0, 0, 0, args.a[3]);
		break;
	case TB_SC_FCHMODAT2:
		file_args(&p, TB_FILE_CHMOD, args.a[1], args.a[2], 0, 0, args.a[4], args.a[3]);
		break;
	case TB_SC_CHOWN:
		file_args(&p, TB_FILE_CHOWN, TB_AT_FDCWD, args.a[1], 0, 0, 0, 0);
		p.uid = owner_arg(args.a[2], uid16);
		p.gid = owner_arg(args.a[3], uid16);
		break;
	case TB_SC_LCHOWN:
		file_args(&p, TB_FILE_CHOWN, TB_AT_FDCWD, args.a[1], 0, 0, 0x100, 0);
		p.uid = owner_arg(args.a[2], uid16);
		p.gid = owner_arg(args.a[3], uid16);
		break;
	case TB_SC_FCHOWNAT:
		file_args(&p, TB_FILE_CHOWN, args.a[1], args.a[2], 0, 0, args.a[5], 0);
		p.uid = args.a[3];
		p.gid = args.a[4];
		break;
	case TB_SC_FCHOWN:
		fd_args(&p, TB_FILE_CHOWN, args.a[1], 0, owner_arg(args.a[2], uid16),
			owner_arg(args.a[3], uid16), 0);
		break;
	case TB_SC_CONNECT:
		net_args(&p, TB_NET_CONNECT, args.a[1], args.a[2], args.a[3], 0);
		break;
	case TB_SC_SENDTO:
		if (!args.a[5])
			return 0; /* no destination: connected socket */
		net_args(&p, TB_NET_SENDTO, args.a[1], args.a[5], args.a[6], 0);
		break;
	case TB_SC_SENDMSG: {
		__u64 name = 0;
		__u32 namelen = 0;
		if (compat) {
			struct { __u32 name; __s32 namelen; } m32 = {}; /* compat_msghdr's head */
			if (bpf_probe_read_user(&m32, sizeof(m32), (void *)args.a[2])) {
				if (ret >= 0)
					count_loss(TB_LOSS_ARGS_UNREAD);
				return 0;
			}
			name = m32.name;
			namelen = m32.namelen;
		} else {
			struct user_msghdr m = {};
			if (bpf_probe_read_user(&m, sizeof(m), (void *)args.a[2])) {
				if (ret >= 0)
					count_loss(TB_LOSS_ARGS_UNREAD);
				return 0;
			}
			name = (__u64)m.msg_name;
			namelen = m.msg_namelen;
		}
		if (!name)
			return 0; /* no destination: connected socket */
		net_args(&p, TB_NET_SENDMSG, args.a[1], name, namelen, 0);
		break;
	}
	case TB_SC_BIND:
		net_args(&p, TB_NET_BIND, args.a[1], args.a[2], args.a[3], 0);
		break;
	case TB_SC_LISTEN:
		net_args(&p, TB_NET_LISTEN, args.a[1], 0, 0, args.a[2]);
		break;
	default:
		return 0;
	}
	return p.is_net ? net_event(&p, ret) : file_event(&p, ret);
}
