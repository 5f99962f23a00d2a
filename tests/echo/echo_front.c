/*
 * The "echo" front end: a one-page ring of 32-bit values over the
 * framework's transport, and a synchronous round trip that waits for its
 * answer with SCHEDOP_poll on the device's port (events masked meanwhile).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "echo.h"
#include "xb_framework.h"

struct echo_front {
    echo_front_ring_t ring;
    uint32_t next_id;
    _Atomic bool busy;            /* a call is using the ring */
    unsigned long stray;          /* answers nobody waited for */
};

static int ef_probe(struct xenbus_device *dev)
{
    dev->priv = calloc(1, sizeof(struct echo_front));
    return dev->priv ? 0 : -ENOMEM;
}

static void ef_setup_rings(struct xenbus_device *dev)
{
    struct echo_front *p = dev->priv;
    echo_sring_t *s = dev->ring[0];

    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&p->ring, s, ECHO_RING_SIZE << dev->drv->rings[0].order);
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

static void ef_handle_event(struct xenbus_device *dev)
{
    struct echo_front *p = dev->priv;

    if (dev->connected && !atomic_load(&p->busy))
        ef_consume(p, 0, NULL);
}

static void ef_disconnect(struct xenbus_device *dev)
{
    struct echo_front *p = dev->priv;

    /* A call on another vCPU notices !connected and leaves. */
    while (atomic_load(&p->busy))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

static void ef_remove(struct xenbus_device *dev)
{
    free(dev->priv);
    dev->priv = NULL;
}

const struct xenbus_driver xenbus_echo_front = {
    .type = "echo",
    .nr_rings = 1,
    .rings = { { "ring-ref", 0 } },
    .probe = ef_probe,
    .setup_rings = ef_setup_rings,
    .disconnect = ef_disconnect,
    .remove = ef_remove,
    .handle_event = ef_handle_event,
};

static struct xenbus_device *ef_find(unsigned int devid)
{
    struct xenbus_device *dev = xenbus_device_find(&xenbus_echo_front, DOMID_SELF, devid);

    return dev && dev->connected && dev->state == XenbusStateConnected ? dev : NULL;
}

static uint32_t ef_push(struct echo_front *p, uint32_t value)
{
    struct echo_request *req = RING_GET_REQUEST(&p->ring, p->ring.req_prod_pvt);

    req->id = ++p->next_id;
    req->value = value;
    p->ring.req_prod_pvt++;
    return req->id;
}

int xenbus_echo_call(unsigned int devid, uint32_t value, uint32_t *out, unsigned int timeout_ms)
{
    struct xenbus_device *dev = ef_find(devid);
    struct echo_front *p;
    bool was_off = xensim_guest_irq_disabled(), found = false;
    uint64_t deadline = xensim_guest_system_time() + (uint64_t)timeout_ms * 1000000u;
    uint32_t id;
    int notify, rc = 0;

    if (!dev)
        return -ENOTCONN;
    p = dev->priv;
    /* No upcall on this vCPU while we own the ring: a disconnect cannot
     * run under our feet here, and we read the answers ourselves. */
    xensim_guest_irq_disable();
    atomic_store(&p->busy, true);
    if (RING_FULL(&p->ring))
        ef_consume(p, 0, NULL);
    if (RING_FULL(&p->ring)) {
        rc = -EBUSY;
        goto out;
    }
    id = ef_push(p, value);
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p->ring, notify);
    if (notify)
        xensim_evtchn_send(dev->evtchn);
    for (;;) {
        evtchn_port_t port = dev->evtchn, *pp = &port;
        struct sched_poll sp = { .nr_ports = 1 };
        long v;

        xensim_evtchn_clear_pending(port);
        v = ef_consume(p, id, &found);
        if (v == -EIO) {
            rc = -EIO;
            break;
        }
        if (found) {
            *out = (uint32_t)v;
            break;
        }
        if (!dev->connected) {
            rc = -ENOTCONN;
            break;
        }
        if (xensim_guest_system_time() >= deadline) {
            rc = -ETIMEDOUT;
            break;
        }
        memcpy(&sp.ports, &pp, sizeof(pp));
        sp.timeout = xensim_guest_system_time() + 10000000u;
        HYPERVISOR_sched_op(SCHEDOP_poll, &sp);
    }
out:
    atomic_store(&p->busy, false);
    if (!was_off)
        xensim_guest_irq_enable();
    return rc;
}

int xenbus_echo_submit(unsigned int devid, unsigned int n)
{
    struct xenbus_device *dev = ef_find(devid);
    struct echo_front *p;
    unsigned int done = 0;
    int notify;

    if (!dev)
        return -ENOTCONN;
    p = dev->priv;
    while (done < n && !RING_FULL(&p->ring)) {
        ef_push(p, done);
        done++;
    }
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&p->ring, notify);
    if (notify)
        xensim_evtchn_send(dev->evtchn);
    return (int)done;
}
