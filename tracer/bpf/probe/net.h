// SPDX-License-Identifier: GPL-2.0
/*
 * Network syscalls: connect, sendto, sendmsg (once per process and destination), bind
 * and listen; the address they name and the socket's type; the net record.
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h,
 * record.h, path.h and syscall.h.
 */

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

/* A global function (verified once, not for each syscall that leads here). */
__noinline int net_event(struct pending *p, long ret)
{
	if (!p || (ret < 0 && p->op != TB_NET_CONNECT && !p->denied_rule))
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
	if (family && p->op != TB_NET_CONNECT && p->op != TB_NET_BIND && !p->denied_rule) {
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
	if (p->denied_rule) {
		e->flags |= TB_NET_DENIED;
		e->denied_rule = (p->denied_rule - 1) & 0xffff;
	}
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
