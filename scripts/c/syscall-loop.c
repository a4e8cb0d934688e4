/*
 * The reference loop scripts/compare-perf-bench.sh measures entrybench
 * against: glibc syscall(SYS_getppid), as perf bench syscall basic calls
 * it, in regions of BATCH back-to-back calls timed with fenced rdtsc
 * (lfence; rdtsc; lfence ... rdtscp; lfence).
 *
 * Prints: median cycles per call over the regions, mean cycles per call
 * over all of them, and the smallest positive difference of two
 * back-to-back unfenced rdtsc reads (the TSC's finest step here).
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int regions = argc > 1 ? atoi(argv[1]) : 2000;
	int batch = argc > 2 ? atoi(argv[2]) : 100;
	unsigned long long total = 0, step = ~0ULL, prev;
	double *v;
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
	qsort(v, regions, sizeof(*v), cmp);
	printf("%.2f %.2f %llu\n", v[regions / 2], (double)total / regions / batch, step);
	free(v);
	return 0;
}
