/*
 * The "vbd" front end driver for the xenbus framework: when the back end
 * is in InitWait it reads the back end's limits, sets blkfront up and
 * publishes ring-page-order, ring-ref[%u] (or queue-%u/...), event-channel,
 * multi-queue-num-queues, protocol and feature-persistent in the
 * framework's transaction; when the back end is Connected it reads the
 * device properties and connects. Calls blkfront_ring.c and the xenbus
 * client; owns the per-domain config templates.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xenbus.h>
#include "blkfront.h"
#include "xb_settings.h"

XENBUS_CONFIG_STORE(tmpls, struct xensim_blkfront_config);

int xensim_vbd_front_config(const struct xensim_blkfront_config *tmpl)
{
    return xenbus_config_set(&tmpls, tmpl);
}

static struct xensim_blkfront_config tmpl_get(void)
{
    /* Without a template: Linux blkfront's defaults (one page, one
     * queue, persistent grants, 32 indirect segments). */
    struct xensim_blkfront_config c = { .max_queues = 1, .persistent = true,
                                 .max_indirect_segments = 32 };
    xenbus_config_get(&tmpls, &c);
    return c;
}

struct vbd_front {
    struct xensim_blkfront *fe;
    struct xensim_blkif_front_params p;
};

static int vf_probe(struct xensim_xenbus_device *dev)
{
    struct vbd_front *vf = calloc(1, sizeof(*vf));
    if (!vf)
        return -ENOMEM;
    dev->priv = vf;
    return 0;
}

static unsigned int read_uint(const char *dir, const char *key, unsigned int def)
{
    unsigned int v;
    return xensim_xenbus_scanf(0, dir, key, "%u", &v) == 1 ? v : def;
}

/* What the back end offers: limits at InitWait, everything at Connected. */
static void read_backend(struct xensim_xenbus_device *dev, struct xensim_blkif_backend_info *i)
{
    const char *be = dev->otherend;
    memset(i, 0, sizeof(*i));
    i->max_ring_order = read_uint(be, "max-ring-page-order", 0);
    i->max_queues = read_uint(be, "multi-queue-max-queues", 1);
    i->max_indirect_segments = read_uint(be, "feature-max-indirect-segments", 0);
    i->feature_persistent = read_uint(be, "feature-persistent", 0) == 1;
    i->feature_flush = read_uint(be, "feature-flush-cache", 0) == 1;
    i->feature_barrier = read_uint(be, "feature-barrier", 0) == 1;
    i->feature_discard = read_uint(be, "feature-discard", 0) == 1;
    i->discard_secure = read_uint(be, "discard-secure", 0) == 1;
    i->discard_granularity = read_uint(be, "discard-granularity", 0);
    i->discard_alignment = read_uint(be, "discard-alignment", 0);
    i->info = read_uint(be, "info", 0);
    i->sector_size = read_uint(be, "sector-size", 0);
    i->physical_sector_size = read_uint(be, "physical-sector-size", i->sector_size);
    if (i->discard_granularity == 0)
        i->discard_granularity = i->sector_size;
    uint64_t sectors;
    if (xensim_xenbus_scanf(0, be, "sectors", "%" SCNu64, &sectors) == 1)
        i->sectors = sectors;
}

static void vf_disconnect(struct xensim_xenbus_device *dev)
{
    struct vbd_front *vf = dev->priv;
    if (vf && vf->fe)
        xensim_blkfront_disconnect(vf->fe);
}

/* The back end is in InitWait: set the rings up, publish them next. */
static int vf_setup_rings(struct xensim_xenbus_device *dev)
{
    struct vbd_front *vf = dev->priv;
    struct xensim_blkif_backend_info i;
    int err;
    if (!vf->fe) {
        struct xensim_blkfront_config cfg = tmpl_get();
        cfg.backend_domid = dev->otherend_id;
        if ((err = xensim_blkfront_create(&cfg, &vf->fe))) {
            vf->fe = NULL;
            return err;
        }
    }
    xensim_blkfront_disconnect(vf->fe);
    read_backend(dev, &i);
    if ((err = xensim_blkfront_set_backend(vf->fe, dev->otherend_id)))
        return err;
    if ((err = xensim_blkfront_setup(vf->fe, &i, &vf->p)))
        return err;
    /* inject_early_initialised: the back end may act on this before the
     * framework's transaction gives it the keys. */
    if (tmpl_get().inject_early_initialised)
        err = xensim_xenbus_printf(0, dev->nodename, "state", "%d",
                                   XenbusStateInitialised);
    return err;
}

static int write_ring(xensim_xenbus_transaction_t t, const char *dir, unsigned int order,
                      const grant_ref_t *refs, evtchn_port_t port)
{
    int err = 0;
    if (!order)
        err = xensim_xenbus_printf(t, dir, "ring-ref", "%u", refs[0]);
    for (unsigned int k = 0; order && k < 1u << order && !err; k++) {
        char key[32];
        snprintf(key, sizeof(key), "ring-ref%u", k);
        err = xensim_xenbus_printf(t, dir, key, "%u", refs[k]);
    }
    if (!err)
        err = xensim_xenbus_printf(t, dir, "event-channel", "%u", port);
    return err;
}

/* May run more than once (EAGAIN): it only writes. */
static int vf_publish(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t)
{
    struct vbd_front *vf = dev->priv;
    const struct xensim_blkif_front_params *p = &vf->p;
    const char *d = dev->nodename;
    int err;
    if (p->ring_order && (err = xensim_xenbus_printf(t, d, "ring-page-order", "%u", p->ring_order)))
        return err;
    if (p->nr_queues == 1) {
        if ((err = write_ring(t, d, p->ring_order, p->queue[0].ring_ref, p->queue[0].evtchn)))
            return err;
    } else {
        if ((err = xensim_xenbus_printf(t, d, "multi-queue-num-queues", "%u", p->nr_queues)))
            return err;
        for (unsigned int q = 0; q < p->nr_queues; q++) {
            char dir[XENSIM_XENBUS_PATH_MAX + 32];
            snprintf(dir, sizeof(dir), "%s/queue-%u", d, q);
            if ((err = write_ring(t, dir, p->ring_order, p->queue[q].ring_ref,
                                  p->queue[q].evtchn)))
                return err;
        }
    }
    if ((err = xensim_xenbus_printf(t, d, "protocol", "%s", p->protocol)) ||
        (err = xensim_xenbus_printf(t, d, "feature-persistent", "%d", p->feature_persistent)))
        return err;
    if (p->large_sector && (err = xensim_xenbus_printf(t, d, "feature-large-sector-size", "1")))
        return err;
    return 0;
}

/* The back end is Connected: read the device, bring it up. */
static int vf_connect(struct xensim_xenbus_device *dev)
{
    struct vbd_front *vf = dev->priv;
    struct xensim_blkif_backend_info i;
    if (!vf->fe)
        return -ENODEV;
    read_backend(dev, &i);
    if (!i.sector_size)
        return -EINVAL;       /* sector-size is required */
    return xensim_blkfront_connect(vf->fe, &i);
}

/* Also when our domain dies, with no vCPU: then only host memory goes. */
static void vf_remove(struct xensim_xenbus_device *dev)
{
    struct vbd_front *vf = dev->priv;
    if (vf && vf->fe) {
        if (xensim_guest_start_info())
            xensim_blkfront_destroy(vf->fe);
        else
            xensim_blkfront_free_dead(vf->fe);
    }
    free(vf);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xensim_vbd_front = {
    .type = "vbd",
    .probe = vf_probe,
    .setup_rings = vf_setup_rings,
    .publish = vf_publish,
    .connect = vf_connect,
    .disconnect = vf_disconnect,
    .remove = vf_remove,
};

struct xensim_blkfront *xensim_vbd_front_find(unsigned int devid)
{
    struct xensim_xenbus_device *dev = xensim_xenbus_device_find(&xensim_vbd_front, DOMID_SELF, devid);
    struct vbd_front *vf = dev ? dev->priv : NULL;
    return vf && __atomic_load_n(&dev->state, __ATOMIC_ACQUIRE) == XenbusStateConnected &&
                   vf->fe && xensim_blkfront_connected(vf->fe)
               ? vf->fe : NULL;
}
