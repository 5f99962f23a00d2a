/*
 * /dev/xen/gntdev for host threads: grant mappings made on behalf of a
 * domain (normally dom0) by a thread that is not one of its vCPUs, as
 * xenconsoled or a vchan program maps through gntdev, and pins for
 * processes outside that map the granter's frame themselves. Owns the
 * handle's list of (address or frame, handle); calls
 * gnttab_map_many/gnttab_unmap_many.
 */
#include "gnttab.h"

/* A mapping (addr set) or a pin for a process outside (addr NULL, the
 * frame instead, as Xen's device mappings are named by their frame). */
struct dev_map {
    void *addr;
    grant_handle_t handle;
    xen_pfn_t frame;
};

struct xensim_gnttab_dev {
    struct xensim *sim;
    domid_t domid;
    pthread_mutex_t lock;
    struct dev_map *maps;
    unsigned int nr, cap;
};

struct xensim_gnttab_dev *xensim_gnttab_dev_open(struct xensim *sim, domid_t domid)
{
    struct domain *d = domain_rcu_get(sim, NULL, domid);
    bool ok = d && !atomic_load(&d->is_dying);
    if (d)
        rcu_read_unlock();
    if (!ok) {
        errno = ESRCH;
        return NULL;
    }
    struct xensim_gnttab_dev *dev = calloc(1, sizeof(*dev));
    if (!dev) {
        errno = ENOMEM;
        return NULL;
    }
    dev->sim = sim;
    dev->domid = domid;
    int e = pthread_mutex_init(&dev->lock, NULL);
    if (e)
        XENSIM_DIE("pthread_mutex_init", e);
    return dev;
}

/* Unmaps one mapping as the dev's domain; the domain may be gone. */
static int dev_unmap_handle(struct xensim_gnttab_dev *dev, const struct dev_map *m)
{
    gnttab_unmap_grant_ref_t op = {
        .host_addr = (uint64_t)(uintptr_t)m->addr, .handle = m->handle,
        .dev_bus_addr = m->addr ? 0 : (uint64_t)m->frame << XEN_PAGE_SHIFT,
    };
    struct domain *put = NULL;

    struct domain *d = domain_rcu_get(dev->sim, NULL, dev->domid);
    op.status = GNTST_bad_domain;
    if (d) {
        gnttab_unmap_many(d, &op, 1, &put);
        rcu_read_unlock();
    }
    if (put)
        domain_put_foreign(put);
    return op.status == GNTST_okay ? 0 : -EINVAL;
}

/* One map op as the dev's domain, recorded in the handle's list when it
 * works. Returns the op's status. */
static int16_t dev_map_op(struct xensim_gnttab_dev *dev, gnttab_map_grant_ref_t *op)
{
    struct domain *put = NULL;

    xensim_mutex_lock(&dev->lock);
    if (dev->nr == dev->cap) {
        unsigned int cap = dev->cap ? dev->cap * 2 : 16;
        struct dev_map *p = realloc(dev->maps, cap * sizeof(*p));
        if (!p) {
            xensim_mutex_unlock(&dev->lock);
            return GNTST_no_space;
        }
        dev->maps = p;
        dev->cap = cap;
    }
    struct domain *d = domain_rcu_get(dev->sim, NULL, dev->domid);
    /* A process of a dead domain cannot map anything. */
    op->status = GNTST_general_error;
    if (d) {
        if (!atomic_load(&d->is_dying))
            gnttab_map_many(d, op, 1, &put);
        rcu_read_unlock();
    }
    if (put)
        domain_put_foreign(put);
    if (op->status == GNTST_okay)
        dev->maps[dev->nr++] = (struct dev_map){
            .addr = (op->flags & GNTMAP_host_map) ? (void *)(uintptr_t)op->host_addr : NULL,
            .handle = op->handle,
            .frame = op->dev_bus_addr >> XEN_PAGE_SHIFT,
        };
    xensim_mutex_unlock(&dev->lock);
    return op->status;
}

void *xensim_gnttab_dev_map(struct xensim_gnttab_dev *dev, domid_t granter,
                            grant_ref_t ref, bool readonly, int16_t *status)
{
    gnttab_map_grant_ref_t op = {
        .flags = GNTMAP_host_map | (readonly ? GNTMAP_readonly : 0),
        .ref = ref, .dom = granter,
    };
    int16_t st = dev_map_op(dev, &op);

    if (status)
        *status = st;
    return st == GNTST_okay ? (void *)(uintptr_t)op.host_addr : NULL;
}

/* A device mapping: Xen pins the page and names it by its frame, and the
 * simulator makes no host mapping; the process maps the frame itself. */
int16_t xensim_gnttab_dev_pin(struct xensim_gnttab_dev *dev, domid_t granter, grant_ref_t ref,
                              bool readonly, grant_handle_t *handle, xen_pfn_t *frame)
{
    gnttab_map_grant_ref_t op = {
        .flags = GNTMAP_device_map | (readonly ? GNTMAP_readonly : 0),
        .ref = ref, .dom = granter,
    };
    int16_t st = dev_map_op(dev, &op);

    if (st == GNTST_okay) {
        *handle = op.handle;
        *frame = op.dev_bus_addr >> XEN_PAGE_SHIFT;
    }
    return st;
}

int xensim_gnttab_dev_unpin(struct xensim_gnttab_dev *dev, grant_handle_t handle)
{
    xensim_mutex_lock(&dev->lock);
    for (unsigned int i = 0; i < dev->nr; i++) {
        if (dev->maps[i].addr || dev->maps[i].handle != handle)
            continue;
        struct dev_map m = dev->maps[i];
        dev->maps[i] = dev->maps[--dev->nr];
        xensim_mutex_unlock(&dev->lock);
        return dev_unmap_handle(dev, &m);
    }
    xensim_mutex_unlock(&dev->lock);
    return -EINVAL;
}

int xensim_gnttab_dev_unmap(struct xensim_gnttab_dev *dev, void *addr)
{
    xensim_mutex_lock(&dev->lock);
    /* Fast-mode mappings of one page share an address: take the latest. */
    for (unsigned int i = dev->nr; i-- > 0;) {
        if (!addr || dev->maps[i].addr != addr)
            continue;
        struct dev_map m = dev->maps[i];
        dev->maps[i] = dev->maps[--dev->nr];
        xensim_mutex_unlock(&dev->lock);
        return dev_unmap_handle(dev, &m);
    }
    xensim_mutex_unlock(&dev->lock);
    return -EINVAL;
}

void xensim_gnttab_dev_close(struct xensim_gnttab_dev *dev)
{
    if (!dev)
        return;
    for (unsigned int i = 0; i < dev->nr; i++)
        dev_unmap_handle(dev, &dev->maps[i]);
    free(dev->maps);
    pthread_mutex_destroy(&dev->lock);
    free(dev);
}
