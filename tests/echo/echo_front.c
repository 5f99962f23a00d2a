/*
 * The "echo" front end: a ring of 2^order consecutive pages granted with
 * xensim_xenbus_grant_ring, a port from xensim_xenbus_alloc_evtchn bound to the vCPU
 * that set it up, and a synchronous round trip that waits for its answer
 * with SCHEDOP_poll on that port (events masked meanwhile). Teardown ends
 * the grants with xensim_xenbus_end_access, so pages the back end still maps wait
 * for it. Public headers only.
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

struct echo_front {
    echo_front_ring_t ring;
    unsigned int order;
    unsigned int nr_pages;        /* granted: ended at disconnect */
    xen_pfn_t pfn[ECHO_MAX_PAGES];
    grant_ref_t refs[ECHO_MAX_PAGES];
    evtchn_port_t port;           /* 0 when none */
    _Atomic bool live;            /* set up and not torn down */
    uint32_t next_id;
    _Atomic bool busy;            /* a call is using the ring */
    unsigned long stray;          /* answers nobody waited for */
};

static _Atomic unsigned int ring_order;

void xenbus_echo_ring_order(unsigned int order)
{
    atomic_store(&ring_order, order);
}

static int ef_probe(struct xensim_xenbus_device *dev)
{
    dev->priv = calloc(1, sizeof(struct echo_front));
    return dev->priv ? 0 : -ENOMEM;
}

/* Takes every answer there is; returns the value for id, or -1. -EIO when
 * the back end produced more than the ring holds. */
static long ef_consume(struct echo_front *p, uint32_t id, bool *found)
{
    RING_IDX rp = p->ring.sring->rsp_prod;
    long val = -1;

    xen_rmb();
    if (RING_RESPONSE_PROD_OVERFLOW(&p->ring, rp))
        return -EIO;
    while (p->ring.rsp_cons != rp) {
        struct echo_response r;

        RING_COPY_RESPONSE(&p->ring, p->ring.rsp_cons, &r);
        p->ring.rsp_cons++;
        if (found && r.id == id) {
            *found = true;
            val = r.value;
        } else {
            p->stray++;
        }
    }
    p->ring.sring->rsp_event = p->ring.rsp_cons + 1;
    xen_mb();
    return val;
}

static void ef_irq(evtchn_port_t port, void *arg)
{
    struct echo_front *p = arg;

    (void)port;
    if (atomic_load(&p->live) && !atomic_load(&p->busy))
        ef_consume(p, 0, NULL);
}

/* 2^order consecutive pages, so that the ring is one range of memory. */
static int ef_alloc(struct echo_front *p, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        xen_pfn_t pfn;
        int rc = xensim_guest_page_alloc(&pfn);

        if (rc || (i && pfn != p->pfn[0] + i)) {
            if (!rc)
                xensim_guest_page_free(pfn);
            while (i--)
                xensim_guest_page_free(p->pfn[i]);
            return -ENOMEM;
        }
        p->pfn[i] = pfn;
    }
    return 0;
}

/* The back end is ready: the ring, granted, and the port. What this makes
 * is undone by ef_disconnect, which the framework also calls on failure. */
static int ef_setup_rings(struct xensim_xenbus_device *dev)
{
    struct echo_front *p = dev->priv;
    void *pages[ECHO_MAX_PAGES];
    unsigned int n;
    int err;

    p->order = atomic_load(&ring_order);
    if (p->order > XENSIM_XENBUS_MAX_RING_ORDER)
        return -EINVAL;
    n = 1u << p->order;
    if ((err = ef_alloc(p, n)))
        return err;
    for (unsigned int i = 0; i < n; i++)
        pages[i] = xensim_guest_pfn_to_virt(p->pfn[i]);
    SHARED_RING_INIT((echo_sring_t *)pages[0]);
    FRONT_RING_INIT(&p->ring, (echo_sring_t *)pages[0], XEN_PAGE_SIZE << p->order);
    XENSIM_RING_INDICES(pages[0]);
    if ((err = xensim_xenbus_grant_ring(dev->otherend_id, pages, n, p->refs))) {
        for (unsigned int i = 0; i < n; i++)
            xensim_guest_page_free(p->pfn[i]);
        return err;
    }
    p->nr_pages = n;
    if ((err = xensim_xenbus_alloc_evtchn(dev->otherend_id, &p->port)))
        return err;
    /* Events go to the vCPU whose interrupt layer has the handler. */
    struct evtchn_bind_vcpu bv = { .port = p->port, .vcpu = xensim_guest_vcpu_id() };
    HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv);
    if ((err = xensim_irq_bind(p->port, ef_irq, p)))
        return err;
    atomic_store(&p->live, true);
    return 0;
}

static int ef_publish(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t)
{
    struct echo_front *p = dev->priv;
    const char *d = dev->nodename;
    int err = 0;

    if (!p->order)
        err = xensim_xenbus_printf(t, d, "ring-ref", "%u", p->refs[0]);
    else
        err = xensim_xenbus_printf(t, d, "ring-page-order", "%u", p->order);
    for (unsigned int i = 0; p->order && i < p->nr_pages && !err; i++) {
        char key[32];

        snprintf(key, sizeof(key), "ring-ref%u", i);
        err = xensim_xenbus_printf(t, d, key, "%u", p->refs[i]);
    }
    if (!err)
        err = xensim_xenbus_printf(t, d, "event-channel", "%u", p->port);
    if (!err)
        err = xensim_xenbus_printf(t, d, "protocol", "%s", XEN_IO_PROTO_ABI_NATIVE);
    return err;
}

static void ef_disconnect(struct xensim_xenbus_device *dev)
{
    struct echo_front *p = dev->priv;

    /* A call on another vCPU notices !live and leaves. */
    atomic_store(&p->live, false);
    while (atomic_load(&p->busy))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    if (p->port) {
        xensim_irq_unbind(p->port);
        xensim_evtchn_close(p->port);
        p->port = 0;
    }
    for (unsigned int i = 0; i < p->nr_pages; i++)
        xensim_xenbus_end_access(p->refs[i], p->pfn[i]);
    p->nr_pages = 0;
}

/* Also when the domain died, with no vCPU: its pages went with it. */
static void ef_remove(struct xensim_xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xenbus_echo_front = {
    .type = "echo",
    .probe = ef_probe,
    .setup_rings = ef_setup_rings,
    .publish = ef_publish,
    .disconnect = ef_disconnect,
    .remove = ef_remove,
};

static struct echo_front *ef_find(unsigned int devid)
{
    struct xensim_xenbus_device *dev = xensim_xenbus_device_find(&xenbus_echo_front, DOMID_SELF, devid);
    struct echo_front *p = dev ? dev->priv : NULL;

    return p && atomic_load(&p->live) &&
                   __atomic_load_n(&dev->state, __ATOMIC_ACQUIRE) == XenbusStateConnected
               ? p
               : NULL;
}

static uint32_t ef_push(struct echo_front *p, uint32_t value)
{
    struct echo_request *req = RING_GET_REQUEST(&p->ring, p->ring.req_prod_pvt);

    req->id = ++p->next_id;
    req->value = value;
    p->ring.req_prod_pvt++;
    return req->id;
}

/* Waits for the answer to id, taking every answer that comes meanwhile. */
static int ef_wait(struct echo_front *p, uint32_t id, uint32_t *out, uint64_t deadline)
{
    bool found = false;

    for (;;) {
        evtchn_port_t port = p->port, *pp = &port;
        struct sched_poll sp = { .nr_ports = 1 };
        long v;

        xensim_evtchn_clear_pending(port);
        v = ef_consume(p, id, &found);
        if (v == -EIO)
            return -EIO;
        if (found) {
            *out = (uint32_t)v;
            return 0;
        }
        if (!atomic_load(&p->live))
            return -ENOTCONN;
        if (xensim_guest_system_time() >= deadline)
            return -ETIMEDOUT;
        /* A bare pointer or a one-pointer handle, by interface version. */
        memcpy(&sp.ports, &pp, sizeof(pp));
        sp.timeout = xensim_guest_system_time() + 10000000u;
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
}

int xenbus_echo_call(unsigned int devid, uint32_t value, uint32_t *out, unsigned int timeout_ms)
{
    struct echo_front *p = ef_find(devid);
    bool was_off = xensim_guest_irq_disabled();
    uint64_t deadline = xensim_guest_system_time() + (uint64_t)timeout_ms * 1000000u;
    int notify, rc;

    if (!p)
        return -ENOTCONN;
    /* No upcall on this vCPU while we own the ring: a disconnect cannot
     * run under our feet here, and we read the answers ourselves. */
    xensim_guest_irq_disable();
    atomic_store(&p->busy, true);
    if (RING_FULL(&p->ring))
        ef_consume(p, 0, NULL);
    if (RING_FULL(&p->ring)) {
        rc = -EBUSY;
    } else {
        uint32_t id = ef_push(p, value);

        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p->ring, notify);
        if (notify)
            xensim_evtchn_send(p->port);
        rc = ef_wait(p, id, out, deadline);
    }
    atomic_store(&p->busy, false);
    if (!was_off)
        xensim_guest_irq_enable();
    return rc;
}

int xenbus_echo_submit(unsigned int devid, unsigned int n)
{
    struct echo_front *p = ef_find(devid);
    unsigned int done = 0;
    int notify;

    if (!p)
        return -ENOTCONN;
    while (done < n && !RING_FULL(&p->ring)) {
        ef_push(p, done);
        done++;
    }
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p->ring, notify);
    if (notify)
        xensim_evtchn_send(p->port);
    return (int)done;
}

int xenbus_echo_front_ring(unsigned int devid, echo_sring_t **ring, evtchn_port_t *port)
{
    struct echo_front *p = ef_find(devid);

    if (!p)
        return -ENOTCONN;
    *ring = p->ring.sring;
    *port = p->port;
    return 0;
}
