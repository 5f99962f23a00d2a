/*
 * The "echo" back end: reads the front end's ring keys, maps its pages
 * with xensim_xenbus_map_ring, binds its port, and answers each request with
 * value + 1 from its irq handler, with Xen's ring discipline (copy before
 * use, overflow checks, final check). A ring that overflows closes its
 * device. Public headers only.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>
#include <xensim/guest.h>
#include "echo.h"

#define ECHO_MAX_PAGES (1u << XENSIM_XENBUS_MAX_RING_ORDER)

struct echo_back {
    struct xensim_xenbus_device *dev;
    echo_back_ring_t ring;
    unsigned int nr_pages;        /* mapped: unmapped at disconnect */
    grant_handle_t handles[ECHO_MAX_PAGES];
    void *addrs[ECHO_MAX_PAGES];
    evtchn_port_t port;           /* 0 when none */
    bool live;                    /* mapped and bound */
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

static int eb_probe(struct xensim_xenbus_device *dev)
{
    struct echo_back *p = calloc(1, sizeof(*p));

    if (!p)
        return -ENOMEM;
    p->dev = dev;
    dev->priv = p;
    /* Features go out before InitWait. */
    xensim_xenbus_printf(XENSIM_XENBUS_TRANSACTION_NIL, dev->nodename, "feature-echo", "1");
    return 0;
}

static void eb_process(struct echo_back *p)
{
    int more, notify;

    do {
        RING_IDX rp = p->ring.sring->req_prod;

        xen_rmb();
        if (RING_REQUEST_PROD_OVERFLOW(&p->ring, rp)) {
            /* This device only: stop serving it and close it, as
             * Linux's xenbus_dev_fatal does (and vbd does here), so the
             * front end is told rather than left waiting. */
            p->broken = true;
            xensim_xenbus_switch_state(p->dev, XenbusStateClosing);
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
            xensim_evtchn_send(p->port);
        RING_FINAL_CHECK_FOR_REQUESTS(&p->ring, more);
    } while (more);
}

static void eb_irq(evtchn_port_t port, void *arg)
{
    struct echo_back *p = arg;

    (void)port;
    if (p->live && !p->broken && !atomic_load(&hold))
        eb_process(p);
}

/* The front end's ring keys: ring-ref, or ring-page-order and ring-ref<i>. */
static int eb_read_keys(struct xensim_xenbus_device *dev, unsigned int *order, grant_ref_t *refs,
                        unsigned int *port)
{
    const char *fe = dev->otherend;

    if (xensim_xenbus_scanf(0, fe, "ring-page-order", "%u", order) != 1)
        *order = 0;
    if (*order > XENSIM_XENBUS_MAX_RING_ORDER)
        return -EINVAL;
    if (!*order && xensim_xenbus_scanf(0, fe, "ring-ref", "%u", &refs[0]) != 1)
        return -ENOENT;
    for (unsigned int i = 0; *order && i < 1u << *order; i++) {
        char key[32];

        snprintf(key, sizeof(key), "ring-ref%u", i);
        if (xensim_xenbus_scanf(0, fe, key, "%u", &refs[i]) != 1)
            return -ENOENT;
    }
    return xensim_xenbus_scanf(0, fe, "event-channel", "%u", port) == 1 ? 0 : -ENOENT;
}

/* A front end of another ABI would lay the ring out differently. */
static int eb_check_protocol(struct xensim_xenbus_device *dev)
{
    char path[XENSIM_XENBUS_PATH_MAX + 16], proto[32];
    int n;

    snprintf(path, sizeof(path), "%s/protocol", dev->otherend);
    n = xensim_xenbus_read_buf(0, path, proto, sizeof(proto));
    if (n == -ENOENT)
        return 0;             /* absent means native */
    return n >= 0 && !strcmp(proto, XEN_IO_PROTO_ABI_NATIVE) ? 0 : -EPROTONOSUPPORT;
}

/* Maps and binds; what it made is undone by eb_disconnect, which the
 * framework also calls when this fails. */
static int eb_connect(struct xensim_xenbus_device *dev)
{
    struct echo_back *p = dev->priv;
    grant_ref_t refs[ECHO_MAX_PAGES];
    unsigned int order, port, n;
    long local;
    int err;

    if ((err = eb_read_keys(dev, &order, refs, &port)) || (err = eb_check_protocol(dev)))
        return err;
    n = 1u << order;
    if ((err = xensim_xenbus_map_ring(dev->otherend_id, refs, n, p->handles, p->addrs)))
        return err;
    p->nr_pages = n;
    /* Xen's ring macros want one range: the mappings must be side by side. */
    for (unsigned int i = 1; i < n; i++)
        if ((char *)p->addrs[i] != (char *)p->addrs[0] + i * XEN_PAGE_SIZE)
            return -EINVAL;
    BACK_RING_INIT(&p->ring, (echo_sring_t *)p->addrs[0], XEN_PAGE_SIZE << order);
    XENSIM_RING_INDICES(p->ring.sring);
    local = xensim_evtchn_bind_interdomain(dev->otherend_id, port);
    if (local < 0)
        return (int)local;
    p->port = (evtchn_port_t)local;
    p->broken = false;
    p->live = true;
    /* Events go to the vCPU whose interrupt layer has the handler; bound
     * last, since requests already queued are served at once. */
    struct evtchn_bind_vcpu bv = { .port = p->port, .vcpu = xensim_guest_vcpu_id() };
    HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv);
    return xensim_irq_bind(p->port, eb_irq, p);
}

static void eb_disconnect(struct xensim_xenbus_device *dev)
{
    struct echo_back *p = dev->priv;

    p->live = false;
    if (p->port) {
        xensim_irq_unbind(p->port);
        xensim_evtchn_close(p->port);
        p->port = 0;
    }
    xensim_xenbus_unmap_ring(p->handles, p->addrs, p->nr_pages);
    p->nr_pages = 0;
}

static void eb_remove(struct xensim_xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xenbus_echo_back = {
    .type = "echo",
    .probe = eb_probe,
    .connect = eb_connect,
    .disconnect = eb_disconnect,
    .remove = eb_remove,
};
