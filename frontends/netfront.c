/*
 * netfront: the guest's PV network driver. Owns the front halves of the TX
 * and RX rings, the send buffers (2 KiB halves of pages, each page granted
 * read-only to the back end for the device's life) and the receive pages
 * (granted writable, filled by the back end's grant copies). Checks every
 * response before trusting it. Calls guest.h, xenbus.h's ring and grant
 * helpers (a grant the back end still maps is ended later) and
 * <xen/io/netif.h>.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <xensim/guest.h>
#include <xensim/netif.h>
#include <xensim/xenbus.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>
#include "util.h"

#define NF_TXBUF_SIZE 2048u
#define NF_RING_SIZE  __CONST_RING_SIZE(netif_tx, XEN_PAGE_SIZE)
#define NF_RX_BATCH   32
#define NF_MAX_RXSLOTS XEN_NETIF_NR_SLOTS_MIN
#define ETH_HLEN 14u

struct nf_frame {
    struct nf_frame *next;
    size_t len;
    uint8_t data[];
};

/* One received frame between collection and re-posting its buffers. */
struct nf_rx_frame {
    unsigned int nslots;
    bool ok;
    uint16_t buf[NF_MAX_RXSLOTS];
    uint16_t off[NF_MAX_RXSLOTS];
    uint16_t len[NF_MAX_RXSLOTS];
};

/*
 * Lock rules: everything below `lock` is under it, except the callback
 * fields, which are fixed at create. The ring pages are shared with the
 * back end, which may write its indices and responses at any time, so they
 * are read once (RING_COPY_RESPONSE) and checked.
 */
struct xensim_netfront {
    struct xensim_irqlock lock;
    domid_t backend;
    uint8_t mac[XENSIM_ETH_ALEN];
    bool sg_offered, sg;
    xensim_netfront_rx_t rx_cb;
    void *rx_arg;

    bool connected;              /* connect() done */
    bool broken;                 /* the back end broke the protocol or left */
    evtchn_port_t port;
    netif_tx_front_ring_t tx;
    netif_rx_front_ring_t rx;
    xen_pfn_t tx_ring_pfn, rx_ring_pfn;
    long tx_ring_ref, rx_ring_ref;

    unsigned int nrx;
    xen_pfn_t *rx_pfn;
    long *rx_ref;
    uint16_t rx_slot_buf[NF_RING_SIZE];  /* which buffer each posted slot holds */
    uint16_t *rx_free;                   /* buffers not posted */
    unsigned int nrx_free;

    unsigned int ntx;                    /* buffers; page i/2, half i%2 */
    unsigned int ntxpages;
    xen_pfn_t *tx_pfn;                   /* per page */
    long *tx_ref;                        /* per page: both halves share it */
    bool *tx_inflight;
    uint16_t *tx_free;
    unsigned int ntx_free;

    struct nf_frame *q_head, *q_tail;
    unsigned int q_len;
    struct xensim_netfront_stats st;
};

/* Gives back a page and its grant (ref < 0: none): now, or once the back
 * end lets go of the grant (xensim_xenbus_end_access). */
static void nf_page_release(long ref, xen_pfn_t pfn)
{
    if (ref >= 0)
        xensim_xenbus_end_access((grant_ref_t)ref, pfn);
    else if (pfn != XENSIM_INVALID_PFN)
        xensim_guest_page_free(pfn);
}

static void nf_free_all(struct xensim_netfront *nf)
{
    /* Off a vCPU the domain is dead: its pages and grants went with it,
     * only host memory is left. */
    if (xensim_guest_start_info()) {
        nf_page_release(nf->tx_ring_ref, nf->tx_ring_pfn);
        nf_page_release(nf->rx_ring_ref, nf->rx_ring_pfn);
        for (unsigned int i = 0; i < nf->nrx; i++)
            nf_page_release(nf->rx_ref[i], nf->rx_pfn[i]);
        for (unsigned int i = 0; i < nf->ntxpages; i++)
            nf_page_release(nf->tx_ref[i], nf->tx_pfn[i]);
    }
    for (struct nf_frame *f = nf->q_head, *n; f; f = n) {
        n = f->next;
        free(f);
    }
    free(nf->rx_pfn);
    free(nf->rx_ref);
    free(nf->rx_free);
    free(nf->tx_pfn);
    free(nf->tx_ref);
    free(nf->tx_inflight);
    free(nf->tx_free);
    /* A dead guest's vCPU may have been taken down holding it. */
    if (pthread_mutex_trylock(&nf->lock.m) == 0) {
        pthread_mutex_unlock(&nf->lock.m);
        xensim_irqlock_destroy(&nf->lock);
    }
    free(nf);
}

/* The bookkeeping arrays, every page and ref marked absent. */
static int nf_alloc_arrays(struct xensim_netfront *nf, unsigned int nrx, unsigned int ntx)
{
    unsigned int ntxpages = (ntx + 1) / 2;

    nf->rx_pfn = malloc(nrx * sizeof(*nf->rx_pfn));
    nf->rx_ref = malloc(nrx * sizeof(*nf->rx_ref));
    nf->rx_free = malloc(nrx * sizeof(*nf->rx_free));
    nf->tx_pfn = malloc(ntxpages * sizeof(*nf->tx_pfn));
    nf->tx_ref = malloc(ntxpages * sizeof(*nf->tx_ref));
    nf->tx_inflight = calloc(ntx, sizeof(*nf->tx_inflight));
    nf->tx_free = malloc(ntx * sizeof(*nf->tx_free));
    if (!nf->rx_pfn || !nf->rx_ref || !nf->rx_free || !nf->tx_pfn || !nf->tx_ref ||
        !nf->tx_inflight || !nf->tx_free)
        return -ENOMEM;
    nf->nrx = nrx;
    nf->ntx = ntx;
    nf->ntxpages = ntxpages;
    for (unsigned int i = 0; i < nrx; i++) {
        nf->rx_pfn[i] = XENSIM_INVALID_PFN;
        nf->rx_ref[i] = -1;
    }
    for (unsigned int i = 0; i < ntxpages; i++) {
        nf->tx_pfn[i] = XENSIM_INVALID_PFN;
        nf->tx_ref[i] = -1;
    }
    return 0;
}

/* A page granted to the back end (read-only or writable). */
static int nf_grant_page(struct xensim_netfront *nf, bool readonly, xen_pfn_t *pfn, long *ref)
{
    if (xensim_guest_page_alloc(pfn))
        return -ENOMEM;
    *ref = xensim_gnttab_grant_access(nf->backend, *pfn, readonly);
    return *ref < 0 ? -ENOSPC : 0;
}

/* The rings: the front initialises the shared pages (SHARED_RING_INIT)
 * before granting them. */
static int nf_rings_setup(struct xensim_netfront *nf)
{
    xen_pfn_t pfn[2];
    void *pages[2];
    grant_ref_t refs[2];

    for (int i = 0; i < 2; i++) {
        if (xensim_guest_page_alloc(&pfn[i])) {
            if (i)
                xensim_guest_page_free(pfn[0]);
            return -ENOMEM;
        }
        pages[i] = xensim_guest_pfn_to_virt(pfn[i]);
    }
    nf->tx_ring_pfn = pfn[0];
    nf->rx_ring_pfn = pfn[1];
    netif_tx_sring_t *txs = pages[0];
    netif_rx_sring_t *rxs = pages[1];
    SHARED_RING_INIT(txs);
    FRONT_RING_INIT(&nf->tx, txs, XEN_PAGE_SIZE);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&nf->rx, rxs, XEN_PAGE_SIZE);
    XENSIM_RING_INDICES(txs);
    XENSIM_RING_INDICES(rxs);
    if (xensim_xenbus_grant_ring(nf->backend, pages, 2, refs))
        return -ENOSPC;
    nf->tx_ring_ref = refs[0];
    nf->rx_ring_ref = refs[1];
    return 0;
}

/* Receive pages (writable: the back end copies into them) and send pages
 * (read-only, two 2 KiB buffers each), all granted for the device's life. */
static int nf_buffers_setup(struct xensim_netfront *nf)
{
    int rc;

    for (unsigned int i = 0; i < nf->nrx; i++) {
        if ((rc = nf_grant_page(nf, false, &nf->rx_pfn[i], &nf->rx_ref[i])))
            return rc;
        nf->rx_free[nf->nrx_free++] = (uint16_t)i;
    }
    for (unsigned int i = 0; i < nf->ntxpages; i++)
        if ((rc = nf_grant_page(nf, true, &nf->tx_pfn[i], &nf->tx_ref[i])))
            return rc;
    for (unsigned int i = 0; i < nf->ntx; i++)
        nf->tx_free[nf->ntx_free++] = (uint16_t)(nf->ntx - 1 - i);
    return 0;
}

int xensim_netfront_create(const struct xensim_netfront_config *cfg,
                           struct xensim_netfront **out)
{
    if (!xensim_guest_start_info())
        return -EPERM;
    unsigned int nrx = cfg->rx_buffers ? cfg->rx_buffers : 64;
    unsigned int ntx = cfg->tx_buffers ? cfg->tx_buffers : 64;
    if (nrx > NF_RING_SIZE || ntx > NF_RING_SIZE)
        return -EINVAL;
    struct xensim_netfront *nf = calloc(1, sizeof(*nf));
    if (!nf)
        return -ENOMEM;
    xensim_irqlock_init(&nf->lock);
    nf->backend = cfg->backend;
    memcpy(nf->mac, cfg->mac, XENSIM_ETH_ALEN);
    nf->sg_offered = cfg->sg;
    nf->rx_cb = cfg->rx;
    nf->rx_arg = cfg->rx_arg;
    nf->tx_ring_ref = nf->rx_ring_ref = -1;
    nf->tx_ring_pfn = nf->rx_ring_pfn = XENSIM_INVALID_PFN;
    int rc;
    if ((rc = nf_alloc_arrays(nf, nrx, ntx)) || (rc = nf_rings_setup(nf)) ||
        (rc = nf_buffers_setup(nf)) || (rc = xensim_xenbus_alloc_evtchn(nf->backend, &nf->port))) {
        nf_free_all(nf);
        return rc;
    }
    *out = nf;
    return 0;
}

void xensim_netfront_keys(const struct xensim_netfront *nf, struct xensim_netif_front_keys *k)
{
    memset(k, 0, sizeof(*k));
    k->tx_ring_ref = (grant_ref_t)nf->tx_ring_ref;
    k->rx_ring_ref = (grant_ref_t)nf->rx_ring_ref;
    k->event_channel = nf->port;
    k->request_rx_copy = true;
    k->feature_rx_notify = true;
    k->feature_sg = nf->sg_offered;
    memcpy(k->mac, nf->mac, XENSIM_ETH_ALEN);
}

void xensim_netfront_mac(const struct xensim_netfront *nf, uint8_t mac[XENSIM_ETH_ALEN])
{
    memcpy(mac, nf->mac, XENSIM_ETH_ALEN);
}

/* Posts every free receive buffer; true if the back end must be told. */
static bool nf_rx_post(struct xensim_netfront *nf)
{
    if (!nf->nrx_free)
        return false;
    while (nf->nrx_free) {
        uint16_t b = nf->rx_free[--nf->nrx_free];
        RING_IDX i = nf->rx.req_prod_pvt++;
        netif_rx_request_t *req = RING_GET_REQUEST(&nf->rx, i);
        req->id = b;
        req->gref = (grant_ref_t)nf->rx_ref[b];
        nf->rx_slot_buf[i % NF_RING_SIZE] = b;
    }
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->rx, notify);
    return notify;
}

/* Reaps send completions; checks each id against what is in flight. */
static void nf_tx_gc(struct xensim_netfront *nf)
{
    int more;
    do {
        RING_IDX rp = READ_ONCE(nf->tx.sring->rsp_prod);
        xen_rmb();   /* the index before the responses it covers */
        /* As on rx, within a ring is not enough: a slot past the requests
         * made holds a stale response of an earlier lap, whose id may be
         * a buffer in flight now, and consuming it would put rsp_cons
         * past req_prod_pvt, so that the ring looked to have more room
         * than it holds. */
        if (RING_RESPONSE_PROD_OVERFLOW(&nf->tx, rp) ||
            rp - nf->tx.rsp_cons > nf->tx.req_prod_pvt - nf->tx.rsp_cons) {
            xensim_protocol_violation("netfront: dom%u's tx rsp_prod %u is past the %u "
                                      "requests made", nf->backend, rp, nf->tx.req_prod_pvt);
            nf->broken = true;
            nf->st.bad_responses++;
            return;
        }
        while (nf->tx.rsp_cons != rp) {
            netif_tx_response_t rsp;
            RING_COPY_RESPONSE(&nf->tx, nf->tx.rsp_cons, &rsp);
            nf->tx.rsp_cons++;
            if (rsp.status == NETIF_RSP_NULL)
                continue;   /* an extra-info slot's placeholder */
            if (rsp.id >= nf->ntx || !nf->tx_inflight[rsp.id]) {
                xensim_protocol_violation("netfront: dom%u answered tx id %u, which no "
                                          "request in flight has", nf->backend, rsp.id);
                /* The buffer it should have named stays in flight for
                 * good, so the device would starve a buffer at a time
                 * while saying it is connected: fail it, as Linux's
                 * xennet_tx_buf_gc does. */
                nf->broken = true;
                nf->st.bad_responses++;
                return;
            }
            if (rsp.status != NETIF_RSP_OKAY)
                nf->st.tx_errors++;
            nf->tx_inflight[rsp.id] = false;
            nf->tx_free[nf->ntx_free++] = rsp.id;
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&nf->tx, more);
    } while (more);
}

/* Collects up to NF_RX_BATCH whole frames; their buffers stay unposted until
 * the caller has delivered them. */
static unsigned int nf_rx_collect(struct xensim_netfront *nf, struct nf_rx_frame *fr,
                                  bool *stalled, RING_IDX *seen)
{
    unsigned int n = 0;
    RING_IDX rp = READ_ONCE(nf->rx.sring->rsp_prod);
    *stalled = false;
    *seen = rp;
    if (nf->broken)
        return 0;   /* the tx half just failed the device: trust nothing */
    xen_rmb();
    /* Within a ring is not enough: a slot past the buffers posted names
     * one already taken (rx_slot_buf of an earlier lap), which would be
     * delivered and freed twice. A response answers a request made. */
    if (RING_RESPONSE_PROD_OVERFLOW(&nf->rx, rp) ||
        rp - nf->rx.rsp_cons > nf->rx.req_prod_pvt - nf->rx.rsp_cons) {
        xensim_protocol_violation("netfront: dom%u's rx rsp_prod %u is past the %u buffers "
                                  "posted", nf->backend, rp, nf->rx.req_prod_pvt);
        nf->broken = true;
        nf->st.bad_responses++;
        return 0;
    }
    while (n < NF_RX_BATCH && nf->rx.rsp_cons != rp) {
        /* Find the frame's end first: a frame the back end has not finished
         * publishing is left for the next pass, untouched. */
        RING_IDX i = nf->rx.rsp_cons, end = i;
        bool complete = false;
        while (end != rp) {
            uint16_t flags = READ_ONCE(RING_GET_RESPONSE(&nf->rx, end)->flags);
            end++;
            if (!(flags & NETRXF_more_data)) {
                complete = true;
                break;
            }
        }
        if (!complete) {
            *stalled = true;
            break;
        }
        struct nf_rx_frame *f = &fr[n++];
        f->nslots = 0;
        f->ok = true;
        for (; i != end; i++) {
            netif_rx_response_t rsp;
            RING_COPY_RESPONSE(&nf->rx, i, &rsp);
            uint16_t b = nf->rx_slot_buf[i % NF_RING_SIZE];
            if (f->nslots == NF_MAX_RXSLOTS) {
                /* Longer than any frame we accept: drop the whole chain. */
                f->ok = false;
                nf->rx_free[nf->nrx_free++] = b;
                continue;
            }
            f->buf[f->nslots] = b;
            f->off[f->nslots] = rsp.offset;
            f->len[f->nslots] = rsp.status > 0 ? (uint16_t)rsp.status : 0;
            f->nslots++;
            if (rsp.id != b || (rsp.flags & NETRXF_extra_info) ||
                (rsp.status > 0 && (unsigned int)rsp.offset + (unsigned int)rsp.status > XEN_PAGE_SIZE)) {
                nf->st.bad_responses++;
                f->ok = false;
            } else if (rsp.status <= 0) {
                f->ok = false;
            }
        }
        nf->rx.rsp_cons = end;
    }
    return n;
}

static void nf_deliver(struct xensim_netfront *nf, const uint8_t *data, size_t len)
{
    if (nf->rx_cb) {
        nf->rx_cb(nf, data, len, nf->rx_arg);
        return;
    }
    struct nf_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        nf->st.rx_dropped++;
        return;
    }
    memcpy(f->data, data, len);
    f->len = len;
    f->next = NULL;
    bool irqs = xensim_irqlock_lock(&nf->lock);
    if (nf->q_tail)
        nf->q_tail->next = f;
    else
        nf->q_head = f;
    nf->q_tail = f;
    nf->q_len++;
    xensim_irqlock_unlock(&nf->lock, irqs);
}

static void nf_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    struct xensim_netfront *nf = arg;
    struct nf_rx_frame fr[NF_RX_BATCH];
    for (;;) {
        bool irqs = xensim_irqlock_lock(&nf->lock);
        if (nf->broken || !nf->connected) {
            xensim_irqlock_unlock(&nf->lock, irqs);
            return;
        }
        nf_tx_gc(nf);
        bool stalled;
        RING_IDX seen;
        unsigned int n = nf_rx_collect(nf, fr, &stalled, &seen);
        xensim_irqlock_unlock(&nf->lock, irqs);

        /* Deliver without the lock: the handler may send. */
        for (unsigned int i = 0; i < n; i++) {
            struct nf_rx_frame *f = &fr[i];
            if (!f->ok) {
                nf->st.rx_errors++;
                continue;
            }
            if (f->nslots == 1) {
                const uint8_t *p = xensim_guest_pfn_to_virt(nf->rx_pfn[f->buf[0]]);
                nf->st.rx_packets++;
                nf_deliver(nf, p + f->off[0], f->len[0]);
                continue;
            }
            size_t total = 0;
            for (unsigned int s = 0; s < f->nslots; s++)
                total += f->len[s];
            uint8_t *buf = malloc(total ? total : 1);
            if (!buf) {
                nf->st.rx_dropped++;
                continue;
            }
            size_t at = 0;
            for (unsigned int s = 0; s < f->nslots; s++) {
                const uint8_t *p = xensim_guest_pfn_to_virt(nf->rx_pfn[f->buf[s]]);
                memcpy(buf + at, p + f->off[s], f->len[s]);
                at += f->len[s];
            }
            nf->st.rx_packets++;
            nf_deliver(nf, buf, total);
            free(buf);
        }

        irqs = xensim_irqlock_lock(&nf->lock);
        for (unsigned int i = 0; i < n; i++)
            for (unsigned int s = 0; s < fr[i].nslots; s++)
                nf->rx_free[nf->nrx_free++] = fr[i].buf[s];
        bool notify = !nf->broken && nf_rx_post(nf);
        int more = 0;
        if (!nf->broken && stalled) {
            /* A frame's last slot is not published yet. Its responses are
             * unconsumed, so RING_FINAL_CHECK would say "more" for ever
             * (a back end that never finishes the frame spun this vCPU
             * in its upcall); ask for an event at the next push instead,
             * and look again only if one came meanwhile. */
            nf->rx.sring->rsp_event = seen + 1;
            xen_mb();
            more = READ_ONCE(nf->rx.sring->rsp_prod) != seen;
        } else if (!nf->broken && n < NF_RX_BATCH) {
            RING_FINAL_CHECK_FOR_RESPONSES(&nf->rx, more);
        } else if (!nf->broken) {
            more = 1;
        }
        xensim_irqlock_unlock(&nf->lock, irqs);
        if (notify)
            xensim_evtchn_send(nf->port);
        if (!more)
            return;
    }
}

int xensim_netfront_connect(struct xensim_netfront *nf,
                            const struct xensim_netif_back_features *bf)
{
    if (!bf->feature_rx_copy)
        return -EOPNOTSUPP;
    bool irqs = xensim_irqlock_lock(&nf->lock);
    if (nf->connected) {
        xensim_irqlock_unlock(&nf->lock, irqs);
        return -EALREADY;
    }
    nf->sg = nf->sg_offered && bf->feature_sg;
    nf->connected = true;
    nf_rx_post(nf);
    xensim_irqlock_unlock(&nf->lock, irqs);
    /* Bound after the lock: binding may run the handler at once. */
    int rc = xensim_irq_bind(nf->port, nf_irq, nf);
    if (rc) {
        irqs = xensim_irqlock_lock(&nf->lock);
        nf->connected = false;
        xensim_irqlock_unlock(&nf->lock, irqs);
        return rc;
    }
    /* A back end that bound already would not hear the posting otherwise. */
    xensim_evtchn_send(nf->port);
    return 0;
}

/* Whether a frame of total bytes in slots slots can go now: 0, or why
 * not. The lock is held. */
static int nf_tx_room(struct xensim_netfront *nf, size_t total, unsigned int slots)
{
    if (!nf->connected || nf->broken)
        return -ENOTCONN;
    if (!nf->sg && total > NF_TXBUF_SIZE)
        return -EMSGSIZE;
    if (slots > XEN_NETIF_NR_SLOTS_MIN)
        return -EMSGSIZE;
    nf_tx_gc(nf);
    if (nf->broken)
        return -ENOTCONN;
    if (RING_FREE_REQUESTS(&nf->tx) < slots || nf->ntx_free < slots) {
        nf->st.tx_busy++;
        return -EAGAIN;
    }
    return 0;
}

/* The next free send buffer, as the request in ring slot idx; returns
 * where its bytes go. */
static uint8_t *nf_tx_buffer(struct xensim_netfront *nf, RING_IDX idx)
{
    uint16_t b = nf->tx_free[--nf->ntx_free];
    uint16_t off = (uint16_t)((b % 2) * NF_TXBUF_SIZE);
    netif_tx_request_t *req = RING_GET_REQUEST(&nf->tx, idx);

    nf->tx_inflight[b] = true;
    req->gref = (grant_ref_t)nf->tx_ref[b / 2];
    req->offset = off;
    req->id = b;
    return (uint8_t *)xensim_guest_pfn_to_virt(nf->tx_pfn[b / 2]) + off;
}

/* Copies the frame into send buffers, one slot each (with sg, each piece
 * starts a slot), and writes the requests; returns the slots used. The
 * first slot carries the frame's total, later ones their own size. */
static unsigned int nf_tx_fill(struct xensim_netfront *nf, const struct iovec *iov, int iovcnt,
                               size_t total)
{
    RING_IDX start = nf->tx.req_prod_pvt;
    uint16_t sizes[XEN_NETIF_NR_SLOTS_MIN];
    unsigned int nslot = 0;
    uint8_t *dst = NULL;
    size_t room = 0;

    for (int i = 0; i < iovcnt; i++) {
        const uint8_t *src = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        if (nf->sg)
            room = 0;
        while (left) {
            if (!room) {
                dst = nf_tx_buffer(nf, start + nslot);
                room = NF_TXBUF_SIZE;
                sizes[nslot++] = 0;
            }
            size_t n = left < room ? left : room;
            memcpy(dst, src, n);
            dst += n;
            src += n;
            left -= n;
            room -= n;
            sizes[nslot - 1] = (uint16_t)(sizes[nslot - 1] + n);
        }
    }
    for (unsigned int s = 0; s < nslot; s++) {
        netif_tx_request_t *req = RING_GET_REQUEST(&nf->tx, start + s);
        req->size = s == 0 ? (uint16_t)total : sizes[s];
        req->flags = s + 1 < nslot ? NETTXF_more_data : 0;
    }
    return nslot;
}

int xensim_netfront_sendv(struct xensim_netfront *nf, const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    unsigned int slots = 0;
    for (int i = 0; i < iovcnt; i++) {
        total += iov[i].iov_len;
        slots += (unsigned int)((iov[i].iov_len + NF_TXBUF_SIZE - 1) / NF_TXBUF_SIZE);
    }
    if (total < ETH_HLEN || total > XEN_NETIF_MAX_TX_SIZE)
        return -EMSGSIZE;
    bool irqs = xensim_irqlock_lock(&nf->lock);
    int rc = nf_tx_room(nf, total, nf->sg ? slots : 1);
    int notify = 0;
    if (!rc) {
        nf->tx.req_prod_pvt += nf_tx_fill(nf, iov, iovcnt, total);
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&nf->tx, notify);
        nf->st.tx_packets++;
    }
    xensim_irqlock_unlock(&nf->lock, irqs);
    if (notify)
        xensim_evtchn_send(nf->port);
    return rc;
}

int xensim_netfront_send(struct xensim_netfront *nf, const void *frame, size_t len)
{
    struct iovec iov = { .iov_base = (void *)frame, .iov_len = len };
    return xensim_netfront_sendv(nf, &iov, 1);
}

ssize_t xensim_netfront_recv(struct xensim_netfront *nf, void *buf, size_t size)
{
    bool irqs = xensim_irqlock_lock(&nf->lock);
    struct nf_frame *f = nf->q_head;
    if (f) {
        nf->q_head = f->next;
        if (!nf->q_head)
            nf->q_tail = NULL;
        nf->q_len--;
    }
    xensim_irqlock_unlock(&nf->lock, irqs);
    if (!f)
        return -EAGAIN;
    ssize_t ret = (ssize_t)f->len;
    if (f->len > size)
        ret = -EMSGSIZE;
    else
        memcpy(buf, f->data, f->len);
    free(f);
    return ret;
}

unsigned int xensim_netfront_tx_inflight(struct xensim_netfront *nf)
{
    bool irqs = xensim_irqlock_lock(&nf->lock);
    nf_tx_gc(nf);
    unsigned int n = nf->ntx - nf->ntx_free;
    xensim_irqlock_unlock(&nf->lock, irqs);
    return n;
}

bool xensim_netfront_connected(struct xensim_netfront *nf)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = nf->port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    bool irqs = xensim_irqlock_lock(&nf->lock);
    if (rc || st.status != EVTCHNSTAT_interdomain)
        nf->broken = nf->broken || nf->connected;
    bool ok = nf->connected && !nf->broken && !rc && st.status == EVTCHNSTAT_interdomain;
    xensim_irqlock_unlock(&nf->lock, irqs);
    return ok;
}

void xensim_netfront_stats(struct xensim_netfront *nf, struct xensim_netfront_stats *st)
{
    bool irqs = xensim_irqlock_lock(&nf->lock);
    *st = nf->st;
    xensim_irqlock_unlock(&nf->lock, irqs);
}

int xensim_netfront_destroy(struct xensim_netfront *nf)
{
    if (!nf)
        return 0;
    xensim_irq_unbind(nf->port);
    xensim_evtchn_close(nf->port);
    nf_free_all(nf);
    return 0;
}
