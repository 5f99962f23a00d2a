/*
 * blkfront's request side: turns a struct xensim_blkfront_io into one ring
 * request (direct grants of guest RAM, or bounce pages; INDIRECT past 11
 * segments), and the synchronous calls built on it. Relies on
 * blkfront_ring.c for locking, pages, grants and waiting.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "blkfront.h"

uint32_t xensim_blkfront_max_sectors(const struct xensim_blkfront *fe)
{
    return (uint32_t)((uint64_t)fe->max_segs * XEN_PAGE_SIZE / (fe->unit ? fe->unit : 512));
}

/* Data pages can be granted in place when the buffer is guest RAM aligned
 * to the protocol sector and fits the segment limit. */
static bool can_grant_direct(struct xensim_blkfront *fe, const struct xensim_blkfront_io *io, size_t bytes,
                             unsigned int max_segs)
{
    uintptr_t a = (uintptr_t)io->buf;
    if (fe->persistent || (a % fe->unit))
        return false;
    if (xensim_guest_virt_to_pfn(io->buf) == XENSIM_INVALID_PFN ||
        xensim_guest_virt_to_pfn((uint8_t *)io->buf + bytes - 1) == XENSIM_INVALID_PFN)
        return false;
    size_t spans = ((a % XEN_PAGE_SIZE) + bytes + XEN_PAGE_SIZE - 1) / XEN_PAGE_SIZE;
    return spans <= max_segs;
}

/* Builds the data segments into segs[]; records grants and pages in sh.
 * Returns the segment count or a negative errno (nothing left granted). */
static int build_segs(struct blkfront_queue *q, struct blkfront_shadow *sh,
                      const struct xensim_blkfront_io *io, bool write, unsigned int max_segs,
                      struct blkif_request_segment *segs)
{
    struct xensim_blkfront *fe = q->fe;
    domid_t be = fe->cfg.backend_domid;
    size_t bytes = (size_t)io->nr_sectors * fe->unit;
    unsigned int n = 0;

    if (can_grant_direct(fe, io, bytes, max_segs)) {
        uint8_t *p = io->buf;
        for (size_t off = 0; off < bytes;) {
            size_t in = (uintptr_t)(p + off) % XEN_PAGE_SIZE;
            size_t len = XEN_PAGE_SIZE - in < bytes - off ? XEN_PAGE_SIZE - in : bytes - off;
            long ref = xensim_gnttab_grant_access(be, xensim_guest_virt_to_pfn(p + off), write);
            if (ref < 0)
                return (int)ref;
            sh->refs[sh->nr_refs++] = (grant_ref_t)ref;
            segs[n++] = (struct blkif_request_segment){
                .gref = (grant_ref_t)ref,
                .first_sect = (uint8_t)(in / fe->unit),
                .last_sect = (uint8_t)((in + len) / fe->unit - 1),
            };
            off += len;
        }
        return (int)n;
    }
    const uint8_t *src = io->buf;
    for (size_t off = 0; off < bytes; off += XEN_PAGE_SIZE) {
        size_t len = bytes - off < XEN_PAGE_SIZE ? bytes - off : XEN_PAGE_SIZE;
        struct blkfront_page *pg = blkfront_page_get(q);
        if (!pg)
            return -ENOMEM;
        sh->pages[sh->nr_pages++] = pg;
        if (write)
            memcpy(pg->va, src + off, len);
        grant_ref_t ref = pg->ref;
        if (!fe->persistent) {
            long r = xensim_gnttab_grant_access(be, pg->pfn, write);
            if (r < 0)
                return (int)r;
            ref = (grant_ref_t)r;
            sh->refs[sh->nr_refs++] = ref;
        }
        segs[n++] = (struct blkif_request_segment){
            .gref = ref, .first_sect = 0, .last_sect = (uint8_t)(len / fe->unit - 1),
        };
    }
    return (int)n;
}

/* Puts the segment array into indirect pages. */
static int build_indirect(struct blkfront_queue *q, struct blkfront_shadow *sh,
                          const struct blkif_request_segment *segs, unsigned int n,
                          grant_ref_t *grefs)
{
    struct xensim_blkfront *fe = q->fe;
    unsigned int pages = (n + XENSIM_BLK_SEGS_PER_INDIRECT_PAGE - 1) / XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
    for (unsigned int i = 0; i < pages; i++) {
        struct blkfront_page *pg = blkfront_page_get(q);
        if (!pg)
            return -ENOMEM;
        sh->ind[sh->nr_ind++] = pg;
        unsigned int k = n - i * XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
        if (k > XENSIM_BLK_SEGS_PER_INDIRECT_PAGE)
            k = XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
        memcpy(pg->va, segs + i * XENSIM_BLK_SEGS_PER_INDIRECT_PAGE, k * sizeof(*segs));
        grant_ref_t ref = pg->ref;
        if (!fe->persistent) {
            long r = xensim_gnttab_grant_access(fe->cfg.backend_domid, pg->pfn, true);
            if (r < 0)
                return (int)r;
            ref = (grant_ref_t)r;
            sh->refs[sh->nr_refs++] = ref;
        }
        grefs[i] = ref;
    }
    return 0;
}

static int check_io(struct xensim_blkfront *fe, const struct xensim_blkfront_io *io)
{
    const struct xensim_blkif_backend_info *be = &fe->be;
    switch (io->op) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        if (!io->nr_sectors || !io->buf)
            return -EINVAL;
        return io->nr_sectors > xensim_blkfront_max_sectors(fe) ? -E2BIG : 0;
    case BLKIF_OP_WRITE_BARRIER:
        if (!be->feature_barrier)
            return -EOPNOTSUPP;
        if (io->nr_sectors && !io->buf)
            return -EINVAL;
        return (uint64_t)io->nr_sectors * fe->unit >
               (uint64_t)BLKIF_MAX_SEGMENTS_PER_REQUEST * XEN_PAGE_SIZE ? -E2BIG : 0;
    case BLKIF_OP_FLUSH_DISKCACHE:
        return be->feature_flush ? 0 : -EOPNOTSUPP;
    case BLKIF_OP_DISCARD:
        if (!be->feature_discard || (io->secure && !be->discard_secure))
            return -EOPNOTSUPP;
        return 0;
    default:
        return -EINVAL;
    }
}

/* Fills the request for io in slot id; returns how many of its bytes
 * mean something (only those go to the shared slot: a 112-byte slot is
 * two cache lines the back end must pull over), or a negative errno after
 * releasing what it took. */
static int build_request(struct blkfront_queue *q, unsigned int id, struct xensim_blkfront_io *io,
                         blkif_request_t *req)
{
    struct xensim_blkfront *fe = q->fe;
    struct blkfront_shadow *sh = &q->shadow[id];
    sh->nr_refs = sh->nr_pages = sh->nr_ind = 0;
    sh->io = io;
    req->operation = io->op;
    req->nr_segments = 0;
    req->handle = 0;
    memset((uint8_t *)req + offsetof(blkif_request_t, handle) + sizeof(req->handle), 0,
           offsetof(blkif_request_t, id) - offsetof(blkif_request_t, handle) - sizeof(req->handle));
    req->id = id;
    req->sector_number = io->sector;
    sh->op = io->op;
    if (io->op == BLKIF_OP_DISCARD) {
        blkif_request_discard_t *d = (blkif_request_discard_t *)req;
        d->flag = io->secure ? BLKIF_DISCARD_SECURE : 0;
        d->nr_sectors = io->nr_sectors;
        return (int)sizeof(*d);
    }
    if (!io->nr_sectors || io->op == BLKIF_OP_FLUSH_DISKCACHE)
        return (int)offsetof(blkif_request_t, seg);
    bool write = io->op != BLKIF_OP_READ;
    unsigned int max = io->op == BLKIF_OP_WRITE_BARRIER ? BLKIF_MAX_SEGMENTS_PER_REQUEST
                                                        : fe->max_segs;
    struct blkif_request_segment local[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    struct blkif_request_segment *segs = max <= BLKIF_MAX_SEGMENTS_PER_REQUEST
                                             ? local : malloc(max * sizeof(*segs));
    if (!segs)
        return -ENOMEM;
    int n = build_segs(q, sh, io, write, max, segs);
    int rc = n < 0 ? n : 0;
    int len = 0;
    if (!rc && n <= (int)BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        req->nr_segments = (uint8_t)n;
        memcpy(req->seg, segs, (size_t)n * sizeof(*segs));
        len = (int)(offsetof(blkif_request_t, seg) + (size_t)n * sizeof(*segs));
    } else if (!rc) {
        blkif_request_indirect_t *ind = (blkif_request_indirect_t *)req;
        memset(ind, 0, sizeof(*ind));
        len = (int)sizeof(*ind);
        ind->operation = BLKIF_OP_INDIRECT;
        ind->indirect_op = io->op;
        ind->nr_segments = (uint16_t)n;
        ind->sector_number = io->sector;
        ind->id = id;
        sh->op = BLKIF_OP_INDIRECT;
        rc = build_indirect(q, sh, segs, (unsigned int)n, ind->indirect_grefs);
    }
    if (segs != local)
        free(segs);
    if (rc) {
        blkfront_shadow_release(q, sh, false);
        return rc;
    }
    return len;
}

/* For the narrator: the request just queued, whichever layout it has. */
static void narrate_queued(const blkif_request_t *req, unsigned int id,
                           const struct xensim_blkfront_io *io)
{
    const blkif_request_indirect_t *ind = (const blkif_request_indirect_t *)(const void *)req;
    bool indirect = req->operation == BLKIF_OP_INDIRECT;
    unsigned int segs = indirect ? ind->nr_segments : req->nr_segments;
    grant_ref_t first = indirect ? ind->indirect_grefs[0] : segs ? req->seg[0].gref : 0;

    xensim_narrate("blkfront queues %s id %u: sector %llu, %u sector(s), %u segment(s)%s, "
                   "first grant ref %u", xensim_blk_op_name(req->operation), id,
                   (unsigned long long)io->sector, io->nr_sectors, segs,
                   indirect ? " (indirect)" : "", first);
}

struct slot_wait {
    struct blkfront_queue *q;
};

static bool slot_free_or_down(void *arg)
{
    struct blkfront_queue *q = ((struct slot_wait *)arg)->q;
    return __atomic_load_n(&q->fe->state, __ATOMIC_ACQUIRE) != BLKFRONT_CONNECTED ||
           __atomic_load_n(&q->inflight, __ATOMIC_ACQUIRE) < q->nr_shadow;
}

int xensim_blkfront_submit(struct xensim_blkfront *fe, struct xensim_blkfront_io *io)
{
    if (__atomic_load_n(&fe->state, __ATOMIC_ACQUIRE) != BLKFRONT_CONNECTED)
        return -ENOTCONN;
    int rc = check_io(fe, io);
    if (rc)
        return rc;
    struct blkfront_queue *q = &fe->q[io->queue % fe->nr_queues];
    io->status = 0;
    io->completed = false;
    bool off;
    for (;;) {
        off = xensim_irqlock_lock(&q->lock);
        if (__atomic_load_n(&fe->state, __ATOMIC_ACQUIRE) != BLKFRONT_CONNECTED) {
            xensim_irqlock_unlock(&q->lock, off);
            return -ENOTCONN;
        }
        if (q->free_head < q->nr_shadow && !RING_FULL(&q->ring))
            break;
        /* Full of our own unpublished requests: publish before waiting. */
        bool notify = q->unpushed && blkfront_push_locked(q);
        xensim_irqlock_unlock(&q->lock, off);
        if (notify)
            xensim_evtchn_send(q->port);
        if (blkfront_in_completion())
            return -EAGAIN;
        struct slot_wait w = { q };
        blkfront_wait_until(fe, slot_free_or_down, &w);
    }
    unsigned int id = q->free_head;
    blkif_request_t req;
    int len = build_request(q, id, io, &req);
    if (len < 0) {
        rc = len;
        q->shadow[id].io = NULL;
        xensim_irqlock_unlock(&q->lock, off);
        return rc;
    }
    q->free_head = q->shadow[id].next_free;
    __atomic_store_n(&q->inflight, q->inflight + 1, __ATOMIC_RELEASE);
    blkif_front_ring_t *r = &q->ring;
    xensim_blk_ring_write(&q->view, xensim_blk_slot_offset(r->sring, r->req_prod_pvt, RING_SIZE(r)),
                   &req, (size_t)len);
    r->req_prod_pvt++;
    q->nr_requests++;
    narrate_queued(&req, id, io);
    bool notify = false;
    if (blkfront_plugged(fe))
        __atomic_store_n(&q->unpushed, true, __ATOMIC_RELAXED);
    else
        notify = blkfront_push_locked(q);
    evtchn_port_t port = q->port;
    xensim_irqlock_unlock(&q->lock, off);
    if (notify) {
        xensim_evtchn_send(port);
        __atomic_fetch_add(&fe->st.notifies, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

static bool io_done(void *arg)
{
    return __atomic_load_n(&((struct xensim_blkfront_io *)arg)->completed, __ATOMIC_ACQUIRE);
}

int xensim_blkfront_wait(struct xensim_blkfront *fe, struct xensim_blkfront_io *io)
{
    blkfront_wait_until(fe, io_done, io);
    return io->status;
}

/* Splits [sector, sector + nr) into requests, all submitted before the
 * first wait, spread over the queues. */
static int sync_io(struct xensim_blkfront *fe, uint8_t op, uint64_t sector, void *buf, uint64_t nr,
                   uint32_t chunk, bool secure)
{
    if (!chunk)
        return -EINVAL;
    uint64_t count = nr ? (nr + chunk - 1) / chunk : 1;
    /* Small transfers stay off the heap: a domain killed in the middle
     * of one leaves nothing behind. */
    struct xensim_blkfront_io local[8];
    struct xensim_blkfront_io *ios = count <= 8 ? local : calloc(count, sizeof(*ios));
    if (!ios)
        return -ENOMEM;
    if (ios == local)
        memset(local, 0, sizeof(local));
    int rc = 0;
    uint64_t sent = 0;
    xensim_blkfront_plug(fe);
    for (uint64_t i = 0; i < count; i++) {
        uint64_t left = nr - i * chunk;
        struct xensim_blkfront_io *io = &ios[i];
        io->op = op;
        io->secure = secure;
        io->queue = (unsigned int)i;
        io->sector = sector + i * chunk;
        io->nr_sectors = (uint32_t)(left < chunk ? left : chunk);
        io->buf = buf ? (uint8_t *)buf + i * (uint64_t)chunk * fe->unit : NULL;
        rc = xensim_blkfront_submit(fe, io);
        if (rc)
            break;
        sent++;
    }
    xensim_blkfront_unplug(fe);
    for (uint64_t i = 0; i < sent; i++) {
        int st = xensim_blkfront_wait(fe, &ios[i]);
        if (st && !rc)
            rc = st;
    }
    if (ios != local)
        free(ios);
    return rc;
}

int xensim_blkfront_read(struct xensim_blkfront *fe, uint64_t sector, void *buf, uint64_t nr_sectors)
{
    return nr_sectors ? sync_io(fe, BLKIF_OP_READ, sector, buf, nr_sectors,
                                xensim_blkfront_max_sectors(fe), false) : 0;
}

int xensim_blkfront_write(struct xensim_blkfront *fe, uint64_t sector, const void *buf, uint64_t nr_sectors)
{
    return nr_sectors ? sync_io(fe, BLKIF_OP_WRITE, sector, (void *)buf, nr_sectors,
                                xensim_blkfront_max_sectors(fe), false) : 0;
}

int xensim_blkfront_write_barrier(struct xensim_blkfront *fe, uint64_t sector, const void *buf,
                           uint32_t nr_sectors)
{
    struct xensim_blkfront_io io = {
        .op = BLKIF_OP_WRITE_BARRIER, .sector = sector, .nr_sectors = nr_sectors,
        .buf = (void *)buf,
    };
    int rc = xensim_blkfront_submit(fe, &io);
    return rc ? rc : xensim_blkfront_wait(fe, &io);
}

int xensim_blkfront_flush(struct xensim_blkfront *fe)
{
    struct xensim_blkfront_io io = { .op = BLKIF_OP_FLUSH_DISKCACHE };
    int rc = xensim_blkfront_submit(fe, &io);
    return rc ? rc : xensim_blkfront_wait(fe, &io);
}

int xensim_blkfront_discard(struct xensim_blkfront *fe, uint64_t sector, uint64_t nr_sectors, bool secure)
{
    return sync_io(fe, BLKIF_OP_DISCARD, sector, NULL, nr_sectors, 1u << 30, secure);
}
