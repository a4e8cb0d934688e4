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
 * BLOCK_REGIONS consecutive regions taken while a reference stood within
 * TOLERANCE of its LOW_QUANTILE quantile (at least MIN_BLOCKS: those with
 * the lowest reference around them), the rule entrybench's headline
 * follows (report/src/model/quiet.rs, whose tests check these constants
 * against it). The reference is entrybench's too: the getppid syscall
 * instruction inline, REF_REGIONS regions of REF_BATCH calls timed before
 * each block and after the last; a block's reference is the mean of the
 * two around it. Not the blocks' own medians: glibc getppid has a low
 * mode of its own on some hosts (blocks 7% low in some processes, half
 * their blocks at times), and a low quantile of its own blocks then
 * picked that mode, not a quiet host (5 of 10 rounds of one set on the
 * Zen 3 guest, results/checks/measure-ipi-compare-watch-20261201T0532.txt).
 *
 *   syscall-loop [REGIONS] [BATCH]
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define REF_REGIONS 64
#define REF_BATCH 16
#define LOW_QUANTILE 0.02
#define TOLERANCE 0.05
#define MIN_BLOCKS 3

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The median cycles per call of REF_REGIONS regions of the inline call. */
static double reference_block(void)
{
	double r[REF_REGIONS];
	int k, i;

	for (k = 0; k < REF_REGIONS; k++) {
		unsigned long long t0 = start(), t1;

		for (i = 0; i < REF_BATCH; i++) {
			long ret = SYS_getppid;

			asm volatile("syscall" : "+a"(ret) : : "rcx", "r11", "memory");
		}
		t1 = stop();
		r[k] = (double)(t1 - t0) / REF_BATCH;
	}
	return median_of(r, REF_REGIONS);
}

/*
 * The quiet median of the block medians m[0..blocks), block b taken
 * between reference blocks ref[b] and ref[b + 1]. Sorts ref.
 */
static double quiet_median(double *m, double *ref, int blocks)
{
	double *around, *chosen, ceiling, q;
	int b, kept = 0;

	around = malloc(sizeof(*around) * blocks);
	chosen = malloc(sizeof(*chosen) * blocks);
	if (!around || !chosen) {
		free(around);
		free(chosen);
		return 0;
	}
	for (b = 0; b < blocks; b++)
		around[b] = (ref[b] + ref[b + 1]) / 2;
	qsort(ref, blocks + 1, sizeof(*ref), cmp);
	ceiling = ref[(int)(blocks * LOW_QUANTILE)] * (1 + TOLERANCE);
	for (b = 0; b < blocks; b++)
		if (around[b] <= ceiling)
			chosen[kept++] = m[b];
	if (kept < MIN_BLOCKS) {
		/* The blocks with the lowest reference around them. */
		double *order = malloc(sizeof(*order) * blocks);

		if (!order) {
			free(around);
			free(chosen);
			return 0;
		}
		memcpy(order, around, sizeof(*order) * blocks);
		qsort(order, blocks, sizeof(*order), cmp);
		ceiling = order[(blocks < MIN_BLOCKS ? blocks : MIN_BLOCKS) - 1];
		free(order);
		for (kept = 0, b = 0; b < blocks; b++)
			if (around[b] <= ceiling)
				chosen[kept++] = m[b];
	}
	q = median_of(chosen, kept);
	free(around);
	free(chosen);
	return q;
}

int main(int argc, char **argv)
{
	int regions = argc > 1 ? atoi(argv[1]) : 2000;
	int batch = argc > 2 ? atoi(argv[2]) : 100;
	unsigned long long total = 0, step = ~0ULL, prev;
	int blocks, whole, r, i;
	double *v, *m, *ref, quiet = 0;

	if (regions < 1 || batch < 1) {
		fprintf(stderr, "syscall-loop: REGIONS and BATCH must be positive\n");
		return 2;
	}
	blocks = (regions + BLOCK_REGIONS - 1) / BLOCK_REGIONS;
	whole = regions / BLOCK_REGIONS;
	v = malloc(sizeof(*v) * regions);
	m = malloc(sizeof(*m) * blocks);
	ref = malloc(sizeof(*ref) * (blocks + 1));
	if (!v || !m || !ref)
		return 1;
	for (i = 0; i < 100000; i++)
		syscall(SYS_getppid);
	/* Block b: a reference block, then up to BLOCK_REGIONS regions. */
	for (r = 0; r < regions; r++) {
		unsigned long long t0, t1;

		if (r % BLOCK_REGIONS == 0)
			ref[r / BLOCK_REGIONS] = reference_block();
		t0 = start();
		for (i = 0; i < batch; i++)
			syscall(SYS_getppid);
		t1 = stop();
		v[r] = (double)(t1 - t0) / batch;
		total += t1 - t0;
	}
	ref[blocks] = reference_block();
	/* Whole blocks only; the last may be short and is left out. */
	for (i = 0; i < whole; i++) {
		double blk[BLOCK_REGIONS];

		memcpy(blk, v + i * BLOCK_REGIONS, sizeof(blk));
		m[i] = median_of(blk, BLOCK_REGIONS);
	}
	if (whole > 0)
		quiet = quiet_median(m, ref, whole);
	prev = raw();
	for (i = 0; i < 100000; i++) {
		unsigned long long now = raw();

		if (now > prev && now - prev < step)
			step = now - prev;
		prev = now;
	}
	qsort(v, regions, sizeof(*v), cmp);
	printf("%.2f %.2f %llu %.2f\n", v[regions / 2], (double)total / regions / batch, step,
	       quiet);
	free(v);
	free(m);
	free(ref);
	return 0;
}
