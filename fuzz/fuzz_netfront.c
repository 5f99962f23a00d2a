/*
 * fuzz_netfront: the real netfront against a hostile back end. The back
 * end is harness code in dom0 that maps the TX and RX rings and answers
 * as the input says: TX responses for requests it saw or for ids never
 * sent, any status; RX responses for posted buffers or made-up ids, with
 * any offset, size, flags (more_data, extra_info) and status; producers
 * far ahead or backwards, the front end's own indices rewritten. Each
 * input creates and connects a fresh device (with or without
 * feature-sg), so a finding replays alone.
 *
 * Findings: a crash or hang; a received frame longer than a frame can
 * be; while the back end was honest, a bad response counted or the
 * device lost; any port, grant, mapping or page left once both ends are
 * gone.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/errno.h>
#include <xensim/guest.h>
#include <xensim/netif.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>
#include "fz.h"

#define MAX_STEPS 48
#define MAX_PEND 256

static struct {
    struct xensim *sim;
    domid_t guest;
    struct fz_acct baseline;
    struct xensim_netfront *nf;
    struct xensim_netif_front_keys keys;
    bool sg;
    int rc;
    /* The hostile back end. */
    uint64_t tx_addr, rx_addr;
    grant_handle_t tx_h, rx_h;
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    evtchn_port_t port;
    uint16_t tx_pend[MAX_PEND], rx_pend[MAX_PEND];
    unsigned int ntx, nrx;
    bool hostile;
    unsigned long frames;
    uint8_t frame[65536];
} h;

static void rx_cb(struct xensim_netfront *nf, const uint8_t *frame, size_t len, void *arg)
{
    (void)nf;
    (void)arg;
    FZ_CHECK(len <= 65535, "netfront delivered a frame of %zu bytes", len);
    /* Every byte readable (ASan says if not). */
    volatile uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum ^= frame[i];
    (void)sum;
    h.frames++;
}

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
    struct xensim_domain_config c = { .name = "guest", .nr_pages = 1024 };
    h.guest = fz_domain(h.sim, &c);
    fz_acct_take(h.sim, &h.baseline);
    atexit(harness_fini);
    return 0;
}

static void fcreate_fn(void *arg)
{
    struct fz_in *in = arg;
    uint8_t c = fz_u8(in);
    h.sg = c & 1;
    struct xensim_netfront_config cfg = {
        .backend = 0, .mac = { 0x00, 0x16, 0x3e, 0, 0, 1 }, .rx_buffers = 8 + c % 32,
        .tx_buffers = 8 + (c >> 3) % 16, .sg = h.sg, .rx = rx_cb,
    };
    h.rc = xensim_netfront_create(&cfg, &h.nf);
    FZ_CHECK(h.rc == 0, "netfront_create: %d", h.rc);
    xensim_netfront_keys(h.nf, &h.keys);
    struct xensim_netif_back_features bf = { .feature_sg = h.sg, .feature_rx_copy = true };
    h.rc = xensim_netfront_connect(h.nf, &bf);
    FZ_CHECK(h.rc == 0, "netfront_connect: %d", h.rc);
}

static void fdestroy_fn(void *arg)
{
    (void)arg;
    h.rc = xensim_netfront_destroy(h.nf);
}

static void map_ring(grant_ref_t ref, uint64_t *addr, grant_handle_t *hd)
{
    gnttab_map_grant_ref_t m = { .flags = GNTMAP_host_map, .dom = h.guest, .ref = ref };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
    FZ_CHECK(rc == 0 && m.status == GNTST_okay, "mapping ring ref %u: %ld, %d", ref, rc,
             m.status);
    *addr = m.host_addr;
    *hd = m.handle;
}

static void bconnect_fn(void *arg)
{
    (void)arg;
    map_ring(h.keys.tx_ring_ref, &h.tx_addr, &h.tx_h);
    map_ring(h.keys.rx_ring_ref, &h.rx_addr, &h.rx_h);
    BACK_RING_INIT(&h.tx, (netif_tx_sring_t *)(uintptr_t)h.tx_addr, XEN_PAGE_SIZE);
    BACK_RING_INIT(&h.rx, (netif_rx_sring_t *)(uintptr_t)h.rx_addr, XEN_PAGE_SIZE);
    long port = xensim_evtchn_bind_interdomain(h.guest, h.keys.event_channel);
    FZ_CHECK(port > 0, "binding the front end's port: %ld", port);
    h.port = (evtchn_port_t)port;
}

static void bclose_fn(void *arg)
{
    (void)arg;
    gnttab_unmap_grant_ref_t u[2] = {
        { .host_addr = h.tx_addr, .handle = h.tx_h },
        { .host_addr = h.rx_addr, .handle = h.rx_h },
    };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, u, 2);
    FZ_CHECK(rc == 0 && !u[0].status && !u[1].status, "unmapping the rings");
    xensim_evtchn_close(h.port);
}

static void bnotify_fn(void *arg)
{
    (void)arg;
    xensim_evtchn_send(h.port);
}

/* The guest sends a frame, whole or in pieces. */
static void send_fn(void *arg)
{
    struct fz_in *in = arg;
    uint8_t b = fz_u8(in);
    size_t len = b >= 0xf0 ? fz_u16(in) : 14 + (size_t)b * 8;
    memset(h.frame, b, len < sizeof(h.frame) ? len : sizeof(h.frame));
    int rc;
    if (b & 1) {
        struct iovec iov[4];
        int n = 1 + b % 4;
        size_t at = 0;
        for (int i = 0; i < n; i++) {
            size_t piece = i == n - 1 ? len - at : (len - at) / 2;
            iov[i] = (struct iovec){ .iov_base = h.frame + at, .iov_len = piece };
            at += piece;
        }
        rc = xensim_netfront_sendv(h.nf, iov, n);
    } else {
        rc = xensim_netfront_send(h.nf, h.frame, len);
    }
    FZ_TRACE("send %zu: %d", len, rc);
    FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -EMSGSIZE || rc == -ENOTCONN || rc == -EINVAL,
             "netfront send of %zu: %d", len, rc);
}

/* Requests the front end published since last time, as far as a ring
 * holds (the front end is honest). */
#define TAKE(r, pend, n, type)                                                \
    do {                                                                      \
        RING_IDX rp_ = __atomic_load_n(&(r)->sring->req_prod, __ATOMIC_ACQUIRE); \
        while ((r)->req_cons != rp_ && rp_ - (r)->req_cons <= RING_SIZE(r)) { \
            type req_ = *RING_GET_REQUEST((r), (r)->req_cons);                \
            (r)->req_cons++;                                                  \
            if ((n) < MAX_PEND)                                               \
                (pend)[(n)++] = req_.id;                                      \
        }                                                                     \
    } while (0)

/* An id: one that waits for an answer, or (hostile) any. TX answers may
 * come in any order; RX answers fill the slots in order (a response's
 * slot is its request's, as netback writes them and Linux's netfront
 * reads them by index), so an honest RX answer is the oldest. */
static uint16_t pick_id(struct fz_in *in, uint16_t *pend, unsigned int *n, bool *bad,
                        bool in_order)
{
    uint8_t b = fz_u8(in);
    if (b < 0xd0 && *n && in_order) {
        uint16_t id = pend[0];
        memmove(pend, pend + 1, (--*n) * sizeof(pend[0]));
        return id;
    }
    if (b < 0xd0 && *n) {
        unsigned int i = b % *n;
        uint16_t id = pend[i];
        pend[i] = pend[--*n];
        return id;
    }
    *bad = true;
    return fz_u16(in);
}

static void publish(struct fz_in *in, RING_IDX *prod, RING_IDX pvt)
{
    uint8_t p = fz_u8(in);
    RING_IDX v = pvt;
    if (p >= 0xf0) {
        h.hostile = true;
        v = p == 0xf0 ? pvt + 300 + fz_u8(in) : p == 0xf1 ? *prod - 1 : fz_u32(in);
    }
    xen_wmb();
    __atomic_store_n(prod, v, __ATOMIC_RELEASE);
}

static void tx_respond_fn(void *arg)
{
    struct fz_in *in = arg;
    netif_tx_back_ring_t *r = &h.tx;
    TAKE(r, h.tx_pend, h.ntx, netif_tx_request_t);
    unsigned int n = fz_u8(in) % 6;
    for (unsigned int k = 0; k < n; k++) {
        bool bad = false;
        netif_tx_response_t rsp = { .id = pick_id(in, h.tx_pend, &h.ntx, &bad, false) };
        uint8_t s = fz_u8(in);
        rsp.status = s < 0xc0 ? NETIF_RSP_OKAY : s < 0xe0 ? NETIF_RSP_ERROR : (int16_t)fz_u16(in);
        h.hostile |= bad;
        *RING_GET_RESPONSE(r, r->rsp_prod_pvt) = rsp;
        r->rsp_prod_pvt++;
    }
    publish(in, &r->sring->rsp_prod, r->rsp_prod_pvt);
    xensim_evtchn_send(h.port);
}

static void rx_respond_fn(void *arg)
{
    struct fz_in *in = arg;
    netif_rx_back_ring_t *r = &h.rx;
    TAKE(r, h.rx_pend, h.nrx, netif_rx_request_t);
    unsigned int n = fz_u8(in) % 6;
    for (unsigned int k = 0; k < n; k++) {
        bool bad = false;
        netif_rx_response_t rsp = { .id = pick_id(in, h.rx_pend, &h.nrx, &bad, true) };
        uint8_t s = fz_u8(in);
        if (s < 0xc0) {
            /* A whole frame in one slot, as netback copies it. */
            rsp.offset = 0;
            rsp.status = (int16_t)(14 + s * 8);
        } else {
            bad = true;
            rsp.offset = fz_u16(in);
            rsp.flags = fz_u16(in);
            rsp.status = (int16_t)fz_u16(in);
        }
        h.hostile |= bad;
        *RING_GET_RESPONSE(r, r->rsp_prod_pvt) = rsp;
        r->rsp_prod_pvt++;
    }
    publish(in, &r->sring->rsp_prod, r->rsp_prod_pvt);
    xensim_evtchn_send(h.port);
}

static void scribble(struct fz_in *in)
{
    h.hostile = true;
    uint32_t v = fz_u32(in);
    switch (fz_u8(in) % 5) {
    case 0: __atomic_store_n(&h.tx.sring->req_prod, v, __ATOMIC_RELEASE); break;
    case 1: __atomic_store_n(&h.tx.sring->rsp_event, v, __ATOMIC_RELEASE); break;
    case 2: __atomic_store_n(&h.rx.sring->req_prod, v, __ATOMIC_RELEASE); break;
    case 3: __atomic_store_n(&h.rx.sring->rsp_event, v, __ATOMIC_RELEASE); break;
    default: ((uint8_t *)h.rx.sring)[v % XEN_PAGE_SIZE] = (uint8_t)(v >> 16); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    h.ntx = h.nrx = 0;
    h.hostile = false;
    fz_call(h.sim, h.guest, 0, fcreate_fn, &in);
    fz_call(h.sim, 0, 0, bconnect_fn, NULL);
    for (unsigned int step = 0; step < MAX_STEPS && !fz_empty(&in); step++) {
        switch (fz_u8(&in) % 8) {
        case 0: case 1:
            fz_call(h.sim, h.guest, 0, send_fn, &in);
            break;
        case 2: case 3:
            fz_call(h.sim, 0, 0, tx_respond_fn, &in);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        case 4: case 5:
            fz_call(h.sim, 0, 0, rx_respond_fn, &in);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        case 6:
            scribble(&in);
            break;
        default:
            fz_call(h.sim, 0, 0, bnotify_fn, NULL);
            fz_call(h.sim, h.guest, 0, fz_take_events, NULL);
            break;
        }
    }
    struct xensim_netfront_stats st;
    xensim_netfront_stats(h.nf, &st);
    FZ_CHECK(h.hostile || st.bad_responses == 0,
             "netfront counted %llu bad responses from an honest back end",
             (unsigned long long)st.bad_responses);
    fz_call(h.sim, 0, 0, bclose_fn, NULL);
    fz_call(h.sim, h.guest, 0, fdestroy_fn, NULL);
    FZ_CHECK(h.rc == 0, "netfront_destroy: %d", h.rc);
    h.nf = NULL;
    fz_acct_expect(h.sim, &h.baseline, "after the input");
    return 0;
}
