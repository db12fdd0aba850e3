// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel/status.h"
#include "common/util.h"
#include "common/log.h"
#include "kernel/warmup.h"

#define TRACE_MAGIC "rcache-trace 1"
#define FEED_BATCH 256		/* ranges per round of messages */

static int warm_msg(struct rc_dm *dm, const struct rc_warmup_opts *o, uint64_t first_block,
		    uint64_t end_block, uint32_t block_sectors, struct rc_err *err)
{
	char msg[96];

	if (o->rate)
		snprintf(msg, sizeof(msg), "warmup %" PRIu64 "-%" PRIu64 " %" PRIu64,
			 first_block * block_sectors, end_block * block_sectors,
			 (o->rate + 999999) / 1000000);
	else
		snprintf(msg, sizeof(msg), "warmup %" PRIu64 "-%" PRIu64,
			 first_block * block_sectors, end_block * block_sectors);
	return rc_dm_message(dm, o->name, msg, NULL, err);
}

static void progress(const struct rc_warmup_opts *o, uint64_t done, uint64_t total,
		     uint64_t block, double secs, bool last)
{
	static double printed = -10;
	char a[32], b[32];
	double pct = total ? 100.0 * done / total : 100, rate = secs > 0 ? done * block / secs : 0;
	double eta = rate > 0 ? (total - done) * block / rate : 0;

	if (!o->progress_bar && !last && secs - printed < 2)
		return;
	printed = secs;
	rc_fmt_bytes(done * block, a, sizeof(a));
	rc_fmt_bytes(total * block, b, sizeof(b));
	if (o->progress_bar) {
		char bar[31];
		int fill = (int)(pct * 30 / 100), i;

		for (i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r%s [%s] %5.1f%% %s / %s  %6.1f MB/s  ETA %4.0f s  ", o->name,
			bar, pct, a, b, rate / 1e6, eta);
		if (last)
			fputc('\n', stderr);
	} else {
		fprintf(stderr, "%s: warm-up %.1f%% (%s of %s), %.1f MB/s, ETA %.0f s\n", o->name,
			pct, a, b, rate / 1e6, eta);
	}
}

/* Reads a trace file into runs of consecutive blocks, in order. */
static int read_trace(const char *path, uint32_t block_size, uint64_t nr_blocks,
		      uint64_t (**runs)[2], size_t *nruns, uint64_t *nblocks, struct rc_err *err)
{
	char line[256];
	unsigned long long bs = 0;
	size_t cap = 0;
	FILE *f = fopen(path, "re");

	*runs = NULL;
	*nruns = 0;
	*nblocks = 0;
	if (!f)
		return rc_errf(err, errno, "trace %s: %s", path, strerror(errno));
	if (!fgets(line, sizeof(line), f) || strncmp(line, TRACE_MAGIC, strlen(TRACE_MAGIC)) ||
	    !strstr(line, "block_size=") ||
	    sscanf(strstr(line, "block_size="), "block_size=%llu", &bs) != 1) {
		fclose(f);
		return rc_errf(err, EINVAL, "trace %s: not an rcache trace (no '%s' header)", path,
			       TRACE_MAGIC);
	}
	if (bs != block_size) {
		fclose(f);
		return rc_errf(err, EINVAL, "trace %s: recorded with %llu-byte blocks, device has %u",
			       path, bs, block_size);
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned long long b;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%llu", &b) != 1 || b >= nr_blocks) {
			fclose(f);
			free(*runs);
			return rc_errf(err, EINVAL, "trace %s: bad block '%s'", path,
				       strtok(line, "\n"));
		}
		(*nblocks)++;
		if (*nruns && (*runs)[*nruns - 1][1] == b) {
			(*runs)[*nruns - 1][1] = b + 1;
			continue;
		}
		if (*nruns == cap) {
			uint64_t (*bigger)[2];

			cap = cap ? cap * 2 : 1024;
			bigger = realloc(*runs, cap * sizeof(**runs));
			if (!bigger) {
				fclose(f);
				free(*runs);
				return rc_errf(err, ENOMEM, "out of memory");
			}
			*runs = bigger;
		}
		(*runs)[*nruns][0] = b;
		(*runs)[*nruns][1] = b + 1;
		(*nruns)++;
	}
	fclose(f);
	return 0;
}

int rc_warmup(struct rc_dm *dm, const struct rc_warmup_opts *o, struct rc_err *err)
{
	struct rc_status st;
	uint64_t (*runs)[2] = NULL, total, errors0, nblocks, pending;
	size_t nruns = 0, fed = 0;
	uint32_t bs;
	uint64_t t0 = rc_now_ns();
	int r;

	r = rc_status_get(dm, o->name, &st, err);
	if (r)
		return r;
	bs = st.block_size;
	errors0 = st.warmup_errors;
	if (o->trace) {
		r = read_trace(o->trace, bs, st.total_blocks, &runs, &nruns, &nblocks, err);
		if (r)
			return r;
	} else {
		uint64_t end = o->end ? o->end : st.size_bytes;

		if (o->begin >= end || end > st.size_bytes) {
			return rc_errf(err, EINVAL, "%s: range %" PRIu64 "-%" PRIu64
				       " is not within the device (%" PRIu64 " bytes)", o->name,
				       o->begin, end, st.size_bytes);
		}
		runs = malloc(sizeof(*runs));
		if (!runs)
			return rc_errf(err, ENOMEM, "out of memory");
		runs[0][0] = o->begin / bs;
		runs[0][1] = (end + bs - 1) / bs;
		nruns = 1;
		nblocks = runs[0][1] - runs[0][0];
	}
	total = nblocks;
	if (total > st.slots)
		rc_warn("%s: warming %" PRIu64 " blocks into a cache of %" PRIu64
			" slots: the blocks warmed last evict the first ones", o->name, total,
			st.slots);
	for (;;) {
		/* feed the kernel's queue in order, a batch at a time */
		if (fed < nruns && st.warmup_pending < FEED_BATCH * 4) {
			size_t stop = fed + FEED_BATCH < nruns ? fed + FEED_BATCH : nruns;

			for (; fed < stop; fed++) {
				r = warm_msg(dm, o, runs[fed][0], runs[fed][1], bs / 512, err);
				if (r)
					goto out;
			}
		}
		r = rc_status_get(dm, o->name, &st, err);
		if (r)
			goto out;
		/* what is neither queued nor fed yet is done */
		pending = st.warmup_pending;
		for (size_t i = fed; i < nruns; i++)
			pending += runs[i][1] - runs[i][0];
		if (pending > total)
			pending = total;
		if (!o->wait && fed == nruns)
			break;
		progress(o, total - pending, total, bs, (rc_now_ns() - t0) / 1e9, !pending);
		if (!pending)
			break;
		usleep(200000);
	}
	if (!o->wait) {
		fprintf(stderr, "%s: warm-up of %" PRIu64 " blocks queued; `rcachectl status %s` shows progress\n",
			o->name, total, o->name);
		goto out;
	}
	if (st.warmup_errors > errors0)
		r = rc_errf(err, EIO, "%s: warm-up done, but %" PRIu64
			    " blocks failed to fetch (see rcached's log)", o->name,
			    st.warmup_errors - errors0);
out:
	free(runs);
	return r;
}

static volatile sig_atomic_t trace_stop;

static void on_stop(int sig)
{
	(void)sig;
	trace_stop = 1;
}

/* Appends the blocks of one "trace read" reply; returns the count. */
static uint64_t trace_drain(struct rc_dm *dm, const char *name, FILE *f, uint64_t *lost,
			    struct rc_err *err, int *r)
{
	char *reply = NULL, *tok, *save = NULL;
	uint64_t n = 0;

	*r = rc_dm_message(dm, name, "trace read", &reply, err);
	if (*r || !reply)
		return 0;
	tok = strtok_r(reply, " ", &save);
	if (tok)
		*lost = strtoull(tok, NULL, 10);
	while ((tok = strtok_r(NULL, " ", &save))) {
		fprintf(f, "%s\n", tok);
		n++;
	}
	free(reply);
	return n;
}

int rc_trace_record(struct rc_dm *dm, const struct rc_trace_opts *o, struct rc_err *err)
{
	struct rc_status st;
	struct sigaction sa = { .sa_handler = on_stop };
	uint64_t n = 0, lost = 0, t0 = rc_now_ns();
	FILE *f;
	int r;

	r = rc_status_get(dm, o->name, &st, err);
	if (r)
		return r;
	f = fopen(o->out, "we");
	if (!f)
		return rc_errf(err, errno, "%s: %s", o->out, strerror(errno));
	fprintf(f, "%s block_size=%u blocks=%" PRIu64 " origin=%s\n", TRACE_MAGIC, st.block_size,
		st.total_blocks, st.table.origin);
	r = rc_dm_message(dm, o->name, "trace start", NULL, err);
	if (r) {
		fclose(f);
		if (err->code == EBUSY)
			return rc_errf(err, EBUSY, "%s: a trace is already being recorded", o->name);
		return r;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "%s: recording block accesses to %s (Ctrl-C to stop)\n", o->name, o->out);
	while (!trace_stop && !r &&
	       (!o->duration_s || rc_now_ns() - t0 < o->duration_s * 1000000000ULL)) {
		n += trace_drain(dm, o->name, f, &lost, err, &r);
		usleep(200000);
	}
	if (!r) {
		uint64_t got;

		do {
			got = trace_drain(dm, o->name, f, &lost, err, &r);
			n += got;
		} while (got && !r);
	}
	rc_dm_message(dm, o->name, "trace stop", NULL, NULL);
	if (fclose(f) && !r)
		r = rc_errf(err, errno, "%s: %s", o->out, strerror(errno));
	if (!r)
		fprintf(stderr, "%s: recorded %" PRIu64 " blocks in first-access order to %s%s\n",
			o->name, n, o->out, lost ? " (some lost: the ring was full)" : "");
	if (!r && lost)
		fprintf(stderr, "%s: %" PRIu64 " accesses lost\n", o->name, lost);
	return r;
}
