/*
 * What both halves of the split-driver framework share: per-domain state,
 * driver registration and device scanning, XenbusState writes, and the
 * transport helpers (grant, map, unmap, event channels). Relies on the
 * guest xenbus client and <xensim/guest.h>.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_framework.h"

static void xbf_free(void *p)
{
    struct xbf_dom *f = p;

    /* The domain is gone: nothing to tell anyone, just memory. remove()
     * runs with no vCPU (hypercalls fail with -EPERM). */
    while (f->devices) {
        struct xenbus_device *d = f->devices;

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

struct xbf_dom *xbf_get(struct xb_dom **xbp, bool *took, int *err)
{
    struct xb_dom *xb = xb_get(err);
    struct xbf_dom *f, *won;

    if (!xb)
        return NULL;
    *took = xb_dispatch_hold(xb);
    f = xensim_guest_data(&xbf_key);
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (f) {
            pthread_mutex_init(&f->lock, NULL);
            f->self = xensim_guest_domid();
            snprintf(f->home, sizeof(f->home), "/local/domain/%u", f->self);
        }
        won = f ? xensim_guest_data_init(&xbf_key, f) : NULL;
        if (won != f)
            free(f);
        if (!won) {
            xb_dispatch_release(xb, *took);
            *err = -ENOMEM;
            return NULL;
        }
        f = won;
    }
    *xbp = xb;
    return f;
}

struct xbf_dom *xbf_cur(struct xb_dom **xbp)
{
    int err = 0;

    *xbp = xb_get(&err);
    return *xbp ? xensim_guest_data(&xbf_key) : NULL;
}

void xbf_put(struct xb_dom *xb, bool took)
{
    xb_dispatch_release(xb, took);
}

void xbf_dev_add(struct xbf_dom *f, struct xenbus_device *dev)
{
    xensim_mutex_lock(&f->lock);
    dev->next_ = f->devices;
    f->devices = dev;
    f->nr_devices++;
    xensim_mutex_unlock(&f->lock);
}

void xbf_dev_free(struct xbf_dom *f, struct xenbus_device *dev)
{
    if (dev->otherend_watch_.registered_)
        xenbus_unwatch(&dev->otherend_watch_);
    if (dev->drv->remove)
        dev->drv->remove(dev);
    xensim_mutex_lock(&f->lock);
    for (struct xenbus_device **pp = &f->devices; *pp; pp = &(*pp)->next_)
        if (*pp == dev) {
            *pp = dev->next_;
            f->nr_devices--;
            break;
        }
    xensim_mutex_unlock(&f->lock);
    free(dev);
}

struct xenbus_device *xbf_dev_lookup(struct xbf_dom *f, const struct xenbus_driver *drv,
                                     bool frontend, domid_t otherend, unsigned int devid)
{
    struct xenbus_device *d;

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

struct xenbus_device *xenbus_device_find(const struct xenbus_driver *drv, domid_t frontid,
                                         unsigned int devid)
{
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);

    if (!f)
        return NULL;
    return xbf_dev_lookup(f, drv, frontid == DOMID_SELF, frontid, devid);
}

int xenbus_get_stats(struct xenbus_stats *st)
{
    int err = 0;
    struct xb_dom *xb = xb_get(&err);
    struct xbf_dom *f = xensim_guest_data(&xbf_key);

    if (!xb)
        return err;
    xb_stats(xb, st);
    st->deferred_grants = xenbus_deferred_retry();
    if (f) {
        xensim_mutex_lock(&f->lock);
        st->devices = f->nr_devices;
        xensim_mutex_unlock(&f->lock);
    }
    return 0;
}

int xbf_watch_otherend(struct xenbus_device *dev, xenbus_watch_cb cb)
{
    snprintf(dev->otherend_state_path_, sizeof(dev->otherend_state_path_), "%s/state",
             dev->otherend);
    dev->otherend_watch_.node = dev->otherend_state_path_;
    dev->otherend_watch_.callback = cb;
    dev->otherend_watch_.data = dev;
    return xenbus_watch(&dev->otherend_watch_);
}

struct switch_arg {
    const char *dir;
    enum xenbus_state s;
};

/* Linux's rule: never re-create a directory the toolstack removed. */
static int switch_body(xenbus_transaction_t t, void *p)
{
    struct switch_arg *a = p;
    int cur, err = xenbus_scanf(t, a->dir, "state", "%d", &cur);

    if (err < 0)
        return err;
    return xenbus_printf(t, a->dir, "state", "%d", (int)a->s);
}

int xenbus_switch_state(struct xenbus_device *dev, enum xenbus_state s)
{
    struct switch_arg a = { dev->nodename, s };
    int err;

    if (dev->state == s)
        return 0;
    err = xenbus_transaction_run(switch_body, &a, 0);
    if (err && err != -ENOENT)
        return err;
    xensim_narrate("%s/state: %s -> %s", dev->nodename, xenbus_strstate(dev->state),
                   xenbus_strstate(s));
    dev->state = s;
    if (!err && dev->drv->state_changed)
        dev->drv->state_changed(dev, s);
    return err;
}

static void xbf_irq(evtchn_port_t port, void *arg)
{
    struct xenbus_device *dev = arg;

    (void)port;
    if (dev->drv->handle_event)
        dev->drv->handle_event(dev);
}

int xbf_bind_irq(struct xenbus_device *dev)
{
    struct evtchn_bind_vcpu bv = { .port = dev->evtchn, .vcpu = xensim_guest_vcpu_id() };

    /* Events go to the vCPU whose interrupt layer has the handler. */
    HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv);
    return xensim_irq_bind(dev->evtchn, xbf_irq, dev);
}

void xbf_close_evtchn(struct xenbus_device *dev)
{
    if (!dev->evtchn)
        return;
    xensim_irq_unbind(dev->evtchn);
    xensim_evtchn_close(dev->evtchn);
    dev->evtchn = 0;
}

struct xbf_reg *xbf_find_reg(struct xbf_dom *f, const struct xenbus_driver *drv, bool frontend)
{
    struct xbf_reg *r;

    for (r = f->regs; r; r = r->next)
        if (r->frontend == frontend && (r->drv == drv || !strcmp(r->drv->type, drv->type)))
            break;
    return r;
}

int xbf_register(const struct xenbus_driver *drv, bool frontend, xenbus_watch_cb cb)
{
    struct xb_dom *xb;
    struct xbf_dom *f;
    struct xbf_reg *reg;
    bool took;
    int err = 0;

    if (!drv || !drv->type || !*drv->type || strchr(drv->type, '/') || strlen(drv->type) > 40 ||
        drv->nr_rings > XENBUS_MAX_RINGS)
        return -EINVAL;
    for (unsigned int i = 0; i < drv->nr_rings; i++)
        if (!drv->rings[i].ref_key || drv->rings[i].order > XENBUS_MAX_RING_ORDER)
            return -EINVAL;
    if (!(f = xbf_get(&xb, &took, &err)))
        return err;
    if (xbf_find_reg(f, drv, frontend)) {
        xbf_put(xb, took);
        return -EEXIST;
    }
    reg = calloc(1, sizeof(*reg));
    if (!reg) {
        xbf_put(xb, took);
        return -ENOMEM;
    }
    reg->drv = drv;
    reg->frontend = frontend;
    snprintf(reg->node, sizeof(reg->node), "%s/%s", frontend ? "device" : "backend",
             drv->type);
    reg->watch.node = reg->node;
    reg->watch.callback = cb;
    reg->watch.data = reg;
    reg->next = f->regs;
    f->regs = reg;
    /* It fires once at once: that event probes what already exists. */
    err = xenbus_watch(&reg->watch);
    if (err) {
        f->regs = reg->next;
        free(reg);
    }
    xbf_put(xb, took);
    return err;
}

static bool parse_id(const char *s, unsigned long max, unsigned long *out)
{
    char *end;

    if (!*s || *s < '0' || *s > '9')
        return false;
    *out = strtoul(s, &end, 10);
    return !*end && *out <= max;
}

void xbf_scan(struct xbf_reg *reg, void (*fn)(struct xbf_reg *reg, domid_t fe,
                                              unsigned int devid, void *arg), void *arg)
{
    char **top = NULL;
    int n = xenbus_directory(XENBUS_TRANSACTION_NIL, reg->node, &top);

    for (int i = 0; i < n; i++) {
        unsigned long a, b;
        char sub[XENBUS_PATH_MAX * 2], **ids = NULL;
        int m;

        if (!parse_id(top[i], reg->frontend ? UINT32_MAX : DOMID_FIRST_RESERVED - 1, &a))
            continue;
        if (reg->frontend) {
            fn(reg, DOMID_SELF, (unsigned int)a, arg);
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", reg->node, top[i]);
        m = xenbus_directory(XENBUS_TRANSACTION_NIL, sub, &ids);
        for (int k = 0; k < m; k++)
            if (parse_id(ids[k], UINT32_MAX, &b))
                fn(reg, (domid_t)a, (unsigned int)b, arg);
        if (m >= 0)
            free(ids);
    }
    if (n >= 0)
        free(top);
}

int xenbus_grant_ring(domid_t otherend, void *const *pages, unsigned int nr, grant_ref_t *refs)
{
    for (unsigned int i = 0; i < nr; i++) {
        xen_pfn_t pfn = xensim_guest_virt_to_pfn(pages[i]);
        long ref = pfn == ~(xen_pfn_t)0 ? -EINVAL
                                        : xensim_gnttab_grant_access(otherend, pfn, false);

        if (ref < 0) {
            while (i--) {
                xensim_gnttab_end_access(refs[i]);
                xensim_gnttab_free_ref(refs[i]);
            }
            return (int)ref;
        }
        refs[i] = (grant_ref_t)ref;
    }
    return 0;
}

int xenbus_map_ring(domid_t otherend, const grant_ref_t *refs, unsigned int nr,
                    grant_handle_t *handles, void **addrs)
{
    for (unsigned int i = 0; i < nr; i++) {
        gnttab_map_grant_ref_t op = {
            .flags = GNTMAP_host_map, .ref = refs[i], .dom = otherend,
        };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1);

        if (rc || op.status != GNTST_okay) {
            xenbus_unmap_ring(handles, addrs, i);
            return rc ? (int)rc : (op.status == GNTST_bad_domain ? -ESRCH : -EINVAL);
        }
        handles[i] = op.handle;
        addrs[i] = (void *)(uintptr_t)op.host_addr;
    }
    return 0;
}

int xenbus_unmap_ring(const grant_handle_t *handles, void *const *addrs, unsigned int nr)
{
    int err = 0;

    for (unsigned int i = 0; i < nr; i++) {
        gnttab_unmap_grant_ref_t op = {
            .host_addr = (uint64_t)(uintptr_t)addrs[i], .handle = handles[i],
        };
        long rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &op, 1);

        if ((rc || op.status != GNTST_okay) && !err)
            err = rc ? (int)rc : -EINVAL;
    }
    return err;
}

int xenbus_alloc_evtchn(domid_t otherend, evtchn_port_t *port)
{
    long p = xensim_evtchn_alloc_unbound(otherend);

    if (p < 0)
        return (int)p;
    *port = (evtchn_port_t)p;
    return 0;
}
