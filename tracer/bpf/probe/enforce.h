// SPDX-License-Identifier: GPL-2.0
/*
 * Egress enforcement (build --enforce): cgroup/connect4, connect6, sendmsg4 and sendmsg6
 * programs. The loader attaches them (BPF links it alone holds) to each of the build's
 * cgroup parents (one per set of rules in force; enforce_parents says which) before the solve, so they are in force in every RUN container created under it
 * before any of its processes runs. Returning 0 makes connect() or sendto()/sendmsg() fail
 * with EPERM; the refusal is remembered for the thread (egress_denied) and sys_exit.h kills
 * the process at that syscall's exit and flags its net record TB_NET_DENIED. Loaded only
 * when the loader is given egress rules (autoload off otherwise).
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h.
 */
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

/* Whether the first `prefix` bits of a and of entry i's address are the same. */
static __always_inline int egress_prefix_match(const __u8 *a, __u32 i)
{
	__u32 prefix = cfg_egress[i].prefix;
	for (__u32 b = 0; b < 16; b++) {
		if (prefix <= b * 8)
			break;
		__u32 bits = prefix - b * 8;
		__u8 mask = bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));
		if ((a[b] ^ cfg_egress[i].addr[b]) & mask)
			return 0;
	}
	return 1;
}

/* 1: every egress rule in force here allows this destination; 0: refused (remembered for
 * the thread). The rules in force are those of the cgroup parent the calling task runs
 * under (level 1 of the unified hierarchy: /tracebuild-enforce-<id>). */
static __always_inline int egress_verdict(const __u8 *a, __u16 port, __u32 protocol)
{
	__u64 parent = bpf_get_current_ancestor_cgroup_id(1);
	__u32 *in_force = bpf_map_lookup_elem(&enforce_parents, &parent);
	if (!in_force) {
		/* Fail closed: a program of ours runs only below a parent we set a mask for. */
		__u32 unknown = TB_EGRESS_RULE_UNKNOWN;
		__u64 id = bpf_get_current_pid_tgid();
		bpf_map_update_elem(&egress_denied, &id, &unknown, BPF_ANY);
		return 0;
	}
	__u32 rules = *in_force;
	__u32 allowed = 0;
	for (__u32 i = 0; i < TB_EGRESS_MAX; i++) {
		if (i >= cfg_egress_n)
			break;
		if (cfg_egress[i].protocol && cfg_egress[i].protocol != protocol)
			continue;
		if (port < cfg_egress[i].port_low || port > cfg_egress[i].port_high)
			continue;
		if (egress_prefix_match(a, i))
			allowed |= 1U << (cfg_egress[i].rule & (TB_EGRESS_RULES_MAX - 1));
	}
	__u32 refused = rules & ~allowed;
	if (!refused)
		return 1;
	__u32 rule = 0;
	for (__u32 r = 0; r < TB_EGRESS_RULES_MAX; r++) {
		if (refused & (1U << r)) {
			rule = r;
			break;
		}
	}
	__u64 id = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&egress_denied, &id, &rule, BPF_ANY);
	return 0;
}

static __always_inline int egress4(struct bpf_sock_addr *ctx)
{
	__u8 a[16] = {};
	__u32 ip = ctx->user_ip4;
	a[10] = 0xff;
	a[11] = 0xff;
	__builtin_memcpy(&a[12], &ip, 4);
	return egress_verdict(a, bpf_ntohs((__u16)ctx->user_port), ctx->protocol);
}

/* An IPv6 destination, v4-mapped ones included (an IPv6 socket reaching an IPv4 peer passes
 * only this hook, with ::ffff:a.b.c.d). */
static __always_inline int egress6(struct bpf_sock_addr *ctx)
{
	__u32 w[4];
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	__u8 a[16];
	__builtin_memcpy(a, w, 16);
	return egress_verdict(a, bpf_ntohs((__u16)ctx->user_port), ctx->protocol);
}

SEC("cgroup/connect4")
int enforce_connect4(struct bpf_sock_addr *ctx)
{
	return egress4(ctx);
}

SEC("cgroup/connect6")
int enforce_connect6(struct bpf_sock_addr *ctx)
{
	return egress6(ctx);
}

SEC("cgroup/sendmsg4")
int enforce_sendmsg4(struct bpf_sock_addr *ctx)
{
	return egress4(ctx);
}

SEC("cgroup/sendmsg6")
int enforce_sendmsg6(struct bpf_sock_addr *ctx)
{
	return egress6(ctx);
}
