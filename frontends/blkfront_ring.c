/*
 * blkfront: negotiates with what the back end offers, grants the ring
 * pages, allocates the event channels, takes the responses (in upcall
 * context on the vCPU that set up) and tears down. A response with an id
 * that is not in flight, a mismatched operation or an impossible rsp_prod
 * fails the whole device, never the domain. Relies on <xensim/guest.h> and
 * xenbus.h's ring and grant helpers (grants the back end still maps are
 * ended later, on the domain's deferred list).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>
#include "blkfront.h"

/* How a response is taken off the ring: once, or with the injected
 * second read. */
static const struct blkfront_fetch fetch_once, fetch_twice;

static enum blkfront_state state_get(const struct xensim_blkfront *fe)
{
    return __atomic_load_n(&fe->state, __ATOMIC_ACQUIRE);
}

static void state_set(struct xensim_blkfront *fe, enum blkfront_state s)
{
    __atomic_store_n(&fe->state, s, __ATOMIC_RELEASE);
}

static __thread int in_completion;
/* The plug of this vCPU thread: submissions to plug_fe write the ring but
 * leave req_prod alone until the outermost unplug, which publishes and
 * notifies once (Linux's blk_start_plug). */
static __thread struct xensim_blkfront *plug_fe;
static __thread int plug_depth;

bool blkfront_in_completion(void)
{
    return in_completion > 0;
}

bool blkfront_plugged(const struct xensim_blkfront *fe)
{
    return plug_depth > 0 && plug_fe == fe;
}

void xensim_blkfront_plug(struct xensim_blkfront *fe)
{
    if (plug_depth > 0 && plug_fe != fe)
        return;   /* one device at a time; others push as they go */
    plug_fe = fe;
    plug_depth++;
}

bool blkfront_push_locked(struct blkfront_queue *q)
{
    int notify;
    __atomic_store_n(&q->unpushed, false, __ATOMIC_RELAXED);
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->ring, notify);
    xensim_narrate("blkfront bumps req_prod to %u%s port %u", q->ring.req_prod_pvt,
                   notify ? ", notifies the back end on" : "; no event needed on", q->port);
    return notify;
}

void xensim_blkfront_unplug(struct xensim_blkfront *fe)
{
    if (plug_depth == 0 || plug_fe != fe || --plug_depth > 0)
        return;
    plug_fe = NULL;
    for (unsigned int i = 0; i < fe->nr_queues; i++) {
        struct blkfront_queue *q = &fe->q[i];
        if (!__atomic_load_n(&q->unpushed, __ATOMIC_RELAXED))
            continue;
        bool off = xensim_irqlock_lock(&q->lock);
        bool notify = q->unpushed && state_get(fe) == BLKFRONT_CONNECTED &&
                      blkfront_push_locked(q);
        evtchn_port_t port = q->port;
        xensim_irqlock_unlock(&q->lock, off);
        if (notify) {
            xensim_evtchn_send(port);
            __atomic_fetch_add(&fe->st.notifies, 1, __ATOMIC_RELAXED);
        }
    }
}

int xensim_blkfront_create(const struct xensim_blkfront_config *cfg, struct xensim_blkfront **out)
{
    if (cfg->max_ring_order > XENSIM_BLKIF_MAX_RING_ORDER || cfg->max_queues > XENSIM_BLKIF_MAX_QUEUES)
        return -EINVAL;
    struct xensim_blkfront *fe = calloc(1, sizeof(*fe));
    if (!fe)
        return -ENOMEM;
    fe->cfg = *cfg;
    fe->fetch = cfg->inject_double_fetch ? &fetch_twice : &fetch_once;
    fe->refs = 1;
    for (unsigned int i = 0; i < XENSIM_BLKIF_MAX_QUEUES; i++) {
        fe->q[i].fe = fe;
        fe->q[i].idx = i;
        xensim_irqlock_init(&fe->q[i].lock);
    }
    *out = fe;
    return 0;
}

int xensim_blkfront_set_backend(struct xensim_blkfront *fe, domid_t backend_domid)
{
    if (state_get(fe) != BLKFRONT_IDLE)
        return -EISCONN;
    fe->cfg.backend_domid = backend_domid;
    return 0;
}

struct blkfront_page *blkfront_page_get(struct blkfront_queue *q)
{
    struct xensim_blkfront *fe = q->fe;
    struct blkfront_page *pg = q->pool;
    if (pg) {
        q->pool = pg->next;
        return pg;
    }
    pg = calloc(1, sizeof(*pg));
    if (!pg)
        return NULL;
    if (xensim_guest_page_alloc(&pg->pfn)) {
        free(pg);
        return NULL;
    }
    pg->va = xensim_guest_pfn_to_virt(pg->pfn);
    if (fe->persistent) {
        long ref = xensim_gnttab_grant_access(fe->cfg.backend_domid, pg->pfn, false);
        if (ref < 0) {
            xensim_guest_page_free(pg->pfn);
            free(pg);
            return NULL;
        }
        pg->ref = (grant_ref_t)ref;
        pg->granted = true;
    }
    return pg;
}

void blkfront_page_put(struct blkfront_queue *q, struct blkfront_page *pg)
{
    pg->next = q->pool;
    q->pool = pg;
}

void blkfront_revoke(struct blkfront_queue *q, grant_ref_t ref, struct blkfront_page *pg)
{
    if (xensim_gnttab_end_access(ref) == 0) {
        xensim_gnttab_free_ref(ref);
        if (pg)
            blkfront_page_put(q, pg);
        return;
    }
    /* The back end still maps it: the page cannot be reused until it
     * lets go, so both wait on the domain's deferred list. */
    xensim_xenbus_end_access(ref, pg ? pg->pfn : XENSIM_INVALID_PFN);
    free(pg);
}

void blkfront_shadow_release(struct blkfront_queue *q, struct blkfront_shadow *sh, bool copy_out)
{
    struct xensim_blkfront_io *io = sh->io;
    unsigned int k = 0;

    if (copy_out && sh->nr_pages) {
        size_t left = (size_t)io->nr_sectors * q->fe->unit;
        uint8_t *dst = io->buf;
        for (unsigned int i = 0; i < sh->nr_pages && left; i++) {
            size_t n = left < XEN_PAGE_SIZE ? left : XEN_PAGE_SIZE;
            memcpy(dst, sh->pages[i]->va, n);
            dst += n;
            left -= n;
        }
    }
    /* refs[] holds the direct grants first, then those of the bounce and
     * indirect pages when they are granted per request. */
    unsigned int direct = sh->nr_refs - (q->fe->persistent ? 0 : sh->nr_pages + sh->nr_ind);
    for (; k < direct; k++)
        blkfront_revoke(q, sh->refs[k], NULL);
    for (unsigned int i = 0; i < sh->nr_pages; i++) {
        if (q->fe->persistent)
            blkfront_page_put(q, sh->pages[i]);
        else
            blkfront_revoke(q, sh->refs[k++], sh->pages[i]);
    }
    for (unsigned int i = 0; i < sh->nr_ind; i++) {
        if (q->fe->persistent)
            blkfront_page_put(q, sh->ind[i]);
        else
            blkfront_revoke(q, sh->refs[k++], sh->ind[i]);
    }
    sh->nr_refs = sh->nr_pages = sh->nr_ind = 0;
}

static int status_errno(int16_t st)
{
    if (st == BLKIF_RSP_OKAY)
        return 0;
    return st == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;
}

static void complete_list(struct xensim_blkfront *fe, struct xensim_blkfront_io *list)
{
    if (!list)
        return;
    /* What the callbacks submit goes out in one push per queue. */
    xensim_blkfront_plug(fe);
    in_completion++;
    while (list) {
        struct xensim_blkfront_io *io = list;
        list = io->next_;
        /* Before done(), which may submit io again. */
        void (*done)(struct xensim_blkfront_io *) = io->done;
        __atomic_store_n(&io->completed, true, __ATOMIC_RELEASE);
        if (done)
            done(io);
    }
    in_completion--;
    xensim_blkfront_unplug(fe);
}

/* Ends every request in flight on q with status; returns them as a list. */
static struct xensim_blkfront_io *queue_abort_locked(struct blkfront_queue *q, int status)
{
    struct xensim_blkfront_io *list = NULL;
    for (unsigned int i = 0; i < q->nr_shadow; i++) {
        struct blkfront_shadow *sh = &q->shadow[i];
        if (!sh->io)
            continue;
        struct xensim_blkfront_io *io = sh->io;
        blkfront_shadow_release(q, sh, false);
        io->status = status;
        io->next_ = list;
        list = io;
        sh->io = NULL;
        sh->next_free = q->free_head;
        q->free_head = i;
        q->inflight--;
    }
    return list;
}

/* The back end broke the protocol: stop taking responses on every queue
 * and fail what is in flight. Called without any queue lock. */
static void device_fail(struct xensim_blkfront *fe)
{
    /* Only from Connected: a completion callback may have disconnected
     * since the bad response. */
    enum blkfront_state s = BLKFRONT_CONNECTED;
    if (!__atomic_compare_exchange_n(&fe->state, &s, BLKFRONT_FAILED, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    for (unsigned int i = 0; i < fe->nr_queues; i++) {
        struct blkfront_queue *q = &fe->q[i];
        bool off = xensim_irqlock_lock(&q->lock);
        if (q->port)
            xensim_irq_unbind(q->port);
        struct xensim_blkfront_io *list = queue_abort_locked(q, -EIO);
        xensim_irqlock_unlock(&q->lock, off);
        complete_list(fe, list);
    }
}

static void fe_put(struct xensim_blkfront *fe)
{
    if (__atomic_sub_fetch(&fe->refs, 1, __ATOMIC_ACQ_REL) == 0)
        xensim_blkfront_free_dead(fe);
}

static void queue_work(struct blkfront_queue *q);

/* A completion callback may disconnect and free the device (directly, or
 * through watch callbacks its xenbus calls run): hold it until we are out. */
static void queue_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    struct blkfront_queue *q = arg;
    struct xensim_blkfront *fe = q->fe;
    __atomic_add_fetch(&fe->refs, 1, __ATOMIC_ACQ_REL);
    queue_work(q);
    fe_put(fe);
}

/* One copy, checked and used from then on. */
static void fetch_copy(struct blkfront_queue *q, blkif_response_t *rsp)
{
    blkif_front_ring_t *r = &q->ring;
    if (q->view.contiguous)
        RING_COPY_RESPONSE(r, r->rsp_cons, rsp);
    else
        xensim_blk_ring_read(&q->view, xensim_blk_slot_offset(r->sring, r->rsp_cons, RING_SIZE(r)),
                             rsp, sizeof(*rsp));
}

/* inject_double_fetch: the id taken again from the shared slot. */
static void fetch_copy_then_reread(struct blkfront_queue *q, blkif_response_t *rsp)
{
    fetch_copy(q, rsp);
    if (q->view.contiguous)
        rsp->id = ((volatile blkif_response_t *)RING_GET_RESPONSE(&q->ring, q->ring.rsp_cons))->id;
}

static const struct blkfront_fetch fetch_once = { fetch_copy },
                                   fetch_twice = { fetch_copy_then_reread };

static void queue_work(struct blkfront_queue *q)
{
    struct xensim_blkfront *fe = q->fe;
    struct xensim_blkfront_io *done = NULL, **tail = &done;
    bool bad = false, off;

    off = xensim_irqlock_lock(&q->lock);
    if (state_get(fe) != BLKFRONT_CONNECTED) {
        xensim_irqlock_unlock(&q->lock, off);
        return;
    }
    q->nr_irqs++;
    blkif_front_ring_t *r = &q->ring;
    for (;;) {
        RING_IDX rp = __atomic_load_n(&r->sring->rsp_prod, __ATOMIC_RELAXED);
        xen_rmb();
        if (RING_RESPONSE_PROD_OVERFLOW(r, rp)) {
            xensim_protocol_violation("blkfront: dom%u's rsp_prod %u is past the %u requests "
                                      "pushed", fe->cfg.backend_domid, rp, r->req_prod_pvt);
            bad = true;
            break;
        }
        while (r->rsp_cons != rp) {
            blkif_response_t rsp;
            fe->fetch->fetch(q, &rsp);
            r->rsp_cons++;
            if (rsp.id >= q->nr_shadow || !q->shadow[rsp.id].io ||
                q->shadow[rsp.id].op != rsp.operation) {
                xensim_protocol_violation("blkfront: dom%u answered id %llu (operation %u), "
                                          "which no request in flight has",
                                          fe->cfg.backend_domid, (unsigned long long)rsp.id,
                                          rsp.operation);
                bad = true;
                break;
            }
            struct blkfront_shadow *sh = &q->shadow[rsp.id];
            struct xensim_blkfront_io *io = sh->io;
            xensim_narrate("blkfront takes the response for id %llu: status %d",
                           (unsigned long long)rsp.id, rsp.status);
            io->status = status_errno(rsp.status);
            blkfront_shadow_release(q, sh, io->status == 0 && io->op == BLKIF_OP_READ);
            sh->io = NULL;
            sh->next_free = q->free_head;
            q->free_head = (unsigned int)rsp.id;
            q->inflight--;
            io->next_ = NULL;
            *tail = io;
            tail = &io->next_;
        }
        if (bad)
            break;
        int more;
        /* RING_FINAL_CHECK_FOR_RESPONSES, but with the event set half way
         * through what is still in flight (ring.h: a consumer may batch
         * by setting its event further ahead): each of those responses is
         * owed, so the event is reached, and we wake once per half ring
         * rather than once per push. */
        more = RING_HAS_UNCONSUMED_RESPONSES(r);
        if (!more) {
            RING_IDX ahead = q->inflight / 2 > 1 && fe->cfg.batch_events ? q->inflight / 2 : 1;
            r->sring->rsp_event = r->rsp_cons + ahead;
            xen_mb();
            more = RING_HAS_UNCONSUMED_RESPONSES(r);
        }
        if (!more)
            break;
    }
    xensim_irqlock_unlock(&q->lock, off);
    complete_list(fe, done);
    if (bad)
        device_fail(fe);
}

static void queue_free(struct blkfront_queue *q)
{
    if (q->shadow) {
        for (unsigned int i = 0; i < q->nr_shadow; i++) {
            struct blkfront_shadow *sh = &q->shadow[i];
            /* In flight when the domain died: only host memory to free. */
            for (unsigned int k = 0; sh->io && k < sh->nr_pages; k++)
                free(sh->pages[k]);
            for (unsigned int k = 0; sh->io && k < sh->nr_ind; k++)
                free(sh->ind[k]);
            free(sh->pages);
        }
        free(q->shadow);
    }
    q->shadow = NULL;
    q->nr_shadow = 0;
    while (q->pool) {
        struct blkfront_page *pg = q->pool;
        q->pool = pg->next;
        free(pg);
    }
}

/* Guest side of the teardown of one queue: port, pool pages, ring pages.
 * What the back end still maps is ended later (xensim_xenbus_end_access). */
static void queue_release(struct blkfront_queue *q)
{
    if (q->port) {
        xensim_irq_unbind(q->port);
        xensim_evtchn_close(q->port);
        q->port = 0;
    }
    while (q->pool) {
        struct blkfront_page *pg = q->pool;
        q->pool = pg->next;
        if (pg->granted)
            xensim_xenbus_end_access(pg->ref, pg->pfn);
        else
            xensim_guest_page_free(pg->pfn);
        free(pg);
    }
    if (q->nr_ring_pages)
        xensim_ring_unwatch(q->view.page[0]);
    for (unsigned int i = 0; i < q->nr_ring_pages; i++)
        xensim_xenbus_end_access(q->ring_ref[i], q->ring_pfn[i]);
    q->nr_ring_pages = 0;
}

static int queue_setup(struct xensim_blkfront *fe, struct blkfront_queue *q)
{
    unsigned int pages = 1u << fe->order, n;
    domid_t be = fe->cfg.backend_domid;
    void *va[XENSIM_BLKIF_MAX_RING_PAGES];
    for (n = 0; n < pages; n++) {
        if (xensim_guest_page_alloc(&q->ring_pfn[n]))
            break;
        va[n] = q->view.page[n] = xensim_guest_pfn_to_virt(q->ring_pfn[n]);
    }
    int rc = n < pages ? -ENOMEM : xensim_xenbus_grant_ring(be, va, pages, q->ring_ref);
    if (rc) {
        while (n--)
            xensim_guest_page_free(q->ring_pfn[n]);
        return rc;
    }
    q->nr_ring_pages = pages;
    xensim_blk_ring_view_init(&q->view, pages);
    blkif_sring_t *s = (blkif_sring_t *)q->view.page[0];
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&q->ring, s, (size_t)XEN_PAGE_SIZE * pages);
    XENSIM_RING_INDICES(s);
    /* Named for a stuck run's report and the double-fetch checker; only
     * those are lost if this fails. */
    char name[64];
    struct xensim_ring_geometry g = XENSIM_RING_GEOMETRY(&q->ring);
    snprintf(name, sizeof(name), "vbd queue %u to dom%u (blkfront's end)", q->idx, be);
    xensim_ring_watch(s, &g, name);
    q->nr_shadow = RING_SIZE(&q->ring);
    q->shadow = calloc(q->nr_shadow, sizeof(*q->shadow));
    if (!q->shadow)
        return -ENOMEM;
    /* refs: data segments plus indirect pages; pages: bounce pages. */
    size_t per = fe->max_segs + BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
    for (unsigned int i = 0; i < q->nr_shadow; i++) {
        struct blkfront_shadow *sh = &q->shadow[i];
        /* One block: the pointers first, for their alignment. */
        sh->pages = malloc(fe->max_segs * sizeof(*sh->pages) + per * sizeof(*sh->refs));
        if (!sh->pages)
            return -ENOMEM;
        sh->refs = (grant_ref_t *)(void *)(sh->pages + fe->max_segs);
        sh->next_free = i + 1;
    }
    q->free_head = 0;
    q->inflight = 0;
    __atomic_store_n(&q->unpushed, false, __ATOMIC_RELAXED);
    return xensim_xenbus_alloc_evtchn(be, &q->port);
}

static unsigned int min_u(unsigned int a, unsigned int b)
{
    return a < b ? a : b;
}

int xensim_blkfront_setup(struct xensim_blkfront *fe, const struct xensim_blkif_backend_info *be,
                   struct xensim_blkif_front_params *p)
{
    if (state_get(fe) != BLKFRONT_IDLE)
        return -EISCONN;
    fe->order = min_u(fe->cfg.max_ring_order, be->max_ring_order);
    fe->nr_queues = min_u(fe->cfg.max_queues ? fe->cfg.max_queues : 1,
                          be->max_queues ? be->max_queues : 1);
    if (fe->nr_queues > XENSIM_BLKIF_MAX_QUEUES || fe->order > XENSIM_BLKIF_MAX_RING_ORDER)
        return -EINVAL;
    fe->persistent = fe->cfg.persistent && be->feature_persistent;
    fe->indirect = fe->cfg.max_indirect_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST &&
                   be->max_indirect_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST;
    fe->max_segs = fe->indirect ? min_u(min_u(fe->cfg.max_indirect_segments,
                                              be->max_indirect_segments),
                                        XENSIM_BLKIF_MAX_INDIRECT_SEGS)
                                : BLKIF_MAX_SEGMENTS_PER_REQUEST;
    fe->vcpu = xensim_guest_vcpu_id();
    int rc = 0;
    for (unsigned int i = 0; i < fe->nr_queues && !rc; i++)
        rc = queue_setup(fe, &fe->q[i]);
    /* Grow the grant table now, outside any lock: growing is a hypercall,
     * and submissions under the queue lock should make none (a vCPU the
     * domain's death takes away at a hypercall would leave it held). */
    if (!rc) {
        unsigned int want = fe->nr_queues * fe->q[0].nr_shadow * (fe->max_segs + 8);
        if (want > 8192)
            want = 8192;
        grant_ref_t *refs = malloc(want * sizeof(*refs));
        unsigned int got = 0;
        while (refs && got < want) {
            long ref = xensim_gnttab_alloc_ref();
            if (ref < 0)
                break;
            refs[got++] = (grant_ref_t)ref;
        }
        while (got)
            xensim_gnttab_free_ref(refs[--got]);
        free(refs);
    }
    for (unsigned int i = 0; i < fe->nr_queues && !rc; i++)
        rc = xensim_irq_bind(fe->q[i].port, queue_irq, &fe->q[i]);
    if (rc) {
        bool off = xensim_guest_irq_disabled();
        xensim_guest_irq_disable();
        for (unsigned int i = 0; i < fe->nr_queues; i++) {
            queue_release(&fe->q[i]);
            queue_free(&fe->q[i]);
        }
        if (!off)
            xensim_guest_irq_enable();
        return rc;
    }
    memset(p, 0, sizeof(*p));
    p->front_domid = xensim_guest_domid();
    p->ring_order = fe->order;
    p->nr_queues = fe->nr_queues;
    for (unsigned int i = 0; i < fe->nr_queues; i++) {
        memcpy(p->queue[i].ring_ref, fe->q[i].ring_ref, sizeof(p->queue[i].ring_ref));
        p->queue[i].evtchn = fe->q[i].port;
    }
    p->feature_persistent = fe->cfg.persistent;
    p->large_sector = fe->cfg.large_sector;
    strcpy(p->protocol, XEN_IO_PROTO_ABI_NATIVE);
    state_set(fe, BLKFRONT_SETUP);
    return 0;
}

int xensim_blkfront_connect(struct xensim_blkfront *fe, const struct xensim_blkif_backend_info *be)
{
    if (state_get(fe) != BLKFRONT_SETUP)
        return -EINVAL;
    unsigned int ss = be->sector_size;
    if (ss < 512 || (ss & (ss - 1)) || (!fe->cfg.large_sector && ss != 512) || ss > XEN_PAGE_SIZE)
        return -EINVAL;
    fe->be = *be;
    fe->unit = fe->cfg.large_sector ? ss : 512;
    state_set(fe, BLKFRONT_CONNECTED);
    /* Responses may have come before we were ready for them. */
    for (unsigned int i = 0; i < fe->nr_queues; i++)
        if (xensim_guest_vcpu_id() == fe->vcpu)
            queue_irq(fe->q[i].port, &fe->q[i]);
    return 0;
}

int xensim_blkfront_disconnect(struct xensim_blkfront *fe)
{
    enum blkfront_state s = state_get(fe);
    if (s != BLKFRONT_IDLE) {
        state_set(fe, BLKFRONT_IDLE);
        for (unsigned int i = 0; i < fe->nr_queues; i++) {
            struct blkfront_queue *q = &fe->q[i];
            bool off = xensim_irqlock_lock(&q->lock);
            struct xensim_blkfront_io *list = queue_abort_locked(q, -ENOTCONN);
            queue_release(q);
            xensim_irqlock_unlock(&q->lock, off);
            complete_list(fe, list);
        }
    }
    /* Shadows are rebuilt by the next setup. */
    for (unsigned int i = 0; i < fe->nr_queues; i++) {
        struct blkfront_queue *q = &fe->q[i];
        if (q->shadow) {
            for (unsigned int k = 0; k < q->nr_shadow; k++)
                free(q->shadow[k].pages);
            free(q->shadow);
            q->shadow = NULL;
            q->nr_shadow = 0;
        }
    }
    return (int)xensim_xenbus_deferred_retry();
}

void xensim_blkfront_get_stats(const struct xensim_blkfront *fe, struct xensim_blkfront_stats *st)
{
    *st = (struct xensim_blkfront_stats){
        .notifies = __atomic_load_n(&fe->st.notifies, __ATOMIC_RELAXED),
    };
    for (unsigned int i = 0; i < XENSIM_BLKIF_MAX_QUEUES; i++) {
        struct blkfront_queue *q = (struct blkfront_queue *)&fe->q[i];
        bool off = xensim_irqlock_lock(&q->lock);
        st->requests += q->nr_requests;
        st->irqs += q->nr_irqs;
        xensim_irqlock_unlock(&q->lock, off);
    }
}

bool xensim_blkfront_connected(const struct xensim_blkfront *fe)
{
    return state_get(fe) == BLKFRONT_CONNECTED;
}

bool xensim_blkfront_failed(const struct xensim_blkfront *fe)
{
    return state_get(fe) == BLKFRONT_FAILED;
}

uint64_t xensim_blkfront_sectors(const struct xensim_blkfront *fe)
{
    return fe->be.sectors;
}

unsigned int xensim_blkfront_sector_size(const struct xensim_blkfront *fe)
{
    return fe->be.sector_size;
}

unsigned int xensim_blkfront_nr_queues(const struct xensim_blkfront *fe)
{
    return fe->nr_queues;
}

unsigned int xensim_blkfront_ring_size(const struct xensim_blkfront *fe)
{
    return fe->q[0].nr_shadow;
}

const struct xensim_blkif_backend_info *xensim_blkfront_backend(const struct xensim_blkfront *fe)
{
    return &fe->be;
}

unsigned int xensim_blkfront_inflight(const struct xensim_blkfront *fe)
{
    unsigned int n = 0;
    for (unsigned int i = 0; i < fe->nr_queues; i++)
        n += __atomic_load_n(&fe->q[i].inflight, __ATOMIC_RELAXED);
    return n;
}

void xensim_blkfront_destroy(struct xensim_blkfront *fe)
{
    if (!fe)
        return;
    xensim_blkfront_disconnect(fe);
    xensim_blkfront_free(fe);
}

void xensim_blkfront_free(struct xensim_blkfront *fe)
{
    if (fe)
        fe_put(fe);
}

void xensim_blkfront_free_dead(struct xensim_blkfront *fe)
{
    if (!fe)
        return;
    for (unsigned int i = 0; i < XENSIM_BLKIF_MAX_QUEUES; i++) {
        queue_free(&fe->q[i]);
        xensim_irqlock_destroy(&fe->q[i].lock);
    }
    free(fe);
}

/* Events are delivered to fe->vcpu only: there we block until the upcall
 * has run; another vCPU of the domain yields until the condition holds. */
void blkfront_wait_until(struct xensim_blkfront *fe, bool (*cond)(void *), void *arg)
{
    if (xensim_guest_vcpu_id() != fe->vcpu) {
        while (!cond(arg))
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        return;
    }
    bool was_off = xensim_guest_irq_disabled();
    for (;;) {
        xensim_guest_irq_disable();
        if (cond(arg))
            break;
        /* Blocking unmasks events: an upcall pending since the check
         * makes it return at once and is delivered on the way out. */
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    }
    if (!was_off)
        xensim_guest_irq_enable();
}
