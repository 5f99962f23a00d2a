/*
 * Block device channel, misbehaving ends: a hostile front end writing
 * straight into the ring (bad operations, segments, sectors, grant refs,
 * indirect pages, requests changed after being pushed, overflowing
 * req_prod), a hostile back end (bogus ids, wrong operations, overflowing
 * rsp_prod), and either end killed mid-I/O followed by a reconnect. Each
 * ends with errors or the disconnect of that device only, and the leak
 * check.
 */
#include <pthread.h>
#include <sched.h>
#include <xensim/io/blkif_ring.h>
#include "blk_fixture.h"

#define DISK (1u << 20)

/* A second, well-behaved pair on the same back end domain, to show that
 * a hostile peer only takes its own device down. */
struct bystander {
    struct blk_fix f;
    uint8_t buf[8192];
    int rc;
};

static void bystander_io(void *p)
{
    struct bystander *b = p;
    uint64_t seed = 5;
    blk_fill(b->buf, sizeof(b->buf), &seed);
    b->rc = xensim_blkfront_write(b->f.fe, 16, b->buf, 16);
    if (!b->rc)
        b->rc = xensim_blkfront_read(b->f.fe, 16, b->buf + 4096, 8);
    if (!b->rc && memcmp(b->buf, b->buf + 4096, 4096))
        b->rc = -EILSEQ;
}

static void bystander_start(struct bystander *b, struct xensim *sim, domid_t back)
{
    memset(b, 0, sizeof(*b));
    b->f.sim = sim;
    b->f.back = back;
    b->f.front = blk_guest(sim, "bystander", 1024, 1, XENSIM_GNTTAB_STRICT);
    b->f.bcfg = (struct xensim_blkback_config){ .mem_bytes = DISK };
    b->f.bytes = DISK;
    blk_connect(&b->f);
    th_call(sim, b->f.front, 0, bystander_io, b);
    ck_assert_int_eq(b->rc, 0);
}

static void bystander_check_and_stop(struct bystander *b)
{
    th_call(b->f.sim, b->f.front, 0, bystander_io, b);
    ck_assert_int_eq(b->rc, 0);
    blk_disconnect(&b->f);
    xensim_blkfront_free(b->f.fe);
    xensim_blkback_destroy(b->f.be);
    ck_assert_uint_eq(th_ports_in_use(b->f.sim, b->f.front), 0);
}

/* A front end written by hand: one ring page, a data page granted to the
 * back end read-write and one read-only, an indirect page. */
struct rawfront {
    struct blk_fix *f;
    blkif_sring_t *sring;
    blkif_front_ring_t ring;
    grant_ref_t ring_ref;
    evtchn_port_t port;
    uint8_t *data, *ind;
    grant_ref_t data_ref, data_ro_ref, other_ref, ind_ref;
    int rc;
};

static void rawfront_setup_fn(void *p)
{
    struct rawfront *rf = p;
    domid_t be = rf->f->back;
    xen_pfn_t ring;
    ck_assert_int_eq(xensim_guest_page_alloc(&ring), 0);
    rf->sring = xensim_guest_pfn_to_virt(ring);
    SHARED_RING_INIT(rf->sring);
    FRONT_RING_INIT(&rf->ring, rf->sring, 4096);
    rf->ring_ref = (grant_ref_t)xensim_gnttab_grant_access(be, ring, false);
    xen_pfn_t data;
    ck_assert_int_eq(xensim_guest_page_alloc(&data), 0);
    rf->data = xensim_guest_pfn_to_virt(data);
    rf->data_ref = (grant_ref_t)xensim_gnttab_grant_access(be, data, false);
    rf->data_ro_ref = (grant_ref_t)xensim_gnttab_grant_access(be, data, true);
    rf->other_ref = (grant_ref_t)xensim_gnttab_grant_access(be + 77, data, false);
    xen_pfn_t ind;
    ck_assert_int_eq(xensim_guest_page_alloc(&ind), 0);
    rf->ind = xensim_guest_pfn_to_virt(ind);
    rf->ind_ref = (grant_ref_t)xensim_gnttab_grant_access(be, ind, true);
    rf->port = (evtchn_port_t)xensim_evtchn_alloc_unbound(be);
    struct xensim_blkif_front_params *pp = &rf->f->params;
    memset(pp, 0, sizeof(*pp));
    pp->front_domid = xensim_guest_domid();
    pp->nr_queues = 1;
    pp->queue[0].ring_ref[0] = rf->ring_ref;
    pp->queue[0].evtchn = rf->port;
}

static void rawfront_notify_fn(void *p)
{
    struct rawfront *rf = p;
    rf->rc = (int)xensim_evtchn_send(rf->port);
}

/* Publishes what is in the ring and notifies, as guest code. */
static void rawfront_push(struct rawfront *rf)
{
    RING_PUSH_REQUESTS(&rf->ring);
    th_call(rf->f->sim, rf->f->front, 0, rawfront_notify_fn, rf);
    ck_assert_int_eq(rf->rc, 0);
}

/* Waits for the back end to answer everything pushed; a lost response
 * hangs here and the case's timeout reports it. */
static void rawfront_wait(struct rawfront *rf)
{
    unsigned long spins = 0;
    while (__atomic_load_n(&rf->sring->rsp_prod, __ATOMIC_ACQUIRE) != rf->ring.req_prod_pvt) {
        sched_yield();
        if (++spins == 20000000 && getenv("BLK_DEBUG")) {
            struct xensim_blkback_stats st;
            struct xensim_fault ft;
            xensim_blkback_get_stats(rf->f->be, &st);
            fprintf(stderr, "stuck: req_prod %u rsp_prod %u req_event %u; back %llu reqs "
                    "%llu wakeups, error %d, fault %d\n", rf->sring->req_prod,
                    rf->sring->rsp_prod, rf->sring->req_event,
                    (unsigned long long)st.requests, (unsigned long long)st.wakeups,
                    st.error, xensim_last_fault(rf->f->sim, &ft));
        }
    }
}

static void rawfront_teardown_fn(void *p)
{
    struct rawfront *rf = p;
    xensim_evtchn_close(rf->port);
    grant_ref_t refs[] = { rf->ring_ref, rf->data_ref, rf->data_ro_ref, rf->ind_ref,
                           rf->other_ref };
    rf->rc = 0;
    for (unsigned int i = 0; i < sizeof(refs) / sizeof(refs[0]); i++) {
        rf->rc |= xensim_gnttab_end_access(refs[i]);
        xensim_gnttab_free_ref(refs[i]);
    }
    xensim_guest_page_free(xensim_guest_virt_to_pfn(rf->sring));
    xensim_guest_page_free(xensim_guest_virt_to_pfn(rf->data));
    xensim_guest_page_free(xensim_guest_virt_to_pfn(rf->ind));
}

static struct rawfront *rawfront_new(struct blk_fix *f)
{
    struct rawfront *rf = calloc(1, sizeof(*rf));
    rf->f = f;
    f->sim = th_sim_new();
    f->back = 0;
    f->front = blk_guest(f->sim, "hostile-front", 1024, 1, XENSIM_GNTTAB_STRICT);
    blk_file(f, DISK);
    if (!f->bcfg.max_queues) {
        f->bcfg.feature_barrier = true;
        f->bcfg.feature_discard = true;
        f->bcfg.max_indirect_segments = 64;
    }
    ck_assert_int_eq(xensim_blkback_create(&f->bcfg, &f->be), 0);
    xensim_blkback_info(f->be, &f->info);
    th_call(f->sim, f->front, 0, rawfront_setup_fn, rf);
    th_call(f->sim, f->back, 0, blk_bconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
    return rf;
}

static void rawfront_free(struct rawfront *rf)
{
    struct blk_fix *f = rf->f;
    th_call(f->sim, f->back, 0, blk_bdisconnect_fn, f);
    ck_assert_int_eq(f->rc, 0);
    th_call(f->sim, f->front, 0, rawfront_teardown_fn, rf);
    ck_assert_int_eq(rf->rc, 0);
    xensim_blkback_destroy(f->be);
    ck_assert_uint_eq(th_ports_in_use(f->sim, f->back), 0);
    th_sim_free_checked(f->sim);
    blk_file_remove(f);
    free(rf);
}

/* Rows of (request, expected status). */
enum rq_kind {
    RQ_OP99, RQ_RESERVED, RQ_SEG0, RQ_SEG12, RQ_SEG255, RQ_LAST8, RQ_FIRST_GT_LAST,
    RQ_PAST_END, RQ_WRAP, RQ_BAD_GREF, RQ_FOREIGN_GREF, RQ_READ_INTO_RO, RQ_WRITE_FROM_RO,
    RQ_READ_OK, RQ_IND_SEG0, RQ_IND_SEG_HUGE, RQ_IND_OP, RQ_IND_BAD_GREF, RQ_IND_BAD_SEG,
    RQ_IND_OK, RQ_DISCARD_SECURE, RQ_DISCARD_PAST, RQ_DISCARD_OK, RQ_FLUSH_OFF,
    RQ_BARRIER0, RQ_COUNT
};

static const struct { const char *name; int16_t status; } rq_expect[RQ_COUNT] = {
    [RQ_OP99] = { "operation 99", BLKIF_RSP_EOPNOTSUPP },
    [RQ_RESERVED] = { "RESERVED_1", BLKIF_RSP_EOPNOTSUPP },
    [RQ_SEG0] = { "READ with 0 segments", BLKIF_RSP_ERROR },
    [RQ_SEG12] = { "READ with 12 segments", BLKIF_RSP_ERROR },
    [RQ_SEG255] = { "READ with 255 segments", BLKIF_RSP_ERROR },
    [RQ_LAST8] = { "last_sect 8", BLKIF_RSP_ERROR },
    [RQ_FIRST_GT_LAST] = { "first_sect > last_sect", BLKIF_RSP_ERROR },
    [RQ_PAST_END] = { "sector past the end", BLKIF_RSP_ERROR },
    [RQ_WRAP] = { "sector + length wraps", BLKIF_RSP_ERROR },
    [RQ_BAD_GREF] = { "grant ref never granted", BLKIF_RSP_ERROR },
    [RQ_FOREIGN_GREF] = { "grant ref for another domain", BLKIF_RSP_ERROR },
    [RQ_READ_INTO_RO] = { "READ into a read-only grant", BLKIF_RSP_ERROR },
    [RQ_WRITE_FROM_RO] = { "WRITE from a read-only grant", BLKIF_RSP_OKAY },
    [RQ_READ_OK] = { "valid READ", BLKIF_RSP_OKAY },
    [RQ_IND_SEG0] = { "INDIRECT with 0 segments", BLKIF_RSP_ERROR },
    [RQ_IND_SEG_HUGE] = { "INDIRECT over the limit", BLKIF_RSP_ERROR },
    [RQ_IND_OP] = { "INDIRECT of a FLUSH", BLKIF_RSP_ERROR },
    [RQ_IND_BAD_GREF] = { "INDIRECT page not granted", BLKIF_RSP_ERROR },
    [RQ_IND_BAD_SEG] = { "INDIRECT segment last_sect 9", BLKIF_RSP_ERROR },
    [RQ_IND_OK] = { "valid INDIRECT", BLKIF_RSP_OKAY },
    [RQ_DISCARD_SECURE] = { "secure DISCARD, not offered", BLKIF_RSP_EOPNOTSUPP },
    [RQ_DISCARD_PAST] = { "DISCARD past the end", BLKIF_RSP_ERROR },
    [RQ_DISCARD_OK] = { "valid DISCARD", BLKIF_RSP_OKAY },
    [RQ_FLUSH_OFF] = { "FLUSH, not offered", BLKIF_RSP_EOPNOTSUPP },
    [RQ_BARRIER0] = { "WRITE_BARRIER, 0 segments", BLKIF_RSP_OKAY },
};

static void rq_build(struct rawfront *rf, enum rq_kind k, blkif_request_t *r)
{
    memset(r, 0, sizeof(*r));
    r->id = 1000 + (uint64_t)k;
    r->operation = BLKIF_OP_READ;
    r->nr_segments = 1;
    r->sector_number = 8;
    r->seg[0] = (struct blkif_request_segment){ .gref = rf->data_ref, .first_sect = 0,
                                                .last_sect = 7 };
    blkif_request_indirect_t *ind = (blkif_request_indirect_t *)r;
    blkif_request_discard_t *d = (blkif_request_discard_t *)r;
    struct blkif_request_segment *iseg = (struct blkif_request_segment *)rf->ind;
    switch (k) {
    case RQ_OP99: r->operation = 99; break;
    case RQ_RESERVED: r->operation = BLKIF_OP_RESERVED_1; break;
    case RQ_SEG0: r->nr_segments = 0; break;
    case RQ_SEG12: r->nr_segments = 12; break;
    case RQ_SEG255: r->nr_segments = 255; break;
    case RQ_LAST8: r->seg[0].last_sect = 8; break;
    case RQ_FIRST_GT_LAST: r->seg[0].first_sect = 5; r->seg[0].last_sect = 3; break;
    case RQ_PAST_END: r->sector_number = DISK / 512 - 7; break;
    case RQ_WRAP: r->sector_number = ~0ull - 3; break;
    case RQ_BAD_GREF: r->seg[0].gref = 3000; break;
    case RQ_FOREIGN_GREF: r->seg[0].gref = rf->other_ref; break;
    case RQ_READ_INTO_RO: r->seg[0].gref = rf->data_ro_ref; break;
    case RQ_WRITE_FROM_RO: r->operation = BLKIF_OP_WRITE; r->seg[0].gref = rf->data_ro_ref;
        r->sector_number = 0; break;
    case RQ_READ_OK: break;
    case RQ_IND_SEG0: case RQ_IND_SEG_HUGE: case RQ_IND_OP: case RQ_IND_BAD_GREF:
    case RQ_IND_BAD_SEG: case RQ_IND_OK:
        memset(r, 0, sizeof(*r));
        ind->operation = BLKIF_OP_INDIRECT;
        ind->indirect_op = BLKIF_OP_READ;
        ind->id = 1000 + (uint64_t)k;
        ind->nr_segments = 20;
        ind->sector_number = 0;
        ind->indirect_grefs[0] = rf->ind_ref;
        for (int i = 0; i < 20; i++)
            iseg[i] = (struct blkif_request_segment){ .gref = rf->data_ref, .first_sect = 0,
                                                      .last_sect = 0 };
        if (k == RQ_IND_SEG0)
            ind->nr_segments = 0;
        if (k == RQ_IND_SEG_HUGE)
            ind->nr_segments = 4000;
        if (k == RQ_IND_OP)
            ind->indirect_op = BLKIF_OP_FLUSH_DISKCACHE;
        if (k == RQ_IND_BAD_GREF)
            ind->indirect_grefs[0] = 3001;
        break;
    case RQ_DISCARD_SECURE: case RQ_DISCARD_PAST: case RQ_DISCARD_OK:
        memset(r, 0, sizeof(*r));
        d->operation = BLKIF_OP_DISCARD;
        d->id = 1000 + (uint64_t)k;
        d->sector_number = 64;
        d->nr_sectors = 8;
        if (k == RQ_DISCARD_SECURE)
            d->flag = BLKIF_DISCARD_SECURE;
        if (k == RQ_DISCARD_PAST)
            d->nr_sectors = DISK;
        break;
    case RQ_FLUSH_OFF: r->operation = BLKIF_OP_FLUSH_DISKCACHE; r->nr_segments = 0; break;
    case RQ_BARRIER0: r->operation = BLKIF_OP_WRITE_BARRIER; r->nr_segments = 0; break;
    case RQ_COUNT: break;
    }
}

START_TEST(hostile_front_requests)
{
    struct blk_fix f = { 0 };
    struct rawfront *rf = rawfront_new(&f);
    /* The file holds a known pattern where the valid reads look. */
    uint8_t pat[4096];
    for (int i = 0; i < 4096; i++)
        pat[i] = (uint8_t)(i * 7 + 3);
    int fd = open(f.path, O_WRONLY);
    ck_assert_int_eq(pwrite(fd, pat, sizeof(pat), 4096), 4096);
    close(fd);

    for (int k = 0; k < RQ_COUNT; k++) {
        blkif_request_t r;
        if (k == RQ_IND_BAD_SEG) {
            rq_build(rf, (enum rq_kind)k, &r);
            ((struct blkif_request_segment *)rf->ind)[13].last_sect = 9;
        } else {
            rq_build(rf, (enum rq_kind)k, &r);
        }
        memset(rf->data, 0, 4096);
        *RING_GET_REQUEST(&rf->ring, rf->ring.req_prod_pvt) = r;
        rf->ring.req_prod_pvt++;
        rawfront_push(rf);
        rawfront_wait(rf);
        blkif_response_t rsp = *RING_GET_RESPONSE(&rf->ring, rf->ring.rsp_cons);
        rf->ring.rsp_cons++;
        ck_assert_msg(rsp.id == 1000 + (uint64_t)k, "%s: id %llu", rq_expect[k].name,
                      (unsigned long long)rsp.id);
        ck_assert_msg(rsp.operation == r.operation, "%s: operation", rq_expect[k].name);
        ck_assert_msg(rsp.status == rq_expect[k].status, "%s: status %d, expected %d",
                      rq_expect[k].name, rsp.status, rq_expect[k].status);
        if (k == RQ_READ_OK)
            ck_assert(memcmp(rf->data, pat, 4096) == 0);
    }
    struct xensim_blkback_stats st;
    xensim_blkback_get_stats(f.be, &st);
    ck_assert_int_eq(st.error, XENSIM_BLKBACK_ERR_NONE);
    ck_assert(xensim_blkback_connected(f.be));
    rawfront_free(rf);
}
END_TEST

/* Requests rewritten while the back end serves them: whatever it reads,
 * it checks its own copy, so it answers every id and survives. */
struct mutator {
    struct rawfront *rf;
    bool stop;
    uint64_t seed;
};

static void *mutate(void *p)
{
    struct mutator *m = p;
    blkif_sring_t *s = m->rf->sring;
    static const uint8_t ops[] = { BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_INDIRECT, 77 };
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        uint64_t v = blk_rand(&m->seed);
        blkif_request_t *r = (blkif_request_t *)(void *)((uint8_t *)s + offsetof(blkif_sring_t, ring) +
                                                         (v % 32) * sizeof(s->ring[0]));
        switch ((v >> 8) % 5) {
        case 0: r->operation = ops[(v >> 16) % 4]; break;
        case 1: r->nr_segments = (v >> 16) & 1 ? 1 : (uint8_t)(v >> 24); break;
        case 2: r->seg[0].last_sect = (v >> 16) & 1 ? 7 : (uint8_t)(v >> 24); break;
        case 3: r->seg[0].gref = (v >> 16) & 1 ? m->rf->data_ref : (grant_ref_t)(v >> 24); break;
        case 4: r->sector_number = (v >> 16) & 1 ? 0 : v; break;
        }
    }
    return NULL;
}

START_TEST(hostile_front_changes_requests)
{
    struct blk_fix f = { 0 };
    struct rawfront *rf = rawfront_new(&f);
    struct mutator m = { .rf = rf, .seed = 12345 };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, mutate, &m), 0);
    for (int batch = 0; batch < 200; batch++) {
        for (int i = 0; i < 32; i++) {
            blkif_request_t r;
            rq_build(rf, RQ_READ_OK, &r);
            r.id = (uint64_t)batch * 32 + (uint64_t)i;
            *RING_GET_REQUEST(&rf->ring, rf->ring.req_prod_pvt) = r;
            rf->ring.req_prod_pvt++;
        }
        rawfront_push(rf);
        rawfront_wait(rf);
        /* The mutator also scribbles over the ids of the responses (they
         * share the slots): only the status is ours to check. */
        for (int i = 0; i < 32; i++) {
            blkif_response_t rsp = *RING_GET_RESPONSE(&rf->ring, rf->ring.rsp_cons);
            rf->ring.rsp_cons++;
            ck_assert(rsp.status == BLKIF_RSP_OKAY || rsp.status == BLKIF_RSP_ERROR ||
                      rsp.status == BLKIF_RSP_EOPNOTSUPP);
        }
    }
    __atomic_store_n(&m.stop, true, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    /* Still serving, correctly. */
    blkif_request_t r;
    rq_build(rf, RQ_READ_OK, &r);
    *RING_GET_REQUEST(&rf->ring, rf->ring.req_prod_pvt) = r;
    rf->ring.req_prod_pvt++;
    rawfront_push(rf);
    rawfront_wait(rf);
    ck_assert_int_eq(RING_GET_RESPONSE(&rf->ring, rf->ring.rsp_cons)->status, BLKIF_RSP_OKAY);
    rf->ring.rsp_cons++;
    struct xensim_blkback_stats st;
    xensim_blkback_get_stats(f.be, &st);
    ck_assert_uint_eq(st.requests, 200 * 32 + 1);
    rawfront_free(rf);
}
END_TEST

static int overflow_errors;

static void on_overflow(struct blkback *be, enum xensim_blkback_error err, void *arg)
{
    (void)be;
    (void)arg;
    if (err == XENSIM_BLKBACK_ERR_RING_OVERFLOW)
        __atomic_fetch_add(&overflow_errors, 1, __ATOMIC_RELAXED);
}

/* req_prod beyond what the ring can hold: that device stops, the other
 * device of the same back end domain goes on. */
START_TEST(hostile_front_overflow)
{
    static const uint32_t ahead[] = { 33, 1000000, 0x80000000u };
    struct blk_fix f = { .bcfg = { .max_queues = 1, .on_error = on_overflow } };
    struct rawfront *rf = rawfront_new(&f);
    struct bystander by;
    bystander_start(&by, f.sim, 0);
    overflow_errors = 0;
    rf->sring->req_prod = rf->ring.req_prod_pvt + ahead[_i];
    th_call(f.sim, f.front, 0, rawfront_notify_fn, rf);
    while (!__atomic_load_n(&overflow_errors, __ATOMIC_RELAXED))
        sched_yield();
    struct xensim_blkback_stats st;
    xensim_blkback_get_stats(f.be, &st);
    ck_assert_int_eq(st.error, XENSIM_BLKBACK_ERR_RING_OVERFLOW);
    ck_assert_uint_eq(st.requests, 0);
    /* And the simulator says what broke, and who saw it. */
    struct xensim_protocol_violation pv;
    ck_assert_uint_eq(xensim_protocol_violations(f.sim, &pv), 1);
    ck_assert_uint_eq(pv.domid, f.back);
    char want[160];
    snprintf(want, sizeof(want), "blkback: dom%u's vbd queue 0: req_prod %u is %u past the 32 "
             "requests the ring holds", f.front, rf->sring->req_prod, ahead[_i]);
    ck_assert_str_eq(pv.what, want);
    bystander_check_and_stop(&by);
    rawfront_free(rf);
}
END_TEST

/* A back end written by hand: maps the ring, binds the port, then
 * answers with whatever the row says. */
struct rawback {
    struct blk_fix *f;
    blkif_back_ring_t ring;
    uint64_t addr;
    grant_handle_t handle;
    evtchn_port_t port;
    int rc;
};

static void rawback_connect_fn(void *p)
{
    struct rawback *rb = p;
    struct blk_fix *f = rb->f;
    gnttab_map_grant_ref_t m = { .flags = GNTMAP_host_map, .dom = f->front,
                                 .ref = f->params.queue[0].ring_ref[0] };
    rb->rc = (int)HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
    if (rb->rc || m.status) {
        rb->rc = -1;
        return;
    }
    rb->addr = m.host_addr;
    rb->handle = m.handle;
    BACK_RING_INIT(&rb->ring, (blkif_sring_t *)(uintptr_t)m.host_addr, 4096);
    long port = xensim_evtchn_bind_interdomain(f->front, f->params.queue[0].evtchn);
    rb->rc = port < 0 ? (int)port : 0;
    rb->port = (evtchn_port_t)port;
}

static void rawback_notify_fn(void *p)
{
    struct rawback *rb = p;
    rb->rc = (int)xensim_evtchn_send(rb->port);
}

static void rawback_close_fn(void *p)
{
    struct rawback *rb = p;
    gnttab_unmap_grant_ref_t u = { .host_addr = rb->addr, .handle = rb->handle };
    rb->rc = (int)HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    if (!rb->rc)
        rb->rc = u.status;
    xensim_evtchn_close(rb->port);
}

struct hb_io {
    struct blk_fix *f;
    struct xensim_blkfront_io io[4];
    uint8_t buf[4][4096];
    int rc;
};

static void hb_submit_fn(void *p)
{
    struct hb_io *h = p;
    for (int i = 0; i < 4; i++) {
        h->io[i] = (struct xensim_blkfront_io){ .op = BLKIF_OP_READ, .sector = (uint64_t)i * 8,
                                         .nr_sectors = 8, .buf = h->buf[i] };
        h->rc = xensim_blkfront_submit(h->f->fe, &h->io[i]);
        if (h->rc)
            return;
    }
}

static void hb_submit_more_fn(void *p)
{
    struct hb_io *h = p;
    struct xensim_blkfront_io io = { .op = BLKIF_OP_READ, .nr_sectors = 8, .buf = h->buf[0] };
    h->rc = xensim_blkfront_submit(h->f->fe, &io);
}

enum hb_kind { HB_ID_RANGE, HB_ID_FREE, HB_OP, HB_DUP, HB_PROD_OVERFLOW, HB_COUNT };

START_TEST(hostile_back)
{
    enum hb_kind kind = (enum hb_kind)_i;
    struct blk_fix f = { 0 };
    f.sim = th_sim_new();
    f.back = 0;
    f.front = blk_guest(f.sim, "victim", 1024, 1, XENSIM_GNTTAB_STRICT);
    f.info = (struct xensim_blkif_backend_info){ .sectors = 2048, .sector_size = 512,
                                          .physical_sector_size = 512, .max_queues = 1 };
    f.fcfg = (struct xensim_blkfront_config){ .backend_domid = 0, .max_queues = 1 };
    ck_assert_int_eq(xensim_blkfront_create(&f.fcfg, &f.fe), 0);
    th_call(f.sim, f.front, 0, blk_setup_fn, &f);
    ck_assert_int_eq(f.rc, 0);
    struct rawback rb = { .f = &f };
    th_call(f.sim, 0, 0, rawback_connect_fn, &rb);
    ck_assert_int_eq(rb.rc, 0);
    th_call(f.sim, f.front, 0, blk_fconnect_fn, &f);
    ck_assert_int_eq(f.rc, 0);
    struct bystander by;
    bystander_start(&by, f.sim, 0);

    struct hb_io *h = calloc(1, sizeof(*h));
    h->f = &f;
    th_call(f.sim, f.front, 0, hb_submit_fn, h);
    ck_assert_int_eq(h->rc, 0);
    blkif_sring_t *s = rb.ring.sring;
    while (__atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE) != 4)
        sched_yield();
    /* A proper answer to request 0 first, then the bad one. */
    blkif_request_t req0 = *RING_GET_REQUEST(&rb.ring, 0);
    blkif_response_t *rsp = RING_GET_RESPONSE(&rb.ring, 0);
    *rsp = (blkif_response_t){ .id = req0.id, .operation = req0.operation, .status = 0 };
    blkif_response_t bad = { .id = req0.id, .operation = BLKIF_OP_READ };
    switch (kind) {
    case HB_ID_RANGE: bad.id = 1000; break;
    case HB_ID_FREE: bad.id = 31; break;
    case HB_OP: bad.id = RING_GET_REQUEST(&rb.ring, 1)->id; bad.operation = BLKIF_OP_WRITE; break;
    case HB_DUP: break;
    case HB_PROD_OVERFLOW: case HB_COUNT: break;
    }
    *RING_GET_RESPONSE(&rb.ring, 1) = bad;
    rb.ring.rsp_prod_pvt = kind == HB_PROD_OVERFLOW ? 40 : 2;
    RING_PUSH_RESPONSES(&rb.ring);
    th_call(f.sim, 0, 0, rawback_notify_fn, &rb);
    while (!xensim_blkfront_failed(f.fe))
        sched_yield();
    /* Every request has ended: the one answered properly with its status
     * (unless the whole batch was refused), the others with -EIO. */
    for (int i = 0; i < 4; i++) {
        while (!__atomic_load_n(&h->io[i].completed, __ATOMIC_ACQUIRE))
            sched_yield();
        int want = (i == 0 && kind != HB_PROD_OVERFLOW) ? 0 : -EIO;
        ck_assert_msg(h->io[i].status == want, "io %d: %d", i, h->io[i].status);
    }
    th_call(f.sim, f.front, 0, hb_submit_more_fn, h);
    ck_assert_int_eq(h->rc, -ENOTCONN);
    /* The simulator says what broke, as blkfront saw it. */
    struct xensim_protocol_violation pv;
    ck_assert_uint_eq(xensim_protocol_violations(f.sim, &pv), 1);
    ck_assert_uint_eq(pv.domid, f.front);
    ck_assert_msg(strstr(pv.what, kind == HB_PROD_OVERFLOW ? "blkfront: dom0's rsp_prod 40 is past "
                                                             "the 4 requests pushed"
                                                           : "blkfront: dom0 answered id "),
                  "%s", pv.what);
    /* The front end cannot revoke its ring while the back end maps it. */
    th_call(f.sim, f.front, 0, blk_fdisconnect_fn, &f);
    ck_assert_int_eq(f.rc, 1);
    th_call(f.sim, 0, 0, rawback_close_fn, &rb);
    ck_assert_int_eq(rb.rc, 0);
    th_call(f.sim, f.front, 0, blk_fdisconnect_fn, &f);
    ck_assert_int_eq(f.rc, 0);
    bystander_check_and_stop(&by);
    xensim_blkfront_free(f.fe);
    free(h);
    ck_assert_uint_eq(th_ports_in_use(f.sim, f.front), 0);
    ck_assert_uint_eq(th_ports_in_use(f.sim, 0), 0);
    th_sim_free_checked(f.sim);
}
END_TEST

/* Guest I/O until it fails: each pass writes a block whose content names
 * the pass, then reads it back. Records the last pass that completed. */
struct io_loop {
    struct blk_fix *f;
    uint32_t passes;          /* completed, read by the test thread */
    int rc;
    int call_rc;
    bool done;                /* the loop's domain call returned */
    unsigned int vcpu;
    pthread_t thread;
};

static void io_loop_fn(void *p)
{
    struct io_loop *l = p;
    uint32_t buf[1024], back[1024];
    for (uint32_t pass = 0;; pass++) {
        for (int i = 0; i < 1024; i++)
            buf[i] = pass * 2654435761u + (uint32_t)i;
        uint64_t sector = (uint64_t)(pass % 64) * 8;
        l->rc = xensim_blkfront_write(l->f->fe, sector, buf, 8);
        if (!l->rc)
            l->rc = xensim_blkfront_read(l->f->fe, sector, back, 8);
        if (!l->rc && memcmp(buf, back, sizeof(buf)))
            l->rc = -EILSEQ;
        if (l->rc)
            return;
        __atomic_store_n(&l->passes, pass + 1, __ATOMIC_RELEASE);
    }
}

static void *io_loop_thread(void *p)
{
    struct io_loop *l = p;
    l->call_rc = xensim_domain_call(l->f->sim, l->f->front, l->vcpu, io_loop_fn, l);
    __atomic_store_n(&l->done, true, __ATOMIC_RELEASE);
    return NULL;
}

/* Until the loop completed n passes; a loop that stopped first fails. */
static void wait_passes(struct io_loop *l, uint32_t n)
{
    while (__atomic_load_n(&l->passes, __ATOMIC_ACQUIRE) < n &&
           !__atomic_load_n(&l->done, __ATOMIC_ACQUIRE))
        sched_yield();
    ck_assert_msg(__atomic_load_n(&l->passes, __ATOMIC_ACQUIRE) >= n,
                  "the I/O loop stopped after %u passes: rc %d, call %d", l->passes, l->rc,
                  l->call_rc);
}

/* The front end's domain dies with I/O in flight: the back end unmaps and
 * closes everything, then serves a new front end. */
START_TEST(front_killed_mid_io)
{
    struct blk_fix f = { 0 };
    f.sim = th_sim_new();
    f.back = 0;
    f.front = blk_guest(f.sim, "doomed", 2048, 1, _i ? XENSIM_GNTTAB_FAST : XENSIM_GNTTAB_STRICT);
    blk_file(&f, DISK);
    f.bcfg.feature_persistent = true;
    f.bcfg.max_ring_order = 2;
    f.fcfg = (struct xensim_blkfront_config){ .persistent = true, .max_ring_order = 2 };
    blk_connect(&f);
    struct io_loop l = { .f = &f };
    ck_assert_int_eq(pthread_create(&l.thread, NULL, io_loop_thread, &l), 0);
    wait_passes(&l, 50);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.front), 0);
    pthread_join(l.thread, NULL);
    ck_assert_int_eq(l.call_rc, -ESHUTDOWN);
    th_call(f.sim, 0, 0, blk_bdisconnect_fn, &f);
    ck_assert_int_eq(f.rc, 0);
    xensim_blkfront_free_dead(f.fe);
    f.fe = NULL;
    ck_assert_uint_eq(th_ports_in_use(f.sim, 0), 0);
    struct xensim_domain_info di;
    ck_assert_int_eq(xensim_domain_info(f.sim, 0, &di), 0);
    ck_assert_uint_eq(di.maptrack_in_use, 0);
    /* A new guest takes the disk over; its loop runs on vCPU 1 so that
     * vCPU 0 stays free for the disconnect. */
    f.front = blk_guest(f.sim, "heir", 2048, 2, XENSIM_GNTTAB_STRICT);
    blk_connect(&f);
    struct io_loop l2 = { .f = &f, .vcpu = 1 };
    ck_assert_int_eq(pthread_create(&l2.thread, NULL, io_loop_thread, &l2), 0);
    wait_passes(&l2, 20);
    th_call(f.sim, f.front, 0, blk_fdisconnect_fn, &f);
    ck_assert_int_ge(f.rc, 0);    /* grants the live back end still maps are kept */
    pthread_join(l2.thread, NULL);
    ck_assert_int_eq(l2.call_rc, 0);
    ck_assert_int_eq(l2.rc, -ENOTCONN);
    blk_teardown(&f);
}
END_TEST

/* The back end's domain dies with I/O in flight: the front end fails what
 * was in flight, revokes everything, and reconnects to a new back end on
 * the same file, where every completed write is found. */
START_TEST(back_killed_mid_io)
{
    struct blk_fix f = { 0 };
    f.sim = th_sim_new();
    f.back = blk_guest(f.sim, "driver-domain", 256, 1, XENSIM_GNTTAB_STRICT);
    f.front = blk_guest(f.sim, "guest", 2048, 2, XENSIM_GNTTAB_STRICT);
    blk_file(&f, DISK);
    f.bcfg.feature_persistent = _i == 1;
    f.bcfg.max_indirect_segments = 32;
    f.bcfg.max_queues = 2;
    f.fcfg = (struct xensim_blkfront_config){ .persistent = _i == 1, .max_queues = 2,
                                       .max_indirect_segments = 32 };
    blk_connect(&f);
    struct io_loop l = { .f = &f, .vcpu = 1 };
    ck_assert_int_eq(pthread_create(&l.thread, NULL, io_loop_thread, &l), 0);
    wait_passes(&l, 50);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.back), 0);
    /* What the toolstack's watch would trigger: the front end gives up on
     * this back end. The loop on vCPU 1 sees its I/O fail. */
    th_call(f.sim, f.front, 0, blk_fdisconnect_fn, &f);
    ck_assert_int_eq(f.rc, 0);
    pthread_join(l.thread, NULL);
    ck_assert_int_eq(l.call_rc, 0);
    ck_assert(l.rc == -ENOTCONN || l.rc == -EIO);
    uint32_t done = l.passes;
    xensim_blkback_free_dead(f.be);
    f.be = NULL;
    ck_assert_uint_eq(th_ports_in_use(f.sim, f.front), 0);
    /* dom0 takes over the same file. */
    f.back = 0;
    struct xensim_blkfront *fe = f.fe;
    blk_connect(&f);
    ck_assert_ptr_eq(f.fe, fe);
    /* The last 63 completed passes are on disk, each in its slot (the
     * 64th slot belongs to the pass in flight, which may have landed). */
    int fd = open(f.path, O_RDONLY);
    for (uint32_t pass = done > 63 ? done - 63 : 0; pass < done; pass++) {
        uint32_t got[1024];
        ck_assert_int_eq(pread(fd, got, sizeof(got), (off_t)(pass % 64) * 4096), 4096);
        ck_assert_uint_eq(got[5], pass * 2654435761u + 5);
    }
    close(fd);
    /* The heir serves I/O until the front end disconnects, and what it
     * wrote is in the file. */
    struct io_loop l2 = { .f = &f, .vcpu = 1 };
    ck_assert_int_eq(pthread_create(&l2.thread, NULL, io_loop_thread, &l2), 0);
    wait_passes(&l2, 20);
    th_call(f.sim, f.front, 0, blk_fdisconnect_fn, &f);
    ck_assert_int_ge(f.rc, 0);    /* grants the live back end still maps are kept */
    pthread_join(l2.thread, NULL);
    ck_assert_int_eq(l2.call_rc, 0);
    ck_assert_int_eq(l2.rc, -ENOTCONN);
    ck_assert_uint_ge(l2.passes, 20);
    fd = open(f.path, O_RDONLY);
    for (uint32_t pass = l2.passes > 63 ? l2.passes - 63 : 0; pass < l2.passes; pass++) {
        uint32_t got[1024];
        ck_assert_int_eq(pread(fd, got, sizeof(got), (off_t)(pass % 64) * 4096), 4096);
        ck_assert_uint_eq(got[5], pass * 2654435761u + 5);
    }
    close(fd);
    blk_teardown(&f);
}
END_TEST

static Suite *hostile_suite(void)
{
    Suite *s = suite_create("blk-hostile");
    TCase *tc = tcase_create("hostile-front");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hostile_front_requests);
    tcase_add_test(tc, hostile_front_changes_requests);
    tcase_add_loop_test(tc, hostile_front_overflow, 0, 3);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile-back");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, hostile_back, 0, HB_COUNT);
    suite_add_tcase(s, tc);
    tc = tcase_create("killed");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, front_killed_mid_io, 0, 2);
    tcase_add_loop_test(tc, back_killed_mid_io, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hostile_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
