/*
 * The split-driver framework's core, shared by both ends: per-domain
 * state (a guest data key), driver registration, the device list,
 * XenbusState writes and the stats. Each end's state machine (frontend.c,
 * backend.c) plugs in through a struct xbf_end; probe.c finds devices.
 * Relies on the guest xenbus client.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_framework.h"

/* The domain is gone: nothing to tell anyone, just memory. remove() runs
 * with no vCPU (hypercalls fail with -EPERM). */
static void xbf_free(void *p)
{
    struct xbf_dom *f = p;

    while (f->devices) {
        struct xensim_xenbus_device *d = f->devices;

        f->devices = d->next_;
        if (d->drv->remove)
            d->drv->remove(d);
        free(d);
    }
    while (f->regs) {
        struct xbf_reg *r = f->regs;

        f->regs = r->next;
        free(r);
    }
    free(f);
}

static struct xensim_guest_key xbf_key = { .destroy = xbf_free };

static struct xbf_dom *xbf_new(void)
{
    struct xbf_dom *f = calloc(1, sizeof(*f)), *won;

    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->self = xensim_guest_domid();
    snprintf(f->home, sizeof(f->home), "/local/domain/%u", f->self);
    won = xensim_guest_data_init(&xbf_key, f);
    if (won != f)
        free(f);
    return won;
}

struct xbf_dom *xbf_get(struct xb_dom **xbp, bool *took, int *err)
{
    struct xb_dom *xb = xb_get(err);
    struct xbf_dom *f;

    if (!xb)
        return NULL;
    *took = xb_dispatch_hold(xb);
    f = xensim_guest_data(&xbf_key);
    if (!f && !(f = xbf_new())) {
        xb_dispatch_release(xb, *took);
        *err = -ENOMEM;
        return NULL;
    }
    *xbp = xb;
    return f;
}

void xbf_put(struct xb_dom *xb, bool took)
{
    xb_dispatch_release(xb, took);
}

struct xbf_dom *xbf_cur(struct xb_dom **xbp)
{
    int err = 0;

    *xbp = xb_get(&err);
    return *xbp ? xensim_guest_data(&xbf_key) : NULL;
}

void xbf_dev_add(struct xbf_dom *f, struct xensim_xenbus_device *dev)
{
    xensim_mutex_lock(&f->lock);
    dev->next_ = f->devices;
    f->devices = dev;
    f->nr_devices++;
    xensim_mutex_unlock(&f->lock);
}

void xbf_dev_free(struct xbf_dom *f, struct xensim_xenbus_device *dev)
{
    if (dev->otherend_watch_.registered_)
        xensim_xenbus_unwatch(&dev->otherend_watch_);
    if (dev->drv->remove)
        dev->drv->remove(dev);
    xensim_mutex_lock(&f->lock);
    for (struct xensim_xenbus_device **pp = &f->devices; *pp; pp = &(*pp)->next_)
        if (*pp == dev) {
            *pp = dev->next_;
            f->nr_devices--;
            break;
        }
    xensim_mutex_unlock(&f->lock);
    free(dev);
}

struct xensim_xenbus_device *xbf_dev_lookup(struct xbf_dom *f, const struct xensim_xenbus_driver *drv,
                                     bool frontend, domid_t otherend, unsigned int devid)
{
    struct xensim_xenbus_device *d;

    xensim_mutex_lock(&f->lock);
    /* By type: one driver per type and end, but callers may hold another
     * copy of the ops (a wrapper that traces, say). */
    for (d = f->devices; d; d = d->next_)
        if (d->frontend == frontend && d->devid == devid &&
            (d->drv == drv || !strcmp(d->drv->type, drv->type)) &&
            (frontend || d->otherend_id == otherend))
            break;
    xensim_mutex_unlock(&f->lock);
    return d;
}

struct xensim_xenbus_device *xensim_xenbus_device_find(const struct xensim_xenbus_driver *drv, domid_t frontid,
                                         unsigned int devid)
{
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);

    if (!f)
        return NULL;
    return xbf_dev_lookup(f, drv, frontid == DOMID_SELF, frontid, devid);
}

int xensim_xenbus_get_stats(struct xensim_xenbus_stats *st)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    struct xbf_dom *f = xensim_guest_data(&xbf_key);

    if (!xb)
        return err;
    xb_stats(xb, st);
    st->deferred_grants = xensim_xenbus_deferred_retry();
    if (f) {
        xensim_mutex_lock(&f->lock);
        st->devices = f->nr_devices;
        xensim_mutex_unlock(&f->lock);
    }
    return 0;
}

int xbf_watch_otherend(struct xensim_xenbus_device *dev)
{
    const struct xbf_end *end = dev->frontend ? &xbf_front : &xbf_back;

    snprintf(dev->otherend_state_path_, sizeof(dev->otherend_state_path_), "%s/state",
             dev->otherend);
    dev->otherend_watch_.node = dev->otherend_state_path_;
    dev->otherend_watch_.callback = end->otherend_changed;
    dev->otherend_watch_.data = dev;
    return xensim_xenbus_watch(&dev->otherend_watch_);
}

void xbf_teardown(struct xensim_xenbus_device *dev)
{
    if (!dev->connected_)
        return;
    if (dev->drv->disconnect)
        dev->drv->disconnect(dev);
    dev->connected_ = false;
}

struct switch_arg {
    const char *dir;
    enum xenbus_state s;
};

/* Linux's rule: never re-create a directory the toolstack removed. */
static int switch_body(xensim_xenbus_transaction_t t, void *p)
{
    struct switch_arg *a = p;
    int cur, err = xensim_xenbus_scanf(t, a->dir, "state", "%d", &cur);

    if (err < 0)
        return err;
    return xensim_xenbus_printf(t, a->dir, "state", "%d", (int)a->s);
}

int xensim_xenbus_switch_state(struct xensim_xenbus_device *dev, enum xenbus_state s)
{
    struct switch_arg a = { dev->nodename, s };
    enum xenbus_state old = dev->state;
    int err;

    if (old == s)
        return 0;
    /* Ours first: whoever sees the new state in XenStore must find the
     * device in it here too (a lookup from another vCPU did not). */
    __atomic_store_n(&dev->state, s, __ATOMIC_RELEASE);
    err = xensim_xenbus_transaction_run(switch_body, &a, 0);
    if (err && err != -ENOENT) {
        __atomic_store_n(&dev->state, old, __ATOMIC_RELEASE);
        return err;
    }
    xensim_narrate("%s/state: %s -> %s", dev->nodename, xensim_xenbus_strstate(old),
                   xensim_xenbus_strstate(s));
    if (!err && dev->drv->state_changed)
        dev->drv->state_changed(dev, s);
    return err;
}

static struct xbf_reg *xbf_find_reg(struct xbf_dom *f, const struct xensim_xenbus_driver *drv,
                                    const struct xbf_end *end, struct xbf_reg ***link)
{
    struct xbf_reg **pp, *r;

    for (pp = &f->regs; (r = *pp); pp = &r->next)
        if (r->end == end && (r->drv == drv || !strcmp(r->drv->type, drv->type)))
            break;
    if (link)
        *link = pp;
    return r;
}

int xbf_register(const struct xensim_xenbus_driver *drv, const struct xbf_end *end)
{
    struct xb_dom *xb;
    struct xbf_dom *f;
    struct xbf_reg *reg;
    bool took;
    int err = 0;

    if (!drv || !drv->type || !*drv->type || strchr(drv->type, '/') || strlen(drv->type) > 40)
        return -EINVAL;
    if (!(f = xbf_get(&xb, &took, &err)))
        return err;
    if (xbf_find_reg(f, drv, end, NULL)) {
        xbf_put(xb, took);
        return -EEXIST;
    }
    reg = calloc(1, sizeof(*reg));
    if (!reg) {
        xbf_put(xb, took);
        return -ENOMEM;
    }
    reg->drv = drv;
    reg->end = end;
    snprintf(reg->node, sizeof(reg->node), "%s/%s", end->dir, drv->type);
    reg->watch.node = reg->node;
    reg->watch.callback = xbf_type_changed;
    reg->watch.data = reg;
    reg->next = f->regs;
    f->regs = reg;
    /* It fires once at once: that event probes what already exists. */
    err = xensim_xenbus_watch(&reg->watch);
    if (err) {
        f->regs = reg->next;
        free(reg);
    }
    xbf_put(xb, took);
    return err;
}

void xbf_unregister(const struct xensim_xenbus_driver *drv, const struct xbf_end *end, bool graceful)
{
    struct xb_dom *xb;
    struct xbf_dom *f;
    struct xbf_reg *reg, **pp;
    struct xensim_xenbus_device *dev, *next;
    bool took;
    int err = 0;

    if (!(f = xbf_get(&xb, &took, &err)))
        return;
    if ((reg = xbf_find_reg(f, drv, end, &pp)) && reg->drv == drv) {
        xensim_xenbus_unwatch(&reg->watch);
        *pp = reg->next;
        free(reg);
    }
    for (dev = f->devices; dev; dev = next) {
        next = dev->next_;
        if (dev->drv != drv || dev->frontend != end->frontend)
            continue;
        xbf_teardown(dev);
        if (graceful)
            xensim_xenbus_switch_state(dev, XenbusStateClosed);
        xbf_dev_free(f, dev);
    }
    /* An orderly unload waits (a while) for the peers to unmap what the
     * driver granted them; whatever is left waits on the deferred list. */
    for (int i = 0; graceful && xensim_xenbus_deferred_retry() && i < 2000; i++)
        xb_nap(1000000);
    xbf_put(xb, took);
}
