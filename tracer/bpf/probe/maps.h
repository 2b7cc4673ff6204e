// SPDX-License-Identifier: GPL-2.0
/*
 * The probe's state: the kernel constants it needs, the sizes of its scratch area, its
 * configuration (set by the loader) and its maps.
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after
 * vmlinux.h, the libbpf headers and events.h.
 */

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
const volatile __u32 cfg_egress_n = 0;     /* entries of cfg_egress in use */
const volatile struct tb_egress_allow cfg_egress[TB_EGRESS_MAX] = {};

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

/* build --enforce: the cgroup id of each of the build's cgroup parents (level 1 of the
 * unified hierarchy) -> the egress rules in force below it (one bit per rule). Filled by
 * the loader before it attaches the programs to that parent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TB_ENFORCE_PARENTS_MAX);
	__type(key, __u64);
	__type(value, __u32);
} enforce_parents SEC(".maps");

/* A thread whose connect or send an egress rule refused -> the rule's index, until the
 * syscall's exit (sys_exit.h kills the process there). LRU: it can never be full. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} egress_denied SEC(".maps");

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

/* ---- a loss counted; the traced entry of a cgroup --------------------------------- */
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
