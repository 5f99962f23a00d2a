/*
 * Private to backends/blkback_*.c: the back end's state. blkback_ring.c
 * owns connect/disconnect and the request loop, blkback_grant.c the grant
 * mappings (per request and persistent), blkback_store.c the backing store
 * behind a small ops table (file or memory).
 */
#ifndef XENSIM_BLKBACK_H
#define XENSIM_BLKBACK_H

#include <sys/uio.h>
#include <xensim/xenbus.h>
#include <xensim/io/blkif_ring.h>

struct blkback;

/* A backing store. Offsets and lengths are bytes, already range-checked. */
struct blkback_store_ops {
    const char *name;
    int (*rw)(struct blkback *be, bool write, uint64_t off, const struct iovec *iov,
              unsigned int n);
    int (*flush)(struct blkback *be);
    int (*discard)(struct blkback *be, uint64_t off, uint64_t len, bool secure);
    void (*close)(struct blkback *be);
};
extern const struct blkback_store_ops blkback_file_ops, blkback_mem_ops;
int blkback_store_open(struct blkback *be);

/* A persistently mapped grant, in a queue's open-addressed table of at
 * most pg_max. When a new grant finds the table full, the least recently
 * used one is unmapped to make room (Linux blkback purges its LRU grants
 * too), unless every one is in use by the request at hand: then the new
 * grant is mapped for that request only. */
struct blkback_pgrant {
    grant_ref_t ref;
    grant_handle_t handle;
    uint8_t *addr;            /* NULL: empty slot */
    uint64_t last_use;        /* the queue's pg_clock when last mapped for I/O */
};

/* One request's mapping of one page. */
struct blkback_seg_map {
    uint8_t *addr;
    grant_handle_t handle;
    bool temporary;           /* unmapped when the request is done */
};

/* One ring and its event channel. Touched only on the back end's vCPU:
 * in upcall context, or by connect/disconnect with the port unbound. */
struct blkback_queue {
    struct blkback *be;
    unsigned int idx;
    blkif_back_ring_t ring;
    struct xensim_blk_ring_view view;
    grant_handle_t ring_handle[XENSIM_BLKIF_MAX_RING_PAGES];
    unsigned int nr_ring_mapped;
    evtchn_port_t port;
    bool broken;              /* the front end misbehaved: not served */
    bool ring_watched;        /* named to the simulator (xensim_ring_watch) */
    struct blkback_pgrant *pg;
    unsigned int pg_cap, pg_count, pg_max;
    uint64_t pg_clock;        /* bumped per blkback_map_segs call */
    /* Scratch for one request, sized for the largest. */
    struct blkif_request_segment *segs;
    struct blkback_seg_map *maps;
    struct iovec *iov;
    gnttab_map_grant_ref_t *mop;
    gnttab_unmap_grant_ref_t *uop;
    unsigned int scratch_segs;
    unsigned int mop_n;       /* map batch in the hypercall right now */
};

/* How a queue ends a batch of requests (blkback_ring.c): publishes the
 * responses and re-enables events; true if more requests are there. */
struct blkback_rearm {
    bool (*rearm)(struct blkback_queue *q, unsigned int gen);
};

/* How a queue takes the request at req_cons off the shared ring into
 * the back end's own copy (blkback_ring.c). */
struct blkback_fetch {
    void (*fetch)(struct blkback_queue *q, blkif_request_t *req);
};

struct blkback {
    struct xensim_blkback_config cfg;
    const struct blkback_rearm *rearm;
    const struct blkback_fetch *fetch;
    const struct blkback_store_ops *store;
    int fd;
    uint8_t *mem;
    uint64_t bytes;           /* device size, a multiple of sector_size */
    unsigned int sector_size, physical_sector_size;
    /* Negotiated at connect. */
    domid_t front;
    unsigned int order, nr_queues;
    unsigned int unit;        /* bytes per protocol sector: 512 or sector_size */
    bool persistent;
    bool connected;
    unsigned int vcpu;        /* the vCPU that connected and serves */
    /* Bumped by connect and disconnect. A disconnect can happen in the
     * middle of a request, nested in our own handler: on_error's xenbus
     * call ends by running the domain's queued watch callbacks, and the
     * framework's may tear the device down. So after each hypercall the
     * handler compares gen with the value it started with and, if it
     * changed, unwinds without touching the queue again. */
    unsigned int gen;
    /* The owner's reference plus one per handler running. A disconnect
     * nested in a handler returns to its caller, which may destroy the
     * back end, before the handler unwinds: the last one out frees. */
    int refs;
    struct blkback_queue q[XENSIM_BLKIF_MAX_QUEUES];
    struct xensim_blkback_stats st;  /* BLKBACK_STAT_ADD */
};

/* One writer (the back end's vCPU), any readers: no locked add needed. */
#define BLKBACK_STAT_ADD(be, field, n) \
    __atomic_store_n(&(be)->st.field, \
                     __atomic_load_n(&(be)->st.field, __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define BLKBACK_STAT_INC(be, field) BLKBACK_STAT_ADD(be, field, 1)

/* blkback_grant.c */
int blkback_queue_scratch(struct blkback_queue *q, unsigned int max_segs);
void blkback_queue_scratch_free(struct blkback_queue *q);
/* Maps n pages for a request (writable unless readonly); 0, -EIO with
 * nothing left mapped, or -ESTALE if the queue was torn down meanwhile. */
int blkback_map_segs(struct blkback_queue *q, const grant_ref_t *refs, unsigned int n,
                     bool readonly, unsigned int gen);
void blkback_unmap_segs(struct blkback_queue *q, unsigned int n);
/* Unmaps what a request interrupted by a nested disconnect had mapped. */
void blkback_unmap_interrupted(struct blkback_queue *q);
void blkback_pgrants_release(struct blkback_queue *q);

#endif
