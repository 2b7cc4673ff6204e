// SPDX-License-Identifier: Apache-2.0
/*
 * What the loader's files (main.c, output.c, procs.c, digests.c, claims.c, control.c,
 * syscalls.c) share: internal to tracebuild-probe. The event ABI is events.h.
 */
#ifndef TRACEBUILD_LOADER_H
#define TRACEBUILD_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
/* The skeleton defines probe__destroy static (not inline): unused in most files here. Its
 * embedded object is only emitted where probe__open is called (main.c). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "probe.skel.h"
#pragma GCC diagnostic pop

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_NOT_ROOT = 3, EXIT_NO_BPF = 4, EXIT_RUNTIME = 5, EXIT_ENFORCE = 6 };

#define PROG "tracebuild-probe"

/* ---- main.c: options and the loaded probe -------------------------------------------- */
/* A cgroup parent of the build (build --enforce) and the egress rules in force below it. */
struct enforce_parent {
	char name[65];
	unsigned rules; /* one bit per egress rule */
};

struct options {
	const char *prefixes[TB_MAX_PREFIXES];
	int nprefixes;
	bool no_prefix;
	uint64_t cgroups[64];
	int ncgroups;
	unsigned ringbuf_mib;
	unsigned generation;
	bool digests;
	bool trace_reads;
	unsigned stats_ms;
	bool verbose;
	long release_owner; /* --release-claims-of: that loader's pid; 0 = not this mode */
	struct enforce_parent parents[TB_ENFORCE_PARENTS_MAX]; /* --enforce-cgroup */
	int nparents;
	struct tb_egress_allow egress[TB_EGRESS_MAX]; /* --egress-allow */
	unsigned negress;
};
extern struct options opt;
extern struct probe *skel;

static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- output.c: messages, records on stdout, loss counters ------------------------------ */
#define OUT_BUF_BYTES (1 << 20)
extern uint64_t user_loss[TB_LOSS_MAX]; /* counters kept by the loader itself */
extern int ncpus;

void msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool out_is_broken(void);
void out_start(void);
void out_flush(void);
void out_finish(void);
void out_record(const void *rec, uint32_t len);
void out_batched(const void *rec, uint32_t len); /* file, net and proc records */
void loader_header(struct tb_header *h, uint32_t type, uint32_t size);
void write_ack(uint32_t seq, int err, uint64_t value);
/* What went out (for TRACEBUILD_PROBE_STATS, main.c). */
struct out_stats {
	uint64_t records, bytes; /* records written (a batch counts one), with their lengths */
	uint64_t batches;        /* batch records */
	uint64_t batched;        /* records that went through a batch (alone or packed) */
};
extern struct out_stats out_stats;
void read_losses(__u64 out[TB_LOSS_MAX]);
void write_losses(bool force);

/* ---- digests.c: hashing what an exec runs, the digest cache ---------------------------- */
/* What one digest record says (besides its header, which is the exec's). */
struct digest_part {
	__s32 error; /* 0 or an errno */
	__u32 flags; /* TB_DIGEST_* */
	__u64 bytes;
	__u8 sha256[32];
	struct tb_file_id file;
};

/* The value of TB_SHARED_RESULTS: what the claimant's loader hashed for one exec. */
struct shared_result {
	struct digest_part exe, script;
	__u32 has_script;
	__u32 _pad;
};

/* Set when stopping: the heartbeat stays 0, so the probe stops no more execs. */
extern bool heartbeat_off;

bool digests_init(void);
void digests_free(void);
void heartbeat(void);
void cache_put(const struct tb_file_id *id, const uint8_t sha[32], uint64_t bytes);
void part_error(struct digest_part *p, int err, uint32_t flags, const struct tb_file_id *id);
void write_digest(const struct tb_exec_event *ex, uint32_t kind, const struct digest_part *p);
void compute_digests(const struct tb_exec_event *ex, size_t size, uint32_t base,
		     struct shared_result *r);
void write_result(const struct tb_exec_event *ex, const struct shared_result *r);
/* The longest exec record the probe writes: the struct and its five strings. */
#define TB_EXEC_RECORD_MAX (sizeof(struct tb_exec_event) + 4 * TB_PATH_MAX + TB_ARGV_MAX)
void write_exec(const struct tb_exec_event *ex, size_t size, const struct shared_result *r);

/* ---- claims.c: execs stopped for hashing, shared with concurrent probes ---------------- */
extern int claims_fd; /* TB_SHARED_CLAIMS */
extern __u32 claims_max;
extern size_t npeers; /* execs waiting for another probe's digests */

int setup_shared_maps(void);
void finish_claimed(const struct tb_exec_event *ex, size_t size, struct shared_result *r);
bool peer_result_now(const struct tb_exec_event *ex, struct shared_result *r);
void wait_for_peer(const struct tb_exec_event *ex, size_t size);
void check_peers(bool final);
void release_own_claims(void);
unsigned release_claims_of_loader(__u32 owner);
void claims_close(void);

/* ---- procs.c: the process table (a process record per process) ------------------------- */
void procs_fork(const struct tb_fork_event *f);
void procs_exec(const struct tb_exec_event *ex);
void procs_exit(const struct tb_exit_event *x);
void procs_flush(void);
/* Kernel records the table took in (fork, exec, exit), process records it wrote, and
 * second exits of a process it dropped (kernels without group_dead). */
extern uint64_t procs_in[3], procs_out, procs_repeated;

/* ---- control.c: commands on stdin ------------------------------------------------------ */
extern bool stopping;

int trace_cgroup(uint64_t id);
bool read_stdin(void);

/* ---- enforce.c: the build's cgroup parent and the egress programs on it ---------------- */
int enforce_setup(void);    /* after load: lock, create, attach; -1: the build must not start */
void enforce_release(void); /* at exit, before the other links go */

/* ---- syscalls.c: which syscalls the probe reports ------------------------------------- */
void want_syscalls(void);

#endif
