// SPDX-License-Identifier: Apache-2.0
/*
 * The control protocol: line commands on stdin, each answered by a TB_EV_ACK record
 * carrying its sequence number (the commands are listed in main.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

bool stopping;

static const char *cgroup2_root(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
		return "/sys/fs/cgroup";
	return "/sys/fs/cgroup/unified";
}

int trace_cgroup(uint64_t id)
{
	struct tb_traced v = { .generation = skel->bss->cfg_generation, .flags = 0 };
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.traced), &id, &v, BPF_ANY))
		return errno;
	return 0;
}

static void command(char *line)
{
	char *save = NULL;
	char *seqs = strtok_r(line, " \t", &save);
	char *verb = strtok_r(NULL, " \t", &save);
	char *arg = strtok_r(NULL, "", &save);
	if (!seqs)
		return;
	uint32_t seq = strtoul(seqs, NULL, 10);
	if (!verb) {
		write_ack(seq, EINVAL, 0);
		return;
	}
	if (!strcmp(verb, "add") && arg) {
		write_ack(seq, trace_cgroup(strtoull(arg, NULL, 0)), 0);
	} else if (!strcmp(verb, "addpath") && arg) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", cgroup2_root(), arg[0] == '/' ? arg + 1 : arg);
		if (stat(path, &st)) {
			write_ack(seq, errno, 0);
			return;
		}
		write_ack(seq, trace_cgroup(st.st_ino), st.st_ino);
	} else if (!strcmp(verb, "remove") && arg) {
		uint64_t id = strtoull(arg, NULL, 0);
		int err = bpf_map_delete_elem(bpf_map__fd(skel->maps.traced), &id) ? errno : 0;
		write_ack(seq, err, 0);
	} else if (!strcmp(verb, "gen") && arg) {
		skel->bss->cfg_generation = strtoul(arg, NULL, 0);
		write_ack(seq, 0, skel->bss->cfg_generation);
	} else if (!strcmp(verb, "stats")) {
		write_losses(true);
		write_ack(seq, 0, 0);
	} else if (!strcmp(verb, "ping")) {
		write_ack(seq, 0, 0);
	} else if (!strcmp(verb, "stop")) {
		write_ack(seq, 0, 0);
		stopping = true;
	} else {
		write_ack(seq, EINVAL, 0);
	}
}

static char inbuf[8192];
static size_t inlen;

/* Returns false on EOF. */
bool read_stdin(void)
{
	ssize_t n = read(STDIN_FILENO, inbuf + inlen, sizeof(inbuf) - 1 - inlen);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	inlen += n;
	char *start = inbuf, *nl;
	while ((nl = memchr(start, '\n', inbuf + inlen - start))) {
		*nl = 0;
		command(start);
		start = nl + 1;
	}
	inlen = inbuf + inlen - start;
	memmove(inbuf, start, inlen);
	if (inlen == sizeof(inbuf) - 1)
		inlen = 0; /* an absurdly long line: drop it */
	return true;
}
