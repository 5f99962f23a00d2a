/*
 * The "echo" back end: maps the front end's ring through the framework and
 * answers each request with value + 1 from its irq handler, with Xen's
 * ring discipline (copy before use, overflow checks, final check). A ring
 * that overflows closes its device.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "echo.h"
#include "xb_framework.h"

struct echo_back {
    echo_back_ring_t ring;
    bool broken;                  /* the front end overran the ring */
};

static _Atomic bool hold;
static _Atomic unsigned long answered;

void xenbus_echo_back_hold(bool on)
{
    atomic_store(&hold, on);
}

unsigned long xenbus_echo_back_answered(void)
{
    return atomic_load(&answered);
}

static int eb_probe(struct xenbus_device *dev)
{
    dev->priv = calloc(1, sizeof(struct echo_back));
    if (!dev->priv)
        return -ENOMEM;
    /* Features go out before InitWait. */
    xenbus_printf(XENBUS_TRANSACTION_NIL, dev->nodename, "feature-echo", "1");
    return 0;
}

static void eb_process(struct xenbus_device *dev)
{
    struct echo_back *p = dev->priv;
    int more, notify;

    do {
        RING_IDX rp = p->ring.sring->req_prod;

        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&p->ring, rp)) {
            /* This device only: stop serving it and close it, as
             * Linux's xenbus_dev_fatal does (and vbd does here), so the
             * front end is told rather than left waiting. */
            p->broken = true;
            xenbus_switch_state(dev, XenbusStateClosing);
            return;
        }
        while (p->ring.req_cons != rp &&
               !RING_REQUEST_CONS_OVERFLOW(&p->ring, p->ring.req_cons)) {
            struct echo_request req;
            struct echo_response *rsp;

            RING_COPY_REQUEST(&p->ring, p->ring.req_cons, &req);
            p->ring.req_cons++;
            rsp = RING_GET_RESPONSE(&p->ring, p->ring.rsp_prod_pvt);
            rsp->id = req.id;
            rsp->value = req.value + 1;
            p->ring.rsp_prod_pvt++;
            atomic_fetch_add(&answered, 1);
        }
        RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&p->ring, notify);
        if (notify)
            xensim_evtchn_send(dev->evtchn);
        RING_FINAL_CHECK_FOR_REQUESTS(&p->ring, more);
    } while (more);
}

static int eb_connect(struct xenbus_device *dev)
{
    struct echo_back *p = dev->priv;

    if (!dev->ring[0])
        return -EINVAL;
    BACK_RING_INIT(&p->ring, (echo_sring_t *)dev->ring[0],
                   ECHO_RING_SIZE << dev->drv->rings[0].order);
    p->broken = false;
    return 0;
}

static void eb_handle_event(struct xenbus_device *dev)
{
    struct echo_back *p = dev->priv;

    if (!dev->connected || !p->ring.sring || p->broken || atomic_load(&hold))
        return;
    eb_process(dev);
}

static void eb_disconnect(struct xenbus_device *dev)
{
    struct echo_back *p = dev->priv;

    p->ring.sring = NULL;
}

static void eb_remove(struct xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xenbus_driver xenbus_echo_back = {
    .type = "echo",
    .nr_rings = 1,
    .rings = { { "ring-ref", 0 } },
    .probe = eb_probe,
    .connect = eb_connect,
    .disconnect = eb_disconnect,
    .remove = eb_remove,
    .handle_event = eb_handle_event,
};
