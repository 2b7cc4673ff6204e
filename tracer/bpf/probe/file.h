// SPDX-License-Identifier: GPL-2.0
/*
 * File syscalls: their arguments (open, unlink, rename, mkdir, link, symlink, truncate,
 * chmod, chown and their *at and f* forms), the directories relative paths are relative
 * to, the file an open or an f* call resolved to; the file record.
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h,
 * record.h, path.h and syscall.h.
 */

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

/* A global function (verified once, not for each syscall that leads here). */
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
