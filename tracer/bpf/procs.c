// SPDX-License-Identifier: Apache-2.0
/*
 * The loader's process table: one process record (TB_EV_PROC) per process instead of its
 * fork and exit records (events.h). The probe reports a fork when a traced process starts a
 * new one and an exit when a process ends; the table keeps what the fork said (and which
 * exec's image the child runs) until the exit, and writes both as one record then. A
 * process that never execs, most of a build's, costs the CLI one record instead of two,
 * and the CLI keeps nothing for it while it runs: the image it inherited (its parent's last
 * exec, or what its parent had inherited) is resolved here, at the fork, in order.
 *
 * Keyed by tgid (host pids are unique among live processes); an entry whose start time is
 * not the process's is one whose exit was never seen (lost, or the process left the traced
 * cgroups): it is written without an exit part when its pid comes back, like the processes
 * still running when the loader stops (procs_flush). Memory: the live traced processes.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "loader.h"

#define P_USED 0x100 /* beside the TB_PROC_* flags of the record */

struct proc {
	uint32_t tgid;
	uint32_t flags; /* P_USED | TB_PROC_FORKED | TB_PROC_EXECED | TB_PROC_IMAGE */
	uint64_t start;
	uint64_t fork_ts;
	uint64_t fork_cg;
	uint32_t ppid, fork_pid, child_pid, image_tgid;
	uint64_t image_start, image_exec_id;
};

static struct proc *tab;
static size_t cap, used;
uint64_t procs_in[3], procs_out, procs_repeated;

/* Exits already written, by (tgid, start): a kernel that does not say which thread ended a
 * process (no group_dead) may report two exits for one; the second is dropped. */
#define RECENT 1024
static struct {
	uint32_t tgid;
	uint64_t start;
} recent[RECENT];

static size_t slot_of(uint32_t tgid)
{
	return (tgid * 2654435761u) & (cap - 1);
}

static bool grow(void)
{
	size_t ncap = cap ? cap * 2 : 4096;
	struct proc *n = calloc(ncap, sizeof(*n));
	if (!n)
		return false;
	struct proc *old = tab;
	size_t ocap = cap;
	tab = n;
	cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (!(old[i].flags & P_USED))
			continue;
		size_t j = slot_of(old[i].tgid);
		while (tab[j].flags & P_USED)
			j = (j + 1) & (cap - 1);
		tab[j] = old[i];
	}
	free(old);
	return true;
}

static struct proc *find(uint32_t tgid)
{
	if (!cap)
		return NULL;
	for (size_t i = slot_of(tgid);; i = (i + 1) & (cap - 1)) {
		if (!(tab[i].flags & P_USED))
			return NULL;
		if (tab[i].tgid == tgid)
			return &tab[i];
	}
}

/* A new entry for tgid (none must exist); NULL when out of memory. */
static struct proc *insert(uint32_t tgid, uint64_t start)
{
	if ((used + 1) * 2 > cap && !grow())
		return NULL;
	size_t i = slot_of(tgid);
	while (tab[i].flags & P_USED)
		i = (i + 1) & (cap - 1);
	memset(&tab[i], 0, sizeof(tab[i]));
	tab[i].flags = P_USED;
	tab[i].tgid = tgid;
	tab[i].start = start;
	used++;
	return &tab[i];
}

/* Removes an entry (linear probing: the entries after it move back into the hole). */
static void erase(struct proc *p)
{
	size_t i = p - tab;
	tab[i].flags = 0;
	used--;
	for (size_t j = (i + 1) & (cap - 1); tab[j].flags & P_USED; j = (j + 1) & (cap - 1)) {
		size_t home = slot_of(tab[j].tgid);
		/* can tab[j] move into the hole at i? only if its home is not in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (stays)
			continue;
		tab[i] = tab[j];
		tab[j].flags = 0;
		i = j;
	}
}

/* The record of entry p; x: its exit, or NULL (still running, or its exit was not seen). */
static void write_proc(const struct proc *p, const struct tb_exit_event *x)
{
	struct tb_proc_event e;
	memset(&e, 0, sizeof(e));
	if (x) {
		e.hdr = x->hdr;
		e.flags |= TB_PROC_EXITED;
		e.exit_code = x->exit_code;
		e.utime_ns = x->utime_ns;
		e.stime_ns = x->stime_ns;
		e.runtime_ns = x->runtime_ns;
		e.maxrss_kib = x->maxrss_kib;
	} else {
		e.hdr.ts_ns = p->fork_ts;
		e.hdr.cgroup_id = p->fork_cg;
		e.hdr.pid = p->child_pid ? p->child_pid : p->tgid;
		e.hdr.tgid = p->tgid;
	}
	e.hdr.type = TB_EV_PROC;
	e.hdr.size = sizeof(e);
	procs_out++;
	e.start_boottime_ns = x ? x->start_boottime_ns : p->start;
	if (p) {
		e.flags |= p->flags & (TB_PROC_FORKED | TB_PROC_EXECED | TB_PROC_IMAGE);
		if (p->flags & TB_PROC_FORKED) {
			e.ppid = p->ppid;
			e.fork_ts_ns = p->fork_ts;
			e.fork_cgroup_id = p->fork_cg;
			e.fork_pid = p->fork_pid;
			e.child_pid = p->child_pid;
		}
		if (p->flags & TB_PROC_IMAGE) {
			e.image_tgid = p->image_tgid;
			e.image_start_boottime_ns = p->image_start;
			e.image_exec_id = p->image_exec_id;
		}
	}
	out_batched(&e, sizeof(e));
}

/* The entry of a process that has no exit to wait for any more: written without one. */
static void retire(struct proc *p)
{
	if (p->flags & TB_PROC_FORKED)
		write_proc(p, NULL);
	/* an entry made by an exec alone has nothing the exec record did not say */
	erase(p);
}

/* The entry for (tgid, start), made if needed; an entry of an earlier process with this
 * tgid is retired first. NULL when out of memory (the process's fork part is then lost:
 * counted). */
static struct proc *entry(uint32_t tgid, uint64_t start)
{
	struct proc *p = find(tgid);
	if (p && p->start == start)
		return p;
	if (p)
		retire(p);
	p = insert(tgid, start);
	if (!p)
		user_loss[TB_LOSS_OUTPUT]++;
	return p;
}

void procs_fork(const struct tb_fork_event *f)
{
	procs_in[0]++;
	const struct proc *parent = find(f->hdr.tgid);
	if (parent && parent->start != f->parent_start_boottime_ns)
		parent = NULL; /* an earlier process with the parent's pid: not its image */
	uint32_t image_tgid = 0;
	uint64_t image_start = 0, image_exec_id = 0;
	bool image = parent && (parent->flags & TB_PROC_IMAGE);
	if (image) {
		image_tgid = parent->image_tgid;
		image_start = parent->image_start;
		image_exec_id = parent->image_exec_id;
	}
	struct proc *p = find(f->child_tgid);
	if (p)
		retire(p); /* the pid of a process whose exit was not seen */
	p = insert(f->child_tgid, f->child_start_boottime_ns);
	if (!p) {
		user_loss[TB_LOSS_OUTPUT]++;
		return;
	}
	p->flags |= TB_PROC_FORKED;
	p->fork_ts = f->hdr.ts_ns;
	p->fork_cg = f->hdr.cgroup_id;
	p->ppid = f->hdr.tgid;
	p->fork_pid = f->hdr.pid;
	p->child_pid = f->child_pid;
	if (image) {
		p->flags |= TB_PROC_IMAGE;
		p->image_tgid = image_tgid;
		p->image_start = image_start;
		p->image_exec_id = image_exec_id;
	}
}

void procs_exec(const struct tb_exec_event *ex)
{
	procs_in[1]++;
	struct proc *p = entry(ex->hdr.tgid, ex->start_boottime_ns);
	if (!p)
		return;
	/* from now on, what it runs and what its children inherit is this exec's image */
	p->flags |= TB_PROC_EXECED | TB_PROC_IMAGE;
	p->image_tgid = ex->hdr.tgid;
	p->image_start = ex->start_boottime_ns;
	p->image_exec_id = ex->exec_id;
}

void procs_exit(const struct tb_exit_event *x)
{
	procs_in[2]++;
	uint32_t tgid = x->hdr.tgid;
	size_t r = (tgid ^ (uint32_t)(x->start_boottime_ns >> 10)) & (RECENT - 1);
	if (recent[r].tgid == tgid && recent[r].start == x->start_boottime_ns && tgid) {
		procs_repeated++; /* a second exit of a process already written */
		return;
	}
	recent[r].tgid = tgid;
	recent[r].start = x->start_boottime_ns;
	struct proc *p = find(tgid);
	if (p && p->start != x->start_boottime_ns) {
		retire(p);
		p = NULL;
	}
	write_proc(p, x);
	if (p)
		erase(p);
}

/* At exit, once nothing more comes from the probe: the processes still running. */
void procs_flush(void)
{
	for (size_t i = 0; i < cap; i++)
		if ((tab[i].flags & P_USED) && (tab[i].flags & TB_PROC_FORKED))
			write_proc(&tab[i], NULL);
	free(tab);
	tab = NULL;
	cap = used = 0;
}
