/* Baseline for blk_null_ops: Xen's blkif ring (<xen/io/blkif.h>, 112-byte
 * slots, 32 of them in a page, 128 in four) between a front thread and a
 * back thread, driven exactly as blkfront and blkback drive it for the
 * null requests of bench_blk.c, with nothing of the simulator in between.
 *
 * The front queues a full ring of FLUSH_DISKCACHE requests (writing the
 * 24 bytes blkfront writes), publishes them with one
 * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY, then on each batch of responses
 * copies each out and checks its id, queues one new request per response
 * and publishes once (blkfront's plug around its completions); before it
 * waits it sets rsp_event one past what it consumed (blkfront without
 * batch_events). The back copies each whole request out, answers it,
 * publishes every max(ring/4, 8) answers and when it runs out, then
 * RING_FINAL_CHECK_FOR_REQUESTS (blkback). A notification is a kick of the
 * peer's bench_waiter, which waits as a xensim vCPU does (poll, then
 * futex). So the same work, notifications and waits as the path measured:
 * the floor that path could reach with a free hypervisor and free drivers.
 * Requests per second. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xensim/io/blkif_ring.h>

#include "bench.h"

struct blk_pair {
	blkif_sring_t *sring;
	size_t ring_bytes;
	struct bench_waiter front, back;
	blkif_back_ring_t back_ring;
	unsigned long total;
};

/* The back's condition for waking: requests it has not consumed. */
static bool back_ready(void *arg)
{
	struct blk_pair *bp = arg;

	return RING_HAS_UNCONSUMED_REQUESTS(&bp->back_ring);
}

static void back_push(struct blk_pair *bp)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&bp->back_ring, notify);
	if (notify)
		bench_kick(&bp->front);
}

static void *back_end(void *arg)
{
	struct blk_pair *bp = arg;
	blkif_back_ring_t *r = &bp->back_ring;
	unsigned long done = 0;
	RING_IDX batch = RING_SIZE(r) / 4 > 8 ? RING_SIZE(r) / 4 : 8;

	while (done < bp->total) {
		RING_IDX rp = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
		int more;

		xen_rmb();
		while (r->req_cons != rp) {
			blkif_request_t req;
			blkif_response_t rsp;

			RING_COPY_REQUEST(r, r->req_cons, &req);
			r->req_cons++;
			rsp = (blkif_response_t){ .id = req.id, .operation = req.operation,
						  .status = BLKIF_RSP_OKAY };
			*RING_GET_RESPONSE(r, r->rsp_prod_pvt) = rsp;
			r->rsp_prod_pvt++;
			done++;
			if (r->rsp_prod_pvt - r->sring->rsp_prod >= batch)
				back_push(bp);
		}
		back_push(bp);
		RING_FINAL_CHECK_FOR_REQUESTS(r, more);
		if (!more && done < bp->total)
			bench_wait(&bp->back, back_ready, bp);
	}
	return NULL;
}

struct front_state {
	blkif_front_ring_t ring;
	unsigned long sent, received, total;
};

static bool front_ready(void *arg)
{
	struct front_state *f = arg;

	return RING_HAS_UNCONSUMED_RESPONSES(&f->ring);
}

/* The header blkfront writes for a request without segments. */
static void queue_one(struct front_state *f)
{
	blkif_request_t *req = RING_GET_REQUEST(&f->ring, f->ring.req_prod_pvt);

	req->operation = BLKIF_OP_FLUSH_DISKCACHE;
	req->nr_segments = 0;
	req->handle = 0;
	req->id = f->sent % RING_SIZE(&f->ring);
	req->sector_number = 0;
	f->ring.req_prod_pvt++;
	f->sent++;
}

static void front_push(struct blk_pair *bp, struct front_state *f)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
	if (notify)
		bench_kick(&bp->back);
}

static double one_run(unsigned int order, unsigned long total)
{
	struct blk_pair bp = { .total = total, .ring_bytes = (size_t)4096 << order };
	struct front_state f = { .total = total };
	pthread_t t;
	uint64_t start;

	bp.sring = aligned_alloc(4096, bp.ring_bytes);
	BENCH_CHECK(bp.sring != NULL);
	memset(bp.sring, 0, bp.ring_bytes);
	SHARED_RING_INIT(bp.sring);
	FRONT_RING_INIT(&f.ring, bp.sring, bp.ring_bytes);
	BACK_RING_INIT(&bp.back_ring, bp.sring, bp.ring_bytes);
	BENCH_CHECK_RC(pthread_create(&t, NULL, back_end, &bp));

	start = bench_now_ns();
	while (f.sent < total && !RING_FULL(&f.ring))
		queue_one(&f);
	front_push(&bp, &f);
	while (f.received < total) {
		RING_IDX rp = __atomic_load_n(&f.ring.sring->rsp_prod, __ATOMIC_RELAXED);
		unsigned long answered = 0;
		int more;

		xen_rmb();
		while (f.ring.rsp_cons != rp) {
			blkif_response_t rsp;

			RING_COPY_RESPONSE(&f.ring, f.ring.rsp_cons, &rsp);
			BENCH_CHECK(rsp.id == f.received % RING_SIZE(&f.ring) &&
				    rsp.status == BLKIF_RSP_OKAY);
			f.ring.rsp_cons++;
			f.received++;
			answered++;
		}
		for (; answered && f.sent < total; answered--)
			queue_one(&f);
		front_push(&bp, &f);
		RING_FINAL_CHECK_FOR_RESPONSES(&f.ring, more);
		if (!more && f.received < total)
			bench_wait(&bp.front, front_ready, &f);
	}
	double ops = (double)total * 1e9 / (double)(bench_now_ns() - start);

	BENCH_CHECK_RC(pthread_join(t, NULL));
	free(bp.sring);
	return ops;
}

double bench_baseline_blk_ring_ops(unsigned int order)
{
	unsigned long total = bench_iters(500000, 5000000);
	unsigned runs = bench_runs();
	double v[16];

	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(order, total);
	return bench_median(v, runs);
}
