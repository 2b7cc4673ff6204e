// SPDX-License-Identifier: GPL-2.0
/*
 * Syscalls, at their exit: which ones are reported (sc_wanted, set by the loader), which
 * entry a syscall came through, its arguments from its saved registers, and what the
 * file and network programs are handed of it (struct pending).
 *
 * Part of probe.bpf.c (one compilation unit, one BPF object), included there after maps.h.
 */

/* ---- syscalls: reported at their exit, with the arguments from their registers -------
 * One hook, the raw tracepoint sys_exit, which every syscall passes: a syscall nobody asked
 * about costs a bounds check and a byte of sc_wanted (the loader fills it from the host's
 * <sys/syscall.h> with our TB_SC_* ids). The arguments are still in the syscall's saved
 * registers at its exit (the return value goes to ax, or x0 whose argument arm64 keeps in
 * orig_x0); user memory (paths, struct open_how, msghdr) is read at exit too, as the paths
 * always were. Why not sys_enter as well: a second program on every syscall of the machine
 * cost ~0.1 us per syscall, and the map entry carried from one to the other another ~0.2 us
 * per traced syscall. Per-syscall trace events are perf events: detaching ~60 of them
 * waits for an RCU grace period each, under a global mutex (seconds at exit).
 */
#define SYSCALL_NR_MAX 512

/* The 32-bit entry of x86-64 (int $0x80, sysenter, and every syscall of an i386 program):
 * the i386 numbering and registers, and 32-bit pointers. A 64-bit program can use it too,
 * so a tracer that read only the 64-bit table would miss every file a build step made
 * that way (testdata/trace-fidelity, Dockerfile:15). TS_COMPAT is set in the task's
 * thread_info for the whole syscall and cleared only on the way back to user space, after
 * this tracepoint. (arm64's 32-bit tasks: not handled, see tracer/README.md.) */
static __always_inline int compat_syscall(struct task_struct *t)
{
#if defined(__TARGET_ARCH_x86)
	return t->thread_info.status & 0x0002; /* TS_COMPAT */
#elif defined(__TARGET_ARCH_arm64)
	return (t->thread_info.flags >> 22) & 1; /* TIF_32BIT: an AArch32 task */
#else
	return 0;
#endif
}

/* The syscall's n-th argument (1-based), from its saved registers. */
#if defined(__TARGET_ARCH_x86)
#define SC_ARG6(regs) ((regs)->r9)
#elif defined(__TARGET_ARCH_arm64)
#define SC_ARG6(regs) BPF_CORE_READ((const struct user_pt_regs *)(regs), regs[5])
#else
#error "the sixth syscall argument is not known for this architecture"
#endif
#define SC_ARG(regs, n) ((__u64)PT_REGS_PARM##n##_SYSCALL(regs))

/* A syscall's arguments, whichever entry it came through. The 32-bit entry's are 32-bit
 * values: zero-extended here (pointers, flags), so signed ones (fds, AT_FDCWD, lengths)
 * are narrowed back by their users. */
struct sc_args {
	__u64 a[7]; /* a[1]..a[6] */
};

static __always_inline void read_args(struct sc_args *args, struct pt_regs *regs, int compat)
{
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		args->a[1] = (__u32)regs->bx;
		args->a[2] = (__u32)regs->cx;
		args->a[3] = (__u32)regs->dx;
		args->a[4] = (__u32)regs->si;
		args->a[5] = (__u32)regs->di;
		args->a[6] = (__u32)regs->bp;
		return;
	}
#endif
	args->a[1] = SC_ARG(regs, 1);
	args->a[2] = SC_ARG(regs, 2);
	args->a[3] = SC_ARG(regs, 3);
	args->a[4] = SC_ARG(regs, 4);
	args->a[5] = SC_ARG(regs, 5);
	args->a[6] = SC_ARG6(regs);
}

/* A file or network syscall that returned, with its arguments (from its registers). */
struct pending {
	__u64 path1, path2; /* user pointers */
	__u64 addr;         /* user sockaddr pointer */
	__s64 length;
	__s32 dirfd1, dirfd2;
	__u32 flags, mode, uid, gid;
	__u32 sc, op;
	__u32 addrlen;
	__u8 is_net;
	__u8 literal1; /* path1 is not resolved (symlink text) */
	__u8 fd_op;    /* dirfd1 is the operated fd (ftruncate, fchmod, fchown) */
	__u8 _pad;
	__u32 denied_rule; /* an egress rule refused this connect/send: its index + 1 */
	__u32 _pad2;
};

/* The TB_SC_* id of each syscall number to report (set by the loader; 0: not reported),
 * for the 64-bit entry and (x86-64) the 32-bit one, whose ids may carry TB_SC_UID16. */
volatile __u8 sc_wanted[SYSCALL_NR_MAX] = {};
volatile __u8 sc_wanted_compat[SYSCALL_NR_MAX] = {};
