/*
 * fsops: a fixed script of file and network syscalls for the trace fidelity test
 * (test/integration/trace-fidelity.test.ts). Every operation goes through syscall(2), so
 * that exactly the named syscall is made (libc would turn open() into openat(), for one).
 * Built static by the test: gcc -static -O2 -o fsops fsops.c
 *
 *   fsops DIR PORT   the script below under DIR (absolute, must not exist), then a TCP
 *                    connect to 127.0.0.1:PORT that sends "fidelity\n"
 *   fsops compat32 DIR PORT
 *                    (x86-64) a few of the same through the 32-bit syscall entry
 *                    (int $0x80, the i386 numbering), then two TCP connects to
 *                    127.0.0.1:PORT: socketcall(SYS_CONNECT), as old i386 libcs do, and
 *                    connect(2). A tracer that reads only 64-bit syscalls misses them all.
 *                    Where the kernel takes no 32-bit syscalls (below), does nothing.
 *   fsops i386-entry exits 0 if this kernel takes 32-bit syscalls (int $0x80) from a
 *                    64-bit process, 3 if not (the test asks, to know what to expect)
 *   fsops exit-now   exits 0 at once
 *   fsops threads    a second thread outlives the main one and ends the process with
 *                    exit status 7: the process's last thread is not its first
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static char path_buf[4][512];

/* DIR/name, in one of four buffers (several can be alive in one call). */
static const char *in(const char *dir, const char *name, int slot)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

static long must(long r, const char *what)
{
	if (r < 0) {
		perror(what);
		exit(1);
	}
	return r;
}

#if defined(__x86_64__)
/* One 32-bit syscall from this 64-bit program. Its pointers must be below 4 GiB: every
 * buffer passed is static, in a static non-PIE binary (loaded at 0x400000). */
static long sys32(long nr, long a, long b, long c, long d)
{
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c), "S"(d) : "memory");
	return r;
}

/* i386 syscall numbers (arch/x86/entry/syscalls/syscall_32.tbl) and socketcall calls */
enum { I386_CLOSE = 6, I386_CREAT = 8, I386_LINK = 9, I386_UNLINK = 10, I386_CHMOD = 15,
       I386_GETPID = 20, I386_RENAME = 38, I386_MKDIR = 39, I386_SOCKETCALL = 102, I386_OPENAT = 295,
       I386_SOCKET = 359, I386_CONNECT = 362, SOCKETCALL_SOCKET = 1, SOCKETCALL_CONNECT = 3 };

static char c32_path[3][256];
static struct sockaddr_in c32_addr;
static unsigned int c32_args[3];

static const char *in32(const char *dir, const char *name, int slot)
{
	snprintf(c32_path[slot], sizeof(c32_path[slot]), "%s/%s", dir, name);
	return c32_path[slot];
}

static sigjmp_buf entry_faulted;

static void on_entry_fault(int sig)
{
	(void)sig;
	siglongjmp(entry_faulted, 1);
}

/* Whether int $0x80 reaches the kernel's 32-bit syscall entry. A kernel built with
 * IA32_EMULATION may still refuse it: booted with ia32_emulation=false, or (seen here)
 * a PVM guest, whose interrupt table has no gate at 0x80, so the instruction faults
 * (SIGSEGV). One getpid through it, under a SIGSEGV handler; getpid is not traced, so
 * asking leaves nothing in the trace. */
static int i386_entry_works(void)
{
	struct sigaction on_fault = { .sa_handler = on_entry_fault }, before;
	sigemptyset(&on_fault.sa_mask);
	sigaction(SIGSEGV, &on_fault, &before);
	volatile int works = 0; /* set between sigsetjmp and a possible siglongjmp */
	if (sigsetjmp(entry_faulted, 1) == 0)
		works = sys32(I386_GETPID, 0, 0, 0, 0) == getpid();
	sigaction(SIGSEGV, &before, NULL);
	return works;
}

static int compat32(const char *d, int port)
{
	if (!i386_entry_works()) {
		fprintf(stderr, "fsops: this kernel takes no 32-bit syscalls (int $0x80 faults): nothing done\n");
		return 0;
	}
	snprintf(c32_path[2], sizeof(c32_path[2]), "%s", d);
	must(sys32(I386_MKDIR, (long)c32_path[2], 0755, 0, 0), "mkdir (i386)");
	must(sys32(I386_CLOSE, must(sys32(I386_CREAT, (long)in32(d, "a", 0), 0644, 0, 0), "creat (i386)"), 0, 0, 0), "close");
	long fd = must(sys32(I386_OPENAT, (unsigned int)AT_FDCWD, (long)in32(d, "at", 0), O_CREAT | O_WRONLY, 0644), "openat (i386)");
	must(sys32(I386_CLOSE, fd, 0, 0, 0), "close");
	must(sys32(I386_RENAME, (long)in32(d, "a", 0), (long)in32(d, "b", 1), 0, 0), "rename (i386)");
	must(sys32(I386_LINK, (long)in32(d, "b", 0), (long)in32(d, "h", 1), 0, 0), "link (i386)");
	must(sys32(I386_UNLINK, (long)in32(d, "h", 0), 0, 0, 0), "unlink (i386)");
	must(sys32(I386_CHMOD, (long)in32(d, "b", 0), 0600, 0, 0), "chmod (i386)");

	c32_addr.sin_family = AF_INET;
	c32_addr.sin_port = htons((unsigned short)port);
	c32_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c32_args[0] = AF_INET;
	c32_args[1] = SOCK_STREAM;
	c32_args[2] = 0;
	long s = must(sys32(I386_SOCKETCALL, SOCKETCALL_SOCKET, (long)c32_args, 0, 0), "socketcall socket");
	c32_args[0] = (unsigned int)s;
	c32_args[1] = (unsigned int)(unsigned long)&c32_addr;
	c32_args[2] = sizeof(c32_addr);
	must(sys32(I386_SOCKETCALL, SOCKETCALL_CONNECT, (long)c32_args, 0, 0), "socketcall connect");
	must(sys32(I386_CLOSE, s, 0, 0, 0), "close");
	s = must(sys32(I386_SOCKET, AF_INET, SOCK_STREAM, 0, 0), "socket (i386)");
	must(sys32(I386_CONNECT, s, (long)&c32_addr, sizeof(c32_addr), 0), "connect (i386)");
	must(sys32(I386_CLOSE, s, 0, 0, 0), "close");
	return 0;
}
#endif

static void *last_thread(void *unused)
{
	(void)unused;
	usleep(20000); /* the main thread has ended by now */
	exit(7);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "threads") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, last_thread, NULL) != 0)
			return 1;
		pthread_exit(NULL); /* the main thread ends; the process lives on */
	}
	if (argc == 2 && strcmp(argv[1], "exit-now") == 0)
		return 0;
	if (argc == 2 && strcmp(argv[1], "i386-entry") == 0) {
#if defined(__x86_64__)
		return i386_entry_works() ? 0 : 3;
#else
		return 3;
#endif
	}
	if (argc == 4 && strcmp(argv[1], "compat32") == 0) {
#if defined(__x86_64__)
		return compat32(argv[2], atoi(argv[3]));
#else
		return 0; /* no 32-bit entry to exercise on this architecture */
#endif
	}
	if (argc != 3) {
		fprintf(stderr, "usage: fsops DIR PORT | fsops compat32 DIR PORT | fsops exit-now | fsops threads | fsops i386-entry\n");
		return 2;
	}
	const char *d = argv[1];
	int port = atoi(argv[2]);

	/* directories: mkdir, mkdirat; the dirfd for the *at calls (a read-only open) */
	must(syscall(SYS_mkdir, d, 0755), "mkdir");
	int dfd = (int)must(syscall(SYS_open, d, O_RDONLY | O_DIRECTORY), "open dir");
	must(syscall(SYS_mkdirat, dfd, "sub", 0755), "mkdirat");

	/* created: open(O_CREAT), openat(O_CREAT) relative to the dirfd, creat */
	close((int)must(syscall(SYS_open, in(d, "open-legacy", 0), O_CREAT | O_WRONLY, 0644), "open"));
	close((int)must(syscall(SYS_openat, dfd, "openat-rel", O_CREAT | O_WRONLY, 0644), "openat"));
	close((int)must(syscall(SYS_creat, in(d, "creat-legacy", 0), 0644), "creat"));

	/* modified: files an earlier step made, by truncate and by an O_RDWR open + ftruncate */
	must(syscall(SYS_truncate, "/fid/keep", 0), "truncate");
	int fd = (int)must(syscall(SYS_openat, AT_FDCWD, "/fid/keep2", O_RDWR), "openat keep2");
	must(syscall(SYS_ftruncate, fd, 0), "ftruncate");
	close(fd);

	/* renamed: rename, renameat, renameat2 */
	must(syscall(SYS_rename, in(d, "open-legacy", 0), in(d, "renamed-legacy", 1)), "rename");
	must(syscall(SYS_renameat, dfd, "openat-rel", dfd, "renamed-at"), "renameat");
	must(syscall(SYS_renameat2, dfd, "creat-legacy", dfd, "renamed-at2", RENAME_NOREPLACE), "renameat2");

	/* links: link, linkat, symlink, symlinkat */
	must(syscall(SYS_link, in(d, "renamed-legacy", 0), in(d, "hard-legacy", 1)), "link");
	must(syscall(SYS_linkat, dfd, "renamed-at", dfd, "hard-at", 0), "linkat");
	must(syscall(SYS_symlink, "renamed-legacy", in(d, "sym-legacy", 0)), "symlink");
	must(syscall(SYS_symlinkat, "renamed-at", dfd, "sym-at"), "symlinkat");

	/* attributes: chmod, fchmodat */
	must(syscall(SYS_chmod, in(d, "renamed-legacy", 0), 0600), "chmod");
	must(syscall(SYS_fchmodat, dfd, "renamed-at", 0640), "fchmodat");

	/* deleted: unlink, unlinkat, unlinkat(AT_REMOVEDIR), rmdir */
	must(syscall(SYS_unlink, in(d, "hard-legacy", 0)), "unlink");
	must(syscall(SYS_unlinkat, dfd, "hard-at", 0), "unlinkat");
	must(syscall(SYS_unlinkat, dfd, "sub", AT_REMOVEDIR), "unlinkat dir");
	must(syscall(SYS_mkdir, in(d, "gone", 0), 0755), "mkdir gone");
	must(syscall(SYS_rmdir, in(d, "gone", 0)), "rmdir");
	close(dfd);

	/* the network: one TCP connect to the test's server on 127.0.0.1 */
	int s = (int)must(socket(AF_INET, SOCK_STREAM, 0), "socket");
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	must(connect(s, (struct sockaddr *)&a, sizeof(a)), "connect");
	const char msg[] = "fidelity\n";
	must(send(s, msg, sizeof(msg) - 1, 0), "send");
	close(s);
	return 0;
}
