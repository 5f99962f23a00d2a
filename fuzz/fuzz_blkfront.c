/*
 * fuzz_blkfront: the real blkfront against a hostile back end. The back
 * end is harness code in dom0 that maps the ring (one page or two) and
 * answers what the front end pushed with whatever the input says: proper
 * responses with any status, ids never requested or answered twice,
 * wrong operations, rsp_prod far ahead or moving backwards, any index or
 * byte of the shared page rewritten. Each input negotiates its own
 * features (ring order, persistent grants, indirect, flush, discard,
 * barrier) and connects afresh, so a finding replays alone.
 *
 * Findings: a crash or hang; an io that never completes once the device
 * is disconnected, or ends with a status blkfront does not give; a front
 * end that fails, or completes an io with another status than it was
 * sent, while the back end was honest; any port, grant, mapping or page
 * left behind.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/errno.h>
#include <xensim/guest.h>
#include <xensim/io/blkif_ring.h>
#include "fz.h"

#define MAX_IO 32
#define MAX_STEPS 48
#define IO_SECTORS 64                /* at most, per io */
#define DISK_SECTORS 2048

/* A request the back end has seen and not yet answered properly. */
struct pend {
    uint64_t id;
    uint8_t op;
};

static struct {
    struct xensim *sim;
    domid_t front;
    struct fz_acct baseline;
    /* This input's device. */
    struct xensim_blkfront *fe;
    struct xensim_blkif_backend_info info;
    struct xensim_blkif_front_params params;
    unsigned int order;
    int rc;
    /* The front end's ios. */
    struct xensim_blkfront_io io[MAX_IO];
    unsigned int nio;
    uint8_t buf[MAX_IO][IO_SECTORS * 512];
    unsigned int sent[3];            /* proper responses: OKAY, EOPNOTSUPP, others */
    /* The hostile back end. */
    uint64_t addr[2];
    grant_handle_t handle[2];
    struct xensim_blk_ring_view view;
    blkif_back_ring_t ring;
    evtchn_port_t port;
    struct pend pend[64];
    unsigned int npend;
    bool hostile;                    /* it wrote something an honest end would not */
    struct fz_in *in;
} h;

static void harness_fini(void)
{
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    h.sim = fz_sim_new(XENSIM_GNTTAB_FAST);
    struct xensim_domain_config fc = { .name = "front", .nr_pages = 1024 };
    h.front = fz_domain(h.sim, &fc);
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

static void setup_fn(void *arg)
{
    (void)arg;
    h.rc = xensim_blkfront_setup(h.fe, &h.info, &h.params);
}

static void fconnect_fn(void *arg)
{
    (void)arg;
    h.rc = xensim_blkfront_connect(h.fe, &h.info);
}

static void fdisconnect_fn(void *arg)
{
    (void)arg;
    h.rc = xensim_blkfront_disconnect(h.fe);
}

/* dom0: maps the ring pages where it likes and binds the port. */
static void bconnect_fn(void *arg)
{
    (void)arg;
    unsigned int n = 1u << h.order;
    h.rc = 0;
    for (unsigned int i = 0; i < n; i++) {
        gnttab_map_grant_ref_t m = { .flags = GNTMAP_host_map, .dom = h.front,
                                     .ref = h.params.queue[0].ring_ref[i] };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
        FZ_CHECK(rc == 0 && m.status == GNTST_okay, "mapping ring page %u: %ld, %d", i, rc,
                 m.status);
        h.addr[i] = m.host_addr;
        h.handle[i] = m.handle;
        h.view.page[i] = (uint8_t *)(uintptr_t)m.host_addr;
    }
    xensim_blk_ring_view_init(&h.view, n);
    BACK_RING_INIT(&h.ring, (blkif_sring_t *)h.view.page[0], XEN_PAGE_SIZE << h.order);
    long port = xensim_evtchn_bind_interdomain(h.front, h.params.queue[0].evtchn);
    FZ_CHECK(port > 0, "binding the front end's port: %ld", port);
    h.port = (evtchn_port_t)port;
}

static void bclose_fn(void *arg)
{
    (void)arg;
    for (unsigned int i = 0; i < 1u << h.order; i++) {
        gnttab_unmap_grant_ref_t u = { .host_addr = h.addr[i], .handle = h.handle[i] };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        FZ_CHECK(rc == 0 && u.status == GNTST_okay, "unmapping ring page %u", i);
    }
    xensim_evtchn_close(h.port);
}

static void bnotify_fn(void *arg)
{
    (void)arg;
    xensim_evtchn_send(h.port);
}

/* The front end's turn: ios of the kinds the input names. */
static void submit_fn(void *arg)
{
    struct fz_in *in = arg;
    static const uint8_t ops[] = { BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER,
                                   BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD };
    unsigned int n = fz_u8(in) % 4 + 1;
    uint32_t max = xensim_blkfront_max_sectors(h.fe);
    if (max > IO_SECTORS)
        max = IO_SECTORS;
    for (unsigned int k = 0; k < n && h.nio < MAX_IO; k++) {
        if (!xensim_blkfront_connected(h.fe) || xensim_blkfront_inflight(h.fe) >= xensim_blkfront_ring_size(h.fe))
            return;
        uint8_t b = fz_u8(in);
        struct xensim_blkfront_io *io = &h.io[h.nio];
        *io = (struct xensim_blkfront_io){
            .op = ops[b % 5], .secure = b & 0x80, .nr_sectors = fz_u8(in) % max + 1,
            .buf = h.buf[h.nio],
        };
        uint8_t s = fz_u8(in);
        io->sector = s >= 0xf8 ? fz_u64(in) : (uint64_t)s * 8;
        int rc = xensim_blkfront_submit(h.fe, io);
        FZ_TRACE("submit %s sector %llu x%u: %d", xensim_blk_op_name(io->op),
                 (unsigned long long)io->sector, io->nr_sectors, rc);
        FZ_CHECK(rc == 0 || rc == -EOPNOTSUPP || rc == -EINVAL || rc == -E2BIG ||
                 rc == -ENOTCONN, "xensim_blkfront_submit: %d", rc);
        if (rc == 0)
            h.nio++;
    }
}

/* The back end's turn: takes what was pushed, then writes responses. */
static void respond_fn(void *arg)
{
    struct fz_in *in = arg;
    blkif_back_ring_t *r = &h.ring;
    RING_IDX rp = __atomic_load_n(&r->sring->req_prod, __ATOMIC_ACQUIRE);
    /* The front end is honest: what it published is at most a ring. */
    while (r->req_cons != rp && rp - r->req_cons <= RING_SIZE(r) && h.npend < 64) {
        blkif_request_t req;
        xensim_blk_ring_read(&h.view, xensim_blk_slot_offset(r->sring, r->req_cons, RING_SIZE(r)), &req,
                      sizeof(req));
        r->req_cons++;
        h.pend[h.npend].id = req.id;
        h.pend[h.npend++].op = req.operation;
    }
    unsigned int n = fz_u8(in) % 5;
    for (unsigned int k = 0; k < n; k++) {
        uint8_t b = fz_u8(in);
        blkif_response_t rsp = { 0 };
        static const int16_t sts[] = { BLKIF_RSP_OKAY, BLKIF_RSP_ERROR, BLKIF_RSP_EOPNOTSUPP,
                                       BLKIF_RSP_OKAY };
        rsp.status = b & 0x40 ? (int16_t)fz_u16(in) : sts[b & 3];
        if (b < 0xc0 && h.npend) {
            /* Proper: one in flight, any of them. */
            unsigned int i = fz_u8(in) % h.npend;
            rsp.id = h.pend[i].id;
            rsp.operation = h.pend[i].op;
            h.pend[i] = h.pend[--h.npend];
            h.sent[rsp.status == BLKIF_RSP_OKAY ? 0 : rsp.status == BLKIF_RSP_EOPNOTSUPP ? 1 : 2]++;
        } else {
            h.hostile = true;
            rsp.id = b & 8 ? fz_u64(in) : fz_u8(in) % 40;
            rsp.operation = fz_u8(in);
        }
        xensim_blk_ring_write(&h.view, xensim_blk_slot_offset(r->sring, r->rsp_prod_pvt, RING_SIZE(r)), &rsp,
                       sizeof(rsp));
        r->rsp_prod_pvt++;
        FZ_TRACE("respond id %llu op %u status %d", (unsigned long long)rsp.id,
                 rsp.operation, rsp.status);
    }
    uint8_t p = fz_u8(in);
    int notify = 1;
    if (p >= 0xf0) {
        /* Far ahead, or backwards, or anything. */
        RING_IDX bad = p == 0xf0 ? r->rsp_prod_pvt + RING_SIZE(r) + fz_u8(in)
                     : p == 0xf1 ? r->sring->rsp_prod - 1 - fz_u8(in) % 4 : fz_u32(in);
        h.hostile = true;
        xen_wmb();
        __atomic_store_n(&r->sring->rsp_prod, bad, __ATOMIC_RELEASE);
        FZ_TRACE("rsp_prod := %u (pvt %u)", bad, r->rsp_prod_pvt);
    } else {
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(r, notify);
        notify |= p & 1;             /* a needless event, now and then */
    }
    if (notify)
        xensim_evtchn_send(h.port);
}

/* The back end writes what is the front end's in the shared page. */
static void scribble(struct fz_in *in)
{
    blkif_sring_t *s = h.ring.sring;
    uint8_t b = fz_u8(in);
    h.hostile = true;
    switch (b % 4) {
    case 0: __atomic_store_n(&s->req_prod, fz_u32(in), __ATOMIC_RELEASE); break;
    case 1: __atomic_store_n(&s->req_event, fz_u32(in), __ATOMIC_RELEASE); break;
    case 2: __atomic_store_n(&s->rsp_event, fz_u32(in), __ATOMIC_RELEASE); break;
    default: {
        size_t off = fz_u16(in) % ((size_t)XEN_PAGE_SIZE << h.order);
        uint8_t v = fz_u8(in);
        xensim_blk_ring_write(&h.view, off, &v, 1);
    }
    }
}

static void connect_device(struct fz_in *in)
{
    uint8_t c = fz_u8(in);
    h.order = c & 1;
    bool indirect = c & 4;
    h.info = (struct xensim_blkif_backend_info){
        .feature_barrier = c & 32, .feature_flush = c & 8, .feature_discard = c & 16,
        .discard_secure = c & 16 && c & 128, .discard_granularity = 512,
        .feature_persistent = c & 2, .max_indirect_segments = indirect ? 64 : 0,
        .max_ring_order = h.order, .max_queues = 1, .sectors = DISK_SECTORS,
        .sector_size = 512, .physical_sector_size = 512,
    };
    struct xensim_blkfront_config fcfg = {
        .backend_domid = 0, .max_ring_order = h.order, .max_queues = 1,
        .persistent = c & 2, .max_indirect_segments = indirect ? 64 : 0,
        .batch_events = c & 64,
    };
    FZ_CHECK(xensim_blkfront_create(&fcfg, &h.fe) == 0, "xensim_blkfront_create");
    fz_call(h.sim, h.front, 0, setup_fn, NULL);
    FZ_CHECK(h.rc == 0, "xensim_blkfront_setup: %d", h.rc);
    fz_call(h.sim, 0, 0, bconnect_fn, NULL);
    fz_call(h.sim, h.front, 0, fconnect_fn, NULL);
    FZ_CHECK(h.rc == 0, "xensim_blkfront_connect: %d", h.rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    h.nio = 0;
    h.npend = 0;
    h.hostile = false;
    memset(h.sent, 0, sizeof(h.sent));
    connect_device(&in);
    for (unsigned int step = 0; step < MAX_STEPS && !fz_empty(&in); step++) {
        uint8_t c = fz_u8(&in);
        switch (c % 8) {
        case 0: case 1: case 2:
            fz_call(h.sim, h.front, 0, submit_fn, &in);
            break;
        case 3: case 4: case 5:
            fz_call(h.sim, 0, 0, respond_fn, &in);
            fz_call(h.sim, h.front, 0, fz_take_events, NULL);
            break;
        case 6:
            scribble(&in);
            break;
        default:
            fz_call(h.sim, 0, 0, bnotify_fn, NULL);
            fz_call(h.sim, h.front, 0, fz_take_events, NULL);
            break;
        }
    }
    bool failed = xensim_blkfront_failed(h.fe);
    FZ_CHECK(!failed || h.hostile, "blkfront failed the device though the back end was honest");
    /* The back end goes first, as a dying one would; then the front end
     * ends what is left in flight and every grant. */
    fz_call(h.sim, 0, 0, bclose_fn, NULL);
    fz_call(h.sim, h.front, 0, fdisconnect_fn, NULL);
    FZ_CHECK(h.rc == 0, "xensim_blkfront_disconnect left %d grants waiting", h.rc);
    FZ_CHECK(xensim_blkfront_inflight(h.fe) == 0, "%u ios in flight after disconnect",
             xensim_blkfront_inflight(h.fe));
    unsigned int got[3] = { 0 };
    for (unsigned int i = 0; i < h.nio; i++) {
        const struct xensim_blkfront_io *io = &h.io[i];
        FZ_CHECK(__atomic_load_n(&io->completed, __ATOMIC_ACQUIRE), "io %u never completed", i);
        FZ_CHECK(io->status == 0 || io->status == -EIO || io->status == -EOPNOTSUPP ||
                 io->status == -ENOTCONN, "io %u ended with %d", i, io->status);
        if (io->status != -ENOTCONN)
            got[io->status == 0 ? 0 : io->status == -EOPNOTSUPP ? 1 : 2]++;
    }
    /* Honestly answered, each response ends one io with its status; one
     * the front end had not taken yet (it asked for no event) ends with
     * -ENOTCONN at the disconnect. */
    for (unsigned int k = 0; k < 3 && !h.hostile; k++)
        FZ_CHECK(got[k] <= h.sent[k], "%u ios ended with status kind %u, %u were sent", got[k],
                 k, h.sent[k]);
    xensim_blkfront_free(h.fe);
    h.fe = NULL;
    fz_acct_expect(h.sim, &h.baseline, "after the input");
    return 0;
}
