// SPDX-License-Identifier: Apache-2.0
/*
 * The sha256 of what an exec runs (/proc/<pid>/exe) and of its #! script, the digest
 * records, and the cache of digests by file identity (this loader's, and the map that all
 * probes share).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <openssl/evp.h>

#include "loader.h"

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
bool heartbeat_off;

void heartbeat(void)
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

/* Hashes and closes what an open returned (fd < 0: its failure, in errno), with its stat.
 * 0 or -errno. */
static int hash_opened(int fd, struct stat *st, uint8_t sha[32], uint64_t *bytes)
{
	if (fd < 0)
		return -errno;
	int err = fstat(fd, st) ? -errno : hash_fd(fd, sha, bytes);
	close(fd);
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

bool digests_init(void)
{
	cache = calloc(CACHE_SLOTS, sizeof(*cache));
	return cache != NULL;
}

void digests_free(void)
{
	free(cache);
}

/* Puts a digest in this loader's cache (unless it is full). */
void cache_put(const struct tb_file_id *id, const uint8_t sha[32], uint64_t bytes)
{
	struct cache_entry *ce = cache_find(id, true);
	if (ce) {
		memcpy(ce->sha, sha, 32);
		ce->bytes = bytes;
	}
}

void write_digest(const struct tb_exec_event *ex, uint32_t kind, const struct digest_part *p)
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

void part_error(struct digest_part *p, int err, uint32_t flags, const struct tb_file_id *id)
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
		cache_put(id, sd.sha256, sd.bytes);
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
	cache_put(id, sha, bytes);
	struct tb_shared_digest sd;
	memcpy(sd.sha256, sha, 32);
	sd.bytes = bytes;
	bpf_map_update_elem(bpf_map__fd(skel->maps.tb2_digests), id, &sd, BPF_ANY);
}

/* sha256 of /proc/<tgid>/exe: the very file the task executes. */
static void digest_exe(const struct tb_exec_event *ex, uint32_t base_flags, struct digest_part *p)
{
	if (ex->flags & TB_EXEC_DIGEST_KNOWN) {
		/* the kernel let it run on this digest, and says which */
		memset(p, 0, sizeof(*p));
		memcpy(p->sha256, ex->known.sha256, 32);
		p->bytes = ex->known.bytes;
		p->flags = base_flags | TB_DIGEST_FROM_CACHE;
		p->file = ex->exe;
		cache_put(&ex->exe, p->sha256, p->bytes);
		return;
	}
	if (cached_digest(&ex->exe, p, base_flags))
		return;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/exe", ex->hdr.tgid);
	struct stat st;
	uint8_t sha[32];
	uint64_t bytes = 0;
	int err = hash_opened(open(path, O_RDONLY | O_CLOEXEC), &st, sha, &bytes);
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
	struct stat st;
	uint8_t sha[32];
	uint64_t bytes = 0;
	int err = hash_opened(fd, &st, sha, &bytes);
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

/* ---- digests of one exec ------------------------------------------------------------ */

/* Hashes what the exec runs, and its #! script. */
void compute_digests(const struct tb_exec_event *ex, size_t size, uint32_t base,
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

/* The exec record with its digests appended (TB_EXEC_DIGESTS): one record instead of two
 * or three. */
void write_exec(const struct tb_exec_event *ex, size_t size, const struct shared_result *r)
{
	static uint8_t buf[TB_EXEC_RECORD_MAX + 2 * sizeof(struct tb_digest_part)];
	const struct digest_part *parts[2] = { &r->exe, &r->script };
	uint32_t kinds[2] = { TB_DIGEST_EXE, TB_DIGEST_SCRIPT };
	int n = (ex->flags & TB_EXEC_SCRIPT) ? 2 : 1;
	if (size > TB_EXEC_RECORD_MAX) {
		/* no kernel record is that long: as it came, and the digests as records */
		out_record(ex, size);
		write_result(ex, r);
		return;
	}
	memcpy(buf, ex, size);
	for (int i = 0; i < n; i++) {
		struct tb_digest_part d;
		memset(&d, 0, sizeof(d));
		d.kind = kinds[i];
		d.error = parts[i]->error;
		d.flags = parts[i]->flags;
		d.bytes = parts[i]->bytes;
		memcpy(d.sha256, parts[i]->sha256, 32);
		d.file = parts[i]->file;
		if (d.error)
			user_loss[TB_LOSS_DIGEST_FAILED]++;
		memcpy(buf + size + i * sizeof(d), &d, sizeof(d));
	}
	struct tb_exec_event *out = (void *)buf;
	out->flags |= TB_EXEC_DIGESTS;
	out->hdr.size = size + n * sizeof(struct tb_digest_part);
	out_record(buf, out->hdr.size);
}

void write_result(const struct tb_exec_event *ex, const struct shared_result *r)
{
	write_digest(ex, TB_DIGEST_EXE, &r->exe);
	if (ex->flags & TB_EXEC_SCRIPT)
		write_digest(ex, TB_DIGEST_SCRIPT, &r->script);
}
