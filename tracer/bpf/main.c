// SPDX-License-Identifier: Apache-2.0
/*
 * tracebuild-probe: loads probe.bpf.c, attaches it, and streams its events to stdout as
 * length-prefixed records (u32 little-endian length, then the record; see events.h).
 * It also computes the sha256 of every executed file (TB_EV_DIGEST records) and answers
 * line commands on stdin:
 *
 *   <seq> add <cgroup-id>      trace a cgroup (v2 id)
 *   <seq> addpath <path>       trace the cgroup at <path> below the cgroup v2 root
 *   <seq> remove <cgroup-id>   stop tracing a cgroup
 *   <seq> gen <n>              set the build generation (0: stop adding new cgroups)
 *   <seq> stats                write a TB_EV_LOSS record now
 *   <seq> ping                 nothing
 *   <seq> stop                 drain, write the final TB_EV_LOSS record, exit 0
 *
 * With --enforce-cgroup NAME it also enforces egress rules in the build's cgroup parent
 * (enforce.c) for as long as it runs.
 *
 * Each command is answered by a TB_EV_ACK record carrying <seq>. EOF on stdin, SIGTERM
 * and SIGINT stop it like `stop`. Messages go to stderr.
 *
 * Exit codes: 0 clean stop, 2 usage, 3 not root / not permitted, 4 BPF unavailable
 * (load/attach failed, no BTF), 5 runtime error (e.g. stdout closed), 6 enforcement could
 * not be set up (--enforce-cgroup: no cgroup v2, the parent or its programs failed).
 *
 * This file: options, load and attach, the loop, shutdown. loader.h names the others.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <linux/membarrier.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "loader.h"

#define POLL_MS 25

/* ---- options ------------------------------------------------------------------------ */
struct options opt = { .ringbuf_mib = 64, .generation = 1, .digests = true, .stats_ms = 1000 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"  --prefix PATH         trace new cgroups whose v2 path starts with PATH (repeatable;\n"
		"                        default /docker/buildkit/)\n"
		"  --no-prefix           trace no cgroup automatically\n"
		"  --cgroup ID           trace this cgroup v2 id (repeatable)\n"
		"  --ringbuf-mib N       ring buffer size (default 64; rounded up to a power of 2)\n"
		"  --generation N        initial build generation (default 1; 0 = inactive)\n"
		"  --no-digests          do not stop new executables to hash them\n"
		"  --trace-reads         report read-only opens too\n"
		"  --stats-interval-ms N loss report period (default 1000)\n"
		"  --verbose             libbpf debug output\n"
		"  --enforce-cgroup NAME=MASK\n"
		"                        create the cgroup parent NAME (tracebuild-enforce-<id>) in\n"
		"                        the unified hierarchy, where the egress rules of MASK (bit\n"
		"                        n: rule n) are in force, and attach the egress programs to\n"
		"                        it until exit; then remove it once no other loader uses it\n"
		"                        (repeatable: one parent per set of rules in force)\n"
		"  --egress-allow RULE,ADDR32HEX,PREFIX,PORTLOW,PORTHIGH,PROTO\n"
		"                        an allowed destination of rule RULE (repeatable; ADDR as\n"
		"                        16 bytes of hex, IPv4 v4-mapped; PROTO 0 any, 6, 17)\n"
		"  --release-claims-of PID\n"
		"                        attach nothing: continue every exec that the loader PID\n"
		"                        stopped and did not finish (it is wedged or was killed),\n"
		"                        print how many, and exit\n");
}

/* NAME=MASK: a cgroup parent and the egress rules in force below it. */
static int parse_enforce_parent(const char *v)
{
	const char *eq = strrchr(v, '=');
	char *end;
	unsigned long mask = eq ? strtoul(eq + 1, &end, 0) : 0;
	if (opt.nparents >= TB_ENFORCE_PARENTS_MAX || !eq || eq == v || !eq[1] || *end || !mask ||
	    mask >> TB_EGRESS_RULES_MAX || (size_t)(eq - v) >= sizeof(opt.parents[0].name)) {
		msg("--enforce-cgroup %s: expected NAME=MASK, MASK a non-zero set of at most %d rules "
		    "(at most %d parents)", v, TB_EGRESS_RULES_MAX, TB_ENFORCE_PARENTS_MAX);
		return -1;
	}
	struct enforce_parent *p = &opt.parents[opt.nparents++];
	memcpy(p->name, v, eq - v);
	p->name[eq - v] = 0;
	p->rules = mask;
	return 0;
}

/* RULE,ADDR32HEX,PREFIX,PORTLOW,PORTHIGH,PROTO */
static int parse_egress_allow(const char *v)
{
	unsigned rule, prefix, lo, hi, proto;
	char hex[33];
	if (opt.negress >= TB_EGRESS_MAX ||
	    sscanf(v, "%u,%32[0-9a-f],%u,%u,%u,%u", &rule, hex, &prefix, &lo, &hi, &proto) != 6 ||
	    strlen(hex) != 32 || rule >= TB_EGRESS_RULES_MAX || prefix > 128 || lo > hi ||
	    hi > 65535 || (proto != 0 && proto != 6 && proto != 17)) {
		msg("--egress-allow %s: expected RULE,ADDR32HEX,PREFIX,PORTLOW,PORTHIGH,PROTO (at most "
		    "%d)", v, TB_EGRESS_MAX);
		return -1;
	}
	struct tb_egress_allow *e = &opt.egress[opt.negress++];
	for (int i = 0; i < 16; i++) {
		unsigned b;
		sscanf(hex + 2 * i, "%2x", &b);
		e->addr[i] = b;
	}
	e->prefix = prefix;
	e->protocol = proto;
	e->rule = rule;
	e->port_low = lo;
	e->port_high = hi;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                                        \
	do {                                                                                \
		if (!v) {                                                                   \
			msg("%s needs a value", a);                                         \
			return -1;                                                          \
		}                                                                           \
		i++;                                                                        \
	} while (0)
		if (!strcmp(a, "--prefix")) {
			NEED_VALUE();
			if (opt.nprefixes >= TB_MAX_PREFIXES || strlen(v) >= TB_PREFIX_MAX || !*v) {
				msg("at most %d prefixes of 1..%d bytes", TB_MAX_PREFIXES,
				    TB_PREFIX_MAX - 1);
				return -1;
			}
			opt.prefixes[opt.nprefixes++] = v;
		} else if (!strcmp(a, "--no-prefix")) {
			opt.no_prefix = true;
		} else if (!strcmp(a, "--cgroup")) {
			NEED_VALUE();
			if (opt.ncgroups >= 64)
				return -1;
			opt.cgroups[opt.ncgroups++] = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--ringbuf-mib")) {
			NEED_VALUE();
			opt.ringbuf_mib = strtoul(v, NULL, 0);
			if (opt.ringbuf_mib < 1 || opt.ringbuf_mib > 1024) {
				msg("--ringbuf-mib must be 1..1024");
				return -1;
			}
		} else if (!strcmp(a, "--generation")) {
			NEED_VALUE();
			opt.generation = strtoul(v, NULL, 0);
		} else if (!strcmp(a, "--no-digests")) {
			opt.digests = false;
		} else if (!strcmp(a, "--trace-reads")) {
			opt.trace_reads = true;
		} else if (!strcmp(a, "--stats-interval-ms")) {
			NEED_VALUE();
			opt.stats_ms = strtoul(v, NULL, 0);
		} else if (!strcmp(a, "--release-claims-of")) {
			NEED_VALUE();
			char *end;
			opt.release_owner = strtol(v, &end, 10);
			if (*end || opt.release_owner <= 0) {
				msg("--release-claims-of needs a pid");
				return -1;
			}
		} else if (!strcmp(a, "--enforce-cgroup")) {
			NEED_VALUE();
			if (parse_enforce_parent(v))
				return -1;
		} else if (!strcmp(a, "--egress-allow")) {
			NEED_VALUE();
			if (parse_egress_allow(v))
				return -1;
		} else if (!strcmp(a, "--verbose")) {
			opt.verbose = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(EXIT_OK);
		} else {
			msg("unknown option %s", a);
			return -1;
		}
	}
	if (!opt.nprefixes && !opt.no_prefix)
		opt.prefixes[opt.nprefixes++] = "/docker/buildkit/";
	if (opt.no_prefix)
		opt.nprefixes = 0;
	return 0;
}

struct probe *skel;

/* ---- load and attach ---------------------------------------------------------------- */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !opt.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* ---- records from the probe ---------------------------------------------------------- */

/* An exec: into the process table, then out with its digests (hashed now if this probe
 * stopped it, and continued first; from the kernel's or this loader's cache; or from the
 * probe that stopped it). Only when another probe stopped it and has not shared its digests
 * yet does the exec go out alone, its digests as records of their own once they come. */
static void handle_exec(const struct tb_exec_event *ex, size_t size)
{
	struct shared_result r;
	procs_exec(ex);
	if (ex->flags & TB_EXEC_NEEDS_DIGEST) {
		/* stopped by this probe: continued before anything is written */
		finish_claimed(ex, size, &r);
		write_exec(ex, size, &r);
		return;
	}
	if (!opt.digests) {
		out_record(ex, size);
		return;
	}
	if (ex->flags & TB_EXEC_DIGEST_BY_PEER) {
		if (peer_result_now(ex, &r)) {
			write_exec(ex, size, &r);
			return;
		}
		out_record(ex, size);
		wait_for_peer(ex, size);
		return;
	}
	compute_digests(ex, size, 0, &r);
	write_exec(ex, size, &r);
}

static uint64_t kernel_records;

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct tb_header *h = data;
	kernel_records++;
	if (size < sizeof(*h))
		return 0;
	switch (h->type) {
	case TB_EV_FORK:
		if (size < sizeof(struct tb_fork_event))
			break;
		procs_fork(data);
		return 0;
	case TB_EV_EXIT:
		if (size < sizeof(struct tb_exit_event))
			break;
		procs_exit(data);
		return 0;
	case TB_EV_EXEC:
		if (size < sizeof(struct tb_exec_event))
			break;
		handle_exec(data, size);
		return 0;
	case TB_EV_FILE:
	case TB_EV_NET:
		out_batched(data, size);
		return 0;
	default:
		break;
	}
	out_record(data, size);
	return 0;
}

/* ---- attach, drain, detach ----------------------------------------------------------- */
#define MAX_LINKS 96
static struct bpf_link *links[MAX_LINKS];
static int nlinks;

static int attach_one(struct bpf_link *l, const char *what)
{
	long err = libbpf_get_error(l);
	if (err) {
		msg("attaching %s failed: %s", what, strerror((int)-err));
		return (int)-err;
	}
	if (nlinks < MAX_LINKS)
		links[nlinks++] = l;
	return 0;
}

/* Stopping: no new cgroup is traced, and none of those traced is any more. */
static void untrace_all(void)
{
	skel->bss->cfg_generation = 0;
	int fd = bpf_map__fd(skel->maps.traced);
	__u64 id;
	for (unsigned n = 0; n < (1u << 20) && bpf_map_get_next_key(fd, NULL, &id) == 0; n++)
		bpf_map_delete_elem(fd, &id);
}

/* Handles what the probe writes for ns nanoseconds. */
static void drain_for(struct ring_buffer *rb, uint64_t ns)
{
	for (uint64_t end = clock_ns(CLOCK_MONOTONIC) + ns;;) {
		ring_buffer__consume(rb);
		if (npeers)
			check_peers(false);
		if (clock_ns(CLOCK_MONOTONIC) >= end)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void destroy_links(void)
{
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	nlinks = 0;
}

static unsigned round_pow2(unsigned long v)
{
	unsigned long r = 1;
	while (r < v)
		r <<= 1;
	return r;
}

/* ---- TRACEBUILD_PROBE_STATS ----------------------------------------------------------
 * For the benchmarks (bench/trace.mjs): when the variable names a file, the loader writes
 * there at exit, as JSON, what its probe's programs ran in the kernel (run time and count:
 * kernel.bpf_stats_enabled must be 1 while they run, else 0), its own CPU time and peak
 * RSS, and what it read and wrote. Written before the programs are unloaded. */
static void write_stats(uint64_t kernel_records)
{
	const char *path = getenv("TRACEBUILD_PROBE_STATS");
	if (!path || !*path)
		return;
	FILE *f = fopen(path, "w");
	if (!f) {
		msg("TRACEBUILD_PROBE_STATS: cannot write %s: %s", path, strerror(errno));
		return;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	fprintf(f, "{\"programs\": {");
	struct bpf_program *prog;
	bool first = true;
	bpf_object__for_each_program(prog, skel->obj) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		fprintf(f, "%s\"%s\": {\"runTimeNs\": %llu, \"runCount\": %llu}", first ? "" : ", ",
			bpf_program__name(prog), (unsigned long long)info.run_time_ns,
			(unsigned long long)info.run_cnt);
		first = false;
	}
	fprintf(f,
		"}, \"loader\": {\"userUs\": %llu, \"systemUs\": %llu, \"maxRssKiB\": %ld}, "
		"\"in\": {\"kernelRecords\": %llu, \"forks\": %llu, \"execs\": %llu, \"exits\": %llu, "
		"\"repeatedExits\": %llu}, "
		"\"out\": {\"records\": %llu, \"bytes\": %llu, \"batches\": %llu, \"batched\": %llu, "
		"\"processRecords\": %llu}}\n",
		(unsigned long long)ru.ru_utime.tv_sec * 1000000ULL + ru.ru_utime.tv_usec,
		(unsigned long long)ru.ru_stime.tv_sec * 1000000ULL + ru.ru_stime.tv_usec, ru.ru_maxrss,
		(unsigned long long)kernel_records, (unsigned long long)procs_in[0],
		(unsigned long long)procs_in[1], (unsigned long long)procs_in[2],
		(unsigned long long)procs_repeated, (unsigned long long)out_stats.records, (unsigned long long)out_stats.bytes,
		(unsigned long long)out_stats.batches, (unsigned long long)out_stats.batched,
		(unsigned long long)procs_out);
	fclose(f);
}

/* --release-claims-of (claims.c) */
static int release_mode(__u32 owner)
{
	libbpf_set_print(libbpf_print);
	skel = probe__open(); /* only for the maps' layout: nothing is loaded */
	if (!skel) {
		msg("BPF unavailable: cannot open the BPF object: %s", strerror(errno));
		return EXIT_NO_BPF;
	}
	unsigned continued = release_claims_of_loader(owner);
	printf("%u\n", continued);
	probe__destroy(skel);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	if (parse_args(argc, argv)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (geteuid() != 0) {
		msg("must run as root: loading eBPF programs, stopping traced processes and reading "
		    "/proc/<pid>/exe need root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN, CAP_KILL)");
		return EXIT_NOT_ROOT;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		msg("BPF unavailable: /sys/kernel/btf/vmlinux is missing (kernel without "
		    "CONFIG_DEBUG_INFO_BTF)");
		return EXIT_NO_BPF;
	}
	if (opt.release_owner)
		return release_mode((__u32)opt.release_owner);
	signal(SIGPIPE, SIG_IGN);
	/* A pipe of 1 MiB (the output buffer's size) takes a whole batch in one write: the
	 * reader wakes once per batch instead of once per 64 KiB (not a pipe: no effect). */
	fcntl(STDOUT_FILENO, F_SETPIPE_SZ, OUT_BUF_BYTES);
	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		msg("BPF unavailable: cannot count CPUs");
		return EXIT_NO_BPF;
	}
	if (!digests_init()) {
		msg("out of memory");
		return EXIT_RUNTIME;
	}

	skel = probe__open();
	if (!skel) {
		msg("BPF unavailable: cannot open the BPF object: %s", strerror(errno));
		return EXIT_NO_BPF;
	}
	skel->rodata->cfg_flags = (opt.digests ? TB_CFG_DIGESTS : 0) |
				  (opt.trace_reads ? TB_CFG_TRACE_READS : 0);
	skel->rodata->cfg_nprefixes = opt.nprefixes;
	for (int i = 0; i < opt.nprefixes; i++) {
		size_t n = strlen(opt.prefixes[i]);
		memcpy((char *)skel->rodata->cfg_prefix[i], opt.prefixes[i], n);
		skel->rodata->cfg_prefix_len[i] = n;
	}
	skel->rodata->cfg_loader_pid = getpid();
	if (opt.nparents) {
		skel->rodata->cfg_flags |= TB_CFG_ENFORCE;
		skel->rodata->cfg_egress_n = opt.negress;
		memcpy((void *)skel->rodata->cfg_egress, opt.egress, sizeof(opt.egress));
	} else {
		/* Not enforcing: the sock_addr programs are not even loaded. */
		bpf_program__set_autoload(skel->progs.enforce_connect4, false);
		bpf_program__set_autoload(skel->progs.enforce_connect6, false);
		bpf_program__set_autoload(skel->progs.enforce_sendmsg4, false);
		bpf_program__set_autoload(skel->progs.enforce_sendmsg6, false);
	}
	if (opt.digests && setup_shared_maps()) {
		probe__destroy(skel);
		return EXIT_RUNTIME;
	}
	unsigned long rb_bytes = round_pow2((unsigned long)opt.ringbuf_mib << 20);
	bpf_map__set_max_entries(skel->maps.events, rb_bytes);
	bpf_map__set_max_entries(skel->maps.scratch, ncpus);

	int err = probe__load(skel);
	if (err) {
		int e = errno ? errno : -err;
		if (e == EPERM || e == EACCES) {
			msg("not permitted to load eBPF programs (%s): run as root", strerror(e));
			probe__destroy(skel);
			return EXIT_NOT_ROOT;
		}
		msg("BPF unavailable: loading the probe failed: %s (run with --verbose for the "
		    "verifier log)", strerror(e));
		probe__destroy(skel);
		return EXIT_NO_BPF;
	}

	claims_fd = bpf_map__fd(skel->maps.tb2_claims);
	claims_max = bpf_map__max_entries(skel->maps.tb2_claims);
	skel->bss->cfg_generation = opt.generation;
	skel->bss->heartbeat_ns = clock_ns(CLOCK_BOOTTIME);
	for (int i = 0; i < opt.ncgroups; i++)
		trace_cgroup(opt.cgroups[i]);

	err = 0;
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_cgroup_mkdir), "cgroup_mkdir");
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_cgroup_rmdir), "cgroup_rmdir");
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_exec), "sched_process_exec");
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_fork), "sched_process_fork");
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_exit), "sched_process_exit");
	want_syscalls();
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_sys_exit), "sys_exit");
	/* Enforcement last: the probe that kills refused processes is attached by now. */
	if (!err && opt.nparents && enforce_setup()) {
		enforce_release();
		destroy_links();
		probe__destroy(skel);
		return EXIT_ENFORCE;
	}
	if (err) {
		destroy_links();
		probe__destroy(skel);
		if (err == EPERM || err == EACCES) {
			msg("not permitted to attach eBPF programs: run as root");
			return EXIT_NOT_ROOT;
		}
		msg("BPF unavailable: attaching the probe failed");
		return EXIT_NO_BPF;
	}

	struct ring_buffer *rb =
		ring_buffer__new(bpf_map__fd(skel->maps.events), handle_event, NULL, NULL);
	if (!rb) {
		msg("BPF unavailable: cannot map the ring buffer: %s", strerror(errno));
		return EXIT_NO_BPF;
	}

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN };
	ev.data.u32 = 0;
	epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(rb), &ev);
	ev.data.u32 = 1;
	bool stdin_open = epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &ev) == 0;
	ev.data.u32 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);

	struct tb_ready_event ready;
	loader_header(&ready.hdr, TB_EV_READY, sizeof(ready));
	ready.abi_version = TB_ABI_VERSION;
	ready.ncpus = ncpus;
	ready.realtime_offset_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
	ready.ringbuf_bytes = rb_bytes;
	ready.flags = (opt.digests ? TB_READY_DIGESTS : 0) |
		      (opt.trace_reads ? TB_READY_TRACE_READS : 0);
	ready.loader_pid = getpid();
	out_start();
	out_record(&ready, sizeof(ready));
	out_flush();
	if (opt.verbose)
		msg("attached (%d links), ring buffer %lu bytes", nlinks, rb_bytes);

	uint64_t next_stats = clock_ns(CLOCK_MONOTONIC) + (uint64_t)opt.stats_ms * 1000000ULL;
	int rc = EXIT_OK;
	while (!stopping) {
		heartbeat();
		struct epoll_event evs[4];
		/* Records wake the loader only by the 128 KiB (or for an exec to hash): it polls
		 * every POLL_MS. Each poll wakes the CLI too: fewer, bigger batches cost both less. */
		int n = epoll_wait(ep, evs, 4, POLL_MS);
		if (n < 0 && errno != EINTR) {
			msg("epoll_wait: %s", strerror(errno));
			rc = EXIT_RUNTIME;
			break;
		}
		ring_buffer__consume(rb);
		if (npeers)
			check_peers(false);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.u32 == 1) {
				if (!read_stdin()) {
					stopping = true; /* stdin EOF: the supervisor is gone */
					epoll_ctl(ep, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
				}
			} else if (evs[i].data.u32 == 2) {
				struct signalfd_siginfo si;
				while (read(sfd, &si, sizeof(si)) == sizeof(si))
					stopping = true;
			}
		}
		if (!stdin_open) {
			/* stdin not pollable (/dev/null, a regular file): read it to the end */
			while (read_stdin() && !stopping)
				;
			stopping = true;
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (opt.stats_ms && now >= next_stats) {
			write_losses(false);
			next_stats = now + (uint64_t)opt.stats_ms * 1000000ULL;
		}
		out_flush();
		if (out_is_broken()) {
			msg("stdout closed: stopping");
			rc = EXIT_RUNTIME;
			break;
		}
	}

	/* Stop producing. First trace nothing any more (other builds' execs would otherwise be
	 * reported, and counted as digestSkipped below); then a zero heartbeat makes the probe
	 * stop no more execs. An on_exec already past either check may still claim and stop
	 * one: drain meanwhile. Enforcement goes first, while the probe still kills: what
	 * still runs in the build's cgroups is killed before the rules go. */
	enforce_release();
	untrace_all();
	drain_for(rb, 1000000ULL);
	heartbeat_off = true;
	skel->bss->heartbeat_ns = 0;
	drain_for(rb, 3000000ULL);
	/* Detach, then wait for an RCU grace period (membarrier): after it no probe program
	 * runs, and whatever they wrote is in the ring buffer. */
	destroy_links();
	if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0)) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	ring_buffer__consume(rb);
	/* Execs waiting for another probe's digests get a few seconds more: that probe's loader
	 * is normally milliseconds away. */
	for (uint64_t end = clock_ns(CLOCK_MONOTONIC) + 5000000000ULL;
	     npeers && clock_ns(CLOCK_MONOTONIC) < end;) {
		struct timespec ts = { 0, 2000000 };
		nanosleep(&ts, NULL);
		check_peers(false);
	}
	check_peers(true);
	/* Never leave an exec this probe stopped behind */
	if (opt.digests)
		release_own_claims();
	/* the processes still running: their forks, without exits */
	procs_flush();
	write_losses(true);
	out_finish();
	__u64 total[TB_LOSS_MAX];
	read_losses(total);
	uint64_t lost = 0;
	for (int k = TB_LOSS_RINGBUF_FIRST; k < TB_LOSS_RINGBUF_FIRST + TB_EV_KERNEL_MAX - 1; k++)
		lost += total[k];
	if (lost || total[TB_LOSS_PENDING_FULL] || total[TB_LOSS_TRACED_FULL] ||
	    total[TB_LOSS_SCRATCH_BUSY] || total[TB_LOSS_DIGEST_FAILED] || total[TB_LOSS_OUTPUT])
		msg("losses: ringbuf=%llu pending_full=%llu traced_full=%llu scratch_busy=%llu "
		    "digest_failed=%llu output=%llu",
		    (unsigned long long)lost, (unsigned long long)total[TB_LOSS_PENDING_FULL],
		    (unsigned long long)total[TB_LOSS_TRACED_FULL],
		    (unsigned long long)total[TB_LOSS_SCRATCH_BUSY],
		    (unsigned long long)total[TB_LOSS_DIGEST_FAILED],
		    (unsigned long long)total[TB_LOSS_OUTPUT]);
	ring_buffer__free(rb);
	write_stats(kernel_records);
	probe__destroy(skel);
	close(ep);
	close(sfd);
	digests_free();
	claims_close();
	return out_is_broken() && rc == EXIT_OK ? EXIT_RUNTIME : rc;
}
