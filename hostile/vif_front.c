/*
 * The hostile network front end (<xensim/hostile.h>): a xenbus "vif"
 * front driver that sets up a tx and an rx ring page and one event
 * channel as netfront would (request-rx-copy), then attacks netback's tx
 * path on request and records what came back. It posts no receive
 * buffers: frames for it are netback's to drop. Calls front.c, guest/
 * and xenbus/ only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/io/ring.h>
#include <xen/io/netif.h>
#include <xensim/guest.h>
#include <xensim/hostile.h>
#include <xensim/xenbus.h>
#include "front.h"
#include "util.h"

#define FRAME 60u

struct hn_front {
    struct hostile_front f;                  /* first: dev->priv points at both */
    void *ring[2], *data_page;               /* tx, rx */
    xen_pfn_t ring_pfn[2], data_pfn;
    grant_ref_t ring_ref[2];
    long data_ref;
    netif_tx_front_ring_t tx;
    uint16_t next_id;
    unsigned int outstanding;                /* tx requests not answered */
};

static void hn_release(struct hostile_front *f)
{
    struct hn_front *h = (struct hn_front *)f;
    if (h->data_ref >= 0)
        xensim_xenbus_end_access((grant_ref_t)h->data_ref, h->data_pfn);
    else if (h->data_page)
        xensim_guest_page_free(h->data_pfn);
    for (int i = 0; i < 2; i++)
        if (h->ring[i])
            xensim_xenbus_end_access(h->ring_ref[i], h->ring_pfn[i]);
    free(h);
}

static int hn_probe(struct xensim_xenbus_device *dev)
{
    struct hn_front *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->data_ref = -1;
    h->f.release = hn_release;
    dev->priv = h;
    return 0;
}

static int hn_pages(struct xensim_xenbus_device *dev, struct hn_front *h)
{
    int err;
    for (int i = 0; i < 2; i++) {
        if ((err = xensim_guest_page_alloc(&h->ring_pfn[i]))) {
            if (i)
                xensim_guest_page_free(h->ring_pfn[0]);
            return err;
        }
        h->ring[i] = xensim_guest_pfn_to_virt(h->ring_pfn[i]);
    }
    if ((err = xensim_xenbus_grant_ring(dev->otherend_id, h->ring, 2, h->ring_ref))) {
        for (int i = 0; i < 2; i++) {
            xensim_guest_page_free(h->ring_pfn[i]);
            h->ring[i] = NULL;
        }
        return err;
    }
    if ((err = xensim_guest_page_alloc(&h->data_pfn)))
        return err;
    h->data_page = xensim_guest_pfn_to_virt(h->data_pfn);
    memset(h->data_page, 0xff, FRAME);      /* a broadcast frame */
    h->data_ref = xensim_gnttab_grant_access(dev->otherend_id, h->data_pfn, true);
    return h->data_ref < 0 ? (int)h->data_ref : 0;
}

/* The back end is in InitWait: the rings (the same pages after a
 * restart) and a fresh port. */
static int hn_setup_rings(struct xensim_xenbus_device *dev)
{
    struct hn_front *h = dev->priv;
    int err;

    if (!h->ring[0] && (err = hn_pages(dev, h)))
        return err;
    netif_tx_sring_t *txs = h->ring[0];
    netif_rx_sring_t *rxs = h->ring[1];
    SHARED_RING_INIT(txs);
    SHARED_RING_INIT(rxs);
    FRONT_RING_INIT(&h->tx, txs, XEN_PAGE_SIZE);
    h->outstanding = 0;
    return hostile_front_bind(&h->f, dev->otherend_id);
}

static int hn_publish(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t)
{
    struct hn_front *h = dev->priv;
    int err;

    if ((err = xensim_xenbus_printf(t, dev->nodename, "tx-ring-ref", "%u", h->ring_ref[0])) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "rx-ring-ref", "%u", h->ring_ref[1])) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "event-channel", "%u", h->f.port)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "request-rx-copy", "1")))
        return err;
    return 0;
}

static int hn_connect(struct xensim_xenbus_device *dev)
{
    struct hn_front *h = dev->priv;
    hostile_front_paths(&h->f, dev);
    return 0;
}

const struct xensim_xenbus_driver xensim_hostile_vif_front = {
    .type = "vif",
    .probe = hn_probe,
    .setup_rings = hn_setup_rings,
    .publish = hn_publish,
    .connect = hn_connect,
    .disconnect = hostile_front_disconnect,
    .remove = hostile_front_remove,
};

/* A one-slot frame from the data page; size and offset as given. */
static void put(struct hn_front *h, grant_ref_t gref, uint16_t offset, uint16_t size,
                struct xensim_hostile_report *r)
{
    netif_tx_request_t *req = RING_GET_REQUEST(&h->tx, h->tx.req_prod_pvt);
    *req = (netif_tx_request_t){ .gref = gref, .offset = offset, .flags = 0,
                                 .id = h->next_id++, .size = size };
    h->tx.req_prod_pvt++;
    h->outstanding++;
    r->requests++;
}

static void push(struct hn_front *h, struct xensim_hostile_report *r)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&h->tx, notify);
    (void)notify;
    xensim_evtchn_send(h->f.port);
    r->notifications++;
}

static void collect(struct hn_front *h, struct xensim_hostile_report *r)
{
    RING_IDX rp = __atomic_load_n(&h->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
    if ((RING_IDX)(rp - h->tx.rsp_cons) > RING_SIZE(&h->tx))
        rp = h->tx.rsp_cons + RING_SIZE(&h->tx);
    while (h->tx.rsp_cons != rp) {
        netif_tx_response_t rsp = *RING_GET_RESPONSE(&h->tx, h->tx.rsp_cons);
        h->tx.rsp_cons++;
        if (rsp.status == NETIF_RSP_NULL)
            continue;        /* an extra-info slot's: none asked for here */
        r->responses++;
        if (rsp.id >= h->next_id || !h->outstanding)
            r->bad_responses++;
        else
            h->outstanding--;
        if (rsp.status != NETIF_RSP_OKAY)
            r->errors++;
    }
    h->tx.sring->rsp_event = h->tx.rsp_cons + 1;
}

/* Until every request is answered, or HOSTILE_WAIT_NS passed (a back end that
 * gave up on the ring answers nothing more). */
static void wait_answers(struct hn_front *h, struct xensim_hostile_report *r)
{
    uint64_t deadline = xensim_guest_system_time() + HOSTILE_WAIT_NS;
    while (h->f.live && !h->f.removed) {
        xensim_evtchn_clear_pending(h->f.port);
        collect(h, r);
        if (!h->outstanding || xensim_guest_system_time() >= deadline)
            return;
        hostile_front_poll(&h->f);
    }
}

static void event_storm(struct hn_front *h, struct xensim_hostile_report *r)
{
    hostile_front_storm(&h->f, r);
    put(h, (grant_ref_t)h->data_ref, 0, FRAME, r);
    push(h, r);
    wait_answers(h, r);
}

/* Whether the back end still holds its end of our port: netback closes
 * it when it gives up on the vif, which leaves ours unbound. */
static bool peer_bound(const struct hn_front *h)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = h->f.port };
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == 0 &&
           st.status == EVTCHNSTAT_interdomain;
}

static void ring_indices(struct hn_front *h, struct xensim_hostile_report *r)
{
    RING_IDX far = h->tx.req_prod_pvt + RING_SIZE(&h->tx) + 7;
    __atomic_store_n(&h->tx.sring->req_prod, far, __ATOMIC_RELEASE);
    xensim_evtchn_send(h->f.port);
    r->notifications++;
    /* Until netback has given up (or HOSTILE_WAIT_NS): what follows may
     * then look at what it says. */
    uint64_t deadline = xensim_guest_system_time() + HOSTILE_WAIT_NS;
    while (h->f.live && peer_bound(h) && xensim_guest_system_time() < deadline)
        hostile_front_poll(&h->f);
    r->backend_closed = h->f.live && !peer_bound(h);
}

static void bad_requests(struct hn_front *h, struct xensim_hostile_report *r)
{
    grant_ref_t ref = (grant_ref_t)h->data_ref;
    put(h, ref, 0, 10, r);                        /* shorter than an Ethernet header */
    put(h, ref, XEN_PAGE_SIZE - 20, FRAME, r);    /* past the page's end */
    put(h, HOSTILE_NO_REF, 0, FRAME, r);                  /* a ref never granted */
    push(h, r);
    wait_answers(h, r);
}

static void (*const attacks[XENSIM_HOSTILE_KINDS])(struct hn_front *,
                                                   struct xensim_hostile_report *) = {
    [XENSIM_HOSTILE_EVENT_STORM] = event_storm,
    [XENSIM_HOSTILE_RING_INDICES] = ring_indices,
    [XENSIM_HOSTILE_BAD_REQUESTS] = bad_requests,
};

int xensim_hostile_vif_attack(unsigned int devid, enum xensim_hostile_kind kind,
                              struct xensim_hostile_report *r)
{
    if ((unsigned int)kind >= XENSIM_HOSTILE_KINDS || !attacks[kind])
        return -EINVAL;
    struct hostile_front *f = hostile_front_begin(&xensim_hostile_vif_front, devid);
    if (!f)
        return -ENODEV;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    /* From here on the device may go at any xenbus call: only h is used. */
    attacks[kind]((struct hn_front *)f, r);
    r->backend_state = xensim_xenbus_read_state(f->otherend);
    hostile_front_end(f);
    return 0;
}
