// SPDX-License-Identifier: GPL-2.0-only
/*
 * tracereplay - block traces for the hit-rate benchmark (zipf, loop): generate one,
 * replay it against a block device, or simulate a cache over it offline.
 *
 *   tracereplay gen BLOCKS ACCESSES THETA SEED FILE
 *	ACCESSES block numbers in [0, BLOCKS), zipf(THETA) over the ranks; the
 *	rank -> block mapping is a seeded shuffle, so hot blocks are spread over
 *	the device.  FILE holds them as native 32-bit words.
 *   tracereplay loop BLOCKS PASSES FILE
 *	a cyclic scan: blocks 0 .. BLOCKS - 1 in order, PASSES times (an LRU
 *	cache smaller than BLOCKS hits nothing on it).
 *   tracereplay replay DEV BLOCK_BYTES FROM TO THREADS FILE [RATE]
 *	reads accesses [FROM, TO) of the trace from DEV, one O_DIRECT pread of
 *	BLOCK_BYTES per access, by THREADS threads taking accesses in trace
 *	order (1: exactly the trace order); prints the number of reads.  With
 *	RATE, access i starts no earlier than i / RATE seconds after the first
 *	(for policies that adapt by wall-clock periods, such as smq).
 *   tracereplay sim CAPACITY FROM FILE
 *	simulates, over the whole trace, an LRU cache and Belady's optimal
 *	(MIN) cache of CAPACITY blocks, and prints for the accesses from FROM
 *	on: "lru HITS MISSES PCT", "opt HITS MISSES PCT", and "top HITS
 *	MISSES PCT", the accesses to the CAPACITY most frequent blocks of the
 *	trace (a static cache with perfect frequency knowledge).
 *
 * No libm: the zipf weights use the small exp/log below.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
	fprintf(stderr, "tracereplay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: tracereplay gen BLOCKS ACCESSES THETA SEED FILE\n"
			"       tracereplay loop BLOCKS PASSES FILE\n"
			"       tracereplay replay DEV BLOCK_BYTES FROM TO THREADS FILE [RATE]\n"
			"       tracereplay sim CAPACITY FROM FILE\n");
	exit(2);
}

/* splitmix64: a seeded, portable generator */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 bits */
static double next_unit(uint64_t *s)
{
	return (next_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

static const double LN2 = 0.69314718055994530942;

static double my_exp(double x)
{
	union { double d; uint64_t u; } scale;
	double r, term, sum;
	long n;
	int i;

	if (x < -700)
		return 0;
	n = (long)(x / LN2 + (x < 0 ? -0.5 : 0.5));
	r = x - n * LN2;
	term = sum = 1;
	for (i = 1; i < 30; i++) {
		term *= r / i;
		sum += term;
	}
	scale.u = (uint64_t)(n + 1023) << 52;
	return sum * scale.d;
}

/* x > 0 */
static double my_log(double x)
{
	union { double d; uint64_t u; } v = { .d = x };
	long e = (long)((v.u >> 52) & 0x7ff) - 1023;
	double s, s2, term, sum;
	int i;

	v.u = (v.u & ((1ULL << 52) - 1)) | (1023ULL << 52);	/* mantissa in [1, 2) */
	s = (v.d - 1) / (v.d + 1);
	s2 = s * s;
	term = s;
	sum = 0;
	for (i = 1; i < 80; i += 2) {
		sum += term / i;
		term *= s2;
	}
	return e * LN2 + 2 * sum;
}

static uint32_t *load_trace(const char *path, size_t *n)
{
	struct stat st;
	uint32_t *t;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st))
		fail(path);
	*n = st.st_size / sizeof(*t);
	t = malloc(st.st_size + 1);
	if (!t)
		fail("malloc");
	if (read(fd, t, st.st_size) != st.st_size)
		fail(path);
	close(fd);
	return t;
}

static int cmd_loop(int argc, char **argv)
{
	uint64_t blocks, passes, i;
	uint32_t *t;
	FILE *f;

	if (argc != 4)
		usage();
	blocks = strtoull(argv[1], NULL, 0);
	passes = strtoull(argv[2], NULL, 0);
	if (!blocks || blocks > UINT32_MAX || !passes || passes > UINT32_MAX / blocks)
		usage();
	t = malloc(blocks * passes * sizeof(*t));
	if (!t)
		fail("malloc");
	for (i = 0; i < blocks * passes; i++)
		t[i] = i % blocks;
	f = fopen(argv[3], "wb");
	if (!f || fwrite(t, sizeof(*t), blocks * passes, f) != blocks * passes || fclose(f))
		fail(argv[3]);
	free(t);
	return 0;
}

static int cmd_gen(int argc, char **argv)
{
	uint64_t blocks, accesses, seed, i, j, lo, hi;
	double theta, *cdf, total = 0, u;
	uint32_t *perm, *t, tmp;
	FILE *f;

	if (argc != 6)
		usage();
	blocks = strtoull(argv[1], NULL, 0);
	accesses = strtoull(argv[2], NULL, 0);
	theta = strtod(argv[3], NULL);
	seed = strtoull(argv[4], NULL, 0);
	if (!blocks || blocks > UINT32_MAX || !accesses)
		usage();
	cdf = malloc(blocks * sizeof(*cdf));
	perm = malloc(blocks * sizeof(*perm));
	t = malloc(accesses * sizeof(*t));
	if (!cdf || !perm || !t)
		fail("malloc");
	for (i = 0; i < blocks; i++) {
		total += my_exp(-theta * my_log((double)(i + 1)));
		cdf[i] = total;
	}
	for (i = 0; i < blocks; i++)
		perm[i] = i;
	for (i = blocks - 1; i > 0; i--) {
		j = next_rand(&seed) % (i + 1);
		tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (i = 0; i < accesses; i++) {
		u = next_unit(&seed) * total;
		lo = 0;
		hi = blocks - 1;
		while (lo < hi) {	/* the first rank whose cdf exceeds u */
			uint64_t mid = lo + (hi - lo) / 2;

			if (cdf[mid] > u)
				hi = mid;
			else
				lo = mid + 1;
		}
		t[i] = perm[lo];
	}
	f = fopen(argv[5], "wb");
	if (!f || fwrite(t, sizeof(*t), accesses, f) != accesses || fclose(f))
		fail(argv[5]);
	free(cdf);
	free(perm);
	free(t);
	return 0;
}

struct replay {
	const char *dev;
	const uint32_t *t;
	uint64_t block_bytes;
	size_t first, next, to;
	double rate;
	struct timespec start;
	pthread_mutex_t lock;
	long done, errors;
};

static void *replay_worker(void *arg)
{
	struct replay *r = arg;
	int fd = open(r->dev, O_RDONLY | O_DIRECT);
	void *buf;
	size_t i;
	long done = 0, errors = 0;

	if (fd < 0 || posix_memalign(&buf, 4096, r->block_bytes)) {
		perror(r->dev);
		pthread_mutex_lock(&r->lock);
		r->errors++;
		pthread_mutex_unlock(&r->lock);
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&r->lock);
		i = r->next < r->to ? r->next++ : r->to;
		pthread_mutex_unlock(&r->lock);
		if (i >= r->to)
			break;
		if (r->rate > 0) {
			double at = (i - r->first) / r->rate;
			struct timespec ts = r->start;

			ts.tv_sec += (time_t)at;
			ts.tv_nsec += (long)((at - (time_t)at) * 1e9);
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
		}
		if (pread(fd, buf, r->block_bytes, (off_t)r->t[i] * r->block_bytes) !=
		    (ssize_t)r->block_bytes) {
			if (!errors)
				fprintf(stderr, "tracereplay: read of block %u: %s\n", r->t[i],
					strerror(errno));
			errors++;
		} else {
			done++;
		}
	}
	pthread_mutex_lock(&r->lock);
	r->done += done;
	r->errors += errors;
	pthread_mutex_unlock(&r->lock);
	free(buf);
	close(fd);
	return NULL;
}

static int cmd_replay(int argc, char **argv)
{
	struct replay r = { .lock = PTHREAD_MUTEX_INITIALIZER };
	pthread_t th[64];
	size_t n;
	int threads, i;

	if (argc != 7 && argc != 8)
		usage();
	r.dev = argv[1];
	r.block_bytes = strtoull(argv[2], NULL, 0);
	r.next = strtoull(argv[3], NULL, 0);
	r.to = strtoull(argv[4], NULL, 0);
	threads = atoi(argv[5]);
	r.t = load_trace(argv[6], &n);
	r.rate = argc == 8 ? strtod(argv[7], NULL) : 0;
	if (r.to > n)
		r.to = n;
	r.first = r.next;
	clock_gettime(CLOCK_MONOTONIC, &r.start);
	if (!r.block_bytes || r.block_bytes % 4096 || threads < 1 || threads > 64)
		usage();
	for (i = 0; i < threads; i++)
		if (pthread_create(&th[i], NULL, replay_worker, &r))
			fail("pthread_create");
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("%ld\n", r.done);
	free((void *)r.t);
	return r.errors ? 1 : 0;
}

static void print_rate(const char *name, uint64_t hits, uint64_t misses)
{
	printf("%s %llu %llu %.2f\n", name, (unsigned long long)hits, (unsigned long long)misses,
	       hits + misses ? 100.0 * hits / (hits + misses) : 0.0);
}

/* min-heap of (next use, block) for Belady; stale entries are skipped lazily */
struct hent {
	uint64_t next;
	uint32_t block;
};

static void heap_push(struct hent *h, size_t *n, struct hent e)
{
	size_t i = (*n)++;

	while (i && h[(i - 1) / 2].next < e.next) {	/* max-heap on next use */
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = e;
}

static struct hent heap_pop(struct hent *h, size_t *n)
{
	struct hent top = h[0], last = h[--(*n)];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < *n) {
		if (c + 1 < *n && h[c + 1].next > h[c].next)
			c++;
		if (h[c].next <= last.next)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = last;
	return top;
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

static int cmd_sim(int argc, char **argv)
{
	uint64_t cap, from, blocks = 0, used = 0, hits = 0, misses = 0, i;
	uint32_t *t, *prev, *nxt, head = UINT32_MAX, tail = UINT32_MAX, b, v;
	uint64_t *count, *nextuse, *cur;
	uint8_t *in;
	struct hent *heap;
	size_t n, hn = 0;

	if (argc != 4)
		usage();
	cap = strtoull(argv[1], NULL, 0);
	from = strtoull(argv[2], NULL, 0);
	t = load_trace(argv[3], &n);
	if (!cap)
		usage();
	for (i = 0; i < n; i++)
		if (t[i] + 1ULL > blocks)
			blocks = t[i] + 1ULL;
	prev = malloc(blocks * sizeof(*prev));
	nxt = malloc(blocks * sizeof(*nxt));
	in = calloc(blocks, 1);
	count = calloc(blocks, sizeof(*count));
	cur = malloc(blocks * sizeof(*cur));
	nextuse = malloc((n + 1) * sizeof(*nextuse));
	heap = malloc((n + 1) * sizeof(*heap));
	if (!prev || !nxt || !in || !count || !cur || !nextuse || !heap)
		fail("malloc");

	/* LRU: a doubly linked list over the blocks, most recent at head */
	for (i = 0; i < n; i++) {
		b = t[i];
		if (in[b]) {
			if (i >= from)
				hits++;
			if (head == b)
				continue;
			nxt[prev[b]] = nxt[b];	/* unlink */
			if (nxt[b] != UINT32_MAX)
				prev[nxt[b]] = prev[b];
			else
				tail = prev[b];
		} else {
			if (i >= from)
				misses++;
			if (used == cap) {	/* evict the tail */
				v = tail;
				in[v] = 0;
				tail = prev[v];
				if (tail != UINT32_MAX)
					nxt[tail] = UINT32_MAX;
				else
					head = UINT32_MAX;
			} else {
				used++;
			}
			in[b] = 1;
		}
		prev[b] = UINT32_MAX;
		nxt[b] = head;
		if (head != UINT32_MAX)
			prev[head] = b;
		head = b;
		if (tail == UINT32_MAX)
			tail = b;
	}
	print_rate("lru", hits, misses);

	/* OPT: evict the cached block whose next use is farthest */
	for (i = 0; i < blocks; i++)
		cur[i] = UINT64_MAX;
	for (i = n; i-- > 0;) {
		nextuse[i] = cur[t[i]];
		cur[t[i]] = i;
	}
	memset(in, 0, blocks);
	for (i = 0; i < blocks; i++)
		cur[i] = 0;	/* now: the next use recorded for a cached block */
	used = hits = misses = 0;
	for (i = 0; i < n; i++) {
		b = t[i];
		if (in[b]) {
			if (i >= from)
				hits++;
		} else {
			if (i >= from)
				misses++;
			if (used == cap) {
				struct hent e;

				do	/* skip entries superseded by a later access */
					e = heap_pop(heap, &hn);
				while (!in[e.block] || cur[e.block] != e.next);
				in[e.block] = 0;
			} else {
				used++;
			}
			in[b] = 1;
		}
		cur[b] = nextuse[i];
		heap_push(heap, &hn, (struct hent){ .next = nextuse[i], .block = b });
	}
	print_rate("opt", hits, misses);

	/* top: the CAPACITY most frequent blocks of the whole trace */
	for (i = 0; i < n; i++)
		count[t[i]]++;
	{
		uint64_t *sorted = malloc(blocks * sizeof(*sorted)), thr, k, ties, tot = 0;
		uint64_t top_hits = 0;

		if (!sorted)
			fail("malloc");
		memcpy(sorted, count, blocks * sizeof(*sorted));
		qsort(sorted, blocks, sizeof(*sorted), cmp_desc);
		thr = cap < blocks ? sorted[cap - 1] : 0;
		/* blocks above the threshold are in; ties fill what is left */
		for (k = 0, ties = 0; k < blocks; k++)
			if (count[k] > thr)
				tot++;
		ties = cap > tot ? cap - tot : 0;
		memset(in, 0, blocks);
		for (k = 0; k < blocks; k++) {
			if (count[k] > thr) {
				in[k] = 1;
			} else if (count[k] == thr && ties) {
				in[k] = 1;
				ties--;
			}
		}
		for (i = from; i < n; i++)
			top_hits += in[t[i]];
		print_rate("top", top_hits, n > from ? n - from - top_hits : 0);
		free(sorted);
	}
	free(t);
	free(prev);
	free(nxt);
	free(in);
	free(count);
	free(cur);
	free(nextuse);
	free(heap);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "gen"))
		return cmd_gen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "loop"))
		return cmd_loop(argc - 1, argv + 1);
	if (!strcmp(argv[1], "replay"))
		return cmd_replay(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sim"))
		return cmd_sim(argc - 1, argv + 1);
	usage();
	return 2;
}
