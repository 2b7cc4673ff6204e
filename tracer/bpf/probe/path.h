// SPDX-License-Identifier: GPL-2.0
/*
 * A task's files: the struct file of an fd, a file's identity, and the path of a dentry
 * below the task's root (written into the record by one global function, walk_path).
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h.
 */

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
