/*
 * Private to the split-driver framework: its per-domain state (registered
 * drivers, devices), the table through which each end's state machine
 * (frontend.c, backend.c) plugs into the shared probe (probe.c) and core
 * (framework.c), and what those share.
 */
#ifndef XENBUS_FRAMEWORK_H
#define XENBUS_FRAMEWORK_H

#include "xb_client.h"

/*
 * One end of the split-driver model. The probe reads a device's
 * <otherend_key> and <otherend_id_key> and asks usable() whether to drive
 * it; start() writes the end's first state; otherend_changed is the state
 * machine, run on every change of the other end's state.
 */
struct xbf_end {
    bool frontend;
    const char *dir;              /* "device" or "backend", under our home */
    bool per_frontend;            /* devices sit under <frontid>/<devid> */
    const char *otherend_key, *otherend_id_key;
    bool (*usable)(struct xensim_xenbus_device *dev, int otherend_id);
    void (*start)(struct xensim_xenbus_device *dev);
    xensim_xenbus_watch_cb otherend_changed;
};
extern const struct xbf_end xbf_front, xbf_back;

/* A driver registered in this domain, with its watch on its directory. */
struct xbf_reg {
    struct xbf_reg *next;
    const struct xensim_xenbus_driver *drv;
    const struct xbf_end *end;
    char node[64];                /* "device/<type>" or "backend/<type>" */
    struct xensim_xenbus_watch watch;
};

/*
 * Per domain, on a guest data key. Every framework entry point runs
 * holding the dispatcher role (xb_dispatch_hold), as watch callbacks do,
 * so these lists are only touched by one thread at a time; lock
 * additionally guards the device list (and its count) for
 * xensim_xenbus_device_find() and the stats from any thread of the domain.
 */
struct xbf_dom {
    pthread_mutex_t lock;
    struct xbf_reg *regs;
    struct xensim_xenbus_device *devices;
    unsigned int nr_devices;
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

void xbf_dev_add(struct xbf_dom *f, struct xensim_xenbus_device *dev);
/* Unwatches the other end, calls remove(), unlinks and frees. */
void xbf_dev_free(struct xbf_dom *f, struct xensim_xenbus_device *dev);
struct xensim_xenbus_device *xbf_dev_lookup(struct xbf_dom *f, const struct xensim_xenbus_driver *drv,
                                     bool frontend, domid_t otherend, unsigned int devid);
/* Watches <otherend>/state with the end's state machine. */
int xbf_watch_otherend(struct xensim_xenbus_device *dev);
/* The driver's disconnect, once, if setup_rings or connect ran. */
void xbf_teardown(struct xensim_xenbus_device *dev);
/* Registration and unregistration, shared by both ends. */
int xbf_register(const struct xensim_xenbus_driver *drv, const struct xbf_end *end);
void xbf_unregister(const struct xensim_xenbus_driver *drv, const struct xbf_end *end, bool graceful);

/* probe.c: the registration watch's callback. Something changed under
 * <dir>/<type>: probes new devices, re-reads the others' ends, forgets
 * the removed ones. */
void xbf_type_changed(struct xensim_xenbus_watch *w, const char *path, const char *token);

#endif
