/*
 * Private to frontends/blkfront_*.c: the front end's state.
 * blkfront_ring.c owns setup/connect/disconnect, the response handler and
 * the grant bookkeeping; blkfront_io.c builds requests and offers the
 * synchronous calls.
 */
#ifndef XENSIM_BLKFRONT_H
#define XENSIM_BLKFRONT_H

#include <pthread.h>
#include <xensim/xenbus.h>
#include <xensim/io/blkif_ring.h>

/* A page of the front end's RAM used for bounce data or indirect segments.
 * With persistent grants it stays granted (read-write) to the back end for
 * the whole connection; otherwise it is granted per request. */
struct blkfront_page {
    xen_pfn_t pfn;
    uint8_t *va;
    grant_ref_t ref;
    bool granted;
    struct blkfront_page *next;
};

/* One ring slot's request while it is in flight. */
struct blkfront_shadow {
    struct xensim_blkfront_io *io;        /* NULL: free */
    uint8_t op;                    /* operation as written to the ring */
    unsigned int nr_refs;          /* per-request grants to revoke */
    unsigned int nr_pages;         /* bounce pages, in data order */
    unsigned int nr_ind;
    grant_ref_t *refs;
    struct blkfront_page **pages;
    struct blkfront_page *ind[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    unsigned int next_free;
};

/* Lock rule: q->lock is an irq-save lock (events masked, calls held off
 * while held), so the response handler (upcall context on fe->vcpu) never
 * finds it held by the code it interrupted. */
struct blkfront_queue {
    struct xensim_blkfront *fe;
    unsigned int idx;
    struct xensim_irqlock lock;
    blkif_front_ring_t ring;
    struct xensim_blk_ring_view view;
    xen_pfn_t ring_pfn[XENSIM_BLKIF_MAX_RING_PAGES];
    grant_ref_t ring_ref[XENSIM_BLKIF_MAX_RING_PAGES];
    unsigned int nr_ring_pages;
    evtchn_port_t port;
    struct blkfront_shadow *shadow;
    unsigned int nr_shadow;
    unsigned int free_head;        /* nr_shadow: none free */
    unsigned int inflight;
    /* Requests written, req_prod not yet. Written under lock with atomic
     * stores, since unplug peeks at it without the lock. */
    bool unpushed;
    uint64_t nr_requests, nr_irqs; /* under lock; summed by get_stats */
    struct blkfront_page *pool;    /* LIFO, so few pages stay hot */
};

enum blkfront_state {
    BLKFRONT_IDLE,
    BLKFRONT_SETUP,                /* rings granted, waiting for the back end */
    BLKFRONT_CONNECTED,
    BLKFRONT_FAILED,               /* the back end broke the protocol */
};

/* How a queue takes the response at rsp_cons off the shared ring into
 * the front end's own copy (blkfront_ring.c). */
struct blkfront_queue;
struct blkfront_fetch {
    void (*fetch)(struct blkfront_queue *q, blkif_response_t *rsp);
};

struct xensim_blkfront {
    struct xensim_blkfront_config cfg;
    const struct blkfront_fetch *fetch;
    struct xensim_blkif_backend_info be;
    enum blkfront_state state;     /* atomic loads/stores */
    unsigned int vcpu;             /* where the handlers run */
    unsigned int order, nr_queues;
    unsigned int max_segs;         /* per READ/WRITE request */
    bool indirect, persistent;
    unsigned int unit;             /* bytes per protocol sector */
    struct blkfront_queue q[XENSIM_BLKIF_MAX_QUEUES];
    struct xensim_blkfront_stats st;      /* notifies only (atomic); see queues */
    int refs;                      /* the owner's plus one per handler running */
};

/* blkfront_ring.c */
struct blkfront_page *blkfront_page_get(struct blkfront_queue *q);
void blkfront_page_put(struct blkfront_queue *q, struct blkfront_page *pg);
/* Revokes a per-request grant and puts pg (if any) back in the pool; a
 * grant the back end still maps is ended later with its page
 * (xensim_xenbus_end_access), and pg's host struct goes. */
void blkfront_revoke(struct blkfront_queue *q, grant_ref_t ref, struct blkfront_page *pg);
/* Releases a shadow's grants and pages; copies read data out first. */
void blkfront_shadow_release(struct blkfront_queue *q, struct blkfront_shadow *sh, bool copy_out);
bool blkfront_in_completion(void);
/* Publishes what a plug held back on q; called with q->lock held, returns
 * whether to notify. */
bool blkfront_push_locked(struct blkfront_queue *q);
bool blkfront_plugged(const struct xensim_blkfront *fe);
/* Waits, outside any lock, until cond(arg) holds. */
void blkfront_wait_until(struct xensim_blkfront *fe, bool (*cond)(void *), void *arg);

#endif
