/* Baseline for event channel round trips: two threads hand a token back
 * and forth through one futex word, each side sleeping in FUTEX_WAIT until
 * the other wakes it. Relies on the Linux futex system call. */
#include "config.h"

#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

void bench_futex_wait(uint32_t *addr, uint32_t expected)
{
	long rc = syscall(SYS_futex, addr, FUTEX_WAIT_PRIVATE, expected,
			  NULL, NULL, 0);

	/* EAGAIN: the word changed before we slept; EINTR: a signal. Either
	 * way the caller re-reads the word. */
	BENCH_CHECK(rc == 0 || errno == EAGAIN || errno == EINTR);
}

void bench_futex_wake(uint32_t *addr)
{
	BENCH_CHECK(syscall(SYS_futex, addr, FUTEX_WAKE_PRIVATE, INT_MAX,
			    NULL, NULL, 0) >= 0);
}

/* turn is 0 when the token is with the pinger, 1 with the ponger. */
struct pingpong {
	uint32_t turn;
	unsigned long rounds;
};

static uint32_t load(uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void pass(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
	bench_futex_wake(p);
}

static void *ponger(void *arg)
{
	struct pingpong *pp = arg;

	for (unsigned long i = 0; i < pp->rounds; i++) {
		while (load(&pp->turn) != 1)
			bench_futex_wait(&pp->turn, 0);
		pass(&pp->turn, 0);
	}
	return NULL;
}

static double one_run(unsigned long rounds)
{
	struct pingpong pp = { .turn = 0, .rounds = rounds };
	pthread_t t;
	uint64_t start;

	BENCH_CHECK_RC(pthread_create(&t, NULL, ponger, &pp));
	start = bench_now_ns();
	for (unsigned long i = 0; i < rounds; i++) {
		pass(&pp.turn, 1);
		while (load(&pp.turn) != 0)
			bench_futex_wait(&pp.turn, 1);
	}
	double ns = (double)(bench_now_ns() - start) / (double)rounds;
	BENCH_CHECK_RC(pthread_join(t, NULL));
	return ns;
}

double bench_baseline_futex_rtt_ns(void)
{
	unsigned long rounds = bench_iters(20000, 200000);
	unsigned runs = bench_runs();
	double v[16];

	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(rounds);
	return bench_median(v, runs);
}
