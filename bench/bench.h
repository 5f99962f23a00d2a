/* Shared helpers for xensim's benchmarks: a monotonic clock, one JSON line
 * per figure, and baselines measured on the raw host primitives that xensim
 * stands on, so that each figure is printed beside its baseline from the
 * same run. Relies only on libc, pthreads and <xen/io/ring.h>. */
#ifndef XENSIM_BENCH_H
#define XENSIM_BENCH_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* The tier: XENSIM_BENCH=long in the environment selects the long tier
 * (real measurements); anything else the short one (`make bench`, seconds). */
int bench_is_long(void);

/* Picks the iteration count for the current tier. */
unsigned long bench_iters(unsigned long short_tier, unsigned long long_tier);

/* How many timed runs a baseline takes its median of. */
unsigned bench_runs(void);

/* A xorshift generator: the next value of state *s (not 0). */
uint64_t bench_rnd(uint64_t *s);
/* A fresh file of bytes (a multiple of 1 MiB) of pseudo-random data
 * under /tmp, read once so that it sits in the page cache; its path goes
 * into path (at least 64 bytes). The caller unlinks it. */
void bench_cached_file(char *path, uint64_t bytes, uint64_t seed);

/* Median of n values; sorts v in place. n must be at least 1. */
double bench_median(double *v, size_t n);

/* Prints {"bench": NAME, "value": V, "unit": U, "baseline": B, "ratio": R}
 * on one line of stdout and flushes it. ratio is value / baseline, so for a
 * time (ns) lower is better and for a rate (ops/s) higher is better. A
 * baseline that is not a positive number prints as null, and so does the
 * ratio. */
void bench_report(const char *name, double value, const char *unit,
		  double baseline);

/* Baselines. Each returns the median of bench_runs() timed runs. */

/* Two threads passing a token through a futex, each side sleeping in
 * FUTEX_WAIT until woken: ns per round trip. */
double bench_baseline_futex_rtt_ns(void);

/* mmap of one shared page of a memfd, a write to it, and munmap: ns. */
double bench_baseline_mmap_page_ns(void);

/* One byte sent over a unix stream socketpair and echoed back by a second
 * thread: ns per round trip. */
double bench_baseline_unix_rtt_ns(void);

/* Xen's blkif ring of 2^order pages between two threads, driven as
 * blkfront and blkback drive it for null requests (baseline_ring.c):
 * requests per second. */
double bench_baseline_blk_ring_ops(unsigned int order);

/* Frames of frame_size bytes through a netif TX ring between two threads,
 * one copy each, as bench_net.c drives netfront (baseline_netring.c):
 * frames per second. */
double bench_baseline_net_ring_fps(size_t frame_size);

/* How the ring baselines wait for each other: as a xensim vCPU blocks
 * (poll for an adaptive window, then sleep on a futex; baseline_wait.c).
 * One waiter per waiting thread, zeroed to start; bench_wait returns once
 * ready(arg) holds, and a peer calls bench_kick after making it hold. */
struct bench_waiter {
	uint32_t seq;		/* futex word */
	int state;		/* running, polling or sleeping (atomic) */
	uint32_t poll_ns;	/* the adaptive window; the waiter's own */
	int kick_cpu;		/* where the last kick ran (atomic) */
};
void bench_wait(struct bench_waiter *w, bool (*ready)(void *), void *arg);
void bench_kick(struct bench_waiter *w);

/* Host failures a benchmark cannot go on after: common/util.h's die,
 * with file, line and errno. BENCH_CHECK states what must hold. */
#define BENCH_CHECK(cond) XENSIM_DIE_IF(!(cond))
/* The same for calls that return an errno value, as pthreads do. */
#define BENCH_CHECK_RC(call) XENSIM_CHECK(call)

/* The futex calls the baselines use, for benches that want the same. */
void bench_futex_wait(uint32_t *addr, uint32_t expected);
void bench_futex_wake(uint32_t *addr);

#endif
