// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall program (tp_btf/sys_exit): picks the reported syscalls, reads their
 * arguments (the 32-bit entry's socketcall and 16-bit owners too) and hands them to
 * file_event or net_event.
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h,
 * syscall.h, file.h and net.h.
 */

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
	case 20: sc = TB_SC_SENDMMSG; n = 4; break; /* SYS_SENDMMSG */
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

/* The destination a user msghdr at `addr` names (msg_name, msg_namelen): compat_msghdr's
 * head for a 32-bit task. Non-zero when it cannot be read. Shared by sendmsg and by the
 * refused message of a sendmmsg, whose mmsghdr starts with the msghdr. */
static __always_inline int msghdr_dest(__u64 addr, int compat, __u64 *name, __u32 *namelen)
{
	if (compat) {
		struct { __u32 name; __s32 namelen; } m32 = {};
		if (bpf_probe_read_user(&m32, sizeof(m32), (void *)addr))
			return -1;
		*name = m32.name;
		*namelen = m32.namelen;
	} else {
		struct user_msghdr m = {};
		if (bpf_probe_read_user(&m, sizeof(m), (void *)addr))
			return -1;
		*name = (__u64)m.msg_name;
		*namelen = m.msg_namelen;
	}
	return 0;
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
	/* Enforcement first, traced or not: a process whose connect or send an egress rule
	 * refused (enforce.h) is killed before it runs another instruction, so that a step
	 * fails even if its program ignores the EPERM. */
	__u32 denied_rule = 0;
	if ((cfg_flags & TB_CFG_ENFORCE) && (sc == TB_SC_CONNECT || sc == TB_SC_SENDTO ||
					     sc == TB_SC_SENDMSG || sc == TB_SC_SENDMMSG ||
					     sc == TB_SC_SOCKETCALL)) {
		__u64 id = bpf_get_current_pid_tgid();
		__u32 *rule = bpf_map_lookup_elem(&egress_denied, &id);
		if (rule) {
			denied_rule = *rule + 1;
			bpf_map_delete_elem(&egress_denied, &id);
			if (bpf_send_signal(9 /* SIGKILL */))
				count_loss(TB_LOSS_SIGNAL_FAILED);
		}
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
	p.denied_rule = denied_rule;
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
		if (msghdr_dest(args.a[2], compat, &name, &namelen)) {
			if (ret >= 0)
				count_loss(TB_LOSS_ARGS_UNREAD);
			return 0;
		}
		if (!name)
			return 0; /* no destination: connected socket */
		net_args(&p, TB_NET_SENDMSG, args.a[1], name, namelen, 0);
		break;
	}
	case TB_SC_SENDMMSG: {
		/* Recorded only when refused: sendmmsg stops at the first message that fails and
		 * returns how many went (or the error when it was the first), so the refused one
		 * is message `ret` (0 on error). */
		if (!denied_rule)
			return 0;
		__u64 i = ret > 0 ? (__u64)ret : 0;
		if (i >= (__u32)args.a[3])
			return 0; /* all sent: the refusal was another call's (cannot happen) */
		__u64 name = 0;
		__u32 namelen = 0;
		/* a compat_mmsghdr is a 28-byte compat_msghdr and msg_len */
		__u64 stride = compat ? 32 : sizeof(struct mmsghdr);
		if (msghdr_dest(args.a[2] + i * stride, compat, &name, &namelen)) {
			count_loss(TB_LOSS_ARGS_UNREAD);
			return 0;
		}
		if (!name)
			return 0;
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
