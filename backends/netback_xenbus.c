/*
 * The "vif" back end driver for the xenbus framework: features written at
 * probe (before InitWait), the front end's keys read and the vif joined to
 * the domain's switch at connect, the vif torn down at disconnect. Owns
 * the per-domain switch registry; calls netback.c and the xenbus client.
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

/* Which netback (switch) serves each back-end domain's vifs. */
XENBUS_CONFIG_STORE(nbs, struct xensim_netback *);

static struct xensim_netback *back_nb_get(void)
{
    struct xensim_netback *nb = NULL;
    xenbus_config_get(&nbs, &nb);
    return nb;
}

int xensim_vif_back_attach(struct xensim_netback *nb)
{
    return xenbus_config_set(&nbs, nb ? &nb : NULL);
}

static int vb_probe(struct xensim_xenbus_device *dev)
{
    struct xensim_netback *nb = back_nb_get();
    if (!nb)
        return -ENODEV;
    struct xensim_netif_back_features bf;
    xensim_netback_features(nb, &bf);
    int err;
    if ((err = xensim_xenbus_printf(0, dev->nodename, "feature-sg", "%d", bf.feature_sg)) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "feature-rx-copy", "%d", 1)) ||
        (err = xensim_xenbus_printf(0, dev->nodename, "feature-rx-flip", "%d", 0)))
        return err;
    return 0;
}

static int vb_connect(struct xensim_xenbus_device *dev)
{
    struct xensim_netback *nb = back_nb_get();
    if (!nb)
        return -ENODEV;
    struct xensim_netif_front_keys k = { 0 };
    unsigned int tx, rx, port;
    int v;
    if (xensim_xenbus_scanf(0, dev->otherend, "tx-ring-ref", "%u", &tx) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "rx-ring-ref", "%u", &rx) != 1 ||
        xensim_xenbus_scanf(0, dev->otherend, "event-channel", "%u", &port) != 1)
        return -EINVAL;
    k.tx_ring_ref = tx;
    k.rx_ring_ref = rx;
    k.event_channel = port;
    /* Modern netback refuses a front end that cannot take copies. */
    k.request_rx_copy = xensim_xenbus_scanf(0, dev->otherend, "request-rx-copy", "%d", &v) == 1 && v == 1;
    k.feature_rx_notify = xensim_xenbus_scanf(0, dev->otherend, "feature-rx-notify", "%d", &v) == 1 && v == 1;
    k.feature_sg = xensim_xenbus_scanf(0, dev->otherend, "feature-sg", "%d", &v) == 1 && v == 1;
    unsigned int m[6];
    if (xensim_xenbus_scanf(0, dev->nodename, "mac", "%x:%x:%x:%x:%x:%x",
                     &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6)
        for (int i = 0; i < 6; i++)
            k.mac[i] = (uint8_t)m[i];
    return xensim_netback_connect(nb, dev->otherend_id, dev->devid, &k);
}

static void vb_disconnect(struct xensim_xenbus_device *dev)
{
    struct xensim_netback *nb = back_nb_get();
    if (nb)
        xensim_netback_disconnect(nb, dev->otherend_id, dev->devid);
}

const struct xensim_xenbus_driver xensim_vif_back = {
    .type = "vif",
    .probe = vb_probe,
    .connect = vb_connect,
    .disconnect = vb_disconnect,
};
