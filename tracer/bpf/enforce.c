// SPDX-License-Identifier: Apache-2.0
/*
 * Egress enforcement (build --enforce): the build's cgroup parents and the sock_addr
 * programs attached to them (probe/enforce.h).
 *
 * A build has one parent per distinct set of egress rules in force on its steps (rules may
 * select steps). Each is /sys/fs/cgroup/unified/<name>, <name> given by the CLI (derived
 * from the digest of that set, so that steps under the same rules share it and BuildKit's
 * cache: the cgroup parent is part of an exec's cache key), with its set as a mask in
 * enforce_parents, keyed by the parent's cgroup id, written before the programs are
 * attached there. The lifetime of each parent is tied to this process:
 *   - a shared flock on /run/tracebuild-probe/<name>.lock for as long as this loader
 *     runs: the parent is in use;
 *   - the BPF links are held only by this process's fds: they go when it goes, whatever
 *     kills it;
 *   - at exit (stop command, stdin EOF when the CLI died, SIGTERM), before the links go,
 *     the loader that can take the lock exclusively is the last user: it kills whatever
 *     still runs below the parent (cgroup.kill: no step may outlive its rules), waits for
 *     it to empty, and removes the parent and what runc made below it, in the unified
 *     hierarchy and in each v1 one (runc creates <name>/buildkit/<id> in every one).
 *   - at start, parents whose lock nobody holds (their loaders were killed with SIGKILL)
 *     are removed the same way: a sweep of the stale ones.
 * Any step of this that fails at start is an error: the build must not start unenforced.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define UNIFIED CGROUP_ROOT "/unified"
#define LOCK_DIR "/run/tracebuild-probe"
#define NAME_PREFIX "tracebuild-enforce-"

/* Per parent: its lock (shared while we run) and the four BPF links we attached there. */
_Static_assert(TB_ENFORCE_PARENTS_MAX == 7, "one -1 per parent below");
static int lock_fds[TB_ENFORCE_PARENTS_MAX] = { -1, -1, -1, -1, -1, -1, -1 };
static struct bpf_link *enforce_links[TB_ENFORCE_PARENTS_MAX][4];

/* Removes dir and every cgroup below it, deepest first (a cgroup's own files cannot be
 * removed, nor need to be: rmdir takes them). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char sub[4096];
		if (snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name) < (int)sizeof(sub))
			remove_tree(sub);
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		msg("enforce: cannot remove %s: %s", dir, strerror(errno));
}

static bool populated(const char *unified_dir)
{
	char path[4096], buf[256];
	snprintf(path, sizeof(path), "%s/cgroup.events", unified_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return strstr(buf, "populated 1") != NULL;
}

/* Kills what runs below the parent, then removes it in every hierarchy. Called with the
 * exclusive lock held (nobody else uses it, and nobody can start to meanwhile). */
static void remove_parent(const char *name)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), UNIFIED "/%s", name);
	if (populated(dir)) {
		char kill_path[4200];
		snprintf(kill_path, sizeof(kill_path), "%s/cgroup.kill", dir);
		int fd = open(kill_path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				msg("enforce: cgroup.kill of %s: %s", dir, strerror(errno));
			close(fd);
		}
		for (int i = 0; i < 500 && populated(dir); i++) {
			struct timespec ts = { 0, 10000000 };
			nanosleep(&ts, NULL);
		}
	}
	DIR *root = opendir(CGROUP_ROOT);
	if (!root)
		return;
	struct dirent *e;
	while ((e = readdir(root))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		char h[4096];
		snprintf(h, sizeof(h), CGROUP_ROOT "/%s/%s", e->d_name, name);
		remove_tree(h);
	}
	closedir(root);
	remove_tree(dir); /* a pure v2 host mounts it at the root: nothing above matched */
}

static int open_lock(const char *name)
{
	char path[4096];
	mkdir(LOCK_DIR, 0700);
	snprintf(path, sizeof(path), LOCK_DIR "/%s.lock", name);
	return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

static bool own_parent(const char *name)
{
	for (int i = 0; i < opt.nparents; i++)
		if (!strcmp(opt.parents[i].name, name))
			return true;
	return false;
}

/* Parents left by loaders that were killed: nobody holds their lock. */
static void sweep_stale(void)
{
	DIR *d = opendir(UNIFIED);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_type != DT_DIR || strncmp(e->d_name, NAME_PREFIX, strlen(NAME_PREFIX)) ||
		    own_parent(e->d_name))
			continue;
		int fd = open_lock(e->d_name);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			msg("enforce: removing %s, left by a loader that was killed", e->d_name);
			remove_parent(e->d_name);
		}
		close(fd);
	}
	closedir(d);
}

/* Locks, creates and records parent i (its cgroup id -> its rules in enforce_parents),
 * then attaches the programs there: the mask is in the map before a program can run. */
static int setup_parent(int i)
{
	const struct enforce_parent *p = &opt.parents[i];
	const char *name = p->name;
	if (strncmp(name, NAME_PREFIX, strlen(NAME_PREFIX)) || strchr(name, '/') || strlen(name) > 64) {
		msg("enforce: a cgroup parent must be named " NAME_PREFIX "<id>");
		return -1;
	}
	for (int j = 0; j < i; j++) {
		if (!strcmp(opt.parents[j].name, name)) {
			msg("enforce: cgroup parent %s given twice", name);
			return -1;
		}
	}
	lock_fds[i] = open_lock(name);
	if (lock_fds[i] < 0 || flock(lock_fds[i], LOCK_SH)) {
		msg("enforce: cannot lock " LOCK_DIR "/%s.lock: %s", name, strerror(errno));
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), UNIFIED "/%s", name);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		msg("enforce: cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	int cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;
	if (cg < 0 || fstat(cg, &st)) {
		msg("enforce: cannot open %s: %s", dir, strerror(errno));
		if (cg >= 0)
			close(cg);
		return -1;
	}
	/* A cgroup v2 directory's inode number is its cgroup id. */
	__u64 id = st.st_ino;
	__u32 rules = p->rules;
	if (bpf_map__update_elem(skel->maps.enforce_parents, &id, sizeof(id), &rules, sizeof(rules), BPF_ANY)) {
		msg("enforce: cannot record the rules of %s: %s", dir, strerror(errno));
		close(cg);
		return -1;
	}
	struct bpf_program *progs[4] = { skel->progs.enforce_connect4, skel->progs.enforce_connect6,
					 skel->progs.enforce_sendmsg4, skel->progs.enforce_sendmsg6 };
	for (int k = 0; k < 4; k++) {
		/* A BPF link: attached in multi mode beside other builds' links (the same rules,
		 * the same verdicts), and detached by nothing but the close of our fd. */
		enforce_links[i][k] = bpf_program__attach_cgroup(progs[k], cg);
		long err = libbpf_get_error(enforce_links[i][k]);
		if (err) {
			enforce_links[i][k] = NULL;
			msg("enforce: attaching %s to %s failed: %s", bpf_program__name(progs[k]), dir,
			    strerror((int)-err));
			close(cg);
			return -1;
		}
	}
	close(cg);
	return 0;
}

int enforce_setup(void)
{
	if (access(UNIFIED "/cgroup.procs", F_OK)) {
		msg("enforce: no cgroup v2 hierarchy at " UNIFIED);
		return -1;
	}
	sweep_stale();
	for (int i = 0; i < opt.nparents; i++)
		if (setup_parent(i))
			return -1;
	return 0;
}

void enforce_release(void)
{
	for (int i = 0; i < opt.nparents; i++) {
		if (lock_fds[i] < 0)
			continue;
		/* Converting the shared lock is not atomic (flock(2)): if another loader holds it,
		 * we may lose ours, which is what we are about to do anyway. */
		if (flock(lock_fds[i], LOCK_EX | LOCK_NB) == 0)
			remove_parent(opt.parents[i].name);
		for (int k = 0; k < 4; k++) {
			if (enforce_links[i][k])
				bpf_link__destroy(enforce_links[i][k]);
			enforce_links[i][k] = NULL;
		}
		close(lock_fds[i]);
		lock_fds[i] = -1;
	}
}
