/*
 * The back end's state machine: InitWait once the driver probed (its
 * features written), then the driver connects (maps the front end's rings,
 * binds its ports) when the front end is Initialised and Connected is
 * written; it tears down when the front end closes, restarts or dies, and
 * forgets a device that is unplugged. Plugs into the framework as
 * xbf_back.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_framework.h"

static bool online(struct xensim_xenbus_device *dev)
{
    int v = 0;

    return xensim_xenbus_scanf(0, dev->nodename, "online", "%d", &v) == 1 && v == 1;
}

static void back_connect_or_close(struct xensim_xenbus_device *dev)
{
    int err = 0;

    dev->connected_ = true;
    if (dev->drv->connect && (err = dev->drv->connect(dev)))
        xbf_teardown(dev);
    xensim_xenbus_switch_state(dev, err ? XenbusStateClosing : XenbusStateConnected);
}

/* The front end's state changed (or may have). */
static void back_otherend_changed(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct xensim_xenbus_device *dev = w->data;
    struct xb_dom *xb;
    struct xbf_dom *f = xbf_cur(&xb);
    enum xenbus_state fs = xensim_xenbus_read_state(dev->otherend);

    (void)path;
    (void)token;
    switch (fs) {
    case XenbusStateInitialising:
        /* A front end starting over: it will publish new rings. From
         * Connected the way back goes through Closing and Closed, as
         * Linux's netback steps it (set_backend_state): no honest end
         * jumps from Connected into setup. */
        xbf_teardown(dev);
        if (dev->state == XenbusStateConnected)
            xensim_xenbus_switch_state(dev, XenbusStateClosing);
        if (dev->state == XenbusStateClosing)
            xensim_xenbus_switch_state(dev, XenbusStateClosed);
        if (dev->state == XenbusStateClosed)
            xensim_xenbus_switch_state(dev, XenbusStateInitWait);
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        /* A front end Connected to our predecessor starts over when it
         * sees our InitWait: wait for its Initialised. */
        if (fs == XenbusStateConnected && !dev->connected_ &&
            dev->state == XenbusStateInitWait)
            break;
        if (dev->state == XenbusStateInitWait || dev->state == XenbusStateInitialising ||
            dev->state == XenbusStateInitialised)
            back_connect_or_close(dev);
        break;
    case XenbusStateClosing:
        xbf_teardown(dev);
        xensim_xenbus_switch_state(dev, XenbusStateClosing);
        break;
    case XenbusStateClosed:
        /* Just (re)started: a front end left Closed is told by our
         * InitWait to come back (it writes Initialising). */
        if (dev->state == XenbusStateInitWait && !dev->connected_ && online(dev))
            break;
        /* fall through */
    case XenbusStateUnknown:
    default:
        xbf_teardown(dev);
        xensim_xenbus_switch_state(dev, XenbusStateClosed);
        /* Unplugged, or the front end's directory (its domain) is gone. */
        if (fs == XenbusStateUnknown || !online(dev))
            xbf_dev_free(f, dev);
        break;
    }
}

/* Only complete, plugged devices whose front end still exists. */
static bool back_usable(struct xensim_xenbus_device *dev, int frontend_id)
{
    return frontend_id == dev->otherend_id && online(dev) &&
           xensim_xenbus_read_state(dev->otherend) != XenbusStateUnknown;
}

/* InitWait is written even over a stale one of our predecessor's; over
 * a predecessor's setup or Closing by way of Closed, as an honest end
 * moves (xenstored's state check reports a jump back into setup). */
static void back_start(struct xensim_xenbus_device *dev)
{
    enum xenbus_state stale = xensim_xenbus_read_state(dev->nodename);
    __atomic_store_n(&dev->state, XenbusStateUnknown, __ATOMIC_RELEASE);
    if (stale > XenbusStateInitWait && stale != XenbusStateClosed)
        xensim_xenbus_switch_state(dev, XenbusStateClosed);
    xensim_xenbus_switch_state(dev, XenbusStateInitWait);
}

const struct xbf_end xbf_back = {
    .frontend = false,
    .dir = "backend",
    .per_frontend = true,
    .otherend_key = "frontend",
    .otherend_id_key = "frontend-id",
    .usable = back_usable,
    .start = back_start,
    .otherend_changed = back_otherend_changed,
};

int xensim_xenbus_backend_register(const struct xensim_xenbus_driver *drv)
{
    return xbf_register(drv, &xbf_back);
}

void xensim_xenbus_backend_unregister(const struct xensim_xenbus_driver *drv, bool graceful)
{
    xbf_unregister(drv, &xbf_back, graceful);
}
