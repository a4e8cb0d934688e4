/*
 * The reference loop scripts/compare-perf-bench.sh measures entrybench
 * against: glibc syscall(SYS_getppid), as perf bench syscall basic calls
 * it, in regions of BATCH back-to-back calls timed with fenced rdtsc
 * (lfence; rdtsc; lfence ... rdtscp; lfence).
 *
 * Prints: median cycles per call over the regions, mean cycles per call
 * over all of them, the smallest positive difference of two
 * back-to-back unfenced rdtsc reads (the TSC's finest step here), and
 * the quiet median: the median of the medians of the blocks of
 * BLOCK_REGIONS consecutive regions that read within TOLERANCE of the
 * blocks' LOW_QUANTILE quantile (at least MIN_BLOCKS: the lowest), the
 * rule entrybench's headline follows (report/src/model/quiet.rs, whose
 * tests check these constants against it). entrybench chooses its
 * blocks by its drift reference (the getppid instruction inline) taken
 * around them; this loop has no reference beside it, so it chooses by
 * its own blocks.
 *
 *   syscall-loop [REGIONS] [BATCH]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline unsigned long long start(void)
{
	unsigned int lo, hi;

	asm volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return ((unsigned long long)hi << 32) | lo;
}

static inline unsigned long long stop(void)
{
	unsigned int lo, hi, aux;

	asm volatile("rdtscp; lfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
	return ((unsigned long long)hi << 32) | lo;
}

static inline unsigned long long raw(void)
{
	unsigned int lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long long)hi << 32) | lo;
}

#define BLOCK_REGIONS 250
#define LOW_QUANTILE 0.02
#define TOLERANCE 0.05
#define MIN_BLOCKS 3

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The quiet median of regions v[0..regions), in run order; sorts each
 * block in place. 0 when there is no whole block. The blocks kept (at
 * most TOLERANCE above the low) are the first ones of their medians
 * sorted, so sorting once is enough.
 */
static double quiet_median(double *v, int regions)
{
	int blocks = regions / BLOCK_REGIONS, kept = 0, b;
	double *m, ceiling, q;

	if (blocks < 1)
		return 0;
	m = malloc(sizeof(*m) * blocks);
	if (!m)
		return 0;
	for (b = 0; b < blocks; b++) {
		double *blk = v + b * BLOCK_REGIONS;

		qsort(blk, BLOCK_REGIONS, sizeof(*blk), cmp);
		m[b] = blk[BLOCK_REGIONS / 2];
	}
	qsort(m, blocks, sizeof(*m), cmp);
	ceiling = m[(int)((blocks - 1) * LOW_QUANTILE)] * (1 + TOLERANCE);
	while (kept < blocks && m[kept] <= ceiling)
		kept++;
	if (kept < MIN_BLOCKS)
		kept = blocks < MIN_BLOCKS ? blocks : MIN_BLOCKS;
	q = kept % 2 ? m[kept / 2] : (m[kept / 2 - 1] + m[kept / 2]) / 2;
	free(m);
	return q;
}

int main(int argc, char **argv)
{
	int regions = argc > 1 ? atoi(argv[1]) : 2000;
	int batch = argc > 2 ? atoi(argv[2]) : 100;
	unsigned long long total = 0, step = ~0ULL, prev;
	double *v, quiet;
	int r, i;

	if (regions < 1 || batch < 1) {
		fprintf(stderr, "syscall-loop: REGIONS and BATCH must be positive\n");
		return 2;
	}
	v = malloc(sizeof(*v) * regions);
	if (!v)
		return 1;
	for (i = 0; i < 100000; i++)
		syscall(SYS_getppid);
	for (r = 0; r < regions; r++) {
		unsigned long long t0 = start(), t1;

		for (i = 0; i < batch; i++)
			syscall(SYS_getppid);
		t1 = stop();
		v[r] = (double)(t1 - t0) / batch;
		total += t1 - t0;
	}
	prev = raw();
	for (i = 0; i < 100000; i++) {
		unsigned long long now = raw();

		if (now > prev && now - prev < step)
			step = now - prev;
		prev = now;
	}
	/* The quiet median first: it needs the regions in run order. */
	quiet = quiet_median(v, regions);
	qsort(v, regions, sizeof(*v), cmp);
	printf("%.2f %.2f %llu %.2f\n", v[regions / 2], (double)total / regions / batch, step,
	       quiet);
	free(v);
	return 0;
}
