/*
 * The "vif" front end driver for the xenbus framework: per device, a
 * netfront created when the back end is ready (setup_rings), its keys
 * published in the framework's transaction, and connected once the back
 * end is Connected. Owns the per-domain config template; calls netfront.c
 * and the xenbus client.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include <xensim/netif.h>
#include <xensim/xenbus.h>
#include "xb_settings.h"

struct vif_front {
    struct xensim_netfront *nf;
    uint8_t mac[XENSIM_ETH_ALEN];
};

/* Per-domain templates (a guest data key). */
XENBUS_CONFIG_STORE(cfgs, struct xensim_netfront_config);

static struct xensim_netfront_config front_cfg_get(void)
{
    struct xensim_netfront_config c = { 0 };
    xenbus_config_get(&cfgs, &c);
    return c;
}

int xensim_vif_front_config(const struct xensim_netfront_config *cfg)
{
    return xenbus_config_set(&cfgs, cfg);
}

static int vf_probe(struct xensim_xenbus_device *dev)
{
    struct vif_front *vf = calloc(1, sizeof(*vf));
    if (!vf)
        return -ENOMEM;
    unsigned int m[6];
    if (xensim_xenbus_scanf(0, dev->nodename, "mac", "%x:%x:%x:%x:%x:%x",
                     &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6) {
        for (int i = 0; i < 6; i++)
            vf->mac[i] = (uint8_t)m[i];
    } else {
        /* Xen's OUI with the domain and device, as xl would pick. */
        uint8_t def[6] = { 0x00, 0x16, 0x3e, (uint8_t)(dev->otherend_id >> 8),
                           (uint8_t)xensim_guest_domid(), (uint8_t)dev->devid };
        memcpy(vf->mac, def, 6);
    }
    dev->priv = vf;
    return 0;
}

static void vf_disconnect(struct xensim_xenbus_device *dev)
{
    struct vif_front *vf = dev->priv;
    if (vf && vf->nf && xensim_netfront_destroy(vf->nf) == 0)
        vf->nf = NULL;
}

/* The back end is in InitWait: make the device now, publish it next. */
static int vf_setup_rings(struct xensim_xenbus_device *dev)
{
    struct vif_front *vf = dev->priv;
    vf_disconnect(dev);
    struct xensim_netfront_config cfg = front_cfg_get();
    cfg.backend = dev->otherend_id;
    memcpy(cfg.mac, vf->mac, 6);
    int sg = 0;
    if (xensim_xenbus_scanf(0, dev->otherend, "feature-sg", "%d", &sg) == 1 && !sg)
        cfg.sg = false;
    int err = xensim_netfront_create(&cfg, &vf->nf);
    if (err)
        vf->nf = NULL;
    return err;
}

static int vf_publish(struct xensim_xenbus_device *dev, xensim_xenbus_transaction_t t)
{
    struct vif_front *vf = dev->priv;
    struct xensim_netif_front_keys k;
    xensim_netfront_keys(vf->nf, &k);
    int err;
    if ((err = xensim_xenbus_printf(t, dev->nodename, "tx-ring-ref", "%u", k.tx_ring_ref)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "rx-ring-ref", "%u", k.rx_ring_ref)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "event-channel", "%u", k.event_channel)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "request-rx-copy", "%d", 1)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-rx-notify", "%d", 1)) ||
        (err = xensim_xenbus_printf(t, dev->nodename, "feature-sg", "%d", k.feature_sg ? 1 : 0)))
        return err;
    return 0;
}

static int vf_connect(struct xensim_xenbus_device *dev)
{
    struct vif_front *vf = dev->priv;
    struct xensim_netif_back_features bf = { 0 };
    int v = 0;
    if (xensim_xenbus_scanf(0, dev->otherend, "feature-rx-copy", "%d", &v) == 1)
        bf.feature_rx_copy = v == 1;
    v = 0;
    if (xensim_xenbus_scanf(0, dev->otherend, "feature-sg", "%d", &v) == 1)
        bf.feature_sg = v == 1;
    if (!vf->nf)
        return -ENODEV;
    return xensim_netfront_connect(vf->nf, &bf);
}

static void vf_remove(struct xensim_xenbus_device *dev)
{
    vf_disconnect(dev);
    free(dev->priv);
    dev->priv = NULL;
}

const struct xensim_xenbus_driver xensim_vif_front = {
    .type = "vif",
    .probe = vf_probe,
    .setup_rings = vf_setup_rings,
    .publish = vf_publish,
    .connect = vf_connect,
    .disconnect = vf_disconnect,
    .remove = vf_remove,
};

struct xensim_netfront *xensim_vif_front_find(unsigned int devid)
{
    struct xensim_xenbus_device *dev = xensim_xenbus_device_find(&xensim_vif_front, DOMID_SELF, devid);
    struct vif_front *vf = dev ? dev->priv : NULL;
    return vf && __atomic_load_n(&dev->state, __ATOMIC_ACQUIRE) == XenbusStateConnected ? vf->nf
                                                                                       : NULL;
}
