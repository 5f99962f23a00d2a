/*
 * The block device channel (Xen's blkif protocol): the public API of the
 * blkback engine (serves a file or memory to one front end, from guest code
 * in the back end's domain) and the blkfront engine (sector I/O for guest
 * code in the front end's domain). Both run on <xensim/guest.h> and the
 * ring and grant helpers of <xensim/xenbus.h> (no XenStore); the ring and
 * request layouts are Xen's own <xen/io/blkif.h>.
 *
 * The engines do not talk to XenStore. What the two ends would exchange
 * there is carried by struct xensim_blkif_backend_info (back -> front: features
 * and device properties) and struct xensim_blkif_front_params (front -> back:
 * transport), so tests and the xenbus "vbd" glue can connect them alike.
 */
#ifndef XENSIM_BLKIF_H
#define XENSIM_BLKIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xensim/guest.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XENSIM_BLKIF_MAX_RING_ORDER 4      /* Linux's XENBUS_MAX_RING_GRANT_ORDER */
#define XENSIM_BLKIF_MAX_RING_PAGES (1u << XENSIM_BLKIF_MAX_RING_ORDER)
#define XENSIM_BLKIF_MAX_QUEUES 16
#define XENSIM_BLKIF_MAX_INDIRECT_SEGS 4096 /* 8 indirect pages of 512 segments */

/* What the back end advertises (XenStore: feature-*, max-ring-page-order,
 * multi-queue-max-queues) and, at connect, the device properties
 * (sectors, info, sector-size, physical-sector-size). */
struct xensim_blkif_backend_info {
    bool feature_barrier;
    bool feature_flush;
    bool feature_discard;
    bool discard_secure;
    uint32_t discard_granularity;       /* bytes */
    uint32_t discard_alignment;         /* bytes */
    bool feature_persistent;
    unsigned int max_indirect_segments; /* 0: no feature-max-indirect-segments */
    unsigned int max_ring_order;
    unsigned int max_queues;
    uint64_t sectors;                   /* in units of sector_size */
    unsigned int info;                  /* VDISK_* */
    unsigned int sector_size;
    unsigned int physical_sector_size;
};

/* What the front end publishes for one connection. */
struct xensim_blkif_front_params {
    domid_t front_domid;
    unsigned int ring_order;            /* ring-page-order */
    unsigned int nr_queues;             /* multi-queue-num-queues (1 if absent) */
    struct {
        grant_ref_t ring_ref[XENSIM_BLKIF_MAX_RING_PAGES];
        evtchn_port_t evtchn;
    } queue[XENSIM_BLKIF_MAX_QUEUES];
    bool feature_persistent;
    bool large_sector;                  /* feature-large-sector-size */
    char protocol[16];                  /* "" means native */
};

/* ---- blkback ---- */

struct blkback;

/* Why a back end stopped serving a queue on its own. */
enum xensim_blkback_error {
    XENSIM_BLKBACK_ERR_NONE = 0,
    XENSIM_BLKBACK_ERR_RING_OVERFLOW,          /* RING_REQUEST_PROD_OVERFLOW */
    XENSIM_BLKBACK_ERR_NOMEM,
};

struct xensim_blkback_config {
    const char *path;                   /* backing file; NULL: memory */
    uint64_t mem_bytes;                 /* memory backing size (path == NULL) */
    bool readonly;                      /* writes, flushes, discards fail */
    bool null_io;                       /* answer every request OKAY, no I/O */
    unsigned int sector_size;           /* 0: 512 */
    unsigned int physical_sector_size;  /* 0: sector_size */
    unsigned int info;                  /* extra VDISK_* (READONLY is implied) */
    bool feature_barrier;
    bool feature_flush;
    bool feature_discard;
    bool discard_secure;
    bool feature_persistent;
    unsigned int max_indirect_segments; /* 0: INDIRECT not offered */
    unsigned int max_ring_order;        /* <= XENSIM_BLKIF_MAX_RING_ORDER */
    unsigned int max_queues;            /* 0: 1 */
    unsigned int max_persistent_grants; /* per queue; 0: ring size * 11 */
    /* Called in upcall context when a queue is shut down because the
     * front end misbehaved; the device stays mapped until disconnect. */
    void (*on_error)(struct blkback *be, enum xensim_blkback_error err, void *arg);
    void *on_error_arg;
    /* A bug put in on purpose, for testing schedule search (xensim
     * explore): after a batch the back end checks for more requests
     * first and only then publishes its responses and re-enables the
     * front end's events, instead of RING_FINAL_CHECK_FOR_REQUESTS after
     * them. A request pushed in between raises no event and is never
     * seen: a lost wake-up, which only some interleavings show. */
    bool inject_lost_wakeup;
    /* Another, for the double-fetch checker (check_double_fetch): after
     * copying a request off the ring, the back end reads its operation
     * again from the shared slot, which the front end may have changed
     * since the copy was checked (XSA-155's class). */
    bool inject_double_fetch;
};

struct xensim_blkback_stats {
    uint64_t requests;                  /* responses pushed */
    uint64_t errors;                    /* BLKIF_RSP_ERROR */
    uint64_t unsupported;               /* BLKIF_RSP_EOPNOTSUPP */
    uint64_t persistent_grants;         /* currently mapped persistently */
    uint64_t persistent_evicted;        /* unmapped to make room (LRU) */
    uint64_t maps, unmaps;              /* grant map/unmap operations */
    uint64_t notifies;                  /* events sent to the front end */
    uint64_t wakeups;                   /* handler runs that found work */
    unsigned int split_rings;           /* queues whose ring pages this end
                                           mapped apart: slots copied piecewise */
    enum xensim_blkback_error error;           /* first fatal error, if any */
};

/* Opens the backing store (any thread). Returns 0 or a negative errno. */
int xensim_blkback_create(const struct xensim_blkback_config *cfg, struct blkback **out);
/* What this back end advertises and its device properties. */
void xensim_blkback_info(const struct blkback *be, struct xensim_blkif_backend_info *info);
/*
 * Guest code in the back end's domain: checks the front's parameters
 * (-EINVAL for an order, queue count or protocol it cannot take), maps the
 * ring pages, binds the event channels and serves requests from then on,
 * in upcall context on the calling vCPU. -EISCONN if already connected.
 */
int xensim_blkback_connect(struct blkback *be, const struct xensim_blkif_front_params *p);
/* Guest code on the vCPU that connected (-EINVAL elsewhere): stops
 * serving, unmaps every ring page and persistent grant, closes the ports.
 * Safe to call twice. */
int xensim_blkback_disconnect(struct blkback *be);
bool xensim_blkback_connected(const struct blkback *be);
void xensim_blkback_get_stats(const struct blkback *be, struct xensim_blkback_stats *st);
/* Any thread, no hypercalls: closes the backing store and frees, at
 * once or, if a handler of it is still unwinding on the back end's vCPU,
 * when that returns. Call xensim_blkback_disconnect() first while the back end's
 * domain lives. */
void xensim_blkback_destroy(struct blkback *be);
/* The back end's domain is dead (no handler can run again): frees now.
 * The simulator has already dropped its mappings and ports. */
void xensim_blkback_free_dead(struct blkback *be);

/* ---- blkfront ---- */

struct xensim_blkfront;

struct xensim_blkfront_config {
    domid_t backend_domid;
    unsigned int max_ring_order;        /* wanted; capped by the back end */
    unsigned int max_queues;            /* wanted; 0: 1 */
    bool persistent;                    /* feature-persistent */
    unsigned int max_indirect_segments; /* wanted; 0: never use INDIRECT */
    bool large_sector;                  /* feature-large-sector-size */
    /* Ask for a response event only when half of what is in flight has
     * been answered, instead of at the next one (ring.h's event batching):
     * fewer wake-ups under load, same latency for a lone request. */
    bool batch_events;
    /* A bug put in on purpose, for testing schedule search (xensim
     * explore); only the xenbus driver (xensim_vbd_front) acts on it: it
     * writes state Initialised on its own, before the transaction that
     * publishes ring-ref and event-channel (and Initialised again) has
     * committed. A back end that looks in between finds no ring-ref and
     * fails the device: a handshake race, which only some interleavings
     * show. */
    bool inject_early_initialised;
    /* Another, for the double-fetch checker: after copying a response
     * off the ring, blkfront reads its id again from the shared slot,
     * which the back end may have changed since the copy was checked. */
    bool inject_double_fetch;
};

/* One asynchronous I/O. Sectors are 512 bytes (sector-size bytes with
 * large_sector). buf may be any memory the front end's guest code can read
 * or write; pages of guest RAM at 512-byte alignment are granted in place
 * unless persistent grants are in use, others go through bounce pages. */
struct xensim_blkfront_io {
    uint8_t op;                         /* BLKIF_OP_READ, WRITE, WRITE_BARRIER,
                                           FLUSH_DISKCACHE or DISCARD */
    bool secure;                        /* DISCARD: BLKIF_DISCARD_SECURE */
    unsigned int queue;                 /* which queue (mod nr_queues) */
    uint64_t sector;
    uint32_t nr_sectors;                /* <= xensim_blkfront_max_sectors() for R/W */
    void *buf;
    /* Called once, in upcall context or from xensim_blkfront_disconnect(). It may
     * submit io or others again (-EAGAIN when the ring is full: no waiting
     * in upcall context). */
    void (*done)(struct xensim_blkfront_io *io);
    void *arg;
    int status;                         /* 0, -EIO, -EOPNOTSUPP, -ENOTCONN */
    bool completed;                     /* set (release) just before done() */
    /* Private to blkfront. */
    struct xensim_blkfront_io *next_;
};

int xensim_blkfront_create(const struct xensim_blkfront_config *cfg, struct xensim_blkfront **out);
/* While disconnected: the next setup talks to this back end domain (a
 * reconnect after the old one died). -EISCONN otherwise. */
int xensim_blkfront_set_backend(struct xensim_blkfront *fe, domid_t backend_domid);
/*
 * Guest code in the front end's domain: negotiates with what the back end
 * advertised (order, queues, indirect, persistent), grants the ring pages,
 * allocates the unbound ports and binds them to the calling vCPU, and fills
 * p with what to publish. Then the back end connects, then
 * xensim_blkfront_connect() with the back end's device properties.
 */
int xensim_blkfront_setup(struct xensim_blkfront *fe, const struct xensim_blkif_backend_info *be,
                   struct xensim_blkif_front_params *p);
int xensim_blkfront_connect(struct xensim_blkfront *fe, const struct xensim_blkif_backend_info *be);
/*
 * Guest code in the front end's domain: stops the device, fails every I/O
 * in flight with -ENOTCONN, closes the ports and ends the grants. A grant
 * the back end still maps cannot be revoked yet: it and its page wait on
 * the domain's deferred list (xensim_xenbus_end_access), retried later. Returns
 * how many of the domain's grants still wait after retrying them all.
 */
int xensim_blkfront_disconnect(struct xensim_blkfront *fe);
/* Connected and not shut down by a misbehaving back end. */
bool xensim_blkfront_connected(const struct xensim_blkfront *fe);
/* The back end broke the protocol (bogus id, overflowing rsp_prod...). */
bool xensim_blkfront_failed(const struct xensim_blkfront *fe);
uint64_t xensim_blkfront_sectors(const struct xensim_blkfront *fe);       /* in sector_size units */
unsigned int xensim_blkfront_sector_size(const struct xensim_blkfront *fe);
unsigned int xensim_blkfront_nr_queues(const struct xensim_blkfront *fe);
unsigned int xensim_blkfront_ring_size(const struct xensim_blkfront *fe); /* entries per queue */
/* Largest nr_sectors of one READ/WRITE io. */
uint32_t xensim_blkfront_max_sectors(const struct xensim_blkfront *fe);
const struct xensim_blkif_backend_info *xensim_blkfront_backend(const struct xensim_blkfront *fe);

struct xensim_blkfront_stats {
    uint64_t requests;                  /* pushed onto the rings */
    uint64_t notifies;                  /* events sent to the back end */
    uint64_t irqs;                      /* response handler runs */
};
void xensim_blkfront_get_stats(const struct xensim_blkfront *fe, struct xensim_blkfront_stats *st);

/* Asynchronous I/O (guest code in the front end's domain). Waits for a
 * free ring slot unless called from a completion (-EAGAIN then). Returns 0
 * once queued, or -ENOTCONN, -EINVAL, -EOPNOTSUPP (feature not
 * negotiated), -E2BIG, -ENOMEM. */
int xensim_blkfront_submit(struct xensim_blkfront *fe, struct xensim_blkfront_io *io);
/* Between plug and unplug, this vCPU's submissions to fe are written to
 * the rings but published (and notified) once, at the outermost unplug.
 * Completion callbacks run plugged. */
void xensim_blkfront_plug(struct xensim_blkfront *fe);
void xensim_blkfront_unplug(struct xensim_blkfront *fe);
/* Waits for io to complete; returns io->status. */
int xensim_blkfront_wait(struct xensim_blkfront *fe, struct xensim_blkfront_io *io);
/* Requests in flight on all queues. */
unsigned int xensim_blkfront_inflight(const struct xensim_blkfront *fe);

/* Synchronous I/O, split into as many requests as needed, all in flight at
 * once. Return 0 or a negative errno. */
int xensim_blkfront_read(struct xensim_blkfront *fe, uint64_t sector, void *buf, uint64_t nr_sectors);
int xensim_blkfront_write(struct xensim_blkfront *fe, uint64_t sector, const void *buf, uint64_t nr_sectors);
int xensim_blkfront_write_barrier(struct xensim_blkfront *fe, uint64_t sector, const void *buf,
                           uint32_t nr_sectors);
int xensim_blkfront_flush(struct xensim_blkfront *fe);
int xensim_blkfront_discard(struct xensim_blkfront *fe, uint64_t sector, uint64_t nr_sectors, bool secure);

/* Guest code: disconnects if needed, then xensim_blkfront_free(). */
void xensim_blkfront_destroy(struct xensim_blkfront *fe);
/* Any thread, no hypercalls, after disconnect: frees, at once or when a
 * handler of it still unwinding returns. */
void xensim_blkfront_free(struct xensim_blkfront *fe);
/* The front end's domain is dead: frees now. */
void xensim_blkfront_free_dead(struct xensim_blkfront *fe);

/*
 * The "vbd" device type for the xenbus split-driver framework
 * (<xensim/xenbus.h>), with the keys and handshake of blkif.h: register
 * xensim_vbd_back in the back end's domain and xensim_vbd_front in the
 * guest. The back end opens the device's "params" (a file path, or
 * "mem:<bytes>"), read-only when "mode" is "r".
 */
struct xensim_xenbus_driver;
extern const struct xensim_xenbus_driver xensim_vbd_front, xensim_vbd_back;
/* Templates for the calling domain's vbd ends (features, limits); NULL
 * forgets. The back end's path and readonly come from params and mode. */
int xensim_vbd_back_config(const struct xensim_blkback_config *tmpl);
int xensim_vbd_front_config(const struct xensim_blkfront_config *tmpl);
/* The calling domain's vbd devid, once Connected; else NULL. */
struct xensim_blkfront *xensim_vbd_front_find(unsigned int devid);
/* The calling domain's back end of (front domain, devid), or NULL. */
struct blkback *xensim_vbd_back_find(domid_t front, unsigned int devid);

#ifdef __cplusplus
}
#endif
#endif
