/*
 * fuzz_netback: two fuzzed front ends drive the real netback and its
 * switch. Each is a process of its guest's domain (rings, pages and port
 * are the guest's, through <xensim/hostdev.h>); each input runs on dom0's
 * vCPU in one guest call, so netback serves what a notify raised at the
 * harness's next hypercall, in an order that replays exactly. An input
 * connects both vifs (with or without feature-sg), then writes TX slots
 * (data, fragments, extra-info, any grant, offset, size, id), posts RX
 * buffers, fills pages, rewrites grants, corrupts indices, rewrites slots
 * while netback copies them, and storms events. Findings: a crash or
 * hang; a TX answer that is not its slot's (id, status, NULL for extras)
 * as net_model.c works it out; a vif disconnected without cause, or kept
 * with one; a frame received that the peer did not send, or not byte for
 * byte; anything left behind once both vifs are disconnected.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include <xensim/hostdev.h>
#include <xensim/netif.h>
#include <xensim/trace.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>
#include "fz.h"
#include "net_model.h"

#define NVIF 2
#define NTX 6
#define NRX 6
#define NPAGES (NTX + NRX)
#define NREFS 15
#define TX_RING 256                  /* __CONST_RING_SIZE(netif_tx, 4096) */
#define RX_RING 256
#define MAX_OPS 256
#define MAX_NOTIFY 24
#define MAX_EXPECT 32

/* Frames a vif should receive: what its peer sent, oldest first. */
struct expect {
    size_t len;
    uint8_t *bytes;
};

struct vif {
    unsigned int idx;
    domid_t dom;
    struct xensim_evtchn_dev *ev;
    evtchn_port_t port;
    uint8_t mac[XENSIM_ETH_ALEN];
    xen_pfn_t tx_pfn, rx_pfn;
    grant_ref_t tx_ref, rx_ref;
    netif_tx_sring_t *txs;
    netif_rx_sring_t *rxs;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    xen_pfn_t pfn[NPAGES];
    uint8_t *page[NPAGES];
    grant_ref_t ref[NREFS];
    grant_entry_v1_t base[NREFS];
    grant_entry_v1_t *gnttab;
    unsigned int nr_entries;
    struct netm_front model;
    /* This input. */
    netif_tx_request_t txq[TX_RING];     /* what was written, by index */
    RING_IDX tx_model;                   /* where netback should be */
    RING_IDX tx_pub;                     /* slots published and notified */
    netif_rx_request_t rxq[RX_RING];
    uint8_t rx_posted[NPAGES];           /* buffers waiting in each page */
    bool rx_alias;                       /* a buffer shared a page: data unknown */
    bool wild;                           /* indices or slots broken: form only */
    bool rsp_untrusted;                  /* the front wrote answer slots or rsp_prod */
    bool dead;                           /* netback disconnected it, with cause */
    struct expect exp[MAX_EXPECT];
    unsigned int nexp;
    bool exp_unknown;                    /* the peer sent what the model cannot know */
    /* The RX frame being put together from its slots. */
    size_t rx_len;
    bool rx_bad, rx_blind;
    uint8_t rx_frame[NETM_MAX_FRAME];
};

static struct {
    struct xensim *sim;
    struct xensim_netback *nb;
    struct vif vif[NVIF];
    struct fz_acct baseline;
    bool sg;
    unsigned int notifies;
    struct netm_frame frame;             /* the model's scratch */
} h;

static void front_setup_fn(void *arg)
{
    struct vif *v = arg;
    FZ_CHECK(!xensim_guest_page_alloc(&v->tx_pfn), "tx ring page");
    FZ_CHECK(!xensim_guest_page_alloc(&v->rx_pfn), "rx ring page");
    v->txs = xensim_guest_pfn_to_virt(v->tx_pfn);
    v->rxs = xensim_guest_pfn_to_virt(v->rx_pfn);
    v->tx_ref = (grant_ref_t)xensim_gnttab_grant_access(0, v->tx_pfn, false);
    v->rx_ref = (grant_ref_t)xensim_gnttab_grant_access(0, v->rx_pfn, false);
    for (unsigned int i = 0; i < NPAGES; i++) {
        FZ_CHECK(!xensim_guest_page_alloc(&v->pfn[i]), "front pages");
        v->page[i] = xensim_guest_pfn_to_virt(v->pfn[i]);
    }
    /* TX pages read-write, a read-only alias, one granted to another
     * domain; RX pages read-write and a read-only alias. */
    struct { unsigned int page; domid_t to; bool ro; } g[NREFS] = {
        { 0, 0, false }, { 1, 0, false }, { 2, 0, false }, { 3, 0, false }, { 4, 0, false },
        { 5, 0, false }, { 0, 0, true }, { 1, 9, false },
        { 6, 0, false }, { 7, 0, false }, { 8, 0, false }, { 9, 0, false }, { 10, 0, false },
        { 11, 0, false }, { 6, 0, true },
    };
    for (unsigned int i = 0; i < NREFS; i++) {
        long ref = xensim_gnttab_grant_access(g[i].to, v->pfn[g[i].page], g[i].ro);
        FZ_CHECK(ref > 0, "grant: %ld", ref);
        v->ref[i] = (grant_ref_t)ref;
    }
    v->gnttab = xensim_gnttab_entries(&v->nr_entries);
    for (unsigned int i = 0; i < NREFS; i++)
        v->base[i] = v->gnttab[v->ref[i]];
}

static void nb_create_fn(void *arg)
{
    (void)arg;
    /* A short RX queue, so that frames are dropped as well as sent. */
    struct xensim_netback_config c = { .pool_pages = 64, .rx_queue = 8 };
    int rc = xensim_netback_create(&c, &h.nb);
    FZ_CHECK(rc == 0, "xensim_netback_create: %s", xensim_strerror(rc));
}

static void nb_destroy_fn(void *arg)
{
    (void)arg;
    xensim_netback_destroy(h.nb);
}

static void front_teardown_fn(void *arg)
{
    struct vif *v = arg;
    for (unsigned int i = 0; i < NREFS; i++) {
        v->gnttab[v->ref[i]] = v->base[i];
        FZ_CHECK(xensim_gnttab_end_access(v->ref[i]) == 0, "grant in use at teardown");
        xensim_gnttab_free_ref(v->ref[i]);
    }
    grant_ref_t rings[2] = { v->tx_ref, v->rx_ref };
    for (unsigned int i = 0; i < 2; i++) {
        FZ_CHECK(xensim_gnttab_end_access(rings[i]) == 0, "ring mapped at teardown");
        xensim_gnttab_free_ref(rings[i]);
    }
    xensim_guest_page_free(v->tx_pfn);
    xensim_guest_page_free(v->rx_pfn);
    for (unsigned int i = 0; i < NPAGES; i++)
        xensim_guest_page_free(v->pfn[i]);
}

static void rewrite_tap(struct xensim *sim, const struct xensim_trace_event *ev, void *arg);

static void harness_fini(void)
{
    xensim_trace_unsubscribe(h.sim, rewrite_tap, NULL);
    fz_call(h.sim, 0, 0, nb_destroy_fn, NULL);
    for (unsigned int i = 0; i < NVIF; i++) {
        struct vif *v = &h.vif[i];
        xensim_evtchn_dev_close(v->ev);
        fz_call(h.sim, v->dom, 0, front_teardown_fn, v);
    }
    fz_teardown_check(h.sim);
    xensim_destroy(h.sim);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    h.sim = fz_sim_new(XENSIM_GNTTAB_FAST);
    fz_call(h.sim, 0, 0, nb_create_fn, NULL);
    for (unsigned int i = 0; i < NVIF; i++) {
        struct vif *v = &h.vif[i];
        v->idx = i;
        struct xensim_domain_config c = { .name = i ? "guest-b" : "guest-a" };
        v->dom = fz_domain(h.sim, &c);
        fz_call(h.sim, v->dom, 0, front_setup_fn, v);
        v->ev = xensim_evtchn_dev_open(h.sim, v->dom);
        FZ_CHECK(v->ev, "evtchn dev");
        long port = xensim_evtchn_dev_bind_unbound(v->ev, 0);
        FZ_CHECK(port > 0, "port: %ld", port);
        v->port = (evtchn_port_t)port;
        uint8_t mac[XENSIM_ETH_ALEN] = { 0x02, 0x16, 0x3e, 0, 0, (uint8_t)(0xa + i) };
        memcpy(v->mac, mac, sizeof(mac));
        struct xensim_domain_info di;
        FZ_CHECK(xensim_domain_info(h.sim, v->dom, &di) == 0, "domain info");
        v->model = (struct netm_front){
            .backend = 0, .gnttab = v->gnttab, .nr_entries = v->nr_entries,
            .nr_pages = di.nr_pages,
            .nr_known = NPAGES, .known_pfn = v->pfn, .known_va = v->page,
        };
    }
    fz_acct_take(h.sim, &h.baseline);
    FZ_CHECK(xensim_trace_subscribe(h.sim, rewrite_tap, NULL) == 0, "trace subscribe");
    atexit(harness_fini);
    return 0;
}

static struct vif *peer(struct vif *v)
{
    return &h.vif[v->idx ^ 1];
}

/* From now on the model cannot follow v: only the form of its answers is
 * checked (not even that if its answer slots may hold junk), and what
 * its peer receives from it cannot be known. */
static void go_wild(struct vif *v, bool untrusted)
{
    FZ_TRACE("vif %u: wild%s", v->idx, untrusted ? ", answers untrusted" : "");
    v->wild = true;
    v->rsp_untrusted |= untrusted;
    peer(v)->exp_unknown = true;
}

static void notify(struct vif *v)
{
    FZ_TRACE("vif %u notify: tx req_prod %u (pvt %u), rx req_prod %u", v->idx,
             v->txs->req_prod, v->tx.req_prod_pvt, v->rxs->req_prod);
    int rc = xensim_evtchn_dev_notify(v->ev, v->port);
    FZ_CHECK(rc == 0 || v->dead || v->wild, "notify: %s", xensim_strerror(rc));
    h.notifies++;
}

static struct xensim_vif_stats vif_stats(struct vif *v)
{
    struct xensim_vif_stats st;
    int rc = xensim_netback_vif_stats(h.nb, v->dom, 0, &st);
    FZ_CHECK(rc == 0, "vif %u has no stats: %s", v->idx, xensim_strerror(rc));
    return st;
}

static void expect_frame(struct vif *to, const struct netm_frame *f)
{
    if (f->unknown) {
        to->exp_unknown = true;
        return;
    }
    if (to->nexp == MAX_EXPECT) {
        /* It cannot hold them all: the oldest would be dropped anyway
         * (its RX queue is shorter), but the check no longer knows. */
        to->exp_unknown = true;
        return;
    }
    struct expect *e = &to->exp[to->nexp++];
    e->len = f->len;
    e->bytes = malloc(f->len ? f->len : 1);
    FZ_CHECK(e->bytes, "out of memory");
    memcpy(e->bytes, f->bytes, f->len);
}

/*
 * After netback ran: the TX slots published since the model's cursor
 * make frames; each is answered slot by slot, or the first one that can
 * never be served disconnects the vif, and what netback had answered in
 * that batch of 64 frames is never published.
 */
static void verify_tx(struct vif *v)
{
    RING_IDX rp = __atomic_load_n(&v->txs->rsp_prod, __ATOMIC_ACQUIRE);
    struct xensim_vif_stats st = vif_stats(v);

    if (v->wild || v->dead) {
        if (!v->rsp_untrusted)
            for (RING_IDX i = v->tx.rsp_cons; i != rp && i - v->tx.rsp_cons < TX_RING; i++) {
                netif_tx_response_t r = *RING_GET_RESPONSE(&v->tx, i);
                FZ_CHECK(r.status >= NETIF_RSP_DROPPED && r.status <= NETIF_RSP_NULL,
                         "vif %u: TX answer status %d", v->idx, r.status);
            }
        v->tx.rsp_cons = rp;
        v->dead |= !st.connected;
        return;
    }
    RING_IDX end = v->tx_pub, at = v->tx_model, batch_end = v->tx_model;
    unsigned int frames = 0;
    bool fatal = false;
    RING_IDX rsp = v->tx.rsp_cons;
    struct netm_frame *f = &h.frame;
    while (at != end) {
        unsigned int n = end - at, k;
        netif_tx_request_t slots[NETM_MAX_CHAIN + 1];
        unsigned int m = n < NETM_MAX_CHAIN + 1 ? n : NETM_MAX_CHAIN + 1;
        for (unsigned int i = 0; i < m; i++)
            slots[i] = v->txq[(at + i) % TX_RING];
        k = netm_tx_frame(&v->model, slots, m, f);
        if (f->fate == NETM_FATAL) {
            FZ_TRACE("vif %u: frame at %u is fatal: %s", v->idx, at, f->why);
            fatal = true;
            break;
        }
        /* Its answers, if netback published them: they are where the
         * model says, whatever was published after. A valid frame whose
         * answer is not published (a later frame of its batch was fatal)
         * may still have gone to the switch. */
        bool dropped = false;
        for (unsigned int s = 0; s < f->nslot && rsp != rp; s++, rsp++) {
            netif_tx_response_t r = *RING_GET_RESPONSE(&v->tx, rsp);
            int16_t want = f->extra[s] ? NETIF_RSP_NULL
                         : f->fate == NETM_ERROR ? NETIF_RSP_ERROR : NETIF_RSP_OKAY;
            bool ok = r.status == want ||
                      (want == NETIF_RSP_OKAY && r.status == NETIF_RSP_DROPPED);
            FZ_CHECK(r.id == f->id[s] && ok,
                     "vif %u: TX slot %u answered (id %u, status %d); the frame is %s%s%s, "
                     "slot id %u wants %d", v->idx, at + s, r.id, r.status,
                     f->fate == NETM_ERROR ? "refused: " : "valid", f->why ? f->why : "",
                     f->extra[s] ? " (extra-info)" : "", f->id[s], want);
            if (s == 0 && r.status != NETIF_RSP_OKAY)
                dropped = true;
        }
        FZ_TRACE("vif %u: frame at %u, %u slots: %s%s%s", v->idx, at, k,
                 f->fate == NETM_SEND ? "valid" : "refused: ", f->why ? f->why : "",
                 dropped ? ", dropped" : "");
        if (f->fate == NETM_SEND && !dropped)
            expect_frame(peer(v), f);
        at += k;
        frames++;
        /* netback publishes its answers 64 frames at a time. */
        if (frames % 64 == 0)
            batch_end = at;
    }
    if (fatal) {
        FZ_CHECK(!st.connected, "vif %u: still connected after a frame that cannot be served",
                 v->idx);
        FZ_CHECK(rp == batch_end,
                 "vif %u: %u TX answers published before the fatal frame, %u expected",
                 v->idx, rp - v->tx.rsp_cons, batch_end - v->tx.rsp_cons);
        v->dead = true;
    } else {
        FZ_CHECK(st.connected, "vif %u: disconnected (%s) though every frame was servable",
                 v->idx, st.disconnect_reason ? st.disconnect_reason : "?");
        FZ_CHECK(rp == end, "vif %u: TX answers up to %u, slots up to %u", v->idx, rp, end);
        v->tx_model = end;
    }
    v->tx.rsp_cons = rp;
    v->txs->rsp_event = rp + 1;
}

/* A received frame is the next of the frames its peer sent that it may
 * have been given (any before it were dropped). */
static void rx_match(struct vif *v)
{
    if (v->exp_unknown || v->rx_alias)
        return;
    for (unsigned int i = 0; i < v->nexp; i++)
        if (v->exp[i].len == v->rx_len && !memcmp(v->exp[i].bytes, v->rx_frame, v->rx_len)) {
            for (unsigned int j = 0; j <= i; j++)
                free(v->exp[j].bytes);
            memmove(v->exp, v->exp + i + 1, (v->nexp - i - 1) * sizeof(v->exp[0]));
            v->nexp -= i + 1;
            return;
        }
    fz_fail("vif %u received a frame of %zu bytes its peer never sent (%u frames awaited)",
            v->idx, v->rx_len, v->nexp);
}

/* After netback ran: each RX answer is in its request's slot with its id,
 * and the frames they make are the peer's. */
static void verify_rx(struct vif *v)
{
    RING_IDX rp = __atomic_load_n(&v->rxs->rsp_prod, __ATOMIC_ACQUIRE);
    if (v->wild || v->dead) {
        v->rx.rsp_cons = rp;
        return;
    }
    FZ_CHECK(rp - v->rx.rsp_cons <= v->rx.req_prod_pvt - v->rx.rsp_cons,
             "vif %u: RX answers up to %u, buffers only to %u", v->idx, rp, v->rx.req_prod_pvt);
    for (RING_IDX i = v->rx.rsp_cons; i != rp; i++) {
        netif_rx_response_t r = *RING_GET_RESPONSE(&v->rx, i);
        const netif_rx_request_t *q = &v->rxq[i % RX_RING];
        FZ_CHECK(r.id == q->id, "vif %u: RX answer %u has id %u, its buffer %u", v->idx, i, r.id,
                 q->id);
        FZ_CHECK(r.status == NETIF_RSP_ERROR || (r.status > 0 && r.status <= (int)NETM_PAGE),
                 "vif %u: RX answer status %d", v->idx, r.status);
        FZ_CHECK(r.offset == 0, "vif %u: RX answer offset %u", v->idx, r.offset);
        unsigned int idx;
        int g = netm_grant(&v->model, q->gref, true, &idx);
        if (g > 0 && v->rx_posted[idx])
            v->rx_posted[idx]--;
        if (r.status < 0)
            v->rx_bad = true;
        else if (g <= 0 || v->rx_len + (size_t)r.status > NETM_MAX_FRAME)
            v->rx_blind = true;
        else
            memcpy(v->rx_frame + v->rx_len, v->page[idx], (size_t)r.status);
        if (r.status > 0)
            v->rx_len += (size_t)r.status;
        if (!(r.flags & NETRXF_more_data)) {
            if (!v->rx_bad && !v->rx_blind)
                rx_match(v);
            if (v->rx_blind)
                v->exp_unknown = true;
            v->rx_len = 0;
            v->rx_bad = v->rx_blind = false;
        }
    }
    v->rx.rsp_cons = rp;
    v->rxs->rsp_event = rp + 1;
}

/* netback takes what was notified (we are on its vCPU), then both vifs
 * are checked: a frame one sends may arrive at the other. */
static void run_and_verify(void)
{
    fz_take_events(NULL);
    for (unsigned int i = 0; i < NVIF; i++)
        verify_tx(&h.vif[i]);
    for (unsigned int i = 0; i < NVIF; i++)
        verify_rx(&h.vif[i]);
}

static grant_ref_t pick_ref(struct fz_in *in, const struct vif *v)
{
    uint8_t b = fz_u8(in);
    if (b < 0xe0)
        return v->ref[b % NREFS];
    if (b < 0xf0)
        return b & 1 ? v->rx_ref : v->tx_ref;
    return fz_u32(in);
}

static uint16_t pick_u16(struct fz_in *in, uint16_t common_mask)
{
    uint8_t b = fz_u8(in);
    return b >= 0xf0 ? fz_u16(in) : (uint16_t)((b * 37u) & common_mask);
}

static void tx_put(struct vif *v, const netif_tx_request_t *r)
{
    if (v->tx.req_prod_pvt - v->tx.rsp_cons == TX_RING)
        return;                         /* a full ring: the front end waits */
    RING_IDX i = v->tx.req_prod_pvt++;
    v->txq[i % TX_RING] = *r;
    *RING_GET_REQUEST(&v->tx, i) = *r;
}

/* One TX slot: data, or (with the extra flag) an extra-info slot. */
static void op_tx_slot(struct fz_in *in, struct vif *v)
{
    netif_tx_request_t r = { 0 };
    uint8_t kind = fz_u8(in);
    if (kind & 0x80) {
        struct netif_extra_info ex = { 0 };
        ex.type = fz_u8(in) % 6;
        ex.flags = fz_u8(in) & 1 ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
        fz_bytes(in, &ex.u, sizeof(ex.u));
        memcpy(&r, &ex, sizeof(ex));
        r.id = fz_u8(in);
    } else {
        r.gref = pick_ref(in, v);
        r.offset = pick_u16(in, 0x0ffc);
        r.flags = (kind & 1 ? NETTXF_more_data : 0) | (kind & 2 ? NETTXF_extra_info : 0) |
                  (kind & 0x40 ? fz_u16(in) : 0);
        r.id = fz_u8(in);
        r.size = pick_u16(in, 0x07ff);
    }
    FZ_TRACE("vif %u TX slot %u: ref %u offset %u flags %#x id %u size %u", v->idx,
             v->tx.req_prod_pvt, r.gref, r.offset, r.flags, r.id, r.size);
    tx_put(v, &r);
}

/* A well-formed frame, so the fuzzer need not find one: an Ethernet
 * header to the peer, everyone, the sender itself or anyone, then data
 * from the TX pages, in one or several slots. */
static void op_tx_frame(struct fz_in *in, struct vif *v)
{
    static const uint8_t bcast[XENSIM_ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t other[XENSIM_ETH_ALEN] = { 0x02, 0x01, 0x02, 0x03, 0x04, 0x05 };
    uint8_t b = fz_u8(in);
    unsigned int pg = b % NTX, slots = (b >> 3) % 4 + 1;
    uint16_t len = (uint16_t)(14 + fz_u8(in) * 8);
    if (len / slots < 14)
        slots = 1;
    const uint8_t *dst = (b & 0x60) == 0 ? peer(v)->mac : (b & 0x60) == 0x20 ? bcast
                       : (b & 0x60) == 0x40 ? v->mac : other;
    memcpy(v->page[pg], dst, XENSIM_ETH_ALEN);
    memcpy(v->page[pg] + XENSIM_ETH_ALEN, v->mac, XENSIM_ETH_ALEN);
    v->page[pg][12] = 0x08;
    v->page[pg][13] = fz_u8(in);
    uint16_t id = fz_u8(in), piece = (uint16_t)(len / slots);
    for (unsigned int s = 0; s < slots; s++) {
        uint16_t n = s + 1 == slots ? (uint16_t)(len - piece * (slots - 1)) : piece;
        netif_tx_request_t r = {
            .gref = v->ref[(pg + s) % NTX], .offset = (uint16_t)(s * 64),
            .flags = s + 1 < slots ? NETTXF_more_data : 0, .id = (uint16_t)(id + s),
            .size = s ? n : len,
        };
        tx_put(v, &r);
    }
    FZ_TRACE("vif %u TX frame of %u bytes in %u slots", v->idx, len, slots);
}

static void op_tx_push(struct vif *v)
{
    RING_PUSH_REQUESTS(&v->tx);
    v->tx_pub = v->tx.req_prod_pvt;
    notify(v);
    run_and_verify();
}

/* RX buffers: mostly fresh RX pages in turn, sometimes any grant. */
static void op_rx_post(struct fz_in *in, struct vif *v)
{
    unsigned int k = fz_u8(in) % 8 + 1;
    static unsigned int next;
    for (unsigned int i = 0; i < k; i++) {
        if (v->rx.req_prod_pvt - v->rx.rsp_cons == RX_RING)
            break;
        uint8_t b = fz_u8(in);
        netif_rx_request_t q = { .id = b };
        q.gref = b < 0xc0 ? v->ref[NTX + 2 + (next++ % NRX)] : pick_ref(in, v);
        unsigned int idx;
        int g = netm_grant(&v->model, q.gref, true, &idx);
        if (g < 0) {
            /* A buffer in a page the model does not follow, maybe a
             * ring: what netback writes there breaks the ring, answers
             * and all. */
            go_wild(v, true);
        } else if (g > 0) {
            if (idx < NTX || v->rx_posted[idx]++)
                v->rx_alias = true;
        }
        RING_IDX at = v->rx.req_prod_pvt++;
        v->rxq[at % RX_RING] = q;
        *RING_GET_REQUEST(&v->rx, at) = q;
    }
    FZ_TRACE("vif %u: %u RX buffers posted", v->idx, k);
    RING_PUSH_REQUESTS(&v->rx);
    notify(v);
    run_and_verify();
}

static void op_fill(struct fz_in *in, struct vif *v)
{
    unsigned int p = fz_u8(in) % NPAGES;
    unsigned int at = fz_u8(in) * 16u, len = fz_u8(in) * 16u + 16;
    uint8_t val = fz_u8(in);
    if (at + len > NETM_PAGE)
        len = NETM_PAGE - at;
    for (unsigned int i = 0; i < len; i++)
        v->page[p][at + i] = (uint8_t)(val ^ i);
}

/* A grant entry rewritten, as a guest may do at any time; netback only
 * copies, so the model reads the entry as it is when netback runs. */
static void op_grant(struct fz_in *in, struct vif *v)
{
    unsigned int r = fz_u8(in) % NREFS;
    FZ_TRACE("vif %u: grant ref %u rewritten", v->idx, v->ref[r]);
    grant_entry_v1_t *e = &v->gnttab[v->ref[r]];
    switch (fz_u8(in) % 4) {
    case 0:
        __atomic_store_n(&e->flags, fz_u16(in), __ATOMIC_RELEASE);
        break;
    case 1:
        e->domid = fz_u8(in) & 1 ? 0 : fz_u16(in);
        break;
    case 2: {
        uint8_t b = fz_u8(in);
        e->frame = b < 0x80 ? (uint32_t)v->pfn[b % NPAGES] : fz_u32(in) | 0x80000000u;
        break;
    }
    default:
        *e = v->base[r];
    }
    /* A page that changed grants under posted buffers: data unknown. */
    v->rx_alias = true;
}

static void op_corrupt(struct fz_in *in, struct vif *v)
{
    uint8_t what = fz_u8(in);
    uint32_t x = fz_u32(in);
    FZ_TRACE("vif %u: corrupt index %u by %u", v->idx, what % 6, x);
    switch (what % 6) {
    case 0:
        __atomic_store_n(&v->txs->req_prod, v->tx.req_prod_pvt + x, __ATOMIC_RELEASE);
        break;
    case 1:
        __atomic_store_n(&v->txs->req_prod, v->tx.req_prod_pvt - (x & 0xff), __ATOMIC_RELEASE);
        break;
    case 2:
        __atomic_store_n(&v->rxs->req_prod, v->rx.req_prod_pvt + x, __ATOMIC_RELEASE);
        break;
    case 3:
        v->txs->rsp_prod = v->tx.rsp_cons + x;
        go_wild(v, true);
        break;
    case 4:
        v->rxs->req_event = v->rx.req_prod_pvt + x;
        break;
    default:
        v->txs->rsp_event = v->tx.rsp_cons + x;
    }
    go_wild(v, false);
    notify(v);
    run_and_verify();
}

/* Slots rewritten while netback copies them: at its first grant copy
 * of the push (rewrite_tap), every slot published is overwritten. */
static struct {
    struct vif *v;
    RING_IDX from, to;
    netif_tx_request_t junk;
} rewrite;

static void rewrite_tap(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)sim;
    (void)arg;
    struct vif *v = rewrite.v;
    if (!v || ev->kind != XENSIM_TRACE_COPY || ev->domid != 0)
        return;
    for (RING_IDX i = rewrite.from; i != rewrite.to; i++)
        *RING_GET_REQUEST(&v->tx, i) = rewrite.junk;
    rewrite.v = NULL;
}

static void op_rewrite(struct fz_in *in, struct vif *v)
{
    rewrite.from = v->tx_model;
    rewrite.to = v->tx.req_prod_pvt;
    fz_bytes(in, &rewrite.junk, sizeof(rewrite.junk));
    rewrite.v = v;
    RING_PUSH_REQUESTS(&v->tx);
    notify(v);
    /* The junk shapes the frames after the one being copied, and may
     * land on answers: from now on only the form is checked. */
    go_wild(v, true);
    run_and_verify();
    rewrite.v = NULL;
}

static void op_storm(struct fz_in *in, struct vif *v)
{
    unsigned int k = fz_u8(in) % 32 + 1;
    for (unsigned int i = 0; i < k; i++)
        notify(v);
    run_and_verify();
}

static void ring_init(struct vif *v)
{
    memset(v->txs, 0, NETM_PAGE);
    memset(v->rxs, 0, NETM_PAGE);
    SHARED_RING_INIT(v->txs);
    SHARED_RING_INIT(v->rxs);
    FRONT_RING_INIT(&v->tx, v->txs, NETM_PAGE);
    FRONT_RING_INIT(&v->rx, v->rxs, NETM_PAGE);
}

static void vif_connect(struct vif *v)
{
    ring_init(v);
    v->tx_model = v->tx_pub = 0;
    memset(v->rx_posted, 0, sizeof(v->rx_posted));
    v->rx_alias = v->wild = v->rsp_untrusted = v->dead = v->exp_unknown = false;
    v->rx_len = 0;
    v->rx_bad = v->rx_blind = false;
    for (unsigned int i = 0; i < NPAGES; i++)
        memset(v->page[i], 0x20 + (int)i, NETM_PAGE);
    struct xensim_netif_front_keys k = {
        .tx_ring_ref = v->tx_ref, .rx_ring_ref = v->rx_ref, .event_channel = v->port,
        .request_rx_copy = true, .feature_sg = h.sg,
    };
    memcpy(k.mac, v->mac, sizeof(k.mac));
    int rc = xensim_netback_connect(h.nb, v->dom, 0, &k);
    FZ_CHECK(rc == 0, "vif %u: xensim_netback_connect: %s", v->idx, xensim_strerror(rc));
}

static void vif_disconnect(struct vif *v)
{
    int rc = xensim_netback_disconnect(h.nb, v->dom, 0);
    FZ_CHECK(rc == 0, "vif %u: xensim_netback_disconnect: %s", v->idx, xensim_strerror(rc));
    for (unsigned int i = 0; i < v->nexp; i++)
        free(v->exp[i].bytes);
    v->nexp = 0;
    for (unsigned int i = 0; i < NREFS; i++)
        v->gnttab[v->ref[i]] = v->base[i];
}

static void run_input(void *arg)
{
    struct fz_in *in = arg;
    h.sg = fz_u8(in) & 1;
    h.notifies = 0;
    for (unsigned int i = 0; i < NVIF; i++)
        vif_connect(&h.vif[i]);
    for (unsigned int op = 0; op < MAX_OPS && !fz_empty(in) && h.notifies < MAX_NOTIFY; op++) {
        uint8_t c = fz_u8(in);
        struct vif *v = &h.vif[c & 1];
        switch ((c >> 1) % 12) {
        case 0: case 1: case 2:
            op_tx_slot(in, v);
            break;
        case 3:
            op_tx_frame(in, v);
            break;
        case 4:
            op_tx_push(v);
            break;
        case 5:
            op_rx_post(in, v);
            break;
        case 6:
            op_fill(in, v);
            break;
        case 7:
            op_grant(in, v);
            break;
        case 8:
            op_corrupt(in, v);
            break;
        case 9:
            op_rewrite(in, v);
            break;
        case 10:
            op_storm(in, v);
            break;
        default:
            notify(v);
            run_and_verify();
        }
    }
    for (unsigned int i = 0; i < NVIF; i++)
        if (h.vif[i].tx.req_prod_pvt != h.vif[i].tx_pub && !h.vif[i].wild)
            op_tx_push(&h.vif[i]);
    for (unsigned int i = 0; i < NVIF; i++)
        vif_disconnect(&h.vif[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    fz_call(h.sim, 0, 0, run_input, &in);
    for (unsigned int i = 0; i < NVIF; i++)
        for (long p; (p = xensim_evtchn_dev_pending(h.vif[i].ev)) >= 0;)
            xensim_evtchn_dev_unmask(h.vif[i].ev, (evtchn_port_t)p);
    fz_acct_expect(h.sim, &h.baseline, "netback input");
    return 0;
}
