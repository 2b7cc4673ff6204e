// SPDX-License-Identifier: Apache-2.0
/*
 * Which syscalls the probe reports: their numbers on this architecture (and on x86-64 the
 * 32-bit entry's), written into the probe's sc_wanted tables by TB_SC_* id.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include "loader.h"

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
#define NR_sendmmsg SYS_sendmmsg
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
	{ TB_SC_SENDMMSG, 345 },
	{ TB_SC_OPENAT2, 437 }, { TB_SC_FCHMODAT2, 452 },
};
#endif

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
	SC(sendmmsg, TB_SC_SENDMMSG),
	SC(bind, TB_SC_BIND), SC(listen, TB_SC_LISTEN),
#undef SC
};

/* Fills the probe's sc_wanted (and sc_wanted_compat) tables. */
void want_syscalls(void)
{
	const int nscs = sizeof(scs) / sizeof(scs[0]);
	for (int i = 0; i < nscs; i++)
		if (scs[i].nr >= 0 && scs[i].nr < (long)sizeof(skel->bss->sc_wanted))
			skel->bss->sc_wanted[scs[i].nr] = scs[i].id;
#if defined(__x86_64__)
	for (size_t i = 0; i < sizeof(scs_compat) / sizeof(scs_compat[0]); i++)
		skel->bss->sc_wanted_compat[scs_compat[i].nr] = scs_compat[i].id;
#endif
}
