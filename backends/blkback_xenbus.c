/*
 * The "vbd" back end driver for the xenbus framework: at probe it opens
 * the device's params and publishes the features and transport limits
 * (<xen/io/blkif.h>) before InitWait; at connect it reads the front end's
 * transport keys (ring-page-order, ring-ref[%u], event-channel,
 * multi-queue-num-queues with queue-%u/, protocol, feature-persistent),
 * connects blkback and publishes sectors, info, sector-size and
 * physical-sector-size in one transaction. Calls blkback_ring.c and the
 * xenbus client; owns the per-domain config templates.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xenbus.h>
#include "blkback.h"
#include "xb_settings.h"

XENBUS_CONFIG_STORE(tmpls, struct xensim_blkback_config);

int xensim_vbd_back_config(const struct xensim_blkback_config *tmpl)
{
    return xenbus_config_set(&tmpls, tmpl);
}

static struct xensim_blkback_config tmpl_get(void)
{
    /* Without a template: what Linux blkback offers by default. */
    struct xensim_blkback_config c = {
        .feature_flush = true, .feature_barrier = true, .feature_discard = true,
        .feature_persistent = true, .max_indirect_segments = 256,
        .max_ring_order = XENSIM_BLKIF_MAX_RING_ORDER, .max_queues = 4,
    };
    xenbus_config_get(&tmpls, &c);
    return c;
}

struct vbd_back {
    struct blkback *be;
    char path[256];
};

/* Keys both at probe (so the front end can negotiate) and again, with the
 * device properties, just before Connected. */
static int write_features(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t,
                          const struct xensim_blkif_backend_info *i)
{
    int err;
    if ((err = xensim_xenbus_printf(t, dev->nodename, "feature-flush-cache", "%d", i->feature_flush)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-barrier", "%d", i->feature_barrier)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-discard", "%d", i->feature_discard)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-persistent", "%d",
                             i->feature_persistent)))
        return err;
    if (i->feature_discard &&
        ((err = xensim_xenbus_printf(t, dev->nodename, "discard-granularity", "%u",
                              i->discard_granularity)) ||
         (err = xensim_xenbus_printf(t, dev->nodename, "discard-alignment", "%u",
                              i->discard_alignment)) ||
         (err = xensim_xenbus_printf(t, dev->nodename, "discard-secure", "%d", i->discard_secure))))
        return err;
    return 0;
}

/* A front end that broke the ring (ring.h's overflow check): close this
 * device, as Linux's xenbus_dev_fatal does; the others carry on. */
static void vb_on_error(struct blkback *be, enum xensim_blkback_error err, void *arg)
{
    (void)be;
    (void)err;
    xensim_xenbus_switch_state(arg, XenbusStateClosing);
}

static int vb_probe(struct xensim_xenbus_device *dev)
{
    struct vbd_back *vb = calloc(1, sizeof(*vb));
    if (!vb)
        return -ENOMEM;
    struct xensim_blkback_config cfg = tmpl_get();
    char mode[8] = "w";
    char key[XENSIM_XENBUS_PATH_MAX + 16];
    snprintf(key, sizeof(key), "%s/mode", dev->nodename);
    xensim_xenbus_read_buf(0, key, mode, sizeof(mode));
    cfg.readonly = cfg.readonly || mode[0] == 'r';
    /* The toolstack may forbid discard (blkif.h: discard-enable). */
    int discard = 1;
    if (xensim_xenbus_scanf(0, dev->nodename, "discard-enable", "%d", &discard) == 1 && !discard)
        cfg.feature_discard = false;
    snprintf(key, sizeof(key), "%s/params", dev->nodename);
    int n = xensim_xenbus_read_buf(0, key, vb->path, sizeof(vb->path));
    unsigned long long bytes;
    if (n > 0 && sscanf(vb->path, "mem:%llu", &bytes) == 1) {
        cfg.path = NULL;
        cfg.mem_bytes = bytes;
    } else if (n > 0) {
        cfg.path = vb->path;
    } else if (!cfg.path && !cfg.mem_bytes) {
        free(vb);
        return -ENOENT;
    }
    cfg.on_error = vb_on_error;
    cfg.on_error_arg = dev;
    int err = xensim_blkback_create(&cfg, &vb->be);
    if (err) {
        free(vb);
        return err;
    }
    struct xensim_blkif_backend_info i;
    xensim_blkback_info(vb->be, &i);
    if ((i.max_indirect_segments &&
         (err = xensim_xenbus_printf(0, dev->nodename, "feature-max-indirect-segments", "%u",
                              i.max_indirect_segments))) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "multi-queue-max-queues", "%u", i.max_queues)) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "max-ring-page-order", "%u", i.max_ring_order)) ||
        (err = write_features(dev, 0, &i))) {
        xensim_blkback_destroy(vb->be);
        free(vb);
        return err;
    }
    dev->priv = vb;
    return 0;
}

/* Reads ring-ref or ring-ref%u under dir into q. */
static int read_ring(const char *dir, unsigned int order, grant_ref_t *refs,
                     evtchn_port_t *port)
{
    if (xensim_xenbus_scanf(0, dir, "event-channel", "%u", port) != 1)
        return -ENOENT;
    if (!order)
        return xensim_xenbus_scanf(0, dir, "ring-ref", "%u", &refs[0]) == 1 ? 0 : -ENOENT;
    for (unsigned int k = 0; k < 1u << order; k++) {
        char key[32];
        snprintf(key, sizeof(key), "ring-ref%u", k);
        if (xensim_xenbus_scanf(0, dir, key, "%u", &refs[k]) != 1)
            return -ENOENT;
    }
    return 0;
}

struct props {
    struct xensim_xenbus_device *dev;
    struct xensim_blkif_backend_info i;
};

static int props_body(xensim_xenbus_transaction_t t, void *arg)
{
    struct props *p = arg;
    const char *d = p->dev->nodename;
    int err;
    if ((err = write_features(p->dev, t, &p->i)) ||
        (err = xensim_xenbus_printf(t, d, "sectors", "%" PRIu64, p->i.sectors)) ||
        (err = xensim_xenbus_printf(t, d, "info", "%u", p->i.info)) ||
        (err = xensim_xenbus_printf(t, d, "sector-size", "%u", p->i.sector_size)) ||
        (err = xensim_xenbus_printf(t, d, "physical-sector-size", "%u", p->i.physical_sector_size)))
        return err;
    return 0;
}

static int vb_connect(struct xensim_xenbus_device *dev)
{
    struct vbd_back *vb = dev->priv;
    const char *fe = dev->otherend;
    struct xensim_blkif_front_params *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    unsigned int v;
    int err = 0;
    p->front_domid = dev->otherend_id;
    if (xensim_xenbus_scanf(0, fe, "ring-page-order", "%u", &v) == 1)
        p->ring_order = v;
    p->nr_queues = 1;
    if (xensim_xenbus_scanf(0, fe, "multi-queue-num-queues", "%u", &v) == 1)
        p->nr_queues = v;
    if (xensim_xenbus_scanf(0, fe, "feature-persistent", "%u", &v) == 1)
        p->feature_persistent = v == 1;
    if (xensim_xenbus_scanf(0, fe, "feature-large-sector-size", "%u", &v) == 1)
        p->large_sector = v == 1;
    char key[XENSIM_XENBUS_PATH_MAX + 16];
    snprintf(key, sizeof(key), "%s/protocol", fe);
    if (xensim_xenbus_read_buf(0, key, p->protocol, sizeof(p->protocol)) < 0)
        p->protocol[0] = '\0';
    /* Out of range: xensim_blkback_connect refuses (blkif.h: fatal). */
    if (p->ring_order > XENSIM_BLKIF_MAX_RING_ORDER || p->nr_queues == 0 ||
        p->nr_queues > XENSIM_BLKIF_MAX_QUEUES)
        err = -EINVAL;
    if (!err && p->nr_queues == 1)
        err = read_ring(fe, p->ring_order, p->queue[0].ring_ref, &p->queue[0].evtchn);
    for (unsigned int q = 0; !err && p->nr_queues > 1 && q < p->nr_queues; q++) {
        char dir[XENSIM_XENBUS_PATH_MAX + 32];
        snprintf(dir, sizeof(dir), "%s/queue-%u", fe, q);
        err = read_ring(dir, p->ring_order, p->queue[q].ring_ref, &p->queue[q].evtchn);
    }
    if (!err)
        err = xensim_blkback_connect(vb->be, p);
    free(p);
    if (err)
        return err;
    struct props pr = { .dev = dev };
    xensim_blkback_info(vb->be, &pr.i);
    err = xensim_xenbus_transaction_run(props_body, &pr, 0);
    if (err)
        xensim_blkback_disconnect(vb->be);
    return err;
}

static void vb_disconnect(struct xensim_xenbus_device *dev)
{
    struct vbd_back *vb = dev->priv;
    if (vb && vb->be)
        xensim_blkback_disconnect(vb->be);
}

/* Also when our domain dies, with no vCPU: destroy makes no hypercalls. */
static void vb_remove(struct xensim_xenbus_device *dev)
{
    struct vbd_back *vb = dev->priv;
    if (vb) {
        if (xensim_guest_start_info()) {
            xensim_blkback_disconnect(vb->be);
            xensim_blkback_destroy(vb->be);
        } else {
            xensim_blkback_free_dead(vb->be);
        }
        free(vb);
    }
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xensim_vbd_back = {
    .type = "vbd",
    .probe = vb_probe,
    .connect = vb_connect,
    .disconnect = vb_disconnect,
    .remove = vb_remove,
};

struct blkback *xensim_vbd_back_find(domid_t front, unsigned int devid)
{
    struct xensim_xenbus_device *dev = xensim_xenbus_device_find(&xensim_vbd_back, front, devid);
    struct vbd_back *vb = dev ? dev->priv : NULL;
    return vb ? vb->be : NULL;
}
