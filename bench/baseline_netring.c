/* Baseline for net_frames_per_sec_<size>: frames of 64 or 1500 bytes from
 * a sender thread to a receiver thread through one Xen netif TX ring
 * (<xen/io/netif.h>, 256 slots) and 256 send buffers of 2 KiB, with one
 * copy per frame: the sender's, into a free buffer. That is the least any
 * path from one guest's buffer to another's can do; xensim's copies it
 * twice more (into netback's page, out to the receiver's) and crosses a
 * third party, the switch in dom0.
 *
 * Everything else is as bench_net.c drives netfront: the sender keeps at
 * most 192 frames ahead of what the receiver took and yields while it
 * cannot send (window shut, no buffer or slot); before each send it reaps
 * responses as netfront's tx_gc does (RING_FINAL_CHECK_FOR_RESPONSES), and
 * it publishes each frame with RING_PUSH_REQUESTS_AND_CHECK_NOTIFY. The
 * receiver takes every visible request, counts the frame, answers it,
 * publishes the answers once per pass (netback), then
 * RING_FINAL_CHECK_FOR_REQUESTS, and waits as a xensim vCPU does
 * (bench_waiter). Frames per second. */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xen/xen.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>

#include "bench.h"

#define NBUF 256
#define BUF_SIZE 2048
#define WINDOW 192

struct net_pair {
	netif_tx_sring_t *sring;
	uint8_t *bufs;                  /* NBUF buffers of BUF_SIZE */
	netif_tx_back_ring_t back;
	struct bench_waiter rx_wait;
	unsigned long frames;
	unsigned long received;         /* atomic: the receiver's count */
};

static bool rx_ready(void *arg)
{
	struct net_pair *np = arg;

	return RING_HAS_UNCONSUMED_REQUESTS(&np->back);
}

static void *receiver(void *arg)
{
	struct net_pair *np = arg;
	netif_tx_back_ring_t *r = &np->back;

	while (__atomic_load_n(&np->received, __ATOMIC_RELAXED) < np->frames) {
		RING_IDX rp = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
		int notify, more;

		xen_rmb();
		while (r->req_cons != rp) {
			netif_tx_request_t req;

			RING_COPY_REQUEST(r, r->req_cons, &req);
			r->req_cons++;
			/* The frame, as the receiving guest's handler gets it. */
			const uint8_t *frame = np->bufs + (size_t)req.id * BUF_SIZE + req.offset;
			BENCH_CHECK(req.size >= 14 && frame[12] == 0x88);
			__atomic_fetch_add(&np->received, 1, __ATOMIC_RELAXED);
			netif_tx_response_t *rsp = RING_GET_RESPONSE(r, r->rsp_prod_pvt);
			rsp->id = req.id;
			rsp->status = NETIF_RSP_OKAY;
			r->rsp_prod_pvt++;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify);
		(void)notify;   /* the sender polls for responses, as netfront's sends do */
		RING_FINAL_CHECK_FOR_REQUESTS(r, more);
		if (!more && __atomic_load_n(&np->received, __ATOMIC_RELAXED) < np->frames)
			bench_wait(&np->rx_wait, rx_ready, np);
	}
	return NULL;
}

static double one_run(size_t size, unsigned long frames)
{
	struct net_pair np = { .frames = frames };
	netif_tx_front_ring_t front;
	uint16_t free_ids[NBUF];
	unsigned int nfree = 0;
	unsigned long sent = 0;
	uint8_t frame[1514];
	pthread_t t;

	memset(frame, 0x5a, sizeof(frame));
	memcpy(frame, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x00, 0x16, 0x3e, 0x00,
				   0x00, 0x01, 0x88, 0xb5 }, 14);
	np.sring = aligned_alloc(4096, 4096);
	np.bufs = aligned_alloc(4096, (size_t)NBUF * BUF_SIZE);
	BENCH_CHECK(np.sring && np.bufs);
	memset(np.sring, 0, 4096);
	memset(np.bufs, 0, (size_t)NBUF * BUF_SIZE);
	SHARED_RING_INIT(np.sring);
	FRONT_RING_INIT(&front, np.sring, 4096);
	BACK_RING_INIT(&np.back, np.sring, 4096);
	for (unsigned int i = 0; i < NBUF; i++)
		free_ids[nfree++] = (uint16_t)(NBUF - 1 - i);
	BENCH_CHECK_RC(pthread_create(&t, NULL, receiver, &np));

	uint64_t start = bench_now_ns();
	while (sent < frames) {
		int more, notify;

		if (sent - __atomic_load_n(&np.received, __ATOMIC_RELAXED) >= WINDOW) {
			sched_yield();
			continue;
		}
		do {
			RING_IDX rp = __atomic_load_n(&front.sring->rsp_prod, __ATOMIC_RELAXED);

			xen_rmb();
			while (front.rsp_cons != rp) {
				netif_tx_response_t rsp;

				RING_COPY_RESPONSE(&front, front.rsp_cons, &rsp);
				front.rsp_cons++;
				BENCH_CHECK(rsp.id < NBUF && rsp.status == NETIF_RSP_OKAY);
				free_ids[nfree++] = rsp.id;
			}
			RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
		} while (more);
		if (!nfree || RING_FULL(&front)) {
			sched_yield();
			continue;
		}
		uint16_t id = free_ids[--nfree];
		memcpy(np.bufs + (size_t)id * BUF_SIZE, frame, size);
		netif_tx_request_t *req = RING_GET_REQUEST(&front, front.req_prod_pvt);
		req->gref = id;
		req->offset = 0;
		req->flags = 0;
		req->id = id;
		req->size = (uint16_t)size;
		front.req_prod_pvt++;
		sent++;
		RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
		if (notify)
			bench_kick(&np.rx_wait);
	}
	BENCH_CHECK_RC(pthread_join(t, NULL));
	double fps = (double)frames * 1e9 / (double)(bench_now_ns() - start);

	free(np.sring);
	free(np.bufs);
	return fps;
}

double bench_baseline_net_ring_fps(size_t frame_size)
{
	unsigned long frames = bench_iters(200000, 2000000);
	unsigned runs = bench_runs();
	double v[16];

	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(frame_size, frames);
	return bench_median(v, runs);
}
