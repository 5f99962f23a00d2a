/* Baseline for split drivers: a Xen shared ring from <xen/io/ring.h>
 * between a front thread and a back thread, carrying null requests. Each
 * side notifies the other only when the req_event/rsp_event policy says to,
 * and a notification is a futex wake, as close to an event channel as the
 * bare host gets. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The Xen headers expect the fixed-width types to be declared already. */
#include <xen/xen.h>

/* ring.h leaves the barriers to its includer; which names it wants depends
 * on the interface version. */
#include <xensim/io/ring.h>

#include "bench.h"

/* A null request: the id is all a response echoes back. */
struct null_req {
	uint64_t id;
};
struct null_rsp {
	uint64_t id;
};
DEFINE_RING_TYPES(null, struct null_req, struct null_rsp);

/* A one-way doorbell: the notifier bumps seq and wakes; the waiter sleeps
 * while seq still holds the value it read before its final ring check, so
 * a notification between the check and the sleep is never lost. */
struct doorbell {
	uint32_t seq;
};

static uint32_t bell_read(struct doorbell *d)
{
	return __atomic_load_n(&d->seq, __ATOMIC_ACQUIRE);
}

static void bell_ring(struct doorbell *d)
{
	__atomic_fetch_add(&d->seq, 1, __ATOMIC_RELEASE);
	bench_futex_wake(&d->seq);
}

struct ring_pair {
	null_sring_t *sring;
	struct doorbell to_back;	/* rung by the front on new requests */
	struct doorbell to_front;	/* rung by the back on new responses */
	unsigned long total;
};

static void *back_end(void *arg)
{
	struct ring_pair *rp = arg;
	null_back_ring_t back;
	unsigned long done = 0;

	BACK_RING_INIT(&back, rp->sring, (size_t)sysconf(_SC_PAGESIZE));
	while (done < rp->total) {
		uint32_t seq = bell_read(&rp->to_back);
		int more, notify;

		RING_FINAL_CHECK_FOR_REQUESTS(&back, more);
		if (!more) {
			bench_futex_wait(&rp->to_back.seq, seq);
			continue;
		}
		while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
			struct null_req req;

			RING_COPY_REQUEST(&back, back.req_cons, &req);
			back.req_cons++;
			RING_GET_RESPONSE(&back, back.rsp_prod_pvt)->id = req.id;
			back.rsp_prod_pvt++;
			done++;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&back, notify);
		if (notify)
			bell_ring(&rp->to_front);
	}
	return NULL;
}

static double one_run(unsigned long total)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct ring_pair rp = { .total = total };
	null_front_ring_t front;
	unsigned long sent = 0, received = 0;
	pthread_t t;
	uint64_t start;

	rp.sring = aligned_alloc(page, page);
	BENCH_CHECK(rp.sring != NULL);
	memset(rp.sring, 0, page);
	SHARED_RING_INIT(rp.sring);
	FRONT_RING_INIT(&front, rp.sring, page);
	BENCH_CHECK_RC(pthread_create(&t, NULL, back_end, &rp));

	start = bench_now_ns();
	while (received < total) {
		int notify, more;

		/* Fill every free slot, then publish the batch at once. */
		while (sent < total && !RING_FULL(&front)) {
			RING_GET_REQUEST(&front, front.req_prod_pvt)->id = sent++;
			front.req_prod_pvt++;
		}
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
		if (notify)
			bell_ring(&rp.to_back);

		uint32_t seq = bell_read(&rp.to_front);
		RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
		if (!more) {
			bench_futex_wait(&rp.to_front.seq, seq);
			continue;
		}
		while (RING_HAS_UNCONSUMED_RESPONSES(&front)) {
			struct null_rsp rsp;

			RING_COPY_RESPONSE(&front, front.rsp_cons, &rsp);
			BENCH_CHECK(rsp.id == received);
			front.rsp_cons++;
			received++;
		}
	}
	double ops = (double)total * 1e9 / (double)(bench_now_ns() - start);

	BENCH_CHECK_RC(pthread_join(t, NULL));
	free(rp.sring);
	return ops;
}

double bench_baseline_ring_ops(void)
{
	unsigned long total = bench_iters(500000, 5000000);
	unsigned runs = bench_runs();
	double v[16];

	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(total);
	return bench_median(v, runs);
}
