/* How the ring baselines wait for their peer: the policy of xensim's
 * free-running scheduler (sim/sched_free.c), written again on the bare
 * host so that a baseline and the path it measures wait alike. A waiter
 * polls its condition for an adaptive window (KVM's halt polling: kept
 * when the poll caught the wake, doubled when a sleep ended within 64 us,
 * halved when it outlasted that, dropped when the waker ran on this very
 * CPU), then sleeps on a futex. A kick makes a system call only when the
 * waiter sleeps. Relies on the futex calls of baseline_futex.c. */
#define _GNU_SOURCE
#include "config.h"

#include <sched.h>
#include <time.h>

#include "bench.h"

#define POLL_START_NS 4000u
#define POLL_MAX_NS 64000u

enum { W_RUNNING, W_POLLING, W_SLEEPING };

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static int poll_until(struct bench_waiter *w, bool (*ready)(void *), void *arg,
		      uint64_t end)
{
	__atomic_store_n(&w->state, W_POLLING, __ATOMIC_SEQ_CST);
	for (unsigned int i = 1;; i++) {
		if (ready(arg))
			return 1;
		cpu_relax();
		if (i % 16 == 0 && bench_now_ns() >= end)
			return 0;
	}
}

static void adapt(struct bench_waiter *w, uint64_t block_ns, int cpu)
{
	uint32_t p = w->poll_ns;

	if (cpu >= 0 && __atomic_load_n(&w->kick_cpu, __ATOMIC_RELAXED) == cpu)
		p = 0;
	else if (block_ns > POLL_MAX_NS)
		p /= 2;
	else if (p < POLL_MAX_NS)
		p = p ? 2 * p : POLL_START_NS;
	w->poll_ns = p < POLL_START_NS / 2 ? 0 : p > POLL_MAX_NS ? POLL_MAX_NS : p;
}

void bench_wait(struct bench_waiter *w, bool (*ready)(void *), void *arg)
{
	if (ready(arg))
		return;
	uint64_t start = bench_now_ns();
	int cpu = sched_getcpu();

	if (w->poll_ns && poll_until(w, ready, arg, start + w->poll_ns)) {
		__atomic_store_n(&w->state, W_RUNNING, __ATOMIC_SEQ_CST);
		return;
	}
	for (;;) {
		uint32_t seq = __atomic_load_n(&w->seq, __ATOMIC_SEQ_CST);

		__atomic_store_n(&w->state, W_SLEEPING, __ATOMIC_SEQ_CST);
		if (ready(arg))
			break;
		bench_futex_wait(&w->seq, seq);
	}
	__atomic_store_n(&w->state, W_RUNNING, __ATOMIC_SEQ_CST);
	adapt(w, bench_now_ns() - start, cpu);
}

void bench_kick(struct bench_waiter *w)
{
	__atomic_store_n(&w->kick_cpu, sched_getcpu(), __ATOMIC_RELAXED);
	__atomic_fetch_add(&w->seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&w->state, __ATOMIC_SEQ_CST) == W_SLEEPING)
		bench_futex_wake(&w->seq);
}
