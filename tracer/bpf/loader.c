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
 * Each command is answered by a TB_EV_ACK record carrying <seq>. EOF on stdin, SIGTERM
 * and SIGINT stop it like `stop`. Messages go to stderr.
 *
 * Exit codes: 0 clean stop, 2 usage, 3 not root / not permitted, 4 BPF unavailable
 * (load/attach failed, no BTF), 5 runtime error (e.g. stdout closed).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <linux/membarrier.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "events.h"
#include "probe.skel.h"
#include <openssl/evp.h>

enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_NOT_ROOT = 3, EXIT_NO_BPF = 4, EXIT_RUNTIME = 5 };

#define PROG "tracebuild-probe"
#define POLL_MS 25

static void msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- options ------------------------------------------------------------------------ */
static struct {
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
} opt = { .ringbuf_mib = 64, .generation = 1, .digests = true, .stats_ms = 1000 };

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
		"  --release-claims-of PID\n"
		"                        attach nothing: continue every exec that the loader PID\n"
		"                        stopped and did not finish (it is wedged or was killed),\n"
		"                        print how many, and exit\n");
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

/* ---- clocks ------------------------------------------------------------------------- */
static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---- output -------------------------------------------------------------------------
 * Records are gathered in outbuf; each batch (a full buffer, or what one poll found) is
 * handed to a writer thread, which writes it with one write(2). So the loader never waits
 * for the CLI to read (a stopped exec, maybe of another build, must not wait for that)
 * unless OUT_QUEUE_MAX bytes are queued (then it does: the ring buffer holds the rest). */
static struct probe *skel;
static uint8_t outbuf[1 << 20];
static size_t outlen;
static bool out_broken; /* set by the writer (atomic) */
static uint64_t user_loss[TB_LOSS_MAX]; /* counters kept by the loader itself */

#define OUT_QUEUE_MAX (64u << 20)
struct out_chunk {
	struct out_chunk *next;
	size_t len;
	uint8_t data[];
};
static struct out_chunk *q_head, *q_tail;
static size_t q_bytes;   /* queued or being written */
static bool q_closing;
static bool writer_running;
static pthread_t writer;
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_more = PTHREAD_COND_INITIALIZER, q_less = PTHREAD_COND_INITIALIZER;

static bool out_is_broken(void)
{
	return __atomic_load_n(&out_broken, __ATOMIC_ACQUIRE);
}

static bool write_all(const uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* stdout made non-blocking by the reader: wait until writable */
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
				continue;
			}
			__atomic_store_n(&out_broken, true, __ATOMIC_RELEASE);
			return false;
		}
		done += n;
	}
	return true;
}

static void *writer_main(void *arg)
{
	pthread_mutex_lock(&q_mu);
	for (;;) {
		while (!q_head && !q_closing)
			pthread_cond_wait(&q_more, &q_mu);
		struct out_chunk *c = q_head;
		if (!c)
			break; /* closing, and all written */
		q_head = c->next;
		if (!q_head)
			q_tail = NULL;
		pthread_mutex_unlock(&q_mu);
		if (!out_is_broken())
			write_all(c->data, c->len);
		pthread_mutex_lock(&q_mu);
		q_bytes -= c->len;
		free(c);
		pthread_cond_broadcast(&q_less);
	}
	pthread_mutex_unlock(&q_mu);
	return NULL;
}

static void out_start(void)
{
	writer_running = pthread_create(&writer, NULL, writer_main, NULL) == 0;
	if (!writer_running)
		msg("cannot start the writer thread: writing stdout from the main thread");
}

/* Hands what is in outbuf to the writer (written here when there is no writer). */
static void out_flush(void)
{
	if (!outlen)
		return;
	struct out_chunk *c = writer_running ? malloc(sizeof(*c) + outlen) : NULL;
	if (!c) {
		if (!out_is_broken())
			write_all(outbuf, outlen);
		outlen = 0;
		return;
	}
	c->next = NULL;
	c->len = outlen;
	memcpy(c->data, outbuf, outlen);
	outlen = 0;
	pthread_mutex_lock(&q_mu);
	while (q_bytes >= OUT_QUEUE_MAX && !out_is_broken())
		pthread_cond_wait(&q_less, &q_mu);
	if (q_tail)
		q_tail->next = c;
	else
		q_head = c;
	q_tail = c;
	q_bytes += c->len;
	pthread_cond_signal(&q_more);
	pthread_mutex_unlock(&q_mu);
}

/* At exit: writes everything, and ends the writer. */
static void out_finish(void)
{
	out_flush();
	if (!writer_running)
		return;
	pthread_mutex_lock(&q_mu);
	q_closing = true;
	pthread_cond_signal(&q_more);
	pthread_mutex_unlock(&q_mu);
	pthread_join(writer, NULL);
	writer_running = false;
}

static void out_record(const void *rec, uint32_t len)
{
	if (out_is_broken()) {
		user_loss[TB_LOSS_OUTPUT]++;
		return;
	}
	if (outlen + 4 + len > sizeof(outbuf))
		out_flush();
	if (4 + len > sizeof(outbuf)) {
		user_loss[TB_LOSS_OUTPUT]++;
		return;
	}
	memcpy(outbuf + outlen, &len, 4); /* little endian hosts only (x86-64, arm64) */
	memcpy(outbuf + outlen + 4, rec, len);
	outlen += 4 + len;
}

static void loader_header(struct tb_header *h, uint32_t type, uint32_t size)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->size = size;
	h->ts_ns = clock_ns(CLOCK_BOOTTIME);
	h->pid = h->tgid = getpid();
}

static void write_ack(uint32_t seq, int err, uint64_t value)
{
	struct tb_ack_event a;
	loader_header(&a.hdr, TB_EV_ACK, sizeof(a));
	a.seq = seq;
	a.error = err;
	a.value = value;
	out_record(&a, sizeof(a));
}

/* ---- loss counters ------------------------------------------------------------------ */
static int ncpus;
static __u64 last_loss[TB_LOSS_MAX];

static void read_losses(__u64 out[TB_LOSS_MAX])
{
	uint64_t *vals = calloc(ncpus, sizeof(uint64_t));
	int fd = bpf_map__fd(skel->maps.losses);
	for (uint32_t k = 0; k < TB_LOSS_MAX; k++) {
		out[k] = user_loss[k];
		if (vals && bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (int c = 0; c < ncpus; c++)
				out[k] += vals[c];
	}
	free(vals);
}

static void write_losses(bool force)
{
	struct tb_loss_event l;
	read_losses(l.counters);
	if (!force && !memcmp(l.counters, last_loss, sizeof(last_loss)))
		return;
	memcpy(last_loss, l.counters, sizeof(last_loss));
	loader_header(&l.hdr, TB_EV_LOSS, sizeof(l));
	out_record(&l, sizeof(l));
}

/* ---- digests ------------------------------------------------------------------------ */
#define CACHE_SLOTS (1u << 16)
struct cache_entry {
	bool used;
	struct tb_file_id id;
	uint8_t sha[32];
	uint64_t bytes;
};
static struct cache_entry *cache;
static unsigned cache_count;

static uint32_t id_hash(const struct tb_file_id *id)
{
	const uint8_t *p = (const void *)id;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof(*id); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static struct cache_entry *cache_find(const struct tb_file_id *id, bool insert)
{
	uint32_t i = id_hash(id) & (CACHE_SLOTS - 1);
	for (unsigned n = 0; n < CACHE_SLOTS; n++, i = (i + 1) & (CACHE_SLOTS - 1)) {
		struct cache_entry *e = &cache[i];
		if (!e->used) {
			if (!insert || cache_count >= CACHE_SLOTS * 3 / 4)
				return NULL;
			e->used = true;
			e->id = *id;
			cache_count++;
			return e;
		}
		if (!memcmp(&e->id, id, sizeof(*id)))
			return e;
	}
	return NULL;
}

static uint8_t hashbuf[1 << 20];
/* Set when stopping: the heartbeat stays 0, so the probe stops no more execs. */
static bool heartbeat_off;

static void heartbeat(void)
{
	if (!heartbeat_off)
		skel->bss->heartbeat_ns = clock_ns(CLOCK_BOOTTIME);
}

/* Hashes an open fd with OpenSSL's SHA-256; keeps the probe's heartbeat fresh while doing
 * so, since the task being hashed stays stopped until the digest is known. */
static int hash_fd(int fd, uint8_t sha[32], uint64_t *bytes)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int err = 0;

	*bytes = 0;
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, hashbuf, sizeof(hashbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(c, hashbuf, n)) {
			err = -EIO;
			goto out;
		}
		*bytes += n;
		heartbeat();
	}
	if (!EVP_DigestFinal_ex(c, sha, NULL))
		err = -EIO;
out:
	EVP_MD_CTX_free(c);
	return err;
}

static void stat_to_id(const struct stat *st, struct tb_file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime_sec = st->st_mtim.tv_sec;
	id->mtime_nsec = st->st_mtim.tv_nsec;
	id->ctime_sec = st->st_ctim.tv_sec;
	id->ctime_nsec = st->st_ctim.tv_nsec;
	id->dev = (major(st->st_dev) << 20) | minor(st->st_dev);
	id->mode = st->st_mode;
}

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

static int results_fd = -1; /* TB_SHARED_RESULTS */
/* TB_SHARED_CLAIMS: the probe's own map once loaded, or the one found by name when this
 * process only releases another loader's claims (--release-claims-of). */
static int claims_fd = -1;
static __u32 claims_max;

static void write_digest(const struct tb_exec_event *ex, uint32_t kind, const struct digest_part *p)
{
	struct tb_digest_event d;
	memset(&d, 0, sizeof(d));
	d.hdr = ex->hdr;
	d.hdr.type = TB_EV_DIGEST;
	d.hdr.size = sizeof(d);
	d.kind = kind;
	d.error = p->error;
	d.flags = p->flags;
	d.bytes = p->bytes;
	memcpy(d.sha256, p->sha256, 32);
	d.file = p->file;
	if (p->error)
		user_loss[TB_LOSS_DIGEST_FAILED]++;
	out_record(&d, sizeof(d));
}

static void part_error(struct digest_part *p, int err, uint32_t flags, const struct tb_file_id *id)
{
	memset(p, 0, sizeof(*p));
	p->error = err;
	p->flags = flags;
	if (id)
		p->file = *id;
}

/* A digest known by file identity: this loader's cache, else the one all probes share. */
static bool cached_digest(const struct tb_file_id *id, struct digest_part *p, uint32_t flags)
{
	struct cache_entry *ce = cache_find(id, false);
	if (!ce) {
		struct tb_shared_digest sd;
		if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.tb2_digests), id, &sd))
			return false;
		ce = cache_find(id, true);
		if (ce) {
			memcpy(ce->sha, sd.sha256, 32);
			ce->bytes = sd.bytes;
		}
		memset(p, 0, sizeof(*p));
		memcpy(p->sha256, sd.sha256, 32);
		p->bytes = sd.bytes;
	} else {
		memset(p, 0, sizeof(*p));
		memcpy(p->sha256, ce->sha, 32);
		p->bytes = ce->bytes;
	}
	p->flags = flags | TB_DIGEST_FROM_CACHE;
	p->file = *id;
	return true;
}

/* Remembers a verified digest: in this loader, and for every probe (the kernel then stops
 * no more execs of this identity). */
static void remember_digest(const struct tb_file_id *id, const uint8_t sha[32], uint64_t bytes)
{
	struct cache_entry *ce = cache_find(id, true);
	if (ce) {
		memcpy(ce->sha, sha, 32);
		ce->bytes = bytes;
	}
	struct tb_shared_digest sd;
	memcpy(sd.sha256, sha, 32);
	sd.bytes = bytes;
	bpf_map_update_elem(bpf_map__fd(skel->maps.tb2_digests), id, &sd, BPF_ANY);
}

/* sha256 of /proc/<tgid>/exe: the very file the task executes. */
static void digest_exe(const struct tb_exec_event *ex, uint32_t base_flags, struct digest_part *p)
{
	if (cached_digest(&ex->exe, p, base_flags))
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/exe", ex->hdr.tgid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		part_error(p, errno, base_flags, &ex->exe);
		return;
	}
	struct stat st;
	uint8_t sha[32];
	uint64_t bytes = 0;
	int err = fstat(fd, &st) ? -errno : hash_fd(fd, sha, &bytes);
	close(fd);
	if (err) {
		part_error(p, -err, base_flags, &ex->exe);
		return;
	}
	/* dev/ino may differ on overlayfs (stat reports the real inode); compare the rest */
	bool same = (uint64_t)st.st_size == ex->exe.size &&
		    st.st_mtim.tv_sec == ex->exe.mtime_sec &&
		    (uint32_t)st.st_mtim.tv_nsec == ex->exe.mtime_nsec &&
		    st.st_ctim.tv_sec == ex->exe.ctime_sec &&
		    (uint32_t)st.st_ctim.tv_nsec == ex->exe.ctime_nsec;
	memset(p, 0, sizeof(*p));
	p->flags = base_flags;
	if (!same)
		p->flags |= TB_DIGEST_IDENTITY_MISMATCH;
	else
		remember_digest(&ex->exe, sha, bytes); /* only now may the kernel skip stopping it */
	memcpy(p->sha256, sha, 32);
	p->bytes = bytes;
	p->file = ex->exe;
}

/* sha256 of the #! script named by the exec's filename, resolved inside the task's root. */
static void digest_script(const struct tb_exec_event *ex, const char *filename, const char *cwd,
			  uint32_t base_flags, struct digest_part *p)
{
	char path[2 * TB_PATH_MAX + 64];
	int fd = -1;
	if (!strncmp(filename, "/dev/fd/", 8)) {
		snprintf(path, sizeof(path), "/proc/%u/fd/%s", ex->hdr.tgid, filename + 8);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	} else {
		char root[64];
		snprintf(root, sizeof(root), "/proc/%u/root", ex->hdr.tgid);
		int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rfd >= 0) {
			if (filename[0] == '/')
				snprintf(path, sizeof(path), "%s", filename);
			else
				snprintf(path, sizeof(path), "%s/%s", cwd[0] ? cwd : "/", filename);
			struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
						.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
			fd = syscall(SYS_openat2, rfd, path, &how, sizeof(how));
			close(rfd);
		}
	}
	if (fd < 0) {
		part_error(p, errno, base_flags, NULL);
		return;
	}
	struct stat st;
	uint8_t sha[32];
	uint64_t bytes = 0;
	int err = fstat(fd, &st) ? -errno : hash_fd(fd, sha, &bytes);
	close(fd);
	if (err) {
		part_error(p, -err, base_flags, NULL);
		return;
	}
	memset(p, 0, sizeof(*p));
	p->flags = base_flags;
	memcpy(p->sha256, sha, 32);
	p->bytes = bytes;
	stat_to_id(&st, &p->file);
}

static void exec_key(const struct tb_exec_event *ex, struct tb_exec_key *k)
{
	memset(k, 0, sizeof(*k));
	k->tgid = ex->hdr.tgid;
	k->start_boottime_ns = ex->start_boottime_ns;
	k->exec_id = ex->exec_id;
}

/* ---- the lock file ------------------------------------------------------------------
 * In a directory only root can write (not /run/lock or /tmp: any user could create and
 * flock the file there and block every loader). Held briefly: while the shared maps are
 * found or made, and while a loader takes over an exec from a dead claimant. */
#define LOCK_DIR "/run/tracebuild-probe"
#define LOCK_NAME "probe.lock"
#define LOCK_WAIT_NS (5ULL * 1000000000ULL)

static int lock_fd = -1;

static int open_lock(void)
{
	if (mkdir(LOCK_DIR, 0700) && errno != EEXIST) {
		msg("cannot create " LOCK_DIR ": %s", strerror(errno));
		return -1;
	}
	int dfd = open(LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		msg("cannot open " LOCK_DIR " (it must be a directory, not a symlink): %s",
		    strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(dfd, &st) || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		msg("refusing to use " LOCK_DIR ": it must be a directory owned by root and writable "
		    "by root only (mode 0700); remove it and retry");
		close(dfd);
		return -1;
	}
	int fd = openat(dfd, LOCK_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		msg("cannot open " LOCK_DIR "/" LOCK_NAME ": %s", strerror(errno));
	close(dfd);
	return fd;
}

/* flock(LOCK_EX), retried until timeout_ns has passed (0: one attempt). */
static bool lock_take(uint64_t timeout_ns)
{
	if (lock_fd < 0)
		return false;
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + timeout_ns;
	for (;;) {
		if (flock(lock_fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (clock_ns(CLOCK_MONOTONIC) >= end)
			return false;
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
}

static void lock_release(void)
{
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_UN);
}

/* ---- digests of one exec ------------------------------------------------------------ */

/* Hashes what the exec runs, and its #! script. */
static void compute_digests(const struct tb_exec_event *ex, size_t size, uint32_t base,
			    struct shared_result *r)
{
	static char filename[TB_PATH_MAX + 1], cwd[TB_PATH_MAX + 1];
	const char *p = (const char *)(ex + 1);
	size_t need = sizeof(*ex) + ex->filename_len + ex->interp_len + ex->exe_path_len +
		      ex->cwd_len + ex->argv_len;
	if (need <= size) {
		memcpy(filename, p, ex->filename_len);
		filename[ex->filename_len] = 0;
		p += ex->filename_len + ex->interp_len + ex->exe_path_len;
		memcpy(cwd, p, ex->cwd_len);
		cwd[ex->cwd_len] = 0;
	} else {
		filename[0] = cwd[0] = 0;
	}
	memset(r, 0, sizeof(*r));
	digest_exe(ex, base, &r->exe);
	if (ex->flags & TB_EXEC_SCRIPT) {
		digest_script(ex, filename, cwd, base, &r->script);
		r->has_script = 1;
	}
}

/* For the loaders waiting on this exec (TB_EXEC_DIGEST_BY_PEER): before the SIGCONT. A
 * failure does not replace results already there (from a loader that took the exec over,
 * or the claimant after all). */
static void publish_result(const struct tb_exec_event *ex, const struct shared_result *r)
{
	if (results_fd < 0)
		return;
	struct tb_exec_key k;
	exec_key(ex, &k);
	bpf_map_update_elem(results_fd, &k, r, r->exe.error ? BPF_NOEXIST : BPF_ANY);
}

static void write_result(const struct tb_exec_event *ex, const struct shared_result *r)
{
	write_digest(ex, TB_DIGEST_EXE, &r->exe);
	if (ex->flags & TB_EXEC_SCRIPT)
		write_digest(ex, TB_DIGEST_SCRIPT, &r->script);
}

enum exec_state { EXEC_GONE, EXEC_OTHER, EXEC_RUNNING, EXEC_STOPPED };

/* Whether the exec's task is still that exec, and stopped: the same start time (in clock
 * ticks, as /proc shows it), state T (stopped by a signal; 't', a ptrace stop, is not
 * ours), and no later exec of the task claimed by a probe (self_exec_id is not in /proc). */
static enum exec_state exec_state(const struct tb_exec_event *ex)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%u/stat", ex->hdr.tgid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return EXEC_GONE;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return EXEC_GONE;
	buf[n] = 0;
	char *p = strrchr(buf, ')'); /* after the command name, which may hold anything */
	if (!p || p[1] != ' ' || !p[2])
		return EXEC_GONE;
	p += 2; /* field 3: state */
	char state = *p;
	for (int field = 3; field < 22 && p; field++) { /* field 22: starttime */
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return EXEC_GONE;
	unsigned long long start = strtoull(p, NULL, 10);
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0 || 1000000000L % hz)
		hz = 100;
	if (start != ex->start_boottime_ns / (1000000000ULL / (unsigned long)hz))
		return EXEC_OTHER;
	struct tb_exec_key k;
	__u32 owner;
	exec_key(ex, &k);
	for (int i = 1; i <= 4; i++) {
		k.exec_id = ex->exec_id + i;
		if (bpf_map_lookup_elem(claims_fd, &k, &owner) == 0)
			return EXEC_OTHER;
	}
	return state == 'T' ? EXEC_STOPPED : EXEC_RUNNING;
}

/* An exec this probe claimed and stopped: hash it, publish what was found and continue the
 * task, before anything is written to stdout (a write can block until the CLI reads, and
 * the task may be another build's). */
static void finish_claimed(const struct tb_exec_event *ex, size_t size, struct shared_result *r)
{
	compute_digests(ex, size, TB_DIGEST_WAS_STOPPED, r);
	publish_result(ex, r);
	/* not if a waiting loader took it over (this one was too slow): it continued the task,
	 * which may since have been stopped again for a later exec */
	struct tb_exec_key k;
	__u32 owner;
	exec_key(ex, &k);
	if (bpf_map_lookup_elem(claims_fd, &k, &owner) == 0 &&
	    owner != (__u32)getpid() && owner != 0)
		return;
	kill(ex->hdr.tgid, SIGCONT);
}

/* ---- execs another probe stopped (TB_EXEC_DIGEST_BY_PEER) ----------------------------
 * Their digests come from the claimant's loader through TB_SHARED_RESULTS. It writes them
 * before it continues the task, normally within milliseconds; until then the exec waits
 * here. When the claimant's loader is gone without writing them, or has not written them
 * after PEER_WAIT_NS (wedged), this loader takes the exec over: if the task is still that
 * exec, stopped, it hashes it, publishes the results and continues it (else it signals
 * nothing; the digest is counted as failed). */
#define PEER_WAIT_NS (20ULL * 1000000000ULL)

struct peer_wait {
	struct tb_exec_event *ex; /* a copy of the whole record (a takeover needs its paths) */
	size_t size;
	uint64_t deadline; /* CLOCK_MONOTONIC */
	__u32 owner;       /* the claimant last seen: a new one (a takeover) restarts the wait */
};
static struct peer_wait *peers;
static size_t npeers, peers_cap;

static void emit_peer_result(const struct tb_exec_event *ex, struct shared_result *r)
{
	r->exe.flags |= TB_DIGEST_FROM_PEER;
	write_digest(ex, TB_DIGEST_EXE, &r->exe);
	if (!r->exe.error && !(r->exe.flags & TB_DIGEST_IDENTITY_MISMATCH)) {
		struct cache_entry *ce = cache_find(&ex->exe, true);
		if (ce) {
			memcpy(ce->sha, r->exe.sha256, 32);
			ce->bytes = r->exe.bytes;
		}
	}
	if (ex->flags & TB_EXEC_SCRIPT) {
		if (r->has_script) {
			r->script.flags |= TB_DIGEST_FROM_PEER;
			write_digest(ex, TB_DIGEST_SCRIPT, &r->script);
		} else {
			struct digest_part p;
			part_error(&p, ENOENT, TB_DIGEST_FROM_PEER, NULL);
			write_digest(ex, TB_DIGEST_SCRIPT, &p);
		}
	}
}

static void failed_result(const struct tb_exec_event *ex, int err, struct shared_result *r)
{
	memset(r, 0, sizeof(*r));
	part_error(&r->exe, err, 0, &ex->exe);
	part_error(&r->script, err, 0, NULL);
	r->has_script = 1;
}

static void fail_peer(const struct tb_exec_event *ex, int err)
{
	struct shared_result r;
	failed_result(ex, err, &r);
	emit_peer_result(ex, &r);
}

/* The claimant's loader is gone or wedged: finish its job. true when the exec no longer
 * waits. Under the lock, so that two waiting loaders do not both take it over (the second
 * then sees the first as the claimant, alive, and waits for it). */
static bool take_over(struct peer_wait *w, bool final)
{
	const struct tb_exec_event *ex = w->ex;
	struct tb_exec_key k;
	struct shared_result r;
	exec_key(ex, &k);
	if (!lock_take(final ? 1000000000ULL : 0)) {
		if (!final)
			return false; /* another loader holds it: retry at the next poll */
		fail_peer(ex, ETIMEDOUT);
		return true;
	}
	if (bpf_map_lookup_elem(results_fd, &k, &r) == 0) {
		lock_release();
		emit_peer_result(ex, &r);
		return true;
	}
	int claims = claims_fd;
	__u32 owner = 0, me = getpid();
	if (bpf_map_lookup_elem(claims, &k, &owner) == 0 && owner && owner != w->owner &&
	    owner != me && kill((pid_t)owner, 0) == 0) {
		/* another loader took it over since we looked: wait for it */
		lock_release();
		w->owner = owner;
		w->deadline = clock_ns(CLOCK_MONOTONIC) + PEER_WAIT_NS;
		if (!final)
			return false;
		fail_peer(ex, ETIMEDOUT);
		return true;
	}
	bpf_map_update_elem(claims, &k, &me, BPF_ANY);
	lock_release();

	enum exec_state st = exec_state(ex);
	if (st == EXEC_GONE || st == EXEC_OTHER) {
		/* nothing to hash, nothing to continue; the other waiters need not wait */
		failed_result(ex, ESRCH, &r);
		publish_result(ex, &r);
		emit_peer_result(ex, &r);
		return true;
	}
	/* EXEC_RUNNING: the same exec, continued by someone (e.g. the dead loader's CLI): hash
	 * it anyway, like an exec that was not stopped (a mismatch is flagged) */
	compute_digests(ex, w->size, st == EXEC_STOPPED ? TB_DIGEST_WAS_STOPPED : 0, &r);
	publish_result(ex, &r);
	if (st == EXEC_STOPPED && exec_state(ex) == EXEC_STOPPED)
		kill(ex->hdr.tgid, SIGCONT);
	if (opt.verbose)
		msg("took over exec %u from loader %u", ex->hdr.tgid, w->owner);
	write_result(ex, &r);
	return true;
}

/* Written its digests, or given up: true when the exec no longer waits. `final`: the loader
 * is stopping; an exec whose claimant lives (and will continue it) is given up at once. */
static bool try_peer(struct peer_wait *w, bool final)
{
	const struct tb_exec_event *ex = w->ex;
	struct tb_exec_key k;
	struct shared_result r;
	exec_key(ex, &k);
	if (results_fd < 0) {
		fail_peer(ex, ESRCH);
		return true;
	}
	if (bpf_map_lookup_elem(results_fd, &k, &r) == 0) {
		emit_peer_result(ex, &r);
		return true;
	}
	__u32 owner = 0;
	bool claimed = bpf_map_lookup_elem(claims_fd, &k, &owner) == 0 &&
		       owner != 0;
	if (claimed && owner != w->owner) {
		if (w->owner) /* taken over by another loader: give it its own bound */
			w->deadline = clock_ns(CLOCK_MONOTONIC) + PEER_WAIT_NS;
		w->owner = owner;
	}
	bool gone = claimed && kill((pid_t)owner, 0) != 0 && errno == ESRCH;
	if (gone && bpf_map_lookup_elem(results_fd, &k, &r) == 0) {
		emit_peer_result(ex, &r); /* written just before it exited */
		return true;
	}
	if (!gone && clock_ns(CLOCK_MONOTONIC) < w->deadline) {
		if (!final)
			return false;
		fail_peer(ex, ETIMEDOUT); /* its claimant lives and will continue it */
		return true;
	}
	return take_over(w, final);
}

static void wait_for_peer(const struct tb_exec_event *ex, size_t size)
{
	struct peer_wait w = { .size = size,
			       .deadline = clock_ns(CLOCK_MONOTONIC) + PEER_WAIT_NS };
	w.ex = malloc(size);
	if (!w.ex) {
		fail_peer(ex, ENOMEM);
		return;
	}
	memcpy(w.ex, ex, size);
	if (try_peer(&w, false)) {
		free(w.ex);
		return;
	}
	if (npeers == peers_cap) {
		size_t cap = peers_cap ? 2 * peers_cap : 64;
		struct peer_wait *n = realloc(peers, cap * sizeof(*n));
		if (!n) {
			free(w.ex);
			fail_peer(ex, ENOMEM);
			return;
		}
		peers = n;
		peers_cap = cap;
	}
	peers[npeers++] = w;
}

/* Retries every waiting exec; `final`: give up on those still waiting. */
static void check_peers(bool final)
{
	size_t keep = 0;
	for (size_t i = 0; i < npeers; i++) {
		if (try_peer(&peers[i], final))
			free(peers[i].ex);
		else
			peers[keep++] = peers[i];
	}
	npeers = keep;
}

/* Execs this probe did not stop: their digests (from the cache, a peer, or hashed now). */
static void handle_exec(const struct tb_exec_event *ex, size_t size)
{
	if (ex->flags & TB_EXEC_DIGEST_BY_PEER) {
		wait_for_peer(ex, size);
		return;
	}
	struct shared_result r;
	compute_digests(ex, size, 0, &r);
	write_result(ex, &r);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct tb_header *h = data;
	const struct tb_exec_event *ex = data;
	if (size < sizeof(*h))
		return 0;
	bool is_exec = h->type == TB_EV_EXEC && size >= sizeof(*ex);
	if (is_exec && (ex->flags & TB_EXEC_NEEDS_DIGEST)) {
		/* stopped by this probe: continued before anything is written */
		struct shared_result r;
		finish_claimed(ex, size, &r);
		out_record(data, size);
		write_result(ex, &r);
		return 0;
	}
	out_record(data, size);
	if (is_exec && opt.digests)
		handle_exec(ex, size);
	return 0;
}

/* Continues every exec that loader `owner` claimed and stopped and whose results it never
 * published, if it is still that exec, stopped; tells waiting peers not to wait. Returns
 * how many. Used at this loader's own exit (once no probe program runs any more: a claimed
 * exec whose record was never handled would stay stopped), and by --release-claims-of for
 * a loader that is wedged or was killed (its CLI gave up on it). */
static unsigned release_claims_of(__u32 owner)
{
	int fd = claims_fd;
	__u32 max = claims_max, n = 0;
	unsigned continued = 0;
	struct tb_exec_key *keys = calloc(max, sizeof(*keys));
	__u32 *vals = calloc(max, sizeof(*vals));
	if (fd < 0 || !keys || !vals)
		goto out;
	/* one batch lookup (a few syscalls for the whole map); else key by key */
	__u64 batch[4]; /* opaque position: at least a key's size */
	bool batched = true;
	for (void *in = NULL; n < max; in = batch) {
		__u32 count = max - n;
		int err = bpf_map_lookup_batch(fd, in, batch, keys + n, vals + n, &count, NULL);
		if (err && errno != ENOENT) {
			batched = false;
			break;
		}
		n += count;
		if (err)
			break; /* ENOENT: the whole map was read */
	}
	if (!batched) {
		n = 0;
		struct tb_exec_key *prev = NULL;
		while (n < max && bpf_map_get_next_key(fd, prev, &keys[n]) == 0) {
			prev = &keys[n];
			if (bpf_map_lookup_elem(fd, &keys[n], &vals[n]) == 0)
				n++;
		}
	}
	for (__u32 i = 0; i < n; i++) {
		struct shared_result r;
		if (vals[i] != owner || (results_fd >= 0 && bpf_map_lookup_elem(results_fd, &keys[i], &r) == 0))
			continue;
		struct tb_exec_event ex;
		memset(&ex, 0, sizeof(ex));
		ex.hdr.tgid = keys[i].tgid;
		ex.start_boottime_ns = keys[i].start_boottime_ns;
		ex.exec_id = keys[i].exec_id;
		if (exec_state(&ex) != EXEC_STOPPED)
			continue;
		failed_result(&ex, ECANCELED, &r);
		publish_result(&ex, &r);
		kill(ex.hdr.tgid, SIGCONT);
		continued++;
	}
out:
	free(keys);
	free(vals);
	return continued;
}

static void release_own_claims(void)
{
	unsigned continued = release_claims_of((__u32)getpid());
	user_loss[TB_LOSS_DIGEST_FAILED] += continued;
	if (continued)
		msg("continued %u stopped exec(s) whose record was not read", continued);
}

/* ---- maps shared with concurrent probes (events.h "shared") ------------------------- */

/* The live map of that name and layout with the lowest id, or -1. */
static int find_shared_map(const char *name, enum bpf_map_type type, __u32 key_size,
			   __u32 value_size, __u32 max_entries)
{
	__u32 id = 0;
	while (bpf_map_get_next_id(id, &id) == 0) {
		int fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && !strcmp(info.name, name) &&
		    info.type == type && info.key_size == key_size && info.value_size == value_size &&
		    info.max_entries == max_entries)
			return fd;
		close(fd);
	}
	return -1;
}

static int shared_map(const char *name, enum bpf_map_type type, __u32 key_size, __u32 value_size,
		      __u32 max_entries)
{
	int fd = find_shared_map(name, type, key_size, value_size, max_entries);
	if (fd < 0)
		fd = bpf_map_create(type, name, key_size, value_size, max_entries, NULL);
	return fd;
}

/*
 * Before loading: the probe's digest and claim maps become the ones every running probe
 * uses, and the results map is found or made. Under the lock file, so that two loaders
 * starting at once do not each make their own (without the maps the probe still works
 * alone). -1: the lock file is unusable or held too long (a message says why).
 */
static int setup_shared_maps(void)
{
	lock_fd = open_lock();
	if (lock_fd < 0)
		return -1;
	if (!lock_take(LOCK_WAIT_NS)) {
		msg("another process has held " LOCK_DIR "/" LOCK_NAME " for %llu s (a probe loader "
		    "starting, or wedged: see `fuser -v " LOCK_DIR "/" LOCK_NAME "`): giving up",
		    LOCK_WAIT_NS / 1000000000ULL);
		return -1;
	}
	struct bpf_map *kmaps[] = { skel->maps.tb2_digests, skel->maps.tb2_claims };
	const char *names[] = { TB_SHARED_DIGESTS, TB_SHARED_CLAIMS };
	for (int i = 0; i < 2; i++) {
		struct bpf_map *m = kmaps[i];
		int fd = shared_map(names[i], bpf_map__type(m), bpf_map__key_size(m),
				    bpf_map__value_size(m), bpf_map__max_entries(m));
		if (fd < 0 || bpf_map__reuse_fd(m, fd))
			msg("cannot share %s with other probes: %s", names[i], strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	results_fd = shared_map(TB_SHARED_RESULTS, BPF_MAP_TYPE_LRU_HASH, sizeof(struct tb_exec_key),
				sizeof(struct shared_result), 16384);
	if (results_fd < 0)
		msg("cannot share digests with other probes: %s", strerror(errno));
	lock_release(); /* kept open for takeovers; the maps live as long as a probe holds them */
	return 0;
}

/* ---- commands ----------------------------------------------------------------------- */
static bool stopping;

static const char *cgroup2_root(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup";
	return "/sys/fs/cgroup/unified";
}

static int trace_cgroup(uint64_t id)
{
	struct tb_traced v = { .generation = skel->bss->cfg_generation, .flags = 0 };
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.traced), &id, &v, BPF_ANY))
		return errno;
	return 0;
}

static void command(char *line)
{
	char *save = NULL;
	char *seqs = strtok_r(line, " \t", &save);
	char *verb = strtok_r(NULL, " \t", &save);
	char *arg = strtok_r(NULL, "", &save);
	if (!seqs)
		return;
	uint32_t seq = strtoul(seqs, NULL, 10);
	if (!verb) {
		write_ack(seq, EINVAL, 0);
		return;
	}
	if (!strcmp(verb, "add") && arg) {
		write_ack(seq, trace_cgroup(strtoull(arg, NULL, 0)), 0);
	} else if (!strcmp(verb, "addpath") && arg) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", cgroup2_root(), arg[0] == '/' ? arg + 1 : arg);
		if (stat(path, &st)) {
			write_ack(seq, errno, 0);
			return;
		}
		write_ack(seq, trace_cgroup(st.st_ino), st.st_ino);
	} else if (!strcmp(verb, "remove") && arg) {
		uint64_t id = strtoull(arg, NULL, 0);
		int err = bpf_map_delete_elem(bpf_map__fd(skel->maps.traced), &id) ? errno : 0;
		write_ack(seq, err, 0);
	} else if (!strcmp(verb, "gen") && arg) {
		skel->bss->cfg_generation = strtoul(arg, NULL, 0);
		write_ack(seq, 0, skel->bss->cfg_generation);
	} else if (!strcmp(verb, "stats")) {
		write_losses(true);
		write_ack(seq, 0, 0);
	} else if (!strcmp(verb, "ping")) {
		write_ack(seq, 0, 0);
	} else if (!strcmp(verb, "stop")) {
		write_ack(seq, 0, 0);
		stopping = true;
	} else {
		write_ack(seq, EINVAL, 0);
	}
}

static char inbuf[8192];
static size_t inlen;

/* Returns false on EOF. */
static bool read_stdin(void)
{
	ssize_t n = read(STDIN_FILENO, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	inlen += n;
	char *start = inbuf, *nl;
	while ((nl = memchr(start, '\n', inbuf + inlen - start))) {
		*nl = 0;
		command(start);
		start = nl + 1;
	}
	inlen = inbuf + inlen - start;
	memmove(inbuf, start, inlen);
	if (inlen == sizeof(inbuf) - 1)
		inlen = 0; /* an absurdly long line: drop it */
	return true;
}

/* ---- load and attach ---------------------------------------------------------------- */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !opt.verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* A syscall the probe reports: its TB_SC_* id, and its number on this architecture. */
struct sc_map {
	__u8 id;
	long nr; /* -1: this architecture has no such syscall */
};

/* Syscall numbers from the host's headers (the loader is built for the host's arch). */
#ifdef SYS_open
#define NR_open SYS_open
#else
#define NR_open -1
#endif
#ifdef SYS_creat
#define NR_creat SYS_creat
#else
#define NR_creat -1
#endif
#ifdef SYS_unlink
#define NR_unlink SYS_unlink
#else
#define NR_unlink -1
#endif
#ifdef SYS_rmdir
#define NR_rmdir SYS_rmdir
#else
#define NR_rmdir -1
#endif
#ifdef SYS_rename
#define NR_rename SYS_rename
#else
#define NR_rename -1
#endif
#ifdef SYS_renameat
#define NR_renameat SYS_renameat
#else
#define NR_renameat -1
#endif
#ifdef SYS_mkdir
#define NR_mkdir SYS_mkdir
#else
#define NR_mkdir -1
#endif
#ifdef SYS_link
#define NR_link SYS_link
#else
#define NR_link -1
#endif
#ifdef SYS_symlink
#define NR_symlink SYS_symlink
#else
#define NR_symlink -1
#endif
#ifdef SYS_chmod
#define NR_chmod SYS_chmod
#else
#define NR_chmod -1
#endif
#ifdef SYS_chown
#define NR_chown SYS_chown
#else
#define NR_chown -1
#endif
#ifdef SYS_lchown
#define NR_lchown SYS_lchown
#else
#define NR_lchown -1
#endif
#ifdef SYS_openat2
#define NR_openat2 SYS_openat2
#else
#define NR_openat2 437 /* the same number on every architecture */
#endif
#ifdef SYS_fchmodat2
#define NR_fchmodat2 SYS_fchmodat2
#else
#define NR_fchmodat2 452 /* the same number on every architecture (Linux 6.6) */
#endif
#define NR_openat SYS_openat
#define NR_unlinkat SYS_unlinkat
#define NR_renameat2 SYS_renameat2
#define NR_mkdirat SYS_mkdirat
#define NR_linkat SYS_linkat
#define NR_symlinkat SYS_symlinkat
#define NR_truncate SYS_truncate
#define NR_ftruncate SYS_ftruncate
#define NR_fchmod SYS_fchmod
#define NR_fchmodat SYS_fchmodat
#define NR_fchown SYS_fchown
#define NR_fchownat SYS_fchownat
#define NR_connect SYS_connect
#define NR_sendto SYS_sendto
#define NR_sendmsg SYS_sendmsg
#define NR_bind SYS_bind
#define NR_listen SYS_listen

#if defined(__x86_64__)
/* The 32-bit entry's numbers (i386, arch/x86/entry/syscalls/syscall_32.tbl; an ABI, fixed
 * for good). Written out: <asm/unistd_32.h> would redefine the __NR_* names of the 64-bit
 * table. Its chown, lchown and fchown take 16-bit ids; the *32 ones 32-bit ids. */
static const struct sc_map scs_compat[] = {
	{ TB_SC_OPEN, 5 }, { TB_SC_CREAT, 8 }, { TB_SC_LINK, 9 }, { TB_SC_UNLINK, 10 },
	{ TB_SC_CHMOD, 15 }, { TB_SC_LCHOWN | TB_SC_UID16, 16 }, { TB_SC_RENAME, 38 },
	{ TB_SC_MKDIR, 39 }, { TB_SC_RMDIR, 40 }, { TB_SC_SYMLINK, 83 }, { TB_SC_TRUNCATE, 92 },
	{ TB_SC_FTRUNCATE, 93 }, { TB_SC_FCHMOD, 94 }, { TB_SC_FCHOWN | TB_SC_UID16, 95 },
	{ TB_SC_SOCKETCALL, 102 }, { TB_SC_CHOWN | TB_SC_UID16, 182 }, { TB_SC_TRUNCATE64, 193 },
	{ TB_SC_FTRUNCATE64, 194 }, { TB_SC_LCHOWN, 198 }, { TB_SC_FCHOWN, 207 },
	{ TB_SC_CHOWN, 212 }, { TB_SC_OPENAT, 295 }, { TB_SC_MKDIRAT, 296 },
	{ TB_SC_FCHOWNAT, 298 }, { TB_SC_UNLINKAT, 301 }, { TB_SC_RENAMEAT, 302 },
	{ TB_SC_LINKAT, 303 }, { TB_SC_SYMLINKAT, 304 }, { TB_SC_FCHMODAT, 306 },
	{ TB_SC_RENAMEAT2, 353 }, { TB_SC_BIND, 361 }, { TB_SC_CONNECT, 362 },
	{ TB_SC_LISTEN, 363 }, { TB_SC_SENDTO, 369 }, { TB_SC_SENDMSG, 370 },
	{ TB_SC_OPENAT2, 437 }, { TB_SC_FCHMODAT2, 452 },
};
#endif

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

/* ---- --release-claims-of ------------------------------------------------------------
 * The CLI calls this when its own loader stopped answering (SIGSTOP, wedged) or died while
 * execs it had stopped for hashing were still waiting: without it they would wait for ever.
 * The shared maps live as long as any probe (the wedged one included) holds them; when
 * none does, no claim is left to release (the CLI continues the stopped tasks it knows). */
static int release_mode(__u32 owner)
{
	libbpf_set_print(libbpf_print);
	skel = probe__open(); /* only for the maps' layout: nothing is loaded */
	if (!skel) {
		msg("BPF unavailable: cannot open the BPF object: %s", strerror(errno));
		return EXIT_NO_BPF;
	}
	struct bpf_map *m = skel->maps.tb2_claims;
	claims_max = bpf_map__max_entries(m);
	claims_fd = find_shared_map(TB_SHARED_CLAIMS, bpf_map__type(m), bpf_map__key_size(m),
				    bpf_map__value_size(m), claims_max);
	results_fd = find_shared_map(TB_SHARED_RESULTS, BPF_MAP_TYPE_LRU_HASH,
				     sizeof(struct tb_exec_key), sizeof(struct shared_result), 16384);
	unsigned continued = claims_fd < 0 ? 0 : release_claims_of(owner);
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
	fcntl(STDOUT_FILENO, F_SETPIPE_SZ, (int)sizeof(outbuf));
	libbpf_set_print(libbpf_print);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		msg("BPF unavailable: cannot count CPUs");
		return EXIT_NO_BPF;
	}
	cache = calloc(CACHE_SLOTS, sizeof(*cache));
	if (!cache) {
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
	if (opt.digests && setup_shared_maps()) {
		probe__destroy(skel);
		return EXIT_RUNTIME;
	}
	unsigned long rb_bytes = round_pow2((unsigned long)opt.ringbuf_mib << 20);
	bpf_map__set_max_entries(skel->maps.events, rb_bytes);
	bpf_map__set_max_entries(skel->maps.scratch, ncpus);

	/* The numbers come from the host's <sys/syscall.h>: the loader is built for the host's
	 * architecture; syscalls the running kernel lacks simply never happen. */
	static const struct sc_map scs[] = {
#define SC(n, id) { id, NR_##n }
		SC(open, TB_SC_OPEN), SC(openat, TB_SC_OPENAT), SC(openat2, TB_SC_OPENAT2),
		SC(creat, TB_SC_CREAT), SC(unlink, TB_SC_UNLINK), SC(unlinkat, TB_SC_UNLINKAT),
		SC(rmdir, TB_SC_RMDIR), SC(rename, TB_SC_RENAME), SC(renameat, TB_SC_RENAMEAT),
		SC(renameat2, TB_SC_RENAMEAT2), SC(mkdir, TB_SC_MKDIR), SC(mkdirat, TB_SC_MKDIRAT),
		SC(link, TB_SC_LINK), SC(linkat, TB_SC_LINKAT), SC(symlink, TB_SC_SYMLINK),
		SC(symlinkat, TB_SC_SYMLINKAT), SC(truncate, TB_SC_TRUNCATE),
		SC(ftruncate, TB_SC_FTRUNCATE), SC(chmod, TB_SC_CHMOD), SC(fchmod, TB_SC_FCHMOD),
		SC(fchmodat, TB_SC_FCHMODAT), SC(fchmodat2, TB_SC_FCHMODAT2), SC(chown, TB_SC_CHOWN),
		SC(lchown, TB_SC_LCHOWN), SC(fchown, TB_SC_FCHOWN), SC(fchownat, TB_SC_FCHOWNAT),
		SC(connect, TB_SC_CONNECT), SC(sendto, TB_SC_SENDTO), SC(sendmsg, TB_SC_SENDMSG),
		SC(bind, TB_SC_BIND), SC(listen, TB_SC_LISTEN),
#undef SC
	};
	const int nscs = sizeof(scs) / sizeof(scs[0]);

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
	for (int i = 0; i < nscs; i++)
		if (scs[i].nr >= 0 && scs[i].nr < (long)sizeof(skel->bss->sc_wanted))
			skel->bss->sc_wanted[scs[i].nr] = scs[i].id;
#if defined(__x86_64__)
	for (size_t i = 0; i < sizeof(scs_compat) / sizeof(scs_compat[0]); i++)
		skel->bss->sc_wanted_compat[scs_compat[i].nr] = scs_compat[i].id;
#endif
	err = err ?: attach_one(bpf_program__attach(skel->progs.on_sys_exit), "sys_exit");
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
	 * one: drain meanwhile. */
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
	probe__destroy(skel);
	close(ep);
	close(sfd);
	free(cache);
	free(peers);
	if (results_fd >= 0)
		close(results_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	return out_is_broken() && rc == EXIT_OK ? EXIT_RUNTIME : rc;
}
