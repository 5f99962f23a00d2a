/*
 * The hostile front ends' shared part (front.h): their event channel,
 * disconnect and remove, the storm, and the bracket around an attack.
 * Calls guest/ and xenbus/ only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include "front.h"

#define POLL_NS (10ull * 1000 * 1000)

static void irq(evtchn_port_t port, void *arg)
{
    (void)port, (void)arg;   /* the attacks read their rings themselves */
}

int hostile_front_bind(struct hostile_front *f, domid_t otherend)
{
    int err = xensim_xenbus_alloc_evtchn(otherend, &f->port);
    if (err)
        return err;
    if ((err = xensim_irq_bind(f->port, irq, f))) {
        xensim_evtchn_close(f->port);
        return err;
    }
    f->live = true;
    return 0;
}

void hostile_front_paths(struct hostile_front *f, const struct xensim_xenbus_device *dev)
{
    memcpy(f->nodename, dev->nodename, sizeof(f->nodename));
    memcpy(f->otherend, dev->otherend, sizeof(f->otherend));
}

void hostile_front_disconnect(struct xensim_xenbus_device *dev)
{
    struct hostile_front *f = dev->priv;
    if (!f || !f->live)
        return;
    f->live = false;
    xensim_irq_unbind(f->port);
    xensim_evtchn_close(f->port);
}

void hostile_front_remove(struct xensim_xenbus_device *dev)
{
    struct hostile_front *f = dev->priv;
    dev->priv = NULL;
    if (!f)
        return;
    if (f->attacking)
        f->removed = true;   /* the attack frees it when it returns */
    else if (xensim_guest_start_info())
        f->release(f);
    else
        free(f);             /* our domain died: its pages went with it */
}

void hostile_front_storm(struct hostile_front *f, struct xensim_hostile_report *r)
{
    for (unsigned int i = 0; i < HOSTILE_STORM_EVENTS && f->live; i++) {
        xensim_evtchn_send(f->port);
        r->notifications++;
    }
}

void hostile_front_poll(struct hostile_front *f)
{
    evtchn_port_t port = f->port, *pp = &port;
    struct sched_poll p = { .nr_ports = 1, .timeout = xensim_guest_system_time() + POLL_NS };
    /* A bare pointer or a one-pointer handle, by interface version. */
    memcpy(&p.ports, &pp, sizeof(pp));
    HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

struct hostile_front *hostile_front_begin(const struct xensim_xenbus_driver *drv,
                                          unsigned int devid)
{
    struct xensim_xenbus_device *dev = xensim_xenbus_device_find(drv, DOMID_SELF, devid);
    struct hostile_front *f = dev ? dev->priv : NULL;
    if (!f || !f->live || __atomic_load_n(&dev->state, __ATOMIC_ACQUIRE) != XenbusStateConnected)
        return NULL;
    f->attacking = true;
    return f;
}

void hostile_front_end(struct hostile_front *f)
{
    f->attacking = false;
    if (f->removed)
        f->release(f);
}
