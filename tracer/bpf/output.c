// SPDX-License-Identifier: Apache-2.0
/*
 * What the loader writes: messages on stderr; records on stdout, gathered and written by a
 * thread of their own, consecutive file, net and proc records of a cgroup packed into one
 * (TB_EV_BATCH); and the loss counters (TB_EV_LOSS records).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loader.h"

void msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, PROG ": ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---- output -------------------------------------------------------------------------
 * Records are gathered in outbuf; each batch (a full buffer, or what one poll found) is
 * handed to a writer thread, which writes it with one write(2). So the loader never waits
 * for the CLI to read (a stopped exec, maybe of another build, must not wait for that)
 * unless OUT_QUEUE_MAX bytes are queued (then it does: the ring buffer holds the rest). */
static uint8_t outbuf[OUT_BUF_BYTES];
static size_t outlen;
static bool out_broken; /* set by the writer (atomic) */
uint64_t user_loss[TB_LOSS_MAX];

#define OUT_QUEUE_MAX (64u << 20)
struct out_chunk {
	struct out_chunk *next;
	size_t len;
	uint8_t data[];
};
static struct out_chunk *q_head, *q_tail;
static size_t q_bytes;   /* queued or being written */
static bool q_closing;
static bool writer_running;
static pthread_t writer;
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_more = PTHREAD_COND_INITIALIZER, q_less = PTHREAD_COND_INITIALIZER;

bool out_is_broken(void)
{
	return __atomic_load_n(&out_broken, __ATOMIC_ACQUIRE);
}

static bool write_all(const uint8_t *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(STDOUT_FILENO, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				/* stdout made non-blocking by the reader: wait until writable */
				struct timespec ts = { 0, 1000000 };
				nanosleep(&ts, NULL);
				continue;
			}
			__atomic_store_n(&out_broken, true, __ATOMIC_RELEASE);
			return false;
		}
		done += n;
	}
	return true;
}

static void *writer_main(void *arg)
{
	pthread_mutex_lock(&q_mu);
	for (;;) {
		while (!q_head && !q_closing)
			pthread_cond_wait(&q_more, &q_mu);
		struct out_chunk *c = q_head;
		if (!c)
			break; /* closing, and all written */
		q_head = c->next;
		if (!q_head)
			q_tail = NULL;
		pthread_mutex_unlock(&q_mu);
		if (!out_is_broken())
			write_all(c->data, c->len);
		pthread_mutex_lock(&q_mu);
		q_bytes -= c->len;
		free(c);
		pthread_cond_broadcast(&q_less);
	}
	pthread_mutex_unlock(&q_mu);
	return NULL;
}

void out_start(void)
{
	writer_running = pthread_create(&writer, NULL, writer_main, NULL) == 0;
	if (!writer_running)
		msg("cannot start the writer thread: writing stdout from the main thread");
}

static void batch_flush(void);

/* Hands what is in outbuf to the writer (written here when there is no writer). */
static void outbuf_flush(void)
{
	if (!outlen)
		return;
	struct out_chunk *c = writer_running ? malloc(sizeof(*c) + outlen) : NULL;
	if (!c) {
		if (!out_is_broken())
			write_all(outbuf, outlen);
		outlen = 0;
		return;
	}
	c->next = NULL;
	c->len = outlen;
	memcpy(c->data, outbuf, outlen);
	outlen = 0;
	pthread_mutex_lock(&q_mu);
	while (q_bytes >= OUT_QUEUE_MAX && !out_is_broken())
		pthread_cond_wait(&q_less, &q_mu);
	if (q_tail)
		q_tail->next = c;
	else
		q_head = c;
	q_tail = c;
	q_bytes += c->len;
	pthread_cond_signal(&q_more);
	pthread_mutex_unlock(&q_mu);
}

/* Hands what is in outbuf and the batch being made to the writer. */
void out_flush(void)
{
	batch_flush();
	outbuf_flush();
}

/* At exit: writes everything, and ends the writer. */
void out_finish(void)
{
	out_flush();
	if (!writer_running)
		return;
	pthread_mutex_lock(&q_mu);
	q_closing = true;
	pthread_cond_signal(&q_more);
	pthread_mutex_unlock(&q_mu);
	pthread_join(writer, NULL);
	writer_running = false;
}

struct out_stats out_stats;

/* One record into outbuf, as it is. */
static void write_record(const void *rec, uint32_t len)
{
	out_stats.records++;
	out_stats.bytes += 4 + len;
	if (out_is_broken()) {
		user_loss[TB_LOSS_OUTPUT]++;
		return;
	}
	if (outlen + 4 + len > sizeof(outbuf))
		outbuf_flush();
	if (4 + len > sizeof(outbuf)) {
		user_loss[TB_LOSS_OUTPUT]++;
		return;
	}
	memcpy(outbuf + outlen, &len, 4); /* little endian hosts only (x86-64, arm64) */
	memcpy(outbuf + outlen + 4, rec, len);
	outlen += 4 + len;
}

/* ---- batches ------------------------------------------------------------------------
 * Consecutive file, net and proc records of one cgroup go out as one TB_EV_BATCH record:
 * the CLI handles them in one loop, with its per-record work (the framing, the cgroup, the
 * step's builder, where the record is kept) done once per batch. A batch ends at a record of
 * another cgroup or of another type (an exec: the CLI must see it in its place), when it is
 * full, and at each flush: it never holds a record back longer than a poll. */
static uint8_t batchbuf[TB_BATCH_MAX];
static uint32_t batch_len; /* bytes of its records (after the batch header) */
static uint32_t batch_count;

static void batch_flush(void)
{
	struct tb_batch_event *b = (void *)batchbuf;
	const uint8_t *first = batchbuf + sizeof(*b);
	out_stats.batched += batch_count;
	if (batch_count == 1) {
		write_record(first, batch_len);
	} else if (batch_count > 1) {
		out_stats.batches++;
		uint64_t cg = b->hdr.cgroup_id;
		memset(b, 0, sizeof(*b));
		b->hdr.type = TB_EV_BATCH;
		b->hdr.size = sizeof(*b) + batch_len;
		b->hdr.ts_ns = ((const struct tb_header *)first)->ts_ns;
		b->hdr.cgroup_id = cg;
		b->count = batch_count;
		write_record(batchbuf, b->hdr.size);
	}
	batch_count = 0;
	batch_len = 0;
}

void out_batched(const void *rec, uint32_t len)
{
	struct tb_batch_event *b = (void *)batchbuf;
	uint64_t cg = ((const struct tb_header *)rec)->cgroup_id;
	if (len > TB_BATCH_MAX - sizeof(*b)) {
		batch_flush();
		write_record(rec, len);
		return;
	}
	if (batch_count && (cg != b->hdr.cgroup_id || sizeof(*b) + batch_len + len > TB_BATCH_MAX))
		batch_flush();
	if (!batch_count)
		b->hdr.cgroup_id = cg;
	memcpy(batchbuf + sizeof(*b) + batch_len, rec, len);
	batch_len += len;
	batch_count++;
}

/* A record that is not batched: after the batch before it. */
void out_record(const void *rec, uint32_t len)
{
	batch_flush();
	write_record(rec, len);
}

void loader_header(struct tb_header *h, uint32_t type, uint32_t size)
{
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->size = size;
	h->ts_ns = clock_ns(CLOCK_BOOTTIME);
	h->pid = h->tgid = getpid();
}

void write_ack(uint32_t seq, int err, uint64_t value)
{
	struct tb_ack_event a;
	loader_header(&a.hdr, TB_EV_ACK, sizeof(a));
	a.seq = seq;
	a.error = err;
	a.value = value;
	out_record(&a, sizeof(a));
}

/* ---- loss counters ------------------------------------------------------------------ */
int ncpus;
static __u64 last_loss[TB_LOSS_MAX];

void read_losses(__u64 out[TB_LOSS_MAX])
{
	uint64_t *vals = calloc(ncpus, sizeof(uint64_t));
	int fd = bpf_map__fd(skel->maps.losses);
	for (uint32_t k = 0; k < TB_LOSS_MAX; k++) {
		out[k] = user_loss[k];
		if (vals && bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (int c = 0; c < ncpus; c++)
				out[k] += vals[c];
	}
	free(vals);
}

void write_losses(bool force)
{
	struct tb_loss_event l;
	read_losses(l.counters);
	if (!force && !memcmp(l.counters, last_loss, sizeof(last_loss)))
		return;
	memcpy(last_loss, l.counters, sizeof(last_loss));
	loader_header(&l.hdr, TB_EV_LOSS, sizeof(l));
	out_record(&l, sizeof(l));
}
