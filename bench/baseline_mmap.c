/* Baseline for grant mapping: map one shared page of a memfd, write to it
 * so the page is really faulted in, and unmap it. Relies on memfd_create. */
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

static double one_run(int fd, size_t page, unsigned long iters)
{
	uint64_t start = bench_now_ns();

	for (unsigned long i = 0; i < iters; i++) {
		volatile unsigned char *p = mmap(NULL, page,
						 PROT_READ | PROT_WRITE,
						 MAP_SHARED, fd, 0);

		BENCH_CHECK(p != MAP_FAILED);
		p[0] = (unsigned char)i;
		BENCH_CHECK(munmap((void *)p, page) == 0);
	}
	return (double)(bench_now_ns() - start) / (double)iters;
}

double bench_baseline_mmap_page_ns(void)
{
	unsigned long iters = bench_iters(20000, 200000);
	unsigned runs = bench_runs();
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	double v[16];
	int fd = memfd_create("xensim-bench", MFD_CLOEXEC);

	BENCH_CHECK(fd >= 0);
	BENCH_CHECK(ftruncate(fd, (off_t)page) == 0);
	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(fd, page, iters);
	BENCH_CHECK(close(fd) == 0);
	return bench_median(v, runs);
}
