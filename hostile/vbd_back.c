/*
 * The hostile block back end (<xensim/hostile.h>): a xenbus "vbd" back
 * driver that connects to a real blkfront as blkback would (it maps the
 * one-page ring, binds the event channel, publishes a 1 MiB disk of
 * 512-byte sectors), then answers every request in the way its device's
 * "hostile-kind" key names, or never. It never maps a data grant. Calls
 * back.c, guest/ and xenbus/ only.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/io/ring.h>
#include <xen/io/blkif.h>
#include <xensim/guest.h>
#include <xensim/hostile.h>
#include <xensim/xenbus.h>
#include "back.h"
#include "util.h"

#define SECTORS 2048u
#define MADE_UP 1000000u        /* added to an id: one never asked for */

struct hb_back {
    enum xensim_hostile_kind kind;
    void *ring_page;
    grant_handle_t handle;
    evtchn_port_t port;
    blkif_back_ring_t ring;
    bool live;
};

/* What this back end does: every kind answers blkfront wrongly. */
static const enum xensim_hostile_kind hb_kinds[] = {
    XENSIM_HOSTILE_MADE_UP_IDS, XENSIM_HOSTILE_RSP_INDICES, XENSIM_HOSTILE_NEVER_ANSWERS };

static int hb_probe(struct xensim_xenbus_device *dev)
{
    enum xensim_hostile_kind kind;
    if (hostile_back_kind(dev, hb_kinds, ARRAY_SIZE(hb_kinds), &kind))
        return -EINVAL;
    struct hb_back *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->kind = kind;
    dev->priv = b;
    return 0;
}

/* Each request taken off the ring gets a response the front end never
 * asked for (a made-up id, or an rsp_prod past everything), or none. */
static void hb_irq(evtchn_port_t port, void *arg)
{
    struct hb_back *b = arg;
    bool any = false;
    (void)port;
    if (!b->live)
        return;
    RING_IDX rp = __atomic_load_n(&b->ring.sring->req_prod, __ATOMIC_ACQUIRE);
    if ((RING_IDX)(rp - b->ring.req_cons) > RING_SIZE(&b->ring))
        return;   /* the front end broke its own ring: read nothing */
    while (b->ring.req_cons != rp) {
        blkif_request_t req;
        RING_COPY_REQUEST(&b->ring, b->ring.req_cons, &req);
        b->ring.req_cons++;
        if (b->kind == XENSIM_HOSTILE_NEVER_ANSWERS)
            continue;
        blkif_response_t *rsp = RING_GET_RESPONSE(&b->ring, b->ring.rsp_prod_pvt);
        rsp->id = req.id + MADE_UP;
        rsp->operation = req.operation;
        rsp->status = BLKIF_RSP_OKAY;
        b->ring.rsp_prod_pvt++;
        any = true;
    }
    if (!any)
        return;
    if (b->kind == XENSIM_HOSTILE_RSP_INDICES)
        b->ring.rsp_prod_pvt += RING_SIZE(&b->ring) + 5;
    __atomic_store_n(&b->ring.sring->rsp_prod, b->ring.rsp_prod_pvt, __ATOMIC_RELEASE);
    xensim_evtchn_send(b->port);
}

static void hb_disconnect(struct xensim_xenbus_device *dev)
{
    struct hb_back *b = dev->priv;
    if (!b || !b->live)
        return;
    b->live = false;
    xensim_irq_unbind(b->port);
    xensim_evtchn_close(b->port);
    xensim_xenbus_unmap_ring(&b->handle, &b->ring_page, 1);
}

/* The front end is Initialised: map its ring, bind its port, publish a
 * disk. */
static int hb_connect(struct xensim_xenbus_device *dev)
{
    struct hb_back *b = dev->priv;
    unsigned int ref, evtchn;
    int err;

    if (xensim_xenbus_scanf(0, dev->otherend, "ring-ref", "%u", &ref) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "event-channel", "%u", &evtchn) != 1)
        return -EINVAL;
    grant_ref_t gref = ref;
    if ((err = xensim_xenbus_map_ring(dev->otherend_id, &gref, 1, &b->handle, &b->ring_page)))
        return err;
    BACK_RING_INIT(&b->ring, (blkif_sring_t *)b->ring_page, XEN_PAGE_SIZE);
    long port = xensim_evtchn_bind_interdomain(dev->otherend_id, evtchn);
    if (port < 0) {
        xensim_xenbus_unmap_ring(&b->handle, &b->ring_page, 1);
        return (int)port;
    }
    b->port = (evtchn_port_t)port;
    b->live = true;
    if ((err = xensim_irq_bind(b->port, hb_irq, b)) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "sectors", "%u", SECTORS)) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "sector-size", "512")) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "info", "0"))) {
        hb_disconnect(dev);
        return err;
    }
    return 0;
}

static void hb_remove(struct xensim_xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xensim_hostile_vbd_back = {
    .type = "vbd",
    .probe = hb_probe,
    .connect = hb_connect,
    .disconnect = hb_disconnect,
    .remove = hb_remove,
};
