/*
 * The back end half of the split-driver framework: watches
 * backend/<type>, probes new devices, follows the front end's XenbusState
 * (spec 4.12), maps its rings and binds its port, and tears down (unmap,
 * close) when it closes, restarts or dies. Relies on frontends/xenbus_dev.c.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/io/protocols.h>
#include "xb_framework.h"

/* Driver first, then the port, then the mappings. */
static void back_teardown(struct xenbus_device *dev)
{
    const struct xenbus_driver *drv = dev->drv;

    if (!dev->connected)
        return;
    if (drv->disconnect)
        drv->disconnect(dev);
    dev->connected = false;
    xbf_close_evtchn(dev);
    for (unsigned int r = 0; r < drv->nr_rings; r++) {
        unsigned int n = 1u << drv->rings[r].order;

        xenbus_unmap_ring(dev->handles_[r], dev->maps_[r], n);
        memset(dev->maps_[r], 0, sizeof(dev->maps_[r]));
        dev->ring[r] = NULL;
    }
}

/* The front end's published refs, as they are now. */
static int read_refs(struct xenbus_device *dev, grant_ref_t refs[][1u << XENBUS_MAX_RING_ORDER],
                     unsigned int *port)
{
    const struct xenbus_driver *drv = dev->drv;

    if (xenbus_scanf(0, dev->otherend, "event-channel", "%u", port) != 1)
        return -ENOENT;
    for (unsigned int r = 0; r < drv->nr_rings; r++) {
        const struct xenbus_ring_spec *rs = &drv->rings[r];
        unsigned int order = 0;

        if (rs->order &&
            (xenbus_scanf(0, dev->otherend, "ring-page-order", "%u", &order) != 1 ||
             order != rs->order))
            return -EINVAL;
        if (!rs->order) {
            if (xenbus_scanf(0, dev->otherend, rs->ref_key, "%u", &refs[r][0]) != 1)
                return -ENOENT;
            continue;
        }
        for (unsigned int i = 0; i < 1u << order; i++) {
            char key[64];

            snprintf(key, sizeof(key), "%s%u", rs->ref_key, i);
            if (xenbus_scanf(0, dev->otherend, key, "%u", &refs[r][i]) != 1)
                return -ENOENT;
        }
    }
    return 0;
}

/* A front end of another ABI would lay the ring out differently. */
static int check_protocol(struct xenbus_device *dev)
{
    const char *want = dev->drv->protocol ? dev->drv->protocol : XEN_IO_PROTO_ABI_NATIVE;
    char path[XENBUS_PATH_MAX + 16], proto[32];
    int n;

    snprintf(path, sizeof(path), "%s/protocol", dev->otherend);
    n = xenbus_read_buf(0, path, proto, sizeof(proto));
    if (n == -ENOENT)
        return 0;             /* absent means native */
    return n >= 0 && !strcmp(proto, want) ? 0 : -EPROTONOSUPPORT;
}

static int back_connect(struct xenbus_device *dev)
{
    const struct xenbus_driver *drv = dev->drv;
    unsigned int port;
    long local;
    int err;

    if (!drv->nr_rings) {
        /* The driver maps and binds for itself (multi-queue, say). */
        dev->connected = true;
        if (drv->connect && (err = drv->connect(dev))) {
            back_teardown(dev);
            return err;
        }
        return 0;
    }
    if ((err = read_refs(dev, dev->refs_, &port)) || (err = check_protocol(dev)))
        return err;
    for (unsigned int r = 0; r < drv->nr_rings; r++) {
        unsigned int n = 1u << drv->rings[r].order;

        err = xenbus_map_ring(dev->otherend_id, dev->refs_[r], n, dev->handles_[r],
                              dev->maps_[r]);
        if (err) {
            while (r--) {
                xenbus_unmap_ring(dev->handles_[r], dev->maps_[r], 1u << drv->rings[r].order);
                memset(dev->maps_[r], 0, sizeof(dev->maps_[r]));
            }
            return err;
        }
        /* One range only when the mappings landed side by side. */
        dev->ring[r] = dev->maps_[r][0];
        for (unsigned int i = 1; i < n; i++)
            if ((char *)dev->maps_[r][i] != (char *)dev->maps_[r][0] + i * 4096)
                dev->ring[r] = NULL;
    }
    dev->connected = true;
    local = xensim_evtchn_bind_interdomain(dev->otherend_id, port);
    if (local < 0) {
        back_teardown(dev);
        return (int)local;
    }
    dev->evtchn = (evtchn_port_t)local;
    dev->remote_port_ = port;
    /* The driver is ready before the first event can reach it. */
    if ((drv->connect && (err = drv->connect(dev))) || (err = xbf_bind_irq(dev))) {
        back_teardown(dev);
        return err;
    }
    return 0;
}

/* Did the front end publish other rings than the ones we map? */
static bool keys_changed(struct xenbus_device *dev)
{
    grant_ref_t refs[XENBUS_MAX_RINGS][1u << XENBUS_MAX_RING_ORDER];
    unsigned int port;

    if (!dev->drv->nr_rings)
        return false;         /* the driver's own transport: it starts over via Initialising */
    memset(refs, 0, sizeof(refs));
    if (read_refs(dev, refs, &port))
        return true;
    if (port != dev->remote_port_)
        return true;
    for (unsigned int r = 0; r < dev->drv->nr_rings; r++)
        if (memcmp(refs[r], dev->refs_[r], sizeof(grant_ref_t) << dev->drv->rings[r].order))
            return true;
    return false;
}

static bool online(struct xenbus_device *dev)
{
    int v = 0;

    return xenbus_scanf(0, dev->nodename, "online", "%d", &v) == 1 && v == 1;
}

static void back_connect_or_close(struct xenbus_device *dev)
{
    if (back_connect(dev))
        xenbus_switch_state(dev, XenbusStateClosing);
    else
        xenbus_switch_state(dev, XenbusStateConnected);
}

/* The front end's state changed (or may have): spec 4.12 from our side. */
static void back_otherend_changed(struct xenbus_watch *w, const char *path, const char *token)
{
    struct xenbus_device *dev = w->data;
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    enum xenbus_state fs = xenbus_read_state(dev->otherend);

    (void)path;
    (void)token;
    switch (fs) {
    case XenbusStateInitialising:
        /* A front end starting over: it will publish new rings. */
        back_teardown(dev);
        if (dev->state == XenbusStateClosed || dev->state == XenbusStateConnected ||
            dev->state == XenbusStateClosing)
            xenbus_switch_state(dev, XenbusStateInitWait);
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        /* A front end Connected to our predecessor starts over when it
         * sees our InitWait: wait for its Initialised. */
        if (fs == XenbusStateConnected && !dev->connected &&
            dev->state == XenbusStateInitWait)
            break;
        if (dev->state == XenbusStateInitWait || dev->state == XenbusStateInitialising ||
            dev->state == XenbusStateInitialised) {
            back_connect_or_close(dev);
        } else if (dev->state == XenbusStateConnected && fs == XenbusStateInitialised &&
                   keys_changed(dev)) {
            back_teardown(dev);
            back_connect_or_close(dev);
        }
        break;
    case XenbusStateClosing:
        back_teardown(dev);
        xenbus_switch_state(dev, XenbusStateClosing);
        break;
    case XenbusStateClosed:
        /* Just (re)started: a front end left Closed is told by our
         * InitWait to come back (it writes Initialising). */
        if (dev->state == XenbusStateInitWait && !dev->connected && online(dev))
            break;
        /* fall through */
    case XenbusStateUnknown:
    default:
        back_teardown(dev);
        xenbus_switch_state(dev, XenbusStateClosed);
        /* Unplugged, or the front end's directory (its domain) is gone. */
        if (fs == XenbusStateUnknown || !online(dev))
            xbf_dev_free(f, dev);
        break;
    }
}

static void back_probe_one(struct xbf_reg *reg, domid_t fe, unsigned int devid, void *arg)
{
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    struct xenbus_device *dev;
    char path[XENBUS_PATH_MAX * 2];
    int id;

    (void)arg;
    if (xbf_dev_lookup(f, reg->drv, false, fe, devid))
        return;
    dev = calloc(1, sizeof(*dev));
    if (!dev)
        return;
    dev->drv = reg->drv;
    dev->devid = devid;
    snprintf(dev->nodename, sizeof(dev->nodename), "%s/%s/%u/%u", f->home, reg->node, fe, devid);
    snprintf(path, sizeof(path), "%s/frontend", dev->nodename);
    /* Only complete, plugged devices whose front end still exists. */
    if (xenbus_read_buf(0, path, dev->otherend, sizeof(dev->otherend)) <= 0 ||
        xenbus_scanf(0, dev->nodename, "frontend-id", "%d", &id) != 1 || id != fe ||
        !online(dev) || xenbus_read_state(dev->otherend) == XenbusStateUnknown) {
        free(dev);
        return;
    }
    dev->otherend_id = fe;
    dev->state = xenbus_read_state(dev->nodename);
    if (dev->drv->probe && dev->drv->probe(dev)) {
        free(dev);
        return;
    }
    xbf_dev_add(f, dev);
    dev->state = XenbusStateUnknown;   /* so that InitWait is written even over a stale one */
    xenbus_switch_state(dev, XenbusStateInitWait);
    if (xbf_watch_otherend(dev, back_otherend_changed))
        xbf_dev_free(f, dev);
}

/* Something changed under backend/<type>: new devices, removed ones. */
static void back_type_changed(struct xenbus_watch *w, const char *path, const char *token)
{
    struct xbf_reg *reg = w->data;
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    struct xenbus_device *dev, *next;

    (void)path;
    (void)token;
    xbf_scan(reg, back_probe_one, NULL);
    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv != reg->drv || dev->frontend)
            continue;
        if (xenbus_exists(0, dev->nodename) != 0) {
            /* A front end's domain that died loses its directory; the
             * daemon tells us through ours (its permissions lose the dead
             * domain). Look again. */
            back_otherend_changed(&dev->otherend_watch_, NULL, NULL);
            continue;
        }
        /* The toolstack removed it (a forced remove). */
        back_teardown(dev);
        xbf_dev_free(f, dev);
    }
}

int xenbus_backend_register(const struct xenbus_driver *drv)
{
    return xbf_register(drv, false, back_type_changed);
}

void xbf_back_unregister_devices(struct xbf_dom *f,
                                 const struct xenbus_driver *drv, bool graceful)
{
    struct xenbus_device *dev, *next;

    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv != drv || dev->frontend)
            continue;
        back_teardown(dev);
        if (graceful)
            xenbus_switch_state(dev, XenbusStateClosed);
        xbf_dev_free(f, dev);
    }
}

void xenbus_backend_unregister(const struct xenbus_driver *drv, bool graceful)
{
    struct xb_dom *xb;
    struct xbf_dom *f;
    struct xbf_reg *reg, **pp;
    bool took;
    int err = 0;

    if (!(f = xbf_get(&xb, &took, &err)))
        return;
    for (pp = &f->regs; (reg = *pp); pp = &reg->next)
        if (reg->drv == drv && !reg->frontend)
            break;
    if (reg) {
        xenbus_unwatch(&reg->watch);
        *pp = reg->next;
        free(reg);
    }
    xbf_back_unregister_devices(f, drv, graceful);
    xbf_put(xb, took);
}
