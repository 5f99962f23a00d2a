/*
 * fuzz_blkback: a fuzzed front end drives the real blkback. The front end
 * is a process of the guest's domain (its rings and pages are guest RAM,
 * its port is the guest's, through <xensim/hostdev.h>). Each input runs
 * on the back end's vCPU, in one guest call: the harness writes requests
 * and notifies, and its next hypercall makes the vCPU take the event, so
 * blkback serves them there and then, with no thread switch and in an
 * order that replays exactly. Five devices, built once: one-
 * and multi-page rings (contiguous and scattered), indirect descriptors,
 * persistent grants, a read-only disk, 4 KiB sectors, and a back end in a
 * driver domain mapping strictly. Each input picks one and writes
 * requests (any operation, segments, sectors, ids, grant refs from the
 * granted set or anywhere), rewrites grants, corrupts indices, rewrites
 * pushed requests, storms events. Findings: a crash, a hang, a response
 * that is not the request's (id, operation, status as blk_model.c works
 * it out), data that moved where no request said, a queue stopped with no
 * reason, and anything left mapped, bound or pinned after the device is
 * reset. Each input starts on a freshly connected device at ring index 0,
 * so every finding replays alone.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include <xensim/hostdev.h>
#include <xensim/trace.h>
#include <xensim/io/blkif_ring.h>
#include <xensim/blkif.h>
#include "blk_model.h"
#include "fz.h"

#define NDEV 5
#define NDATA 8                      /* data pages per device */
#define NPAGES (NDATA + 2)           /* and two indirect pages */
#define NREFS 14
#define MAX_RING_PAGES 4
#define MAX_PUSHES 16
#define MAX_OPS 256
#define DISK_BYTES (64u << 10)
#define MAX_RING_ENTRIES 128         /* __CONST_RING_SIZE(blkif, 4 pages) */

enum back { BACK_DOM0, BACK_DRIVER };

struct dev_cfg {
    const char *name;
    enum back back;
    unsigned int order;
    bool scattered;                  /* ring pages not next to each other */
    bool large_sector;
    struct xensim_blkback_config bcfg;
};

static const struct dev_cfg dev_cfgs[NDEV] = {
    { "one-page", BACK_DOM0, 0, false, false,
      { .feature_barrier = true, .feature_flush = true, .feature_discard = true,
        .max_indirect_segments = 64 } },
    { "multi-page scattered", BACK_DOM0, 2, true, false,
      { .feature_flush = true, .feature_discard = true, .discard_secure = true,
        .max_indirect_segments = 1024, .max_ring_order = 2 } },
    { "persistent", BACK_DOM0, 0, false, false,
      { .feature_persistent = true, .feature_barrier = true, .max_indirect_segments = 32 } },
    { "driver domain, 4 KiB sectors", BACK_DRIVER, 1, false, true,
      { .sector_size = 4096, .feature_discard = true, .max_indirect_segments = 16,
        .max_ring_order = 1 } },
    { "read-only", BACK_DOM0, 0, false, false,
      { .readonly = true, .feature_flush = true, .feature_discard = true } },
};

struct dev {
    const struct dev_cfg *cfg;
    domid_t back;
    struct blkback *be;
    int memfd;
    uint8_t *disk;                   /* the backing memfd, mapped */
    uint8_t model_disk[DISK_BYTES];
    /* The front end's side. */
    unsigned int nr_ring;
    xen_pfn_t ring_pfn[MAX_RING_PAGES], gap_pfn[MAX_RING_PAGES];
    grant_ref_t ring_ref[MAX_RING_PAGES];
    struct xensim_blk_ring_view view;
    blkif_sring_t *sring;
    blkif_front_ring_t ring;
    xen_pfn_t pfn[NPAGES];
    uint8_t *page[NPAGES];
    grant_ref_t ref[NREFS];
    grant_entry_v1_t base[NREFS];    /* the entries as granted */
    evtchn_port_t port;
    struct xensim_blkif_front_params params;
    struct blkm_dev model;
    bool failed;                     /* on_error ran: set on the back end's vCPU */
    bool dirty;                      /* pages or disk may differ from a fresh device's */
};

static struct {
    struct xensim *sim;
    domid_t front, driver;
    struct xensim_evtchn_dev *evdev;
    grant_entry_v1_t *gnttab;
    unsigned int nr_entries;
    unsigned long front_pages;
    struct dev dev[NDEV];
    struct fz_acct baseline;
} h;

static unsigned int ring_size(const struct dev *d)
{
    return RING_SIZE(&d->ring);
}

static domid_t back_domid(const struct dev *d)
{
    return d->cfg->back == BACK_DOM0 ? 0 : h.driver;
}

static void rewrite_tap(struct xensim *sim, const struct xensim_trace_event *ev, void *arg);

static void on_error(struct blkback *be, enum xensim_blkback_error err, void *arg)
{
    (void)be;
    (void)err;
    struct dev *d = arg;
    __atomic_store_n(&d->failed, true, __ATOMIC_RELEASE);
}

/* Guest code in the front end's domain: its pages and grants. */
static void front_setup_fn(void *arg)
{
    struct dev *d = arg;
    domid_t be = back_domid(d);

    d->nr_ring = 1u << d->cfg->order;
    for (unsigned int i = 0; i < d->nr_ring; i++) {
        FZ_CHECK(!xensim_guest_page_alloc(&d->ring_pfn[i]), "ring pages");
        /* A page kept between the ring's pages, so they are not adjacent
         * and the back end must copy straddling slots piecewise. */
        d->gap_pfn[i] = XENSIM_INVALID_PFN;
        if (d->cfg->scattered)
            FZ_CHECK(!xensim_guest_page_alloc(&d->gap_pfn[i]), "gap pages");
        d->view.page[i] = xensim_guest_pfn_to_virt(d->ring_pfn[i]);
        long ref = xensim_gnttab_grant_access(be, d->ring_pfn[i], false);
        FZ_CHECK(ref > 0, "ring grant: %ld", ref);
        d->ring_ref[i] = (grant_ref_t)ref;
    }
    xensim_blk_ring_view_init(&d->view, d->nr_ring);
    d->sring = (blkif_sring_t *)d->view.page[0];
    for (unsigned int i = 0; i < NPAGES; i++) {
        FZ_CHECK(!xensim_guest_page_alloc(&d->pfn[i]), "front pages");
        d->page[i] = xensim_guest_pfn_to_virt(d->pfn[i]);
    }
    /* The granted set: every page read-write, two read-only aliases, one
     * grant to a domain that is not the back end, the indirect pages
     * read-write and one read-only alias of them. */
    struct { unsigned int page; domid_t to; bool ro; } g[NREFS] = {
        { 0, be, false }, { 1, be, false }, { 2, be, false }, { 3, be, false },
        { 4, be, false }, { 5, be, false }, { 6, be, false }, { 7, be, false },
        { 0, be, true }, { 1, be, true }, { 2, (domid_t)(be + 5), false },
        { NDATA, be, false }, { NDATA + 1, be, false }, { NDATA, be, true },
    };
    for (unsigned int i = 0; i < NREFS; i++) {
        long ref = xensim_gnttab_grant_access(g[i].to, d->pfn[g[i].page], g[i].ro);
        FZ_CHECK(ref > 0, "data grant: %ld", ref);
        d->ref[i] = (grant_ref_t)ref;
    }
    h.gnttab = xensim_gnttab_entries(&h.nr_entries);
    for (unsigned int i = 0; i < NREFS; i++)
        d->base[i] = h.gnttab[d->ref[i]];
}

/* The shared ring as a front end makes it before it connects. */
static void ring_init(struct dev *d)
{
    for (unsigned int i = 0; i < d->nr_ring; i++)
        memset(d->view.page[i], 0, XEN_PAGE_SIZE);
    SHARED_RING_INIT(d->sring);
    FRONT_RING_INIT(&d->ring, d->sring, (size_t)XEN_PAGE_SIZE * d->nr_ring);
}

static void back_connect(struct dev *d)
{
    d->failed = false;
    int rc = xensim_blkback_connect(d->be, &d->params);
    FZ_CHECK(rc == 0, "%s: xensim_blkback_connect: %s", d->cfg->name, xensim_strerror(rc));
}

static void back_connect_fn(void *arg)
{
    back_connect(arg);
}

static void dev_setup(struct dev *d)
{
    char path[64];

    d->back = back_domid(d);
    fz_call(h.sim, h.front, 0, front_setup_fn, d);
    long port = xensim_evtchn_dev_bind_unbound(h.evdev, d->back);
    FZ_CHECK(port > 0, "front port: %ld", port);
    d->port = (evtchn_port_t)port;
    d->memfd = fz_memfd("fuzz-blk", DISK_BYTES, &d->disk, path, sizeof(path));
    struct xensim_blkback_config bc = d->cfg->bcfg;
    bc.path = path;
    bc.on_error = on_error;
    bc.on_error_arg = d;
    int rc = xensim_blkback_create(&bc, &d->be);
    FZ_CHECK(rc == 0, "xensim_blkback_create: %s", xensim_strerror(rc));
    struct xensim_blkif_front_params *p = &d->params;
    p->front_domid = h.front;
    p->ring_order = d->cfg->order;
    p->nr_queues = 1;
    for (unsigned int i = 0; i < d->nr_ring; i++)
        p->queue[0].ring_ref[i] = d->ring_ref[i];
    p->queue[0].evtchn = d->port;
    p->feature_persistent = d->cfg->bcfg.feature_persistent;
    p->large_sector = d->cfg->large_sector;
    ring_init(d);
    fz_call(h.sim, d->back, 0, back_connect_fn, d);
    FZ_CHECK(ring_size(d) <= MAX_RING_ENTRIES, "ring of %u entries", ring_size(d));
    const struct xensim_blkback_config *c = &d->cfg->bcfg;
    d->model = (struct blkm_dev){
        .readonly = c->readonly, .barrier = c->feature_barrier, .flush = c->feature_flush,
        .discard = c->feature_discard, .discard_secure = c->feature_discard && c->discard_secure,
        .persistent = c->feature_persistent, .max_indirect = c->max_indirect_segments,
        .unit = d->cfg->large_sector ? c->sector_size : 512, .disk_bytes = DISK_BYTES,
        .backend = d->back, .gnttab = h.gnttab, .nr_entries = h.nr_entries,
        .nr_pages = h.front_pages, .nr_known = NPAGES, .known_pfn = d->pfn,
    };
}

static void teardown_fn(void *arg)
{
    struct dev *d = arg;
    xensim_blkback_disconnect(d->be);
}

static void front_teardown_fn(void *arg)
{
    struct dev *d = arg;
    for (unsigned int i = 0; i < NREFS; i++) {
        h.gnttab[d->ref[i]] = d->base[i];
        FZ_CHECK(xensim_gnttab_end_access(d->ref[i]) == 0, "grant still in use at teardown");
        xensim_gnttab_free_ref(d->ref[i]);
    }
    for (unsigned int i = 0; i < d->nr_ring; i++) {
        FZ_CHECK(xensim_gnttab_end_access(d->ring_ref[i]) == 0, "ring still mapped");
        xensim_gnttab_free_ref(d->ring_ref[i]);
        xensim_guest_page_free(d->ring_pfn[i]);
        if (d->gap_pfn[i] != XENSIM_INVALID_PFN)
            xensim_guest_page_free(d->gap_pfn[i]);
    }
    for (unsigned int i = 0; i < NPAGES; i++)
        xensim_guest_page_free(d->pfn[i]);
}

/* At exit: every device down, then the project's teardown check. */
static void harness_fini(void)
{
    for (unsigned int i = 0; i < NDEV; i++) {
        struct dev *d = &h.dev[i];
        fz_call(h.sim, d->back, 0, teardown_fn, d);
        xensim_blkback_destroy(d->be);
        xensim_evtchn_dev_unbind(h.evdev, d->port);
        fz_call(h.sim, h.front, 0, front_teardown_fn, d);
    }
    xensim_evtchn_dev_close(h.evdev);
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    h.sim = fz_sim_new(XENSIM_GNTTAB_FAST);
    struct xensim_domain_config fc = { .name = "front", .nr_pages = 512 };
    h.front = fz_domain(h.sim, &fc);
    h.front_pages = fc.nr_pages;
    struct xensim_domain_config dc = { .name = "driver", .gnttab_mode = XENSIM_GNTTAB_STRICT };
    h.driver = fz_domain(h.sim, &dc);
    h.evdev = xensim_evtchn_dev_open(h.sim, h.front);
    FZ_CHECK(h.evdev, "evtchn dev");
    for (unsigned int i = 0; i < NDEV; i++) {
        h.dev[i].cfg = &dev_cfgs[i];
        dev_setup(&h.dev[i]);
    }
    /* The table grew while the devices were granted. */
    for (unsigned int i = 0; i < NDEV; i++)
        h.dev[i].model.nr_entries = h.nr_entries;
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

/* How much of what blkback answers can be known, strongest first. */
enum check {
    CHECK_FULL,                      /* the model's statuses and data */
    CHECK_COUNT,                     /* each request answered once, well formed */
    CHECK_COUNT_ONLY,                /* each answered once; the slots rewritten since */
    CHECK_FORM,                      /* indices broken: well-formed answers only */
};

/* What one input did to its device, for checking after each barrier. */
struct push {
    unsigned int n;                  /* requests written, not yet checked */
    blkif_request_t req[MAX_RING_ENTRIES];
    uint8_t snap[NPAGES][XEN_PAGE_SIZE];  /* the pages when they were published */
    enum check check;                /* for this push */
    bool wild;                       /* indices broken: CHECK_FORM from now on */
    bool rsp_untrusted;              /* the front end wrote rsp_prod or answer slots itself */
    bool grants_moved;               /* persistent grants rewritten: CHECK_COUNT */
    unsigned int pushes;
};

static struct push ps;

/* A grant ref: mostly one of the device's, sometimes its ring's, or any. */
static grant_ref_t pick_ref(struct fz_in *in, const struct dev *d)
{
    uint8_t b = fz_u8(in);
    if (b < 0xe0)
        return d->ref[b % NREFS];
    if (b < 0xf0)
        return d->ring_ref[b % d->nr_ring];
    return fz_u32(in);
}

static uint64_t pick_u64(struct fz_in *in)
{
    uint8_t b = fz_u8(in);
    return b == 0xff ? fz_u64(in) : b;
}

/* A segment: one byte gives first and last sector in the common case. */
static void pick_seg(struct fz_in *in, const struct dev *d, struct blkif_request_segment *s)
{
    s->gref = pick_ref(in, d);
    uint8_t b = fz_u8(in);
    if ((b & 0xc0) == 0xc0) {
        s->first_sect = fz_u8(in);
        s->last_sect = fz_u8(in);
    } else if (d->model.unit == XEN_PAGE_SIZE) {
        s->first_sect = s->last_sect = b & 1;
    } else {
        s->first_sect = b & 7;
        s->last_sect = (b >> 3) & 7;
    }
}

static const uint8_t ops[8] = {
    BLKIF_OP_READ, BLKIF_OP_READ, BLKIF_OP_WRITE, BLKIF_OP_WRITE, BLKIF_OP_WRITE_BARRIER,
    BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT,
};

/* Builds one request from the input and writes it at req_prod_pvt. */
static void op_request(struct fz_in *in, struct dev *d)
{
    d->dirty = true;
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    uint8_t sel = fz_u8(in);
    r.operation = sel >= 0xf0 ? fz_u8(in) : ops[sel % 8];
    r.id = pick_u64(in);
    r.sector_number = pick_u64(in);
    if (r.operation == BLKIF_OP_DISCARD) {
        blkif_request_discard_t *dr = (blkif_request_discard_t *)&r;
        dr->flag = fz_u8(in);
        dr->nr_sectors = pick_u64(in);
    } else if (r.operation == BLKIF_OP_INDIRECT) {
        blkif_request_indirect_t *ir = (blkif_request_indirect_t *)&r;
        uint8_t op = fz_u8(in);
        ir->indirect_op = op >= 0xf0 ? fz_u8(in) : (op & 1 ? BLKIF_OP_WRITE : BLKIF_OP_READ);
        uint8_t nb = fz_u8(in);
        ir->nr_segments = nb >= 0xf0 ? fz_u16(in) : nb % 40;
        ir->sector_number = r.sector_number;
        ir->id = r.id;
        const unsigned int per = XEN_PAGE_SIZE / sizeof(struct blkif_request_segment);
        unsigned int pages = (ir->nr_segments + per - 1) / per;
        if (pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
            pages = BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
        for (unsigned int p = 0; p < pages; p++) {
            /* Mostly the indirect page the descriptors below go to,
             * sometimes its read-only alias, or any ref. */
            uint8_t b = fz_u8(in);
            ir->indirect_grefs[p] = b < 0x80 ? d->ref[11 + (p & 1)]
                                  : b < 0xc0 ? d->ref[13] : pick_ref(in, d);
        }
        /* The first descriptors come from the input, into the indirect
         * pages the front end owns; the rest are whatever those pages
         * hold. */
        unsigned int k = ir->nr_segments < 24 ? ir->nr_segments : 24;
        for (unsigned int s = 0; s < k; s++) {
            struct blkif_request_segment seg;
            pick_seg(in, d, &seg);
            memcpy(d->page[NDATA + (s / per) % 2] + (s % per) * sizeof(seg), &seg, sizeof(seg));
        }
    } else {
        uint8_t nb = fz_u8(in);
        r.nr_segments = nb >= 0xf0 ? fz_u8(in) : nb % 13;
        unsigned int k = r.nr_segments < BLKIF_MAX_SEGMENTS_PER_REQUEST ? r.nr_segments
                                                                       : BLKIF_MAX_SEGMENTS_PER_REQUEST;
        for (unsigned int s = 0; s < k; s++)
            pick_seg(in, d, &r.seg[s]);
    }
    RING_IDX i = d->ring.req_prod_pvt++;
    FZ_TRACE("request %u: op %u id %llu sector %llu nr_segments %u seg0 (ref %u, %u-%u)", i,
             r.operation, (unsigned long long)r.id, (unsigned long long)r.sector_number,
             r.nr_segments, r.seg[0].gref, r.seg[0].first_sect, r.seg[0].last_sect);
    xensim_blk_ring_write(&d->view, xensim_blk_slot_offset(d->sring, i, ring_size(d)), &r, sizeof(r));
    ps.req[ps.n++] = r;
}

static void notify(struct dev *d)
{
    FZ_TRACE("notify (req_prod %u)", d->sring->req_prod);
    int rc = xensim_evtchn_dev_notify(h.evdev, d->port);
    FZ_CHECK(rc == 0, "notify: %s", xensim_strerror(rc));
}

/* We run on the back end's vCPU: this takes the event notify() raised. */
static void barrier(struct dev *d)
{
    (void)d;
    fz_take_events(NULL);
}

static blkif_response_t response(struct dev *d, RING_IDX i)
{
    blkif_response_t rsp;
    xensim_blk_ring_read(&d->view, xensim_blk_slot_offset(d->sring, i, ring_size(d)), &rsp, sizeof(rsp));
    return rsp;
}

/* The model's copy of the state when the requests were published. */
static void snapshot(struct dev *d)
{
    for (unsigned int i = 0; i < NPAGES; i++)
        memcpy(ps.snap[i], d->page[i], XEN_PAGE_SIZE);
}

static void model_resync(struct dev *d)
{
    memcpy(d->model_disk, d->disk, DISK_BYTES);
}

static void check_form(struct dev *d, RING_IDX from, RING_IDX to)
{
    for (RING_IDX i = from; i != to; i++) {
        blkif_response_t rsp = response(d, i);
        FZ_CHECK(rsp.status <= 0 && rsp.status >= BLKIF_RSP_EOPNOTSUPP,
                 "%s: response status %d", d->cfg->name, rsp.status);
    }
}

/* The front end took the responses up to rp and asks to hear of the next
 * one, as RING_FINAL_CHECK_FOR_RESPONSES does: every index the back end
 * sees is then relative to where the ring is. */
static void consume(struct dev *d, RING_IDX rp)
{
    d->ring.rsp_cons = rp;
    d->sring->rsp_event = rp + 1;
    ps.n = 0;
}

/* After a barrier: every request published has its response, in order,
 * and the disk and pages are what the model says. */
static void verify(struct dev *d)
{
    RING_IDX rp = __atomic_load_n(&d->sring->rsp_prod, __ATOMIC_ACQUIRE);
    bool failed = __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
    /* The weakest check any reason calls for (the enum is in order). */
    enum check check = ps.check;
    if (ps.grants_moved && check < CHECK_COUNT)
        check = CHECK_COUNT;
    if (ps.wild)
        check = CHECK_FORM;
    static int16_t want[MAX_RING_ENTRIES];
    uint8_t *pages[NPAGES];
    struct blkm_state st = { .page = pages, .disk = d->model_disk };

    /* The model first: a request it cannot follow used a grant of some
     * other page of the front end's, maybe a ring page, which a read may
     * have overwritten; from then on only the form can be checked. */
    for (unsigned int i = 0; i < NPAGES; i++)
        pages[i] = ps.snap[i];
    for (unsigned int k = 0; k < ps.n && check == CHECK_FULL; k++)
        if (blkm_request(&d->model, &ps.req[k], &st, &want[k]) == BLKM_UNKNOWN) {
            ps.wild = true;
            check = CHECK_FORM;
        }
    for (unsigned int k = 0; k < ps.n && (check == CHECK_COUNT || check == CHECK_COUNT_ONLY); k++)
        if (blkm_reaches_unknown(&d->model, &ps.req[k], &st)) {
            ps.wild = true;
            check = CHECK_FORM;
        }
    if (check == CHECK_FORM) {
        /* Indices were broken on purpose: no promise but the form, and
         * no more answers than slots since the last look. */
        if (!ps.rsp_untrusted) {
            FZ_CHECK(rp - d->ring.rsp_cons <= ring_size(d),
                     "%s: rsp_prod %u runs %u past rsp_cons", d->cfg->name, rp,
                     rp - d->ring.rsp_cons);
            check_form(d, d->ring.rsp_cons, rp);
        }
        consume(d, rp);
        model_resync(d);
        return;
    }
    FZ_TRACE("verify: rsp_prod %u, %u requests, check %d%s", rp, ps.n, check,
             failed ? ", queue stopped" : "");
    FZ_CHECK(!failed, "%s: blkback stopped the queue of a well-behaved ring", d->cfg->name);
    FZ_CHECK(rp == d->ring.req_prod_pvt, "%s: %u requests pushed, rsp_prod %u after the barrier",
             d->cfg->name, d->ring.req_prod_pvt, rp);
    if (check != CHECK_COUNT_ONLY)
        check_form(d, d->ring.rsp_cons, rp);
    if (check != CHECK_FULL) {
        consume(d, rp);
        model_resync(d);
        return;
    }
    for (unsigned int k = 0; k < ps.n; k++) {
        const blkif_request_t *r = &ps.req[k];
        blkif_response_t rsp = response(d, d->ring.rsp_cons + k);
        FZ_CHECK(rsp.id == r->id && rsp.operation == r->operation,
                 "%s: response %u is (id %llu, op %u) for request (id %llu, op %u)",
                 d->cfg->name, k, (unsigned long long)rsp.id, rsp.operation,
                 (unsigned long long)r->id, r->operation);
        FZ_CHECK(rsp.status == want[k], "%s: request %u (op %u, id %llu, sector %llu, %u segs): "
                 "status %d, the protocol says %d", d->cfg->name, k, r->operation,
                 (unsigned long long)r->id, (unsigned long long)r->sector_number,
                 r->nr_segments, rsp.status, want[k]);
    }
    for (unsigned int i = 0; i < NPAGES; i++)
        FZ_CHECK(!memcmp(pages[i], d->page[i], XEN_PAGE_SIZE),
                 "%s: page %u of the front end is not what the requests made it",
                 d->cfg->name, i);
    /* One compare of the whole disk; sector by sector only to name the
     * first that differs (128 small compares cost more than the big one). */
    if (memcmp(d->model_disk, d->disk, DISK_BYTES))
        for (size_t off = 0; off < DISK_BYTES; off += 512)
            FZ_CHECK(!memcmp(d->model_disk + off, d->disk + off, 512),
                     "%s: disk sector %zu is not what the requests made it", d->cfg->name,
                     off / 512);
    consume(d, rp);
}

/* Publishes what was written, notifies, and waits for the answers. */
static void push(struct dev *d)
{
    snapshot(d);
    RING_PUSH_REQUESTS(&d->ring);
    notify(d);
    barrier(d);
    verify(d);
    ps.pushes++;
}

static void op_fill(struct fz_in *in, struct dev *d)
{
    d->dirty = true;
    unsigned int p = fz_u8(in) % NPAGES;
    unsigned int at = fz_u8(in) * 16u, len = fz_u8(in) * 16u + 16;
    uint8_t v = fz_u8(in);
    if (at + len > XEN_PAGE_SIZE)
        len = XEN_PAGE_SIZE - at;
    for (unsigned int i = 0; i < len; i++)
        d->page[p][at + i] = (uint8_t)(v + i);
}

/* Rewrites a grant entry as a guest may, at any time. A persistent grant
 * stays mapped across requests and outlives a later change of its entry
 * (Xen checks an entry when it is first pinned), which the model does not
 * follow: on that device only the answers' count and form are checked
 * from then on. */
static void op_grant(struct fz_in *in, struct dev *d)
{
    unsigned int r = fz_u8(in) % NREFS;
    uint8_t what = fz_u8(in);
    FZ_TRACE("grant ref %u: change %u", d->ref[r], what % 4);
    if (d->cfg->bcfg.feature_persistent)
        ps.grants_moved = true;
    grant_entry_v1_t *e = &h.gnttab[d->ref[r]];
    switch (what % 4) {
    case 0:
        __atomic_store_n(&e->flags, fz_u16(in), __ATOMIC_RELEASE);
        break;
    case 1:
        e->domid = fz_u8(in) & 1 ? d->back : fz_u16(in);
        break;
    case 2: {
        uint8_t b = fz_u8(in);
        e->frame = b < 0x80 ? (uint32_t)d->pfn[b % NPAGES] : fz_u32(in) | 0x80000000u;
        break;
    }
    default:
        *e = d->base[r];
    }
}

/* Indices a hostile front end writes: the producer far ahead or behind,
 * or the event indices, each relative to where the ring is so that an
 * input does the same whatever the inputs before it left there. What
 * follows is checked for form only. */
static void op_corrupt(struct fz_in *in, struct dev *d)
{
    uint8_t what = fz_u8(in);
    uint32_t v = fz_u32(in);
    blkif_sring_t *s = d->sring;
    d->dirty = true;
    FZ_TRACE("corrupt index %u with %u", what % 5, v);
    switch (what % 5) {
    case 0:
        __atomic_store_n(&s->req_prod, d->ring.req_prod_pvt + v, __ATOMIC_RELEASE);
        break;
    case 1:
        __atomic_store_n(&s->req_prod, d->ring.req_prod_pvt - (v & 0xff), __ATOMIC_RELEASE);
        break;
    case 2:
        s->rsp_event = d->ring.rsp_cons + v;
        break;
    case 3:
        s->req_event = d->ring.req_prod_pvt + v;
        break;
    default:
        s->rsp_prod = d->ring.rsp_cons + v;
        ps.rsp_untrusted = true;
    }
    ps.wild = true;
    notify(d);
    barrier(d);
    verify(d);
}

/*
 * A request rewritten after it was pushed, while the back end serves it:
 * armed here, done by rewrite_tap() at the back end's first grant map of
 * the push, when it has copied the request it maps for and not yet the
 * ones after. A back end that looked at a slot twice would see the junk.
 */
static struct {
    struct dev *d;                   /* armed for this device */
    RING_IDX from, to;
    uint8_t junk[sizeof(blkif_request_t)];
    /* rewrite_tap is subscribed only for an input that rewrites: with a
     * subscriber, every trace point in the simulator builds its event,
     * which cost other inputs a tenth of their time. */
    bool tapped;
} rewrite;

static void rewrite_tap(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)sim;
    (void)arg;
    struct dev *d = rewrite.d;
    if (!d || ev->kind != XENSIM_TRACE_MAP || ev->domid != d->back)
        return;
    for (RING_IDX i = rewrite.from; i != rewrite.to; i++)
        xensim_blk_ring_write(&d->view, xensim_blk_slot_offset(d->sring, i, ring_size(d)), rewrite.junk,
                       sizeof(rewrite.junk));
    rewrite.d = NULL;
}

static void op_rewrite(struct fz_in *in, struct dev *d)
{
    rewrite.from = d->ring.req_prod_pvt - ps.n;
    rewrite.to = d->ring.req_prod_pvt;
    fz_bytes(in, rewrite.junk, sizeof(rewrite.junk));
    d->dirty = true;
    FZ_TRACE("rewrite slots %u..%u at the first map", rewrite.from, rewrite.to);
    /* The junk is a request too: if it names a page the model does not
     * follow, a read may write a ring with it. */
    blkif_request_t jr;
    memcpy(&jr, rewrite.junk, sizeof(jr));
    uint8_t *pages[NPAGES];
    for (unsigned int i = 0; i < NPAGES; i++)
        pages[i] = d->page[i];
    struct blkm_state st = { .page = pages, .disk = d->model_disk };
    if (blkm_reaches_unknown(&d->model, &jr, &st))
        ps.wild = true;
    /* The junk may land on answers already written. */
    ps.rsp_untrusted = true;
    if (!rewrite.tapped) {
        FZ_CHECK(xensim_trace_subscribe(h.sim, rewrite_tap, NULL) == 0, "trace subscribe");
        rewrite.tapped = true;
    }
    rewrite.d = d;
    snapshot(d);
    RING_PUSH_REQUESTS(&d->ring);
    notify(d);
    barrier(d);
    rewrite.d = NULL;
    /* Whatever the back end copied, it answers each slot once; the junk
     * may have landed on its answers too, so only the count is checked. */
    ps.check = CHECK_COUNT_ONLY;
    verify(d);
    ps.check = CHECK_FULL;
    ps.pushes++;
}

static void op_storm(struct fz_in *in, struct dev *d)
{
    unsigned int k = fz_u8(in) % 64 + 1;
    for (unsigned int i = 0; i < k; i++)
        notify(d);
    barrier(d);
    if (!ps.wild)
        FZ_CHECK(!__atomic_load_n(&d->failed, __ATOMIC_ACQUIRE),
                 "%s: an event storm stopped the queue", d->cfg->name);
}

/*
 * After the last barrier: nothing is mapped but the rings and the
 * persistent grants, and the grants are put back as granted. A device in
 * good order is then brought to a ring index that is a multiple of the
 * ring's size, with requests the back end must refuse at once, so the
 * next input finds every slot where a fresh ring would have it: replays
 * are exact without the cost of a reconnect. One that was broken, or
 * holds persistent grants, goes down and comes back on a fresh ring.
 */
static void reset(struct dev *d)
{
    struct xensim_blkback_stats st;

    xensim_blkback_get_stats(d->be, &st);
    for (unsigned int i = 0; i < NREFS; i++)
        h.gnttab[d->ref[i]] = d->base[i];
    bool broken = ps.wild || __atomic_load_n(&d->failed, __ATOMIC_ACQUIRE);
    if (!broken && !st.persistent_grants) {
        RING_IDX pad = (RING_IDX)-d->ring.req_prod_pvt % ring_size(d);
        if (!pad && !d->dirty)
            return;
        blkif_request_t r = { .operation = 0xff, .id = 0xfeed };
        for (RING_IDX k = 0; k < pad; k++) {
            RING_IDX i = d->ring.req_prod_pvt++;
            xensim_blk_ring_write(&d->view, xensim_blk_slot_offset(d->sring, i, ring_size(d)), &r, sizeof(r));
        }
        RING_PUSH_REQUESTS(&d->ring);
        notify(d);
        barrier(d);
        RING_IDX rp = __atomic_load_n(&d->sring->rsp_prod, __ATOMIC_ACQUIRE);
        FZ_CHECK(rp == d->ring.req_prod_pvt, "%s: padding unanswered", d->cfg->name);
        consume(d, rp);
        /* Slots a later input makes the back end read without writing
         * them first (a producer moved ahead) must hold what a fresh
         * ring's do. */
        uint8_t zero[sizeof(blkif_request_t)] = { 0 };
        for (RING_IDX k = 0; k < ring_size(d); k++)
            xensim_blk_ring_write(&d->view, xensim_blk_slot_offset(d->sring, k, ring_size(d)), zero,
                           sizeof(zero));
        return;
    }
    /* A disconnect unmaps whatever the back end still holds, so a leaked
     * mapping is looked for before it. A device kept connected needs no
     * look here: nothing but refused padding ran since the last request,
     * and fz_acct_expect() after the input finds any mapping beyond its
     * rings. */
    struct xensim_domain_info bi;
    FZ_CHECK(xensim_domain_info(h.sim, d->back, &bi) == 0, "back end info");
    for (int i = 0; i < h.baseline.n; i++)
        if (h.baseline.d[i].domid == d->back)
            FZ_CHECK(bi.maptrack_in_use == h.baseline.d[i].maptrack_in_use + st.persistent_grants,
                     "%s: the back end holds %u mappings: its rings and %llu persistent "
                     "grants make %llu", d->cfg->name, bi.maptrack_in_use,
                     (unsigned long long)st.persistent_grants,
                     (unsigned long long)(h.baseline.d[i].maptrack_in_use + st.persistent_grants));
    FZ_CHECK(xensim_blkback_disconnect(d->be) == 0, "xensim_blkback_disconnect");
    ring_init(d);
    back_connect(d);
}

struct input {
    struct fz_in in;
    struct dev *d;
};

/* The whole input, as guest code on the back end's vCPU. */
static void run_input(void *arg)
{
    struct input *ip = arg;
    struct fz_in *in = &ip->in;
    struct dev *d = ip->d;

    /* What the last input on this device may have changed, as a fresh
     * device has it. */
    if (d->dirty) {
        memset(d->disk, 0, DISK_BYTES);
        memset(d->model_disk, 0, DISK_BYTES);
        for (unsigned int i = 0; i < NPAGES; i++)
            memset(d->page[i], 0x11 * (i + 1), XEN_PAGE_SIZE);
    }
    d->dirty = false;
    ps.n = 0;
    ps.check = CHECK_FULL;
    ps.wild = ps.rsp_untrusted = ps.grants_moved = false;
    ps.pushes = 0;
    for (unsigned int op = 0; op < MAX_OPS && !fz_empty(in) && ps.pushes < MAX_PUSHES; op++) {
        uint8_t c = fz_u8(in);
        switch (c % 12) {
        case 0: case 1: case 2: case 3: case 4:
            if (ps.n == ring_size(d))
                push(d);
            op_request(in, d);
            break;
        case 5:
            push(d);
            break;
        case 6:
            op_fill(in, d);
            break;
        case 7:
            op_grant(in, d);
            break;
        case 8:
            op_corrupt(in, d);
            break;
        case 9:
            op_rewrite(in, d);
            break;
        case 10:
            op_storm(in, d);
            break;
        default:
            notify(d);
            barrier(d);
            break;
        }
    }
    if (ps.n)
        push(d);
    reset(d);
    FZ_TRACE("done: ring at %u", d->ring.req_prod_pvt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input ip = { { data, size }, NULL };
    ip.d = &h.dev[fz_u8(&ip.in) % NDEV];
    FZ_TRACE("device %s", ip.d->cfg->name);
    fz_call(h.sim, ip.d->back, 0, run_input, &ip);
    /* Here, not on the vCPU: unsubscribing waits for an RCU grace period. */
    if (rewrite.tapped) {
        FZ_CHECK(xensim_trace_unsubscribe(h.sim, rewrite_tap, NULL) == 0, "trace unsubscribe");
        rewrite.tapped = false;
    }
    /* The front end's port saw the back end's notifications: let it
     * hear again next time. */
    for (long p; (p = xensim_evtchn_dev_pending(h.evdev)) >= 0;)
        xensim_evtchn_dev_unmask(h.evdev, (evtchn_port_t)p);
    fz_acct_expect(h.sim, &h.baseline, ip.d->cfg->name);
    return 0;
}
