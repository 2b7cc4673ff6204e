// The load the tracing benchmarks put in a RUN (bench/trace.mjs compiles it, static, into
// the build context):
//
//   stress fork N P         N processes that exit at once (they never exec), P forking at
//                           a time; prints how many and how long
//   stress files SECONDS W [OPS]
//                           for SECONDS, W writers making file events on 64 names each,
//                           over and over, and one process forking children that exit at
//                           once (a fork and an exit each); prints what each made and the
//                           rate. OPS: create (the default): open O_CREAT, chmod, rename,
//                           unlink, every kind of change the trace lists, each name made
//                           and removed again; chmod: the files made once, then chmod
//                           (the mode alternating), the cheapest file event for the kernel
//                           to make, so that what limits the rate is the tracer's cost
//
// Figures only for the benchmark to compare with what the trace says; it asserts nothing.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fork_one(void)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static int fork_mode(long n, int p)
{
	double t0 = now();
	for (int w = 0; w < p; w++) {
		if (fork() == 0) {
			long mine = n / p + (w < n % p ? 1 : 0);
			for (long i = 0; i < mine; i++)
				if (fork_one())
					_exit(1);
			_exit(0);
		}
	}
	int bad = 0, status;
	while (wait(&status) > 0)
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	double s = now() - t0;
	printf("stress fork: %ld processes (+%d forking) in %.2f s: %.0f processes/s\n", n, p, s, n / s);
	return bad;
}

/* counters the writers share with the parent */
struct counts {
	long files[64];
	long forks;
};

static int files_mode(double seconds, int writers, int chmod_only)
{
	struct counts *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c == MAP_FAILED || writers < 1 || writers > 64)
		return 2;
	memset(c, 0, sizeof(*c));
	double t0 = now(), end = t0 + seconds;
	for (int w = 0; w < writers; w++) {
		if (fork() != 0)
			continue;
		char dir[64], f[64][80], g[64][80];
		snprintf(dir, sizeof(dir), "/stress/w%d", w);
		if (mkdir(dir, 0755) && errno != EEXIST)
			_exit(1);
		for (int k = 0; k < 64; k++) {
			snprintf(f[k], sizeof(f[k]), "%s/f%d", dir, k);
			snprintf(g[k], sizeof(g[k]), "%s/g%d", dir, k);
		}
		long n = 0;
		if (chmod_only) {
			for (int k = 0; k < 64; k++) {
				int fd = open(f[k], O_CREAT | O_WRONLY | O_TRUNC, 0644);
				if (fd < 0)
					_exit(1);
				close(fd);
			}
			n = 64;
			for (long round = 0; now() < end; round++) {
				for (int k = 0; k < 64; k++)
					if (chmod(f[k], round & 1 ? 0644 : 0600))
						_exit(1);
				n += 64;
				c->files[w] = n;
			}
			_exit(0);
		}
		while (now() < end) {
			for (int k = 0; k < 64; k++) {
				int fd = open(f[k], O_CREAT | O_WRONLY | O_TRUNC, 0644);
				if (fd < 0)
					_exit(1);
				close(fd);
				if (chmod(f[k], 0600) || rename(f[k], g[k]) || unlink(g[k]))
					_exit(1);
			}
			n += 64 * 4;
			c->files[w] = n;
		}
		_exit(0);
	}
	if (fork() == 0) {
		long n = 0;
		while (now() < end) {
			if (fork_one())
				_exit(1);
			c->forks = ++n;
		}
		_exit(0);
	}
	int bad = 0, status;
	while (wait(&status) > 0)
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	double s = now() - t0;
	long files = 0;
	for (int w = 0; w < writers; w++)
		files += c->files[w];
	long events = files + 2 * c->forks;
	printf("stress files: %d writers (%s), %.2f s: %ld file events, %ld processes (%ld fork and exit events): "
	       "%ld events, %.0f events/s\n",
	       writers, chmod_only ? "chmod" : "create", s, files, c->forks, 2 * c->forks, events, events / s);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "fork"))
		return fork_mode(atol(argv[2]), atoi(argv[3]));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "files")) {
		const char *ops = argc == 5 ? argv[4] : "create";
		if (strcmp(ops, "create") && strcmp(ops, "chmod")) {
			fprintf(stderr, "stress files: OPS is create or chmod, not %s\n", ops);
			return 2;
		}
		return files_mode(atof(argv[2]), atoi(argv[3]), !strcmp(ops, "chmod"));
	}
	fprintf(stderr, "usage: stress fork N P | stress files SECONDS WRITERS [create|chmod]\n");
	return 2;
}
