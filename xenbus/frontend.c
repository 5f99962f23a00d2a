/*
 * The front end half of the split-driver framework: probes
 * device/<type>/<id>, follows the back end's XenbusState (spec 4.12),
 * grants the rings, allocates the port and publishes them in one
 * transaction, and tears everything down when the back end goes.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>
#include "xb_framework.h"

/* Frees what front_setup made: the driver first, then port, then pages. */
static void front_teardown(struct xenbus_device *dev)
{
    const struct xenbus_driver *drv = dev->drv;

    if (!dev->connected)
        return;
    if (drv->disconnect)
        drv->disconnect(dev);
    dev->connected = false;
    xbf_close_evtchn(dev);
    for (unsigned int r = 0; r < drv->nr_rings; r++) {
        for (unsigned int i = 0; i < 1u << drv->rings[r].order; i++)
            if (dev->pfns_[r][i]) {
                xenbus_end_access(dev->refs_[r][i], dev->pfns_[r][i]);
                dev->pfns_[r][i] = 0;
            }
        dev->ring[r] = NULL;
    }
}

/* 2^order consecutive pages, so that the ring is one range of memory. */
static int alloc_ring(struct xenbus_device *dev, unsigned int r, unsigned int order)
{
    unsigned int n = 1u << order;

    for (unsigned int i = 0; i < n; i++) {
        xen_pfn_t pfn = xensim_guest_page_alloc();

        if (pfn == ~(xen_pfn_t)0 || (i && pfn != dev->pfns_[r][0] + i)) {
            if (pfn != ~(xen_pfn_t)0)
                xensim_guest_page_free(pfn);
            for (unsigned int k = 0; k < i; k++) {
                xensim_guest_page_free(dev->pfns_[r][k]);
                dev->pfns_[r][k] = 0;
            }
            return -ENOMEM;
        }
        dev->pfns_[r][i] = pfn;
    }
    dev->ring[r] = xensim_guest_pfn_to_virt(dev->pfns_[r][0]);
    return 0;
}

static int publish_body(xenbus_transaction_t t, void *p)
{
    struct xenbus_device *dev = p;
    const struct xenbus_driver *drv = dev->drv;
    int cur, err = xenbus_scanf(t, dev->nodename, "state", "%d", &cur);

    if (err < 0)
        return err;           /* removed meanwhile: do not re-create it */
    err = 0;
    for (unsigned int r = 0; r < drv->nr_rings && !err; r++) {
        const struct xenbus_ring_spec *rs = &drv->rings[r];

        if (!rs->order) {
            err = xenbus_printf(t, dev->nodename, rs->ref_key, "%u", dev->refs_[r][0]);
            continue;
        }
        err = xenbus_printf(t, dev->nodename, "ring-page-order", "%u", rs->order);
        for (unsigned int i = 0; i < 1u << rs->order && !err; i++) {
            char key[64];

            snprintf(key, sizeof(key), "%s%u", rs->ref_key, i);
            err = xenbus_printf(t, dev->nodename, key, "%u", dev->refs_[r][i]);
        }
    }
    if (!err && drv->nr_rings)
        err = xenbus_printf(t, dev->nodename, "event-channel", "%u", dev->evtchn);
    if (!err && drv->nr_rings)
        err = xenbus_printf(t, dev->nodename, "protocol", "%s",
                            drv->protocol ? drv->protocol : XEN_IO_PROTO_ABI_NATIVE);
    if (!err && drv->publish)
        err = drv->publish(dev, t);
    if (!err)
        err = xenbus_printf(t, dev->nodename, "state", "%d", XenbusStateInitialised);
    return err;
}

/* The back end is ready for us: rings, port, keys, Initialised. */
static void front_setup(struct xenbus_device *dev)
{
    const struct xenbus_driver *drv = dev->drv;
    int err = 0;

    if (dev->state == XenbusStateClosed)
        xenbus_switch_state(dev, XenbusStateInitialising);
    for (unsigned int r = 0; r < drv->nr_rings && !err; r++) {
        unsigned int n = 1u << drv->rings[r].order;
        void *pages[1u << XENBUS_MAX_RING_ORDER];

        if ((err = alloc_ring(dev, r, drv->rings[r].order)))
            break;
        for (unsigned int i = 0; i < n; i++)
            pages[i] = xensim_guest_pfn_to_virt(dev->pfns_[r][i]);
        err = xenbus_grant_ring(dev->otherend_id, pages, n, dev->refs_[r]);
        if (err)
            for (unsigned int i = 0; i < n; i++) {
                xensim_guest_page_free(dev->pfns_[r][i]);
                dev->pfns_[r][i] = 0;
            }
    }
    if (!err && drv->nr_rings && !(err = xenbus_alloc_evtchn(dev->otherend_id, &dev->evtchn)))
        err = xbf_bind_irq(dev);
    dev->connected = true;        /* from here teardown has things to free */
    if (err) {
        front_teardown(dev);
        xenbus_switch_state(dev, XenbusStateClosing);
        return;
    }
    if (drv->setup_rings)
        drv->setup_rings(dev);
    err = xenbus_transaction_run(publish_body, dev, 0);
    if (err) {
        front_teardown(dev);
        xenbus_switch_state(dev, XenbusStateClosing);
        return;
    }
    if (drv->nr_rings)
        xensim_narrate("granted its ring to dom%u as ref %u, allocated port %u, and "
                       "published ring-ref, event-channel and protocol in one transaction",
                       dev->otherend_id, dev->refs_[0][0], dev->evtchn);
    xensim_narrate("%s/state: %s -> %s", dev->nodename, xenbus_strstate(dev->state),
                   xenbus_strstate(XenbusStateInitialised));
    dev->state = XenbusStateInitialised;
    if (drv->state_changed)
        drv->state_changed(dev, XenbusStateInitialised);
}

/* The back end's state changed (or may have): spec 4.12 from our side. */
static void front_otherend_changed(struct xenbus_watch *w, const char *path, const char *token)
{
    struct xenbus_device *dev = w->data;
    enum xenbus_state bs = xenbus_read_state(dev->otherend);

    (void)path;
    (void)token;
    xenbus_deferred_retry();
    switch (bs) {
    case XenbusStateInitWait:
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (bs == XenbusStateInitWait && dev->state == XenbusStateConnected) {
            /* A back end that restarted lost our rings: start over. */
            front_teardown(dev);
            xenbus_switch_state(dev, XenbusStateInitialising);
        }
        if (dev->state == XenbusStateInitialising || dev->state == XenbusStateClosed ||
            dev->state == XenbusStateUnknown) {
            if (bs == XenbusStateConnected && dev->state == XenbusStateClosed)
                break;        /* a stale Connected: wait for it to restart */
            front_setup(dev);
        }
        if (bs == XenbusStateConnected && dev->state == XenbusStateInitialised) {
            if (dev->drv->connect && dev->drv->connect(dev)) {
                front_teardown(dev);
                xenbus_switch_state(dev, XenbusStateClosing);
                break;
            }
            xenbus_switch_state(dev, XenbusStateConnected);
        }
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
        /* Starting over and the back end not there yet: our Initialising
         * is what brings it back to InitWait. */
        if (dev->state == XenbusStateInitialising && !dev->connected)
            break;
        /* fall through */
    case XenbusStateClosing:
        front_teardown(dev);
        if (dev->state != XenbusStateClosed)
            xenbus_switch_state(dev, XenbusStateClosed);
        break;
    default:
        break;
    }
}

static void front_probe_one(struct xbf_reg *reg, domid_t fe, unsigned int devid, void *arg)
{
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    struct xenbus_device *dev;
    char path[XENBUS_PATH_MAX * 2];
    int id;

    (void)fe;
    (void)arg;
    if (xbf_dev_lookup(f, reg->drv, true, DOMID_SELF, devid))
        return;
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return;
    dev->drv = reg->drv;
    dev->frontend = true;
    dev->devid = devid;
    snprintf(dev->nodename, sizeof(dev->nodename), "%s/%s/%u", f->home, reg->node, devid);
    snprintf(path, sizeof(path), "%s/backend", dev->nodename);
    if (xenbus_read_buf(0, path, dev->otherend, sizeof(dev->otherend)) <= 0 ||
        xenbus_scanf(0, dev->nodename, "backend-id", "%d", &id) != 1 ||
        id < 0 || id >= (int)DOMID_FIRST_RESERVED) {
        free(dev);            /* not complete (or not ours to drive) */
        return;
    }
    dev->otherend_id = (domid_t)id;
    dev->state = xenbus_read_state(dev->nodename);
    if (dev->drv->probe && dev->drv->probe(dev)) {
        free(dev);
        return;
    }
    xbf_dev_add(f, dev);
    /* A driver (re)starting begins at Initialising: a back end left in
     * Closed by our predecessor takes that as the cue to go to InitWait. */
    if (dev->state != XenbusStateInitialising) {
        dev->state = XenbusStateUnknown;
        xenbus_switch_state(dev, XenbusStateInitialising);
    }
    /* Fires at once: the back end's current state drives us from here. */
    if (xbf_watch_otherend(dev, front_otherend_changed))
        xbf_dev_free(f, dev);
}

/* Something changed under device/<type>: new devices, removed ones. */
static void front_type_changed(struct xenbus_watch *w, const char *path, const char *token)
{
    struct xbf_reg *reg = w->data;
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    struct xenbus_device *dev, *next;

    (void)path;
    (void)token;
    xbf_scan(reg, front_probe_one, NULL);
    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv != reg->drv || !dev->frontend)
            continue;
        if (xenbus_exists(0, dev->nodename) != 0) {
            /* The back end's domain may have died: when its directory goes
             * with it, the daemon tells us only through our own directory
             * (its permissions lose the dead domain). Look again. */
            front_otherend_changed(&dev->otherend_watch_, NULL, NULL);
            continue;
        }
        /* The toolstack removed the device. */
        front_teardown(dev);
        xbf_dev_free(f, dev);
    }
}

int xenbus_frontend_register(const struct xenbus_driver *drv)
{
    return xbf_register(drv, true, front_type_changed);
}

void xenbus_frontend_unregister(const struct xenbus_driver *drv, bool graceful)
{
    struct xb_dom *xb;
    struct xbf_dom *f;
    struct xbf_reg *reg, **pp;
    struct xenbus_device *dev, *next;
    bool took;
    int err = 0;

    if (!(f = xbf_get(&xb, &took, &err)))
        return;
    for (pp = &f->regs; (reg = *pp); pp = &reg->next)
        if (reg->drv == drv && reg->frontend)
            break;
    if (reg) {
        xenbus_unwatch(&reg->watch);
        *pp = reg->next;
        free(reg);
    }
    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv != drv || !dev->frontend)
            continue;
        front_teardown(dev);
        if (graceful)
            xenbus_switch_state(dev, XenbusStateClosed);
        xbf_dev_free(f, dev);
    }
    /* An orderly unload waits (a while) for the back ends to unmap. */
    for (int i = 0; graceful && xenbus_deferred_retry() && i < 2000; i++)
        xb_nap(1000000);
    xbf_put(xb, took);
}
