// SPDX-License-Identifier: GPL-2.0
/*
 * The process programs: exec (argv from the new stack, the file that runs, its path, the
 * cwd; and whether the task is stopped for its loader to hash it), fork and exit.
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h,
 * record.h and path.h.
 */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	struct scratch *s = scratch_get();
	if (!s)
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct tb_exec_event *e = (void *)s->ev;
	__builtin_memset(e, 0, sizeof(*e));
	fill_header(&e->hdr, TB_EV_EXEC, cg);
	e->ppid = BPF_CORE_READ(t, real_parent, tgid);
	e->old_pid = old_pid;
	e->uid = BPF_CORE_READ(t, cred, uid.val);
	e->gid = BPF_CORE_READ(t, cred, gid.val);
	e->argc = BPF_CORE_READ(bprm, argc);
	e->start_boottime_ns = BPF_CORE_READ(t, start_boottime);
	e->exec_id = BPF_CORE_READ(t, self_exec_id);
	struct file *file = BPF_CORE_READ(bprm, file);
	fill_file_id(&e->exe, file);

	__u32 flags = 0, off = sizeof(*e), n;
	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	n = put_kstr(s, off, filename, &flags, TB_EXEC_FILENAME_TRUNC);
	e->filename_len = n;
	off += n;
	if (interp != filename) {
		flags |= TB_EXEC_SCRIPT;
		n = put_kstr(s, off, interp, &flags, TB_EXEC_INTERP_TRUNC);
		e->interp_len = n;
		off += n;
	}
	n = put_file_path(s, off, t, file, &flags, TB_EXEC_EXE_PATH_TRUNC,
			  TB_EXEC_EXE_PATH_UNREACHABLE);
	e->exe_path_len = n;
	off += n;
	n = put_cwd(s, off, t, &flags, TB_EXEC_CWD_TRUNC, TB_EXEC_CWD_UNREACHABLE);
	e->cwd_len = n;
	off += n;

	__u64 arg_start = BPF_CORE_READ(t, mm, arg_start);
	__u64 arg_end = BPF_CORE_READ(t, mm, arg_end);
	__u64 alen = arg_end > arg_start ? arg_end - arg_start : 0;
	if (alen > TB_ARGV_MAX) {
		alen = TB_ARGV_MAX;
		flags |= TB_EXEC_ARGV_TRUNC;
	}
	alen &= (2 * TB_ARGV_MAX - 1);
	if (alen && bpf_probe_read_user(&s->ev[off & EV_OFF_MASK], alen, (void *)arg_start) == 0) {
		e->argv_len = alen;
		off += alen;
	}

	/* Digest: stop the task before its first instruction unless this exact file
	 * identity was hashed already (by any probe); the loader hashes /proc/<pid>/exe and
	 * SIGCONTs. Only one probe may stop an exec: another probe's SIGCONT would resume it
	 * while this loader still hashes. The first to claim it stops it; the others leave it
	 * to that probe's loader, which shares what it hashed (events.h "shared"). */
	int stopped = 0;
	if (cfg_flags & TB_CFG_DIGESTS) {
		/* A digest the kernel relies on to let the exec run travels with its record: the
		 * loader need not look it up again (the LRU map may have dropped it meanwhile). */
		struct tb_shared_digest *known = bpf_map_lookup_elem(&tb2_digests, &e->exe);
		if (known) {
			__builtin_memcpy(&e->known, known, sizeof(e->known));
			flags |= TB_EXEC_DIGEST_KNOWN;
		}
		if ((flags & TB_EXEC_SCRIPT) || !known) {
			/* signed: the loader may write a fresher heartbeat between these two reads */
			__s64 age = (__s64)(bpf_ktime_get_boot_ns() - heartbeat_ns);
			if (heartbeat_ns && age < (__s64)cfg_heartbeat_timeout_ns) {
				struct tb_exec_key k = { .tgid = e->hdr.tgid,
							 .start_boottime_ns = e->start_boottime_ns,
							 .exec_id = e->exec_id };
				__u32 me = cfg_loader_pid;
				long c = bpf_map_update_elem(&tb2_claims, &k, &me, BPF_NOEXIST);
				if (c == -EEXIST) {
					flags |= TB_EXEC_DIGEST_BY_PEER;
				} else if (c != 0) {
					/* unclaimed: stopping it could race another probe's SIGCONT */
					flags |= TB_EXEC_DIGEST_SKIPPED;
					count_loss(TB_LOSS_DIGEST_SKIPPED);
				} else if (bpf_send_signal(SIGSTOP) == 0) {
					flags |= TB_EXEC_NEEDS_DIGEST;
					stopped = 1;
				} else {
					/* not stopped: let a later probe claim and stop it */
					bpf_map_delete_elem(&tb2_claims, &k);
					flags |= TB_EXEC_DIGEST_SKIPPED;
					count_loss(TB_LOSS_SIGNAL_FAILED);
				}
			} else {
				flags |= TB_EXEC_DIGEST_SKIPPED;
				count_loss(TB_LOSS_DIGEST_SKIPPED);
			}
		}
	}
	e->flags = flags;
	if (output_flags(s, off, TB_EV_EXEC, stopped ? BPF_RB_FORCE_WAKEUP : 0) && stopped) {
		/* our loader will never hear of it: release the claim, so that a probe later in
		 * the chain stops and hashes it instead of waiting for results, and continue it */
		struct tb_exec_key k = { .tgid = e->hdr.tgid,
					 .start_boottime_ns = e->start_boottime_ns,
					 .exec_id = e->exec_id };
		bpf_map_delete_elem(&tb2_claims, &k);
		bpf_send_signal(SIGCONT);
	}
	scratch_put(s);
	return 0;
}

/* Fork and exit records have a fixed size: written straight into the ring buffer, their
 * fields loaded directly through the tracepoint's typed pointers (no helper call, no
 * scratch copy). They are ~60% of what the probe writes; the loader folds each process's
 * two into one record (procs.c), and its fork into nothing until the process exits. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	__u32 ctgid = child->tgid;
	if (ctgid == parent->tgid)
		return 0; /* a thread */
	struct tb_fork_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(TB_LOSS_RINGBUF_FIRST + TB_EV_FORK - 1);
		return 0;
	}
	fill_header(&e->hdr, TB_EV_FORK, cg);
	e->hdr.size = sizeof(*e);
	e->child_pid = child->pid;
	e->child_tgid = ctgid;
	e->child_start_boottime_ns = child->start_boottime;
	e->parent_start_boottime_ns = parent->group_leader->start_boottime;
	bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
	return 0;
}

/* Kernels that pass sched_process_exit `group_dead` (whether this thread ended its
 * process: it took signal->live to 0) also have this raw event struct with that field:
 * CO-RE tells them apart, and on the others the branch that reads the argument is dead
 * code the verifier never sees. */
struct trace_event_raw_sched_process_exit___gd {
	bool group_dead;
} __attribute__((preserve_access_index));

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u64 cg = bpf_get_current_cgroup_id();
	if (!traced_lookup(cg))
		return 0;
	struct task_struct *t = bpf_get_current_task_btf();
	struct signal_struct *sig = t->signal;
	if (bpf_core_field_exists(struct trace_event_raw_sched_process_exit___gd, group_dead)) {
		if (!(__u8)ctx[1])
			return 0; /* not the thread that ended the process */
	} else if (sig->live.counter != 0) {
		/* Not the last thread. Two threads exiting at once can both read 0 here: the
		 * process then has two exit records (the correlator tolerates that). */
		return 0;
	}
	struct tb_exit_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(TB_LOSS_RINGBUF_FIRST + TB_EV_EXIT - 1);
		return 0;
	}
	fill_header(&e->hdr, TB_EV_EXIT, cg);
	e->hdr.size = sizeof(*e);
	e->exit_code = t->exit_code;
	e->flags = 0;
	/* the process's start (with tgid, its name in fork and exec records) is its leader's:
	 * the last thread to exit is often another one */
	e->start_boottime_ns = t->group_leader->start_boottime;
	e->utime_ns = sig->utime + t->utime;
	e->stime_ns = sig->stime + t->stime;
	e->runtime_ns = sig->sum_sched_runtime + t->se.sum_exec_runtime;
	e->maxrss_kib = (__u64)sig->maxrss * 4; /* pages of 4 KiB (x86-64) */
	bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
	return 0;
}
