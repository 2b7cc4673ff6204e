// SPDX-License-Identifier: GPL-2.0
/*
 * Building a record: the per-CPU scratch area it is built in, its header, the strings
 * copied into it, and its way into the ring buffer (a wakeup per batch, a loss counted when
 * the ring buffer is full).
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h.
 */

static __always_inline struct scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return 0;
	if (__sync_val_compare_and_swap(&s->busy, 0, 1) != 0) {
		count_loss(TB_LOSS_SCRATCH_BUSY);
		return 0;
	}
	return s;
}

static __always_inline void scratch_put(struct scratch *s)
{
	s->busy = 0;
}

static __always_inline void fill_header(struct tb_header *h, __u32 type, __u64 cg)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->type = type;
	h->size = 0;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = cg;
	h->pid = (__u32)id;
	h->tgid = id >> 32;
}

/*
 * Wake the loader once per batch, not once per event: a wakeup per record cost the loader
 * an epoll_wait and a pipe write per event (and the traced task an irq_work). Records sit
 * in the ring buffer until WAKEUP_BYTES are pending or the loader's next poll (it polls
 * every few ms anyway); an exec stopped for hashing always wakes it at once.
 */
#define WAKEUP_BYTES (128 << 10)

static __always_inline __u64 wake_flags(__u32 size)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP
										     : BPF_RB_NO_WAKEUP;
}

static __always_inline int output_flags(struct scratch *s, __u32 size, __u32 type, __u64 wake)
{
	struct tb_header *h = (void *)s->ev;
	size &= EV_OFF_MASK;
	h->size = size;
	if (!wake)
		wake = wake_flags(size);
	if (bpf_ringbuf_output(&events, s->ev, size, wake)) {
		count_loss(TB_LOSS_RINGBUF_FIRST + type - 1);
		return -1;
	}
	return 0;
}

static __always_inline int output(struct scratch *s, __u32 size, __u32 type)
{
	return output_flags(s, size, type, 0);
}

/* Copies a kernel string to ev+off; returns its length (no NUL). */
static __always_inline __u32 put_kstr(struct scratch *s, __u32 off, const void *src,
				      __u32 *flags, __u32 trunc_flag)
{
	long n = bpf_probe_read_kernel_str(&s->ev[off & EV_OFF_MASK], TB_PATH_MAX, src);
	if (n <= 0)
		return 0;
	if (n >= TB_PATH_MAX)
		*flags |= trunc_flag;
	return (__u32)(n - 1) & (TB_PATH_MAX - 1);
}

/* Copies a user string to ev+off; returns its length (no NUL). *fault is set when the
 * string could not be read: not the same as an empty path, which names the directory. */
static __always_inline __u32 put_ustr(struct scratch *s, __u32 off, __u64 src, __u32 *flags,
				      __u32 trunc_flag, int *fault)
{
	if (!src)
		return 0;
	long n = bpf_probe_read_user_str(&s->ev[off & EV_OFF_MASK], TB_PATH_MAX, (void *)src);
	if (n < 0)
		*fault = 1;
	if (n <= 0)
		return 0;
	if (n >= TB_PATH_MAX)
		*flags |= trunc_flag;
	return (__u32)(n - 1) & (TB_PATH_MAX - 1);
}
