/*
 * The hostile network back end (<xensim/hostile.h>): a xenbus "vif" back
 * driver that connects to a real netfront as netback would (copy only,
 * no scatter-gather: it maps the tx and rx rings and binds the event
 * channel), then answers each frame the front end sends in the way its
 * device's "hostile-kind" key names: the tx request, and a copy of the
 * frame into the front end's next posted receive buffer, or neither.
 * It owns its mappings and port; calls back.c, guest/ and xenbus/ only.
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
#include "back.h"
#include "util.h"

#define MADE_UP 1000u   /* added to an id: one never posted (netfront's are < 256) */

/* A receive response that lies about where its bytes are. */
struct hv_lie {
    uint16_t offset;
    int16_t status;
};

static const struct hv_lie oversize_lies[] = {
    { 0, XEN_PAGE_SIZE + 1 },                 /* more bytes than the buffer holds */
    { XEN_PAGE_SIZE + 100, 60 },              /* an offset past the page */
    { XEN_PAGE_SIZE - 10, 60 },               /* a frame that runs off the page */
};

/*
 * How each kind answers, as data: every kind runs the same loop, and
 * the table says what it bends. Echoing each frame back gives the honest
 * side something real to receive after whatever it had to drop.
 */
struct hv_kind {
    enum xensim_hostile_kind kind;
    bool answers;                    /* false: requests taken and dropped */
    uint16_t id_skew;                /* added to every id answered */
    /* Added to the tx rsp_prod published: half a ring past what was asked
     * stays within a ring of the front's consumer, so only a check
     * against the requests it made can catch it. */
    RING_IDX tx_prod_skew;
    const struct hv_lie *lies;       /* rx responses before each echo */
    unsigned int nlies;
};

static const struct hv_kind hv_kinds[] = {
    { .kind = XENSIM_HOSTILE_MADE_UP_IDS, .answers = true, .id_skew = MADE_UP },
    { .kind = XENSIM_HOSTILE_RSP_INDICES, .answers = true,
      .tx_prod_skew = __CONST_RING_SIZE(netif_tx, XEN_PAGE_SIZE) / 2 },
    { .kind = XENSIM_HOSTILE_NEVER_ANSWERS, .answers = false },
    { .kind = XENSIM_HOSTILE_RX_OVERSIZE, .answers = true, .lies = oversize_lies,
      .nlies = ARRAY_SIZE(oversize_lies) },
};

struct hv_back {
    const struct hv_kind *k;
    domid_t front;
    void *ring[2];                   /* tx, rx as mapped */
    grant_handle_t handle[2];
    evtchn_port_t port;
    netif_tx_back_ring_t tx;
    netif_rx_back_ring_t rx;
    bool live;                       /* rings mapped and port bound */
};

static int hv_probe(struct xensim_xenbus_device *dev)
{
    enum xensim_hostile_kind kinds[ARRAY_SIZE(hv_kinds)], kind;
    for (unsigned int i = 0; i < ARRAY_SIZE(hv_kinds); i++)
        kinds[i] = hv_kinds[i].kind;
    if (hostile_back_kind(dev, kinds, ARRAY_SIZE(kinds), &kind))
        return -EINVAL;
    int err;
    /* Copy only and one slot a frame: the simplest front end to lie to. */
    if ((err = xensim_xenbus_printf(0, dev->nodename, "feature-sg", "0")) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "feature-rx-copy", "1")) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "feature-rx-flip", "0")))
        return err;
    struct hv_back *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    for (unsigned int i = 0; i < ARRAY_SIZE(hv_kinds); i++)
        if (hv_kinds[i].kind == kind)
            b->k = &hv_kinds[i];
    b->front = dev->otherend_id;
    dev->priv = b;
    return 0;
}

/* The next posted receive buffer, or false if the front end posted none
 * (or claims more than a ring). */
static bool hv_rx_take(struct hv_back *b, netif_rx_request_t *req)
{
    RING_IDX rp = __atomic_load_n(&b->rx.sring->req_prod, __ATOMIC_ACQUIRE);
    if (rp == b->rx.req_cons || (RING_IDX)(rp - b->rx.req_cons) > RING_SIZE(&b->rx))
        return false;
    RING_COPY_REQUEST(&b->rx, b->rx.req_cons, req);
    b->rx.req_cons++;
    return true;
}

static void hv_rx_answer(struct hv_back *b, uint16_t id, uint16_t offset, int16_t status)
{
    netif_rx_response_t *rsp = RING_GET_RESPONSE(&b->rx, b->rx.rsp_prod_pvt);
    rsp->id = id;
    rsp->offset = offset;
    rsp->flags = 0;
    rsp->status = status;
    b->rx.rsp_prod_pvt++;
}

/* The kind's lies, then the frame of tx request t copied into the next
 * posted buffer (before t is answered: the front end may reuse its
 * buffer once it is). True if it put anything on the rx ring. */
static bool hv_rx_frame(struct hv_back *b, const netif_tx_request_t *t)
{
    netif_rx_request_t req;
    bool any = false;
    for (unsigned int i = 0; i < b->k->nlies && hv_rx_take(b, &req); i++) {
        hv_rx_answer(b, req.id, b->k->lies[i].offset, b->k->lies[i].status);
        any = true;
    }
    if (!hv_rx_take(b, &req))
        return any;
    uint16_t len = t->size;
    if ((unsigned int)t->offset + len > XEN_PAGE_SIZE)
        len = (uint16_t)(XEN_PAGE_SIZE - t->offset);
    gnttab_copy_t op = {
        .source = { .u.ref = t->gref, .domid = b->front, .offset = t->offset },
        .dest = { .u.ref = req.gref, .domid = b->front, .offset = 0 },
        .len = len,
        .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    bool ok = HYPERVISOR_grant_table_op(GNTTABOP_copy, &op, 1) == 0 && op.status == GNTST_okay;
    hv_rx_answer(b, (uint16_t)(req.id + b->k->id_skew), 0, ok ? (int16_t)len : NETIF_RSP_ERROR);
    return true;
}

static void hv_irq(evtchn_port_t port, void *arg)
{
    struct hv_back *b = arg;
    bool tx_any = false, rx_any = false;
    int more;
    (void)port;
    if (!b->live)
        return;
    do {
        RING_IDX rp = __atomic_load_n(&b->tx.sring->req_prod, __ATOMIC_ACQUIRE);
        if ((RING_IDX)(rp - b->tx.req_cons) > RING_SIZE(&b->tx))
            return;   /* the front end broke its own ring: read nothing */
        while (b->tx.req_cons != rp) {
            netif_tx_request_t req;
            RING_COPY_REQUEST(&b->tx, b->tx.req_cons, &req);
            b->tx.req_cons++;
            if (!b->k->answers)
                continue;
            rx_any |= hv_rx_frame(b, &req);
            netif_tx_response_t *rsp = RING_GET_RESPONSE(&b->tx, b->tx.rsp_prod_pvt);
            rsp->id = (uint16_t)(req.id + b->k->id_skew);
            rsp->status = NETIF_RSP_OKAY;
            b->tx.rsp_prod_pvt++;
            tx_any = true;
        }
        /* Asks to be told of the next request, as netback does. */
        RING_FINAL_CHECK_FOR_REQUESTS(&b->tx, more);
    } while (more);
    if (rx_any)
        __atomic_store_n(&b->rx.sring->rsp_prod, b->rx.rsp_prod_pvt, __ATOMIC_RELEASE);
    if (tx_any)
        __atomic_store_n(&b->tx.sring->rsp_prod, b->tx.rsp_prod_pvt + b->k->tx_prod_skew,
                         __ATOMIC_RELEASE);
    if (tx_any || rx_any)
        xensim_evtchn_send(b->port);
}

static void hv_disconnect(struct xensim_xenbus_device *dev)
{
    struct hv_back *b = dev->priv;
    if (!b || !b->live)
        return;
    b->live = false;
    xensim_irq_unbind(b->port);
    xensim_evtchn_close(b->port);
    xensim_xenbus_unmap_ring(b->handle, b->ring, 2);
}

/* The front end is Initialised: map its rings, bind its port. */
static int hv_connect(struct xensim_xenbus_device *dev)
{
    struct hv_back *b = dev->priv;
    unsigned int tx, rx, evtchn;
    int copy = 0, err;

    if (xensim_xenbus_scanf(0, dev->otherend, "tx-ring-ref", "%u", &tx) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "rx-ring-ref", "%u", &rx) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "event-channel", "%u", &evtchn) != 1)
        return -EINVAL;
    if (xensim_xenbus_scanf(0, dev->otherend, "request-rx-copy", "%d", &copy) != 1 || copy != 1)
        return -EOPNOTSUPP;   /* as netback: no flipping front ends */
    grant_ref_t refs[2] = { tx, rx };
    if ((err = xensim_xenbus_map_ring(b->front, refs, 2, b->handle, b->ring)))
        return err;
    BACK_RING_INIT(&b->tx, (netif_tx_sring_t *)b->ring[0], XEN_PAGE_SIZE);
    BACK_RING_INIT(&b->rx, (netif_rx_sring_t *)b->ring[1], XEN_PAGE_SIZE);
    long port = xensim_evtchn_bind_interdomain(b->front, evtchn);
    if (port < 0) {
        xensim_xenbus_unmap_ring(b->handle, b->ring, 2);
        return (int)port;
    }
    b->port = (evtchn_port_t)port;
    b->live = true;
    if ((err = xensim_irq_bind(b->port, hv_irq, b))) {
        hv_disconnect(dev);
        return err;
    }
    return 0;
}

static void hv_remove(struct xensim_xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xensim_hostile_vif_back = {
    .type = "vif",
    .probe = hv_probe,
    .connect = hv_connect,
    .disconnect = hv_disconnect,
    .remove = hv_remove,
};
