/*
 * fuzz_hypercall: sequences of event channel, grant table and scheduler
 * hypercalls with fuzzed arguments, across three domains (dom0 and two
 * guests), and the guests' writes into their own grant entries,
 * shared_info and FIFO control blocks and event words between them, as
 * hc_table.c's rows describe. Values are drawn from what the run made
 * (ports, refs, mappings, scratch pages), from the neighbourhood, or
 * anywhere; buffers are real, NULL or unmapped. Ops of one domain in a
 * row run in one guest call on its vCPU. Findings: a crash or hang of the
 * simulator; a return value or GNTST_ status Xen does not have; and, once
 * the run's mappings are unmapped, its ports closed, its pokes undone and
 * the pages transfers moved given back, any port, mapping, pin, grant
 * entry or page a domain holds beyond what it held before.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/errno.h>
#include <xensim/guest.h>
#include "fz.h"
#include "hc_table.h"

#define NDOMS 3
#define MAX_PORTS 64
#define MAX_MAPS 64
#define NSCRATCH 4
#define MAX_OPS 64
#define SI_BYTES 4096
#define GT_FRAMES 4                  /* every domain's max_grant_frames */
#define GT_ENTRIES (GT_FRAMES * 512)
#define MAX_GAINED 64

struct dom {
    domid_t id;
    evtchn_port_t ports[MAX_PORTS];  /* made by the run, and the builder's */
    unsigned int nports;
    struct { grant_handle_t h; uint64_t addr, dev; } maps[MAX_MAPS];
    unsigned int nmaps;
    xen_pfn_t scratch[NSCRATCH];
    bool scratch_lost[NSCRATCH];     /* given away by a transfer */
    xen_pfn_t gained[MAX_GAINED];    /* pages transfers gave it */
    unsigned int ngained;
    grant_entry_v1_t *gnttab;
    unsigned int nr_entries;
    uint8_t *si;                     /* shared_info */
    /* As built: */
    grant_entry_v1_t gnttab_base[GT_ENTRIES];
    uint8_t si_base[SI_BYTES];
    struct xensim_port_info base_ports[8];
    int nbase_ports;
};

static struct {
    struct xensim *sim;
    struct dom d[NDOMS];
    struct fz_acct baseline;
    uint8_t buffer[4096] __attribute__((aligned(64)));
    bool known_errno[256];
} h;

static struct dom *dom_of(domid_t id)
{
    for (unsigned int i = 0; i < NDOMS; i++)
        if (h.d[i].id == id)
            return &h.d[i];
    return NULL;
}

/* Pickers (hc_table.h): mostly what the run knows, sometimes a
 * neighbour of it, sometimes anything. */

static domid_t pick_domid(struct hc_pick *p)
{
    uint8_t b = fz_u8(p->in);
    switch (b % 8) {
    case 0: case 1: case 2:
        return h.d[b % NDOMS].id;
    case 3:
        return DOMID_SELF;
    case 4:
        return (domid_t)(NDOMS + (b >> 3));    /* no such domain */
    case 5:
        return b & 8 ? DOMID_INVALID : DOMID_XEN;
    default:
        return b >= 0xf0 ? fz_u16(p->in) : p->self;
    }
}

static evtchn_port_t pick_port(struct hc_pick *p, domid_t of)
{
    struct dom *d = dom_of(of);
    uint8_t b = fz_u8(p->in);
    if (d && d->nports && b < 0xc0)
        return d->ports[b % d->nports];
    if (b < 0xf0)
        return b % 16;
    return fz_u32(p->in);
}

static grant_ref_t pick_ref(struct hc_pick *p, domid_t of)
{
    (void)of;
    uint8_t b = fz_u8(p->in);
    if (b < 0xe0)
        return b % 24;               /* the builder's and the first the run pokes */
    if (b < 0xf0)
        return GT_ENTRIES - 16 + b % 32;  /* the end of the table and past it */
    return fz_u32(p->in);
}

static void pick_mapping(struct hc_pick *p, grant_handle_t *hd, uint64_t *addr, uint64_t *dev)
{
    struct dom *d = dom_of(p->self);
    uint8_t b = fz_u8(p->in);
    if (d->nmaps && b < 0xc0) {
        *hd = d->maps[b % d->nmaps].h;
        *addr = d->maps[b % d->nmaps].addr;
        *dev = d->maps[b % d->nmaps].dev;
    } else {
        *hd = b < 0xf0 ? b % 8 : fz_u32(p->in);
        *addr = b & 1 ? 0 : fz_u64(p->in);
        *dev = 0;
    }
}

/* Scratch pages, or frames that are no RAM of the caller: never the
 * builder's pages (start_info, rings), which the run must not break. */
static xen_pfn_t pick_own_frame(struct hc_pick *p)
{
    struct dom *d = dom_of(p->self);
    uint8_t b = fz_u8(p->in);
    if (b < 0xc0)
        return d->scratch[b % NSCRATCH];
    return (xen_pfn_t)fz_u32(p->in) | 0x100000;
}

/*
 * The buffer is the harness's, or an unmapped page, or the kernel half.
 * NULL and misaligned pointers are left out unless built with
 * -DFZ_WILD_POINTERS: the simulator does pointer arithmetic and member
 * access through guest pointers, undefined for those (clang's UBSan
 * aborts: sim/gnttab.c setup_table's frame_list + i was this harness's
 * first finding), which branch i12-hostile's "Guest argument pointers may
 * be misaligned or wild" fixes.
 */
static void *pick_buffer(struct hc_pick *p, const void *content, size_t size)
{
    uint8_t b = fz_u8(p->in);
    if (size > sizeof(h.buffer))
        size = sizeof(h.buffer);
    switch (b % 8) {
#ifdef FZ_WILD_POINTERS
    case 5:
        return h.buffer + 1 + b % 7;
    case 6:
        return NULL;
#endif
    case 7:
        return b & 8 ? (void *)(uintptr_t)0x1000 : (void *)(uintptr_t)0xffff800000000000ull;
    default:
        if (content)
            memcpy(h.buffer, content, size);
        else
            fz_bytes(p->in, h.buffer, size);
        return h.buffer;
    }
}

static void new_port(struct hc_pick *p, domid_t of, evtchn_port_t port)
{
    (void)p;
    struct dom *d = dom_of(of);
    if (d && d->nports < MAX_PORTS)
        d->ports[d->nports++] = port;
}

static void new_mapping(struct hc_pick *p, grant_handle_t hd, uint64_t addr, uint64_t dev)
{
    struct dom *d = dom_of(p->self);
    FZ_CHECK(d->nmaps < MAX_MAPS, "more mappings than the harness follows");
    d->maps[d->nmaps].h = hd;
    d->maps[d->nmaps].addr = addr;
    d->maps[d->nmaps++].dev = dev;
}

/* A page leaves d: one it gained, or a scratch page. */
static void page_lost(struct dom *d, xen_pfn_t pfn)
{
    for (unsigned int i = 0; i < d->ngained; i++)
        if (d->gained[i] == pfn) {
            d->gained[i] = d->gained[--d->ngained];
            return;
        }
    for (unsigned int k = 0; k < NSCRATCH; k++)
        if (d->scratch[k] == pfn)
            d->scratch_lost[k] = true;
}

/* A page comes to d: perhaps a scratch page it gave away, reused. */
static void page_gained(struct dom *d, xen_pfn_t pfn)
{
    for (unsigned int k = 0; k < NSCRATCH; k++)
        if (d->scratch[k] == pfn && d->scratch_lost[k]) {
            d->scratch_lost[k] = false;
            return;
        }
    FZ_CHECK(d->ngained < MAX_GAINED, "more transferred pages than the harness follows");
    d->gained[d->ngained++] = pfn;
}

/* The receiver's entry says which frame it got, whatever its table's
 * version: read it now, before a poke rewrites the entry. */
static void gave_page(struct hc_pick *p, xen_pfn_t frame, domid_t to, grant_ref_t ref,
                      int16_t status)
{
    static struct xensim_grant_info rows[GT_ENTRIES];
    if (status == GNTST_bad_page)
        return;
    page_lost(dom_of(p->self), frame);
    if (status != GNTST_okay)
        return;
    struct dom *e = dom_of(to);
    FZ_CHECK(e, "a transfer to dom%u succeeded", to);
    int n = xensim_grant_list(h.sim, to, rows, GT_ENTRIES);
    FZ_CHECK(n >= 0 && n <= GT_ENTRIES, "grants of dom%u: %d", to, n);
    for (int i = 0; i < n; i++)
        if (rows[i].ref == ref) {
            FZ_CHECK(rows[i].flags & GTF_transfer_completed,
                     "dom%u's entry %u took a transfer but says flags %#x", to, ref,
                     rows[i].flags);
            page_gained(e, rows[i].frame);
            return;
        }
    fz_fail("dom%u's entry %u took a transfer but is not listed", to, ref);
}

static grant_entry_v1_t *entries(struct hc_pick *p, unsigned int *nr)
{
    struct dom *d = dom_of(p->self);
    *nr = d->nr_entries;
    return d->gnttab;
}

static void *shared_info(struct hc_pick *p)
{
    return dom_of(p->self)->si;
}

static void *scratch_page(struct hc_pick *p)
{
    struct dom *d = dom_of(p->self);
    return xensim_guest_pfn_to_virt(d->scratch[fz_u8(p->in) % NSCRATCH]);
}

static bool good_rc(long rc)
{
    return rc == 0 || (rc < 0 && rc > -256 && h.known_errno[-rc]);
}

static void check_statuses(const struct hc_row *r, const uint8_t *arg, unsigned int n)
{
    size_t off;
    if (r->kind != HC_GNTTAB)
        return;
    switch (r->cmd) {
    case GNTTABOP_map_grant_ref: off = offsetof(gnttab_map_grant_ref_t, status); break;
    case GNTTABOP_unmap_grant_ref: off = offsetof(gnttab_unmap_grant_ref_t, status); break;
    case GNTTABOP_copy: off = offsetof(gnttab_copy_t, status); break;
    case GNTTABOP_transfer: off = offsetof(gnttab_transfer_t, status); break;
    default: return;
    }
    for (unsigned int i = 0; i < n; i++) {
        int16_t st;
        memcpy(&st, arg + (size_t)i * r->size + off, sizeof(st));
        FZ_CHECK(st <= GNTST_okay && st >= GNTST_no_space, "%s element %u: status %d",
                 r->name, i, st);
    }
}

/* One row's call, as guest code of p->self. */
static void run_row(struct hc_pick *p, const struct hc_row *r)
{
    static uint8_t arg[HC_MAX_BATCH * HC_ARG_BYTES] __attribute__((aligned(64)));
    unsigned int n = 1;
    if (r->batch) {
        uint8_t b = fz_u8(p->in);
        n = b < 0xf0 ? b % 4 + 1 : b % HC_MAX_BATCH + 1;
    }
    memset(arg, 0, n * r->size);
    for (unsigned int i = 0; i < n; i++)
        r->fill(p, arg + (size_t)i * r->size, i);
    long rc = 0;
    switch (r->kind) {
    case HC_EVTCHN:
        rc = HYPERVISOR_event_channel_op((int)r->cmd, arg);
        break;
    case HC_GNTTAB:
        rc = HYPERVISOR_grant_table_op(r->cmd, arg, n);
        break;
    case HC_SCHED:
        rc = HYPERVISOR_sched_op((int)r->cmd, arg);
        break;
    case HC_POKE:
        return;
    }
    FZ_TRACE("dom%u %s x%u: %ld", p->self, r->name, n, rc);
    FZ_CHECK(good_rc(rc), "%s returned %ld, which is no Xen errno", r->name, rc);
    if (rc == 0)
        check_statuses(r, arg, n);
    if (r->done)
        r->done(p, arg, n, rc);
}

struct run {
    struct fz_in *in;
    struct dom *d;
    unsigned int ops;
};

/* Ops while the input stays on this domain. */
static void run_fn(void *arg)
{
    struct run *run = arg;
    struct hc_pick p = {
        .in = run->in, .self = run->d->id, .domid = pick_domid, .port = pick_port,
        .ref = pick_ref, .mapping = pick_mapping, .own_frame = pick_own_frame,
        .buffer = pick_buffer, .new_port = new_port, .new_mapping = new_mapping,
        .gave_page = gave_page,
        .entries = entries, .shared_info = shared_info, .scratch_page = scratch_page,
    };
    while (!fz_empty(run->in) && run->ops < MAX_OPS) {
        uint8_t c = fz_u8(run->in);
        if (c >= 0xf0)
            return;                  /* switch domain */
        run->ops++;
        run_row(&p, &hc_rows[c % hc_nr_rows]);
    }
}

/* Undoing an input, guest side: every mapping the run made goes. */
static void unmap_fn(void *arg)
{
    struct dom *d = arg;
    /* Both kinds each mapping had; one the run unmapped already fails. */
    for (unsigned int i = 0; i < d->nmaps; i++) {
        gnttab_unmap_grant_ref_t u = {
            .host_addr = d->maps[i].addr, .dev_bus_addr = d->maps[i].dev, .handle = d->maps[i].h,
        };
        HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    }
    d->nmaps = 0;
    /* Pages transfers moved: what came goes, what went comes back (at
     * another frame, perhaps: scratch pages are any pages). */
    for (unsigned int i = 0; i < d->ngained; i++)
        xensim_guest_page_free(d->gained[i]);
    d->ngained = 0;
    for (unsigned int k = 0; k < NSCRATCH; k++)
        if (d->scratch_lost[k]) {
            FZ_CHECK(!xensim_guest_page_alloc(&d->scratch[k]), "scratch page");
            d->scratch_lost[k] = false;
        }
}

/* Back to the ABIs the domain was built with, so that no input runs on
 * what an earlier one chose: 2-level events (a reset drops FIFO, as in
 * Xen, and closes every port: a port still linked on a FIFO queue stays
 * busy after a close, so closing alone would not give the builder's
 * ports back their numbers), and grant table v1, which the pokes and the
 * table's copy assume. */
static void abi_fn(void *arg)
{
    struct dom *d = arg;
    struct xensim_domain_info info;
    FZ_CHECK(xensim_domain_info(h.sim, d->id, &info) == 0, "dom%u", d->id);
    if (info.evtchn_pages_held) {
        struct evtchn_reset r = { .dom = DOMID_SELF };
        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r);
        FZ_CHECK(rc == 0, "dom%u: EVTCHNOP_reset off FIFO: %ld", d->id, rc);
    }
    gnttab_set_version_t v = { .version = 1 };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &v, 1);
    if (rc == -ERANGE) {
        /* Xen keeps the reserved entries across a switch and refuses
         * one v1 cannot hold; the pokes may have written anything there.
         * The copy below puts them back as built. */
        memset(d->gnttab, 0, GNTTAB_NR_RESERVED_ENTRIES * sizeof(grant_entry_v2_t));
        v.version = 1;               /* the call wrote back the current one */
        rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &v, 1);
    }
    FZ_CHECK(rc == 0 && v.version == 1, "dom%u: back to grant table v1: %ld, v%u", d->id, rc,
             v.version);
}

/* After abi_fn, closes every port but the builder's, and makes the builder's again if
 * the run closed or rebound them (lowest free port first, so they come
 * back at their numbers once the others are closed). */
static void ports_fn(void *arg)
{
    struct dom *d = arg;
    abi_fn(d);
    /* FIFO has let go of them: what the run wrote there goes too. */
    for (unsigned int k = 0; k < NSCRATCH; k++)
        memset(xensim_guest_pfn_to_virt(d->scratch[k]), 0, 4096);
    struct xensim_port_info now[MAX_PORTS * 2];
    int n = xensim_port_list(h.sim, d->id, now, MAX_PORTS * 2);
    FZ_CHECK(n >= 0 && n <= MAX_PORTS * 2, "dom%u has %d ports", d->id, n);
    for (int i = 0; i < n; i++) {
        if (now[i].reserved)
            continue;
        bool same = false;
        for (int k = 0; k < d->nbase_ports; k++) {
            const struct xensim_port_info *b = &d->base_ports[k];
            same |= b->port == now[i].port && b->status == now[i].status &&
                    b->remote_dom == now[i].remote_dom && b->vcpu == now[i].vcpu;
        }
        if (!same) {
            struct evtchn_close c = { .port = now[i].port };
            HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
        }
    }
}

static void base_ports_fn(void *arg)
{
    struct dom *d = arg;
    struct xensim_port_info now[MAX_PORTS * 2];
    int n = xensim_port_list(h.sim, d->id, now, MAX_PORTS * 2);
    FZ_CHECK(n >= 0 && n <= MAX_PORTS * 2, "dom%u has %d ports", d->id, n);
    for (int k = 0; k < d->nbase_ports; k++) {
        const struct xensim_port_info *b = &d->base_ports[k];
        bool there = false;
        for (int i = 0; i < n; i++)
            there |= now[i].port == b->port && !now[i].reserved;
        if (there)
            continue;
        long p = xensim_evtchn_alloc_unbound(b->remote_dom);
        FZ_CHECK(p == (long)b->port, "dom%u: the builder's port %u came back as %ld", d->id,
                 b->port, p);
    }
    d->nports = 0;
    for (int k = 0; k < d->nbase_ports; k++)
        d->ports[d->nports++] = d->base_ports[k].port;
}

static void reset(void)
{
    for (unsigned int i = 0; i < NDOMS; i++)
        fz_call(h.sim, h.d[i].id, 0, unmap_fn, &h.d[i]);
    for (unsigned int i = 0; i < NDOMS; i++)
        fz_call(h.sim, h.d[i].id, 0, ports_fn, &h.d[i]);
    for (unsigned int i = 0; i < NDOMS; i++) {
        struct dom *d = &h.d[i];
        fz_call(h.sim, d->id, 0, base_ports_fn, d);
        /* The pokes undone: every entry as built, and shared_info's
         * event channel part as built. */
        memcpy(d->gnttab, d->gnttab_base, sizeof(d->gnttab_base));
        memcpy(d->si, d->si_base, 2560);
    }
}

static void setup_fn(void *arg)
{
    struct dom *d = arg;
    for (unsigned int i = 0; i < NSCRATCH; i++) {
        FZ_CHECK(!xensim_guest_page_alloc(&d->scratch[i]), "scratch page");
    }
    d->gnttab = xensim_gnttab_entries(&d->nr_entries);
    /* The table at its largest from the start: setup_table cannot
     * shrink it, so a run that grew it would leave the next a different
     * table (refs valid there that were not before). */
    xen_pfn_t frames[GT_FRAMES];
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = GT_FRAMES };
    set_xen_guest_handle(st.frame_list, frames);
    FZ_CHECK(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1) == 0 &&
             st.status == GNTST_okay, "setup_table to %u frames", GT_FRAMES);
    d->nr_entries = GT_ENTRIES;
    FZ_CHECK(d->gnttab, "grant table");
    d->si = xensim_guest_shared_info();
    memcpy(d->gnttab_base, d->gnttab, sizeof(d->gnttab_base));
    memcpy(d->si_base, d->si, SI_BYTES);
}

static void free_fn(void *arg)
{
    struct dom *d = arg;
    for (unsigned int i = 0; i < NSCRATCH; i++)
        xensim_guest_page_free(d->scratch[i]);
}

static void harness_fini(void)
{
    for (unsigned int i = 0; i < NDOMS; i++)
        fz_call(h.sim, h.d[i].id, 0, free_fn, &h.d[i]);
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
#define FZ_ERRNO(name, msg) h.known_errno[name] = true;
    XENSIM_ERRNO_LIST(FZ_ERRNO)
#undef FZ_ERRNO
    /* Two vCPUs each, and few grant frames, so that the tables can be
     * made as large as they can be at once. */
    struct xensim_domain_config c0 = { .max_grant_frames = GT_FRAMES };
    h.sim = fz_sim_new_cfg(&c0);
    h.d[0].id = 0;
    struct xensim_domain_config g1 = { .name = "guest-a", .nr_vcpus = 2,
                                       .max_grant_frames = GT_FRAMES };
    struct xensim_domain_config g2 = { .name = "guest-b", .nr_vcpus = 2,
                                       .max_grant_frames = GT_FRAMES,
                                       .gnttab_mode = XENSIM_GNTTAB_FAST };
    h.d[1].id = fz_domain(h.sim, &g1);
    h.d[2].id = fz_domain(h.sim, &g2);
    for (unsigned int i = 0; i < NDOMS; i++) {
        struct dom *d = &h.d[i];
        fz_call(h.sim, d->id, 0, setup_fn, d);
        int n = xensim_port_list(h.sim, d->id, d->base_ports, 8);
        FZ_CHECK(n >= 0 && n <= 8, "ports of dom%u", d->id);
        d->nbase_ports = 0;
        for (int k = 0; k < n; k++)
            if (!d->base_ports[k].reserved)
                d->base_ports[d->nbase_ports++] = d->base_ports[k];
        for (int k = 0; k < d->nbase_ports; k++)
            d->ports[d->nports++] = d->base_ports[k].port;
    }
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    struct run run = { .in = &in };
    while (!fz_empty(&in) && run.ops < MAX_OPS) {
        run.d = &h.d[fz_u8(&in) % NDOMS];
        fz_call(h.sim, run.d->id, 0, run_fn, &run);
    }
    reset();
    fz_acct_expect(h.sim, &h.baseline, "after the input");
    return 0;
}
