// SPDX-License-Identifier: Apache-2.0
/*
 * Execs stopped for hashing, and the probes that share them (README "Concurrent probes"):
 * the maps all probes share, the claims and results in them, the lock file, the execs that
 * wait for another probe's digests and their takeover, and the release of claims (at exit,
 * and for a loader that is wedged or died: --release-claims-of).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

static int results_fd = -1; /* TB_SHARED_RESULTS */
/* TB_SHARED_CLAIMS: the probe's own map once loaded, or the one found by name when this
 * process only releases another loader's claims (--release-claims-of). */
int claims_fd = -1;
__u32 claims_max;

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
void finish_claimed(const struct tb_exec_event *ex, size_t size, struct shared_result *r)
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
size_t npeers;
static size_t peers_cap;

/* A peer's results as this probe's: flagged, the exe's digest remembered, a script part
 * that the peer did not deliver marked missing. */
static void peer_parts(const struct tb_exec_event *ex, struct shared_result *r)
{
	r->exe.flags |= TB_DIGEST_FROM_PEER;
	if (!r->exe.error && !(r->exe.flags & TB_DIGEST_IDENTITY_MISMATCH))
		cache_put(&ex->exe, r->exe.sha256, r->exe.bytes);
	if (!(ex->flags & TB_EXEC_SCRIPT))
		return;
	if (r->has_script)
		r->script.flags |= TB_DIGEST_FROM_PEER;
	else
		part_error(&r->script, ENOENT, TB_DIGEST_FROM_PEER, NULL);
	r->has_script = 1;
}

static void emit_peer_result(const struct tb_exec_event *ex, struct shared_result *r)
{
	peer_parts(ex, r);
	write_result(ex, r);
}

/* The results of an exec another probe stopped, if its loader has published them already
 * (the common case: it did before it continued the task): then they go in the exec record. */
bool peer_result_now(const struct tb_exec_event *ex, struct shared_result *r)
{
	struct tb_exec_key k;
	exec_key(ex, &k);
	if (results_fd < 0 || bpf_map_lookup_elem(results_fd, &k, r) != 0)
		return false;
	peer_parts(ex, r);
	return true;
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

void wait_for_peer(const struct tb_exec_event *ex, size_t size)
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
void check_peers(bool final)
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

void release_own_claims(void)
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
int setup_shared_maps(void)
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

/* ---- --release-claims-of ------------------------------------------------------------
 * The CLI calls this when its own loader stopped answering (SIGSTOP, wedged) or died while
 * execs it had stopped for hashing were still waiting: without it they would wait for ever.
 * The shared maps live as long as any probe (the wedged one included) holds them; when
 * none does, no claim is left to release (the CLI continues the stopped tasks it knows).
 * `skel` is only opened (for the maps' layout): nothing is loaded. Returns how many. */
unsigned release_claims_of_loader(__u32 owner)
{
	struct bpf_map *m = skel->maps.tb2_claims;
	claims_max = bpf_map__max_entries(m);
	claims_fd = find_shared_map(TB_SHARED_CLAIMS, bpf_map__type(m), bpf_map__key_size(m),
				    bpf_map__value_size(m), claims_max);
	results_fd = find_shared_map(TB_SHARED_RESULTS, BPF_MAP_TYPE_LRU_HASH,
				     sizeof(struct tb_exec_key), sizeof(struct shared_result), 16384);
	return claims_fd < 0 ? 0 : release_claims_of(owner);
}

/* At exit. */
void claims_close(void)
{
	free(peers);
	if (results_fd >= 0)
		close(results_fd);
	if (lock_fd >= 0)
		close(lock_fd);
}
