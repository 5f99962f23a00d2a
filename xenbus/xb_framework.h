/*
 * Private to the split-driver framework: its per-domain state (registered
 * drivers, devices) and what
 * the front end (xenbus_dev_front.c) and back end (backends/
 * xenbus_backend.c) halves share from xenbus_dev.c.
 */
#ifndef XENBUS_DEV_H
#define XENBUS_DEV_H

#include "xb_client.h"

/* A driver registered in this domain, with its watch on its directory. */
struct xbf_reg {
    struct xbf_reg *next;
    const struct xenbus_driver *drv;
    bool frontend;
    char node[64];                /* "device/<type>" or "backend/<type>" */
    struct xenbus_watch watch;
};

/*
 * Per domain. Every framework entry point runs holding the dispatcher
 * role (xb_dispatch_hold), as watch callbacks do, so these lists are only
 * touched by one thread at a time; lock additionally guards the device
 * list for xenbus_device_find() from I/O paths.
 */
struct xbf_dom {
    pthread_mutex_t lock;
    struct xbf_reg *regs;
    struct xenbus_device *devices;
    unsigned int nr_devices;      /* for xenbus_get_stats() */
    domid_t self;
    char home[32];                /* /local/domain/<self> */
};

/* This domain's framework state (made on first use) with the dispatcher
 * role held; xbf_put releases it. NULL with *err set. */
struct xbf_dom *xbf_get(struct xb_dom **xbp, bool *took, int *err);
void xbf_put(struct xb_dom *xb, bool took);
/* This domain's client and framework state, either NULL if not made yet
 * (the framework's pointer is for callbacks, which hold the dispatcher). */
struct xbf_dom *xbf_cur(struct xb_dom **xbp);

void xbf_dev_add(struct xbf_dom *f, struct xenbus_device *dev);
/* Unwatches the other end, calls remove(), unlinks and frees. */
void xbf_dev_free(struct xbf_dom *f, struct xenbus_device *dev);
struct xenbus_device *xbf_dev_lookup(struct xbf_dom *f, const struct xenbus_driver *drv,
                                     bool frontend, domid_t otherend, unsigned int devid);
/* Watches <otherend>/state with cb. */
int xbf_watch_otherend(struct xenbus_device *dev, xenbus_watch_cb cb);
/* Binds port's interrupt to the driver's handle_event on this vCPU. */
int xbf_bind_irq(struct xenbus_device *dev);
void xbf_close_evtchn(struct xenbus_device *dev);
/* Registration shared by both ends. */
int xbf_register(const struct xenbus_driver *drv, bool frontend, xenbus_watch_cb cb);
struct xbf_reg *xbf_find_reg(struct xbf_dom *f, const struct xenbus_driver *drv, bool frontend);
/* Scans <home>/<reg->node>: device ids under it, one level (front end) or
 * two (back end: <frontid>/<devid>); calls fn for each existing one. */
void xbf_scan(struct xbf_reg *reg, void (*fn)(struct xbf_reg *reg, domid_t fe,
                                              unsigned int devid, void *arg), void *arg);

/* The back end's half (backends/xenbus_backend.c). */
void xbf_back_unregister_devices(struct xbf_dom *f,
                                 const struct xenbus_driver *drv, bool graceful);

#endif
