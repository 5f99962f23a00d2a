/*
 * blkback: connects to a front end's rings, serves its requests in upcall
 * context on the vCPU that connected, and tears down. Every request is
 * copied out of the shared ring before it is looked at, and checked
 * (operation, segments, sectors, range, grants) before any I/O; a bad one
 * gets BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP, an impossible ring index
 * stops that queue. Relies on blkback_grant.c, blkback_store.c and
 * <xensim/guest.h>.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>
#include "blkback.h"

/* The end of a batch, honest or with the injected lost wake-up; the
 * fetch of a request, once or with the injected second read. */
static const struct blkback_rearm rearm_honest, rearm_injected;
static const struct blkback_fetch fetch_once, fetch_twice;

int xensim_blkback_create(const struct xensim_blkback_config *cfg, struct blkback **out)
{
    struct blkback *be = calloc(1, sizeof(*be));
    if (!be)
        return -ENOMEM;
    be->cfg = *cfg;
    be->rearm = cfg->inject_lost_wakeup ? &rearm_injected : &rearm_honest;
    be->fetch = cfg->inject_double_fetch ? &fetch_twice : &fetch_once;
    be->fd = -1;
    be->refs = 1;
    be->sector_size = cfg->sector_size ? cfg->sector_size : 512;
    be->physical_sector_size = cfg->physical_sector_size ? cfg->physical_sector_size
                                                         : be->sector_size;
    if (be->sector_size < 512 || (be->sector_size & (be->sector_size - 1)) ||
        be->physical_sector_size % be->sector_size ||
        cfg->max_ring_order > XENSIM_BLKIF_MAX_RING_ORDER ||
        cfg->max_queues > XENSIM_BLKIF_MAX_QUEUES ||
        cfg->max_indirect_segments > XENSIM_BLKIF_MAX_INDIRECT_SEGS) {
        free(be);
        return -EINVAL;
    }
    if (!be->cfg.max_queues)
        be->cfg.max_queues = 1;
    int rc = blkback_store_open(be);
    if (rc) {
        free(be);
        return rc;
    }
    *out = be;
    return 0;
}

void xensim_blkback_info(const struct blkback *be, struct xensim_blkif_backend_info *info)
{
    const struct xensim_blkback_config *c = &be->cfg;
    bool rw = !c->readonly;
    *info = (struct xensim_blkif_backend_info){
        .feature_barrier = c->feature_barrier && rw,
        .feature_flush = c->feature_flush && rw,
        .feature_discard = c->feature_discard && rw,
        .discard_secure = c->feature_discard && c->discard_secure && rw,
        .discard_granularity = be->physical_sector_size,
        .discard_alignment = 0,
        .feature_persistent = c->feature_persistent,
        .max_indirect_segments = c->max_indirect_segments,
        .max_ring_order = c->max_ring_order,
        .max_queues = c->max_queues,
        .sectors = be->bytes / be->sector_size,
        .info = c->info | (c->readonly ? VDISK_READONLY : 0),
        .sector_size = be->sector_size,
        .physical_sector_size = be->physical_sector_size,
    };
}

bool xensim_blkback_connected(const struct blkback *be)
{
    return __atomic_load_n(&be->connected, __ATOMIC_ACQUIRE);
}

/* The back end's vCPU updates the counters with atomic stores while any
 * thread may ask: each is read atomically too (a plain struct copy raced
 * them). The set is not a snapshot, only each counter is exact. */
void xensim_blkback_get_stats(const struct blkback *be, struct xensim_blkback_stats *st)
{
#define BLKBACK_STAT_GET(field) .field = __atomic_load_n(&be->st.field, __ATOMIC_RELAXED)
    *st = (struct xensim_blkback_stats){
        BLKBACK_STAT_GET(requests), BLKBACK_STAT_GET(errors), BLKBACK_STAT_GET(unsupported),
        BLKBACK_STAT_GET(persistent_grants), BLKBACK_STAT_GET(maps), BLKBACK_STAT_GET(unmaps),
        BLKBACK_STAT_GET(notifies), BLKBACK_STAT_GET(wakeups), BLKBACK_STAT_GET(split_rings),
        BLKBACK_STAT_GET(persistent_evicted), BLKBACK_STAT_GET(error),
    };
#undef BLKBACK_STAT_GET
}

/* Responses are published in groups of a quarter of the ring (at least
 * this many), and whenever the back end runs out of visible requests: the
 * front end can refill the ring while the rest of a batch is served,
 * without an event per response. */
#define BLKBACK_PUSH_BATCH 8

static void push_responses(struct blkback_queue *q)
{
    int notify;
    RING_IDX old = q->ring.sring->rsp_prod;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->ring, notify);
    if (old != q->ring.rsp_prod_pvt)
        xensim_narrate("blkback pushes rsp_prod = %u%s port %u", q->ring.rsp_prod_pvt,
                       notify ? ", notifies the front end on" : "; no event needed on",
                       q->port);
    if (notify) {
        xensim_evtchn_send(q->port);
        BLKBACK_STAT_INC(q->be, notifies);
    }
}

/* Writes one response; true when it is time to publish. */
static bool respond(struct blkback_queue *q, uint64_t id, uint8_t op, int16_t status)
{
    struct blkback *be = q->be;
    blkif_response_t rsp = { .id = id, .operation = op, .status = status };
    blkif_sring_t *s = q->ring.sring;
    size_t off = xensim_blk_slot_offset(s, q->ring.rsp_prod_pvt, RING_SIZE(&q->ring));
    xensim_blk_ring_write(&q->view, off, &rsp, sizeof(rsp));
    q->ring.rsp_prod_pvt++;
    BLKBACK_STAT_INC(be, requests);
    if (status == BLKIF_RSP_ERROR)
        BLKBACK_STAT_INC(be, errors);
    else if (status == BLKIF_RSP_EOPNOTSUPP)
        BLKBACK_STAT_INC(be, unsupported);
    /* A quarter of the ring, at least BLKBACK_PUSH_BATCH. */
    RING_IDX batch = RING_SIZE(&q->ring) / 4 > BLKBACK_PUSH_BATCH ? RING_SIZE(&q->ring) / 4
                                                                 : BLKBACK_PUSH_BATCH;
    return q->ring.rsp_prod_pvt - __atomic_load_n(&s->rsp_prod, __ATOMIC_RELAXED) >= batch;
}

/* Checks the segments and the range, maps, does the I/O. The segments are
 * the back end's private copy. */
static int16_t do_rw(struct blkback_queue *q, bool write, uint64_t sector,
                     const struct blkif_request_segment *segs, unsigned int n, unsigned int gen)
{
    struct blkback *be = q->be;
    unsigned int per_page = XEN_PAGE_SIZE / be->unit;
    uint64_t total = 0;
    grant_ref_t refs[BLKIF_MAX_SEGMENTS_PER_REQUEST];
    grant_ref_t *rv = n <= BLKIF_MAX_SEGMENTS_PER_REQUEST ? refs : NULL;
    grant_ref_t *heap = NULL;

    if (write && be->cfg.readonly)
        return BLKIF_RSP_ERROR;
    for (unsigned int i = 0; i < n; i++) {
        if (segs[i].last_sect >= per_page || segs[i].last_sect < segs[i].first_sect)
            return BLKIF_RSP_ERROR;
        total += (uint64_t)(segs[i].last_sect - segs[i].first_sect + 1);
    }
    uint64_t units = be->bytes / be->unit;
    if (sector > units || total > units - sector)
        return BLKIF_RSP_ERROR;
    /* Whole logical blocks only, as Linux blkback insists. */
    uint64_t ss = be->sector_size / be->unit;
    if ((sector % ss) || (total % ss))
        return BLKIF_RSP_ERROR;
    if (!rv) {
        heap = malloc(n * sizeof(*heap));
        if (!heap)
            return BLKIF_RSP_ERROR;
        rv = heap;
    }
    for (unsigned int i = 0; i < n; i++)
        rv[i] = segs[i].gref;
    int rc = blkback_map_segs(q, rv, n, write, gen);
    free(heap);
    if (rc)
        return BLKIF_RSP_ERROR;   /* or -ESTALE: the caller sees gen */
    for (unsigned int i = 0; i < n; i++) {
        q->iov[i].iov_base = q->maps[i].addr + (size_t)segs[i].first_sect * be->unit;
        q->iov[i].iov_len = (size_t)(segs[i].last_sect - segs[i].first_sect + 1) * be->unit;
    }
    xensim_narrate("blkback maps %u grant(s) of dom%u (first ref %u%s), %s %llu bytes at offset "
                   "%llu of %s", n, be->front, segs[0].gref,
                   be->persistent ? ", kept mapped: persistent" : "", write ? "writes" : "reads",
                   (unsigned long long)(total * be->unit),
                   (unsigned long long)(sector * be->unit), be->cfg.path ? be->cfg.path : "memory");
    rc = be->store->rw(be, write, sector * be->unit, q->iov, n);
    blkback_unmap_segs(q, n);
    return rc ? BLKIF_RSP_ERROR : BLKIF_RSP_OKAY;
}

/* INDIRECT: the segment arrays live in granted pages; they are copied out
 * (and unmapped, unless persistent) before any of them is checked. */
static int16_t do_indirect(struct blkback_queue *q, const blkif_request_indirect_t *r,
                           unsigned int gen)
{
    struct blkback *be = q->be;
    unsigned int n = r->nr_segments;
    if (!be->cfg.max_indirect_segments)
        return BLKIF_RSP_EOPNOTSUPP;
    if (r->indirect_op != BLKIF_OP_READ && r->indirect_op != BLKIF_OP_WRITE)
        return BLKIF_RSP_ERROR;
    if (n == 0 || n > be->cfg.max_indirect_segments)
        return BLKIF_RSP_ERROR;
    unsigned int pages = (n + XENSIM_BLK_SEGS_PER_INDIRECT_PAGE - 1) / XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
    grant_ref_t refs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
    memcpy(refs, r->indirect_grefs, pages * sizeof(refs[0]));
    if (blkback_map_segs(q, refs, pages, true, gen))
        return BLKIF_RSP_ERROR;
    for (unsigned int p = 0; p < pages; p++) {
        unsigned int k = n - p * XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
        if (k > XENSIM_BLK_SEGS_PER_INDIRECT_PAGE)
            k = XENSIM_BLK_SEGS_PER_INDIRECT_PAGE;
        memcpy(&q->segs[p * XENSIM_BLK_SEGS_PER_INDIRECT_PAGE], q->maps[p].addr,
               k * sizeof(q->segs[0]));
    }
    __asm__ __volatile__("" ::: "memory");
    blkback_unmap_segs(q, pages);
    if (__atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) != gen)
        return BLKIF_RSP_ERROR;
    return do_rw(q, r->indirect_op == BLKIF_OP_WRITE, r->sector_number, q->segs, n, gen);
}

static int16_t do_discard(struct blkback_queue *q, const blkif_request_discard_t *r)
{
    struct blkback *be = q->be;
    if (!be->cfg.feature_discard)
        return BLKIF_RSP_EOPNOTSUPP;
    if ((r->flag & BLKIF_DISCARD_SECURE) && !be->cfg.discard_secure)
        return BLKIF_RSP_EOPNOTSUPP;
    if (be->cfg.readonly)
        return BLKIF_RSP_ERROR;
    uint64_t units = be->bytes / be->unit;
    if (r->sector_number > units || r->nr_sectors > units - r->sector_number)
        return BLKIF_RSP_ERROR;
    if (!r->nr_sectors)
        return BLKIF_RSP_OKAY;
    return be->store->discard(be, r->sector_number * be->unit, r->nr_sectors * be->unit,
                              r->flag & BLKIF_DISCARD_SECURE) ? BLKIF_RSP_ERROR
                                                              : BLKIF_RSP_OKAY;
}

/* Requests are served one at a time, in ring order, each finished before
 * the next starts: so every write before a barrier or flush is complete
 * when it runs, and nothing after it starts before it is done. */
static int16_t do_request(struct blkback_queue *q, const blkif_request_t *req, unsigned int gen)
{
    struct blkback *be = q->be;
    unsigned int n = req->nr_segments;

    if (be->cfg.null_io)
        return BLKIF_RSP_OKAY;
    switch (req->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
        if (n == 0 || n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            return BLKIF_RSP_ERROR;
        return do_rw(q, req->operation == BLKIF_OP_WRITE, req->sector_number, req->seg, n, gen);
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE: {
        bool barrier = req->operation == BLKIF_OP_WRITE_BARRIER;
        if (barrier ? !be->cfg.feature_barrier : !be->cfg.feature_flush)
            return BLKIF_RSP_EOPNOTSUPP;
        if (be->cfg.readonly || n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            return BLKIF_RSP_ERROR;
        if (be->store->flush(be))
            return BLKIF_RSP_ERROR;
        if (!n)
            return BLKIF_RSP_OKAY;
        int16_t st = do_rw(q, true, req->sector_number, req->seg, n, gen);
        if (st == BLKIF_RSP_OKAY && barrier && be->store->flush(be))
            st = BLKIF_RSP_ERROR;
        return st;
    }
    case BLKIF_OP_DISCARD: {
        blkif_request_discard_t d;
        memcpy(&d, req, sizeof(d));
        return do_discard(q, &d);
    }
    case BLKIF_OP_INDIRECT: {
        blkif_request_indirect_t ind;
        memcpy(&ind, req, sizeof(ind));
        return do_indirect(q, &ind, gen);
    }
    default:
        return BLKIF_RSP_EOPNOTSUPP;
    }
}

static void queue_fail(struct blkback_queue *q, enum xensim_blkback_error err)
{
    struct blkback *be = q->be;
    q->broken = true;
    xensim_irq_unbind(q->port);
    enum xensim_blkback_error none = XENSIM_BLKBACK_ERR_NONE;
    __atomic_compare_exchange_n(&be->st.error, &none, err, false, __ATOMIC_RELAXED,
                                __ATOMIC_RELAXED);
    if (be->cfg.on_error)
        be->cfg.on_error(be, err, be->cfg.on_error_arg);
}

static bool same_gen(const struct blkback *be, unsigned int gen)
{
    return __atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) == gen;
}

/* The end of a batch as Xen's back ends do it: publish the responses,
 * re-enable the front end's events (req_event), then look again, so a
 * request pushed meanwhile is either seen here or raises an event. */
static bool rearm_final_check(struct blkback_queue *q, unsigned int gen)
{
    int more;
    push_responses(q);
    if (!same_gen(q->be, gen))
        return false;
    RING_FINAL_CHECK_FOR_REQUESTS(&q->ring, more);
    return more;
}

/* inject_lost_wakeup: the look comes first. push_responses' event is a
 * hypercall, and so a point where the front end may run, take the
 * responses and push its next request while req_event still says no
 * event is wanted; the back end then re-enables events and sleeps. */
static bool rearm_check_first(struct blkback_queue *q, unsigned int gen)
{
    bool more = RING_HAS_UNCONSUMED_REQUESTS(&q->ring);
    push_responses(q);
    if (!same_gen(q->be, gen))
        return false;
    if (!more)
        __atomic_store_n(&q->ring.sring->req_event, q->ring.req_cons + 1, __ATOMIC_RELAXED);
    xen_mb();
    return more;
}

static const struct blkback_rearm rearm_honest = { rearm_final_check },
                                  rearm_injected = { rearm_check_first };

/* One copy, checked and used from then on: what a back end must do. */
static void fetch_copy(struct blkback_queue *q, blkif_request_t *req)
{
    blkif_back_ring_t *r = &q->ring;
    if (q->view.contiguous)
        RING_COPY_REQUEST(r, r->req_cons, req);
    else
        xensim_blk_ring_read(&q->view, xensim_blk_slot_offset(r->sring, r->req_cons, RING_SIZE(r)),
                             req, sizeof(*req));
}

/* inject_double_fetch: the operation taken again from the shared slot
 * after the copy. */
static void fetch_copy_then_reread(struct blkback_queue *q, blkif_request_t *req)
{
    fetch_copy(q, req);
    if (q->view.contiguous)
        req->operation = ((volatile blkif_request_t *)RING_GET_REQUEST(&q->ring,
                                                                       q->ring.req_cons))->operation;
}

static const struct blkback_fetch fetch_once = { fetch_copy },
                                  fetch_twice = { fetch_copy_then_reread };

static void queue_work(struct blkback_queue *q)
{
    struct blkback *be = q->be;
    unsigned int gen = __atomic_load_n(&be->gen, __ATOMIC_ACQUIRE);
    blkif_back_ring_t *r = &q->ring;
    for (;;) {
        RING_IDX rp = __atomic_load_n(&r->sring->req_prod, __ATOMIC_RELAXED);
        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(r, rp)) {
            xensim_protocol_violation("blkback: dom%u's vbd queue %u: req_prod %u is %u past "
                                      "the %u requests the ring holds", be->front, q->idx, rp,
                                      rp - r->rsp_prod_pvt, RING_SIZE(r));
            push_responses(q);
            if (__atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) == gen)
                queue_fail(q, XENSIM_BLKBACK_ERR_RING_OVERFLOW);
            return;
        }
        while (r->req_cons != rp && !RING_REQUEST_CONS_OVERFLOW(r, r->req_cons)) {
            blkif_request_t req;
            be->fetch->fetch(q, &req);
            r->req_cons++;
            xensim_narrate("blkback copies request %u off the ring: %s id %llu sector %llu, "
                           "%u segment(s)", r->req_cons - 1, xensim_blk_op_name(req.operation),
                           (unsigned long long)req.id, (unsigned long long)req.sector_number,
                           req.nr_segments);
            int16_t st = do_request(q, &req, gen);
            xensim_narrate("blkback answers id %llu: status %d", (unsigned long long)req.id, st);
            if (__atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) != gen)
                return;
            if (respond(q, req.id, req.operation, st)) {
                push_responses(q);
                if (__atomic_load_n(&be->gen, __ATOMIC_ACQUIRE) != gen)
                    return;
            }
        }
        if (!be->rearm->rearm(q, gen))
            return;
    }
}

static void be_free(struct blkback *be)
{
    for (unsigned int i = 0; i < XENSIM_BLKIF_MAX_QUEUES; i++)
        blkback_queue_scratch_free(&be->q[i]);
    be->store->close(be);
    free(be);
}

static void be_put(struct blkback *be)
{
    if (__atomic_sub_fetch(&be->refs, 1, __ATOMIC_ACQ_REL) == 0)
        be_free(be);
}

static void queue_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    struct blkback_queue *q = arg;
    struct blkback *be = q->be;
    __atomic_add_fetch(&be->refs, 1, __ATOMIC_ACQ_REL);
    if (!q->broken) {
        BLKBACK_STAT_INC(be, wakeups);
        queue_work(q);
    }
    be_put(be);
}

static void queue_teardown(struct blkback_queue *q)
{
    blkback_unmap_interrupted(q);
    if (q->port) {
        xensim_irq_unbind(q->port);
        xensim_evtchn_close(q->port);
    }
    q->port = 0;
    if (q->pg)
        blkback_pgrants_release(q);
    void *addrs[XENSIM_BLKIF_MAX_RING_PAGES];
    if (q->ring_watched)
        xensim_ring_unwatch(q->view.page[0]);
    q->ring_watched = false;
    for (unsigned int i = 0; i < q->nr_ring_mapped; i++)
        addrs[i] = q->view.page[i];
    xensim_xenbus_unmap_ring(q->ring_handle, addrs, q->nr_ring_mapped);
    q->nr_ring_mapped = 0;
    blkback_queue_scratch_free(q);
    q->broken = false;
}

static int queue_connect(struct blkback *be, struct blkback_queue *q,
                         const struct xensim_blkif_front_params *p)
{
    unsigned int pages = 1u << be->order;
    void *addrs[XENSIM_BLKIF_MAX_RING_PAGES];
    int err = xensim_xenbus_map_ring(be->front, p->queue[q->idx].ring_ref, pages, q->ring_handle,
                              addrs);
    if (err)
        return err;
    for (unsigned int i = 0; i < pages; i++)
        q->view.page[i] = addrs[i];
    q->nr_ring_mapped = pages;
    xensim_blk_ring_view_init(&q->view, pages);
    blkif_sring_t *s = (blkif_sring_t *)q->view.page[0];
    BACK_RING_INIT(&q->ring, s, (size_t)XEN_PAGE_SIZE * pages);
    XENSIM_RING_INDICES(s);
    /* Named for a stuck deterministic run's report; only a report is
     * lost if this fails. */
    char name[64];
    snprintf(name, sizeof(name), "vbd of dom%u queue %u (blkback's end)", be->front, q->idx);
    struct xensim_ring_geometry g = XENSIM_RING_GEOMETRY(&q->ring);
    q->ring_watched = xensim_ring_watch(s, &g, name) == 0;
    unsigned int max_segs = BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (be->cfg.max_indirect_segments > max_segs)
        max_segs = be->cfg.max_indirect_segments;
    if (blkback_queue_scratch(q, max_segs))
        return -ENOMEM;
    q->pg_max = be->cfg.max_persistent_grants ? be->cfg.max_persistent_grants
                                              : RING_SIZE(&q->ring) * BLKIF_MAX_SEGMENTS_PER_REQUEST;
    long port = xensim_evtchn_bind_interdomain(be->front, p->queue[q->idx].evtchn);
    if (port < 0)
        return (int)port;
    q->port = (evtchn_port_t)port;
    return 0;
}

int xensim_blkback_connect(struct blkback *be, const struct xensim_blkif_front_params *p)
{
    if (be->connected)
        return -EISCONN;
    if (p->protocol[0] && strcmp(p->protocol, XEN_IO_PROTO_ABI_NATIVE))
        return -EPROTONOSUPPORT;
    if (p->ring_order > be->cfg.max_ring_order || p->nr_queues == 0 ||
        p->nr_queues > be->cfg.max_queues)
        return -EINVAL;
    if (p->large_sector == false && be->sector_size != 512)
        return -EINVAL;
    be->front = p->front_domid;
    be->order = p->ring_order;
    be->nr_queues = p->nr_queues;
    be->unit = p->large_sector ? be->sector_size : 512;
    be->persistent = be->cfg.feature_persistent && p->feature_persistent;
    be->vcpu = xensim_guest_vcpu_id();
    __atomic_fetch_add(&be->gen, 1, __ATOMIC_RELEASE);
    memset(&be->st, 0, sizeof(be->st));
    int rc = 0;
    for (unsigned int i = 0; i < be->nr_queues && !rc; i++) {
        struct blkback_queue *q = &be->q[i];
        memset(q, 0, sizeof(*q));
        q->be = be;
        q->idx = i;
        rc = queue_connect(be, q, p);
        BLKBACK_STAT_ADD(be, split_rings, !rc && !q->view.contiguous);
    }
    /* Handlers last, once every queue is complete. Binding set our ports
     * pending, so requests already queued are served right away. */
    for (unsigned int i = 0; i < be->nr_queues && !rc; i++)
        rc = xensim_irq_bind(be->q[i].port, queue_irq, &be->q[i]);
    if (rc) {
        bool was_off = xensim_guest_irq_disabled();
        xensim_guest_irq_disable();
        for (unsigned int i = 0; i < be->nr_queues; i++)
            queue_teardown(&be->q[i]);
        if (!was_off)
            xensim_guest_irq_enable();
        return rc;
    }
    __atomic_store_n(&be->connected, true, __ATOMIC_RELEASE);
    return 0;
}

int xensim_blkback_disconnect(struct blkback *be)
{
    if (!be->connected)
        return 0;
    if (xensim_guest_vcpu_id() != be->vcpu)
        return -EINVAL;
    /* The handlers run on be->vcpu; with our events masked here none can
     * start while the rings go away. */
    bool was_off = xensim_guest_irq_disabled();
    xensim_guest_irq_disable();
    __atomic_fetch_add(&be->gen, 1, __ATOMIC_RELEASE);
    for (unsigned int i = 0; i < be->nr_queues; i++)
        queue_teardown(&be->q[i]);
    __atomic_store_n(&be->connected, false, __ATOMIC_RELEASE);
    if (!was_off)
        xensim_guest_irq_enable();
    return 0;
}

void xensim_blkback_destroy(struct blkback *be)
{
    if (be)
        be_put(be);
}

void xensim_blkback_free_dead(struct blkback *be)
{
    if (be)
        be_free(be);
}
