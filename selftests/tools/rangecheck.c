// SPDX-License-Identifier: GPL-2.0-only
/*
 * rangecheck - N threads read random ranges of a device and compare them
 * with the same ranges of the origin file.
 *
 *   rangecheck DEVICE ORIGIN THREADS RANGES_PER_THREAD MAX_LEN SEED [direct]
 *
 * Exit status: 0 every range read and matched; 1 wrong bytes in some range
 * (whatever else happened); 3 some reads failed (EIO, short), and every
 * range read matched; 2 bad usage or setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct job {
	const char *dev, *origin;
	int ranges, direct;
	uint64_t size, max_len, seed;
	long mismatches, errors;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	int dfd = open(j->dev, O_RDONLY | (j->direct ? O_DIRECT : 0));
	int ofd = open(j->origin, O_RDONLY);
	uint8_t *a, *b;
	int i;

	if (dfd < 0 || ofd < 0 || posix_memalign((void **)&a, 4096, j->max_len + 4096) ||
	    posix_memalign((void **)&b, 4096, j->max_len + 4096)) {
		j->errors++;
		return NULL;
	}
	for (i = 0; i < j->ranges; i++) {
		uint64_t off = next_rand(&j->seed) % j->size;
		uint64_t len = 1 + next_rand(&j->seed) % j->max_len;
		ssize_t got, want;

		if (j->direct) {
			off &= ~4095ULL;
			len = (len + 4095) & ~4095ULL;
		}
		if (off + len > j->size)
			len = j->size - off;
		want = pread(ofd, b, len, off);
		got = pread(dfd, a, j->direct ? (len + 4095) & ~4095ULL : len, off);
		if (got < want || want < 0) {
			fprintf(stderr, "read %s at %llu+%llu: %s\n", j->dev,
				(unsigned long long)off, (unsigned long long)len,
				got < 0 ? strerror(errno) : "short");
			j->errors++;
			continue;
		}
		if (memcmp(a, b, want)) {
			fprintf(stderr, "MISMATCH at %llu+%llu\n", (unsigned long long)off,
				(unsigned long long)len);
			j->mismatches++;
		}
	}
	close(dfd);
	close(ofd);
	free(a);
	free(b);
	return NULL;
}

int main(int argc, char **argv)
{
	struct stat st;
	int n, i;
	long bad = 0, errs = 0;

	if (argc < 7) {
		fprintf(stderr, "usage: rangecheck DEV ORIGIN THREADS RANGES MAX_LEN SEED [direct]\n");
		return 2;
	}
	if (stat(argv[2], &st)) {
		perror(argv[2]);
		return 2;
	}
	if (S_ISBLK(st.st_mode)) {
		int fd = open(argv[2], O_RDONLY);
		uint64_t sz = 0;

		if (fd < 0 || ioctl(fd, BLKGETSIZE64, &sz)) {
			perror(argv[2]);
			return 2;
		}
		close(fd);
		st.st_size = sz;
	}
	n = atoi(argv[3]);
	pthread_t *t = calloc(n, sizeof(*t));
	struct job *jobs = calloc(n, sizeof(*jobs));

	for (i = 0; i < n; i++) {
		jobs[i] = (struct job){ .dev = argv[1], .origin = argv[2],
					.ranges = atoi(argv[4]), .max_len = strtoull(argv[5], NULL, 0),
					.size = st.st_size, .seed = strtoull(argv[6], NULL, 0) * 7919 + i + 1,
					.direct = argc > 7 && !strcmp(argv[7], "direct") };
		pthread_create(&t[i], NULL, worker, &jobs[i]);
	}
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		bad += jobs[i].mismatches;
		errs += jobs[i].errors;
	}
	printf("rangecheck: %d threads x %s ranges: %ld mismatches, %ld errors\n", n, argv[4],
	       bad, errs);
	free(t);
	free(jobs);
	return bad ? 1 : errs ? 3 : 0;
}
