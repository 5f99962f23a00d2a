/*
 * The front end's state machine: when the back end is ready it has the
 * driver make its rings and ports (setup_rings) and publishes their keys
 * with Initialised in one transaction; it connects the driver when the
 * back end is Connected, and tears down when the back end closes, restarts
 * or goes. Plugs into the framework as xbf_front.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_framework.h"

static int publish_body(xensim_xenbus_transaction_t t, void *p)
{
    struct xensim_xenbus_device *dev = p;
    int cur, err = xensim_xenbus_scanf(t, dev->nodename, "state", "%d", &cur);

    if (err < 0)
        return err;           /* removed meanwhile: do not re-create it */
    err = dev->drv->publish ? dev->drv->publish(dev, t) : 0;
    if (!err)
        err = xensim_xenbus_printf(t, dev->nodename, "state", "%d", XenbusStateInitialised);
    return err;
}

/* The back end is ready for us: rings, ports, keys, Initialised. */
static void front_setup(struct xensim_xenbus_device *dev)
{
    const struct xensim_xenbus_driver *drv = dev->drv;
    int err;

    if (dev->state == XenbusStateClosed)
        xensim_xenbus_switch_state(dev, XenbusStateInitialising);
    dev->connected_ = true;       /* from here the driver holds a transport */
    err = drv->setup_rings ? drv->setup_rings(dev) : 0;
    if (!err)
        err = xensim_xenbus_transaction_run(publish_body, dev, 0);
    if (err) {
        xbf_teardown(dev);
        xensim_xenbus_switch_state(dev, XenbusStateClosing);
        return;
    }
    xensim_narrate("%s/state: %s -> %s", dev->nodename, xensim_xenbus_strstate(dev->state),
                   xensim_xenbus_strstate(XenbusStateInitialised));
    __atomic_store_n(&dev->state, XenbusStateInitialised, __ATOMIC_RELEASE);
    if (drv->state_changed)
        drv->state_changed(dev, XenbusStateInitialised);
}

/* The back end's state changed (or may have). */
static void front_otherend_changed(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    struct xensim_xenbus_device *dev = w->data;
    enum xenbus_state bs = xensim_xenbus_read_state(dev->otherend);

    (void)path;
    (void)token;
    switch (bs) {
    case XenbusStateInitWait:
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (bs == XenbusStateInitWait && dev->state == XenbusStateConnected) {
            /* A back end that restarted lost our rings: start over, by
             * way of Closed, since no honest end jumps from Connected
             * into setup (xenstored's state check reports that). */
            xbf_teardown(dev);
            xensim_xenbus_switch_state(dev, XenbusStateClosed);
            xensim_xenbus_switch_state(dev, XenbusStateInitialising);
        }
        if (dev->state == XenbusStateInitialising || dev->state == XenbusStateClosed ||
            dev->state == XenbusStateUnknown) {
            if (bs == XenbusStateConnected && dev->state == XenbusStateClosed)
                break;        /* a stale Connected: wait for it to restart */
            front_setup(dev);
        }
        if (bs == XenbusStateConnected && dev->state == XenbusStateInitialised) {
            if (dev->drv->connect && dev->drv->connect(dev)) {
                xbf_teardown(dev);
                xensim_xenbus_switch_state(dev, XenbusStateClosing);
                break;
            }
            xensim_xenbus_switch_state(dev, XenbusStateConnected);
        }
        break;
    case XenbusStateClosed:
    case XenbusStateUnknown:
        /* Starting over and the back end not there yet: our Initialising
         * is what brings it back to InitWait. */
        if (dev->state == XenbusStateInitialising && !dev->connected_)
            break;
        /* fall through */
    case XenbusStateClosing:
        xbf_teardown(dev);
        if (dev->state != XenbusStateClosed)
            xensim_xenbus_switch_state(dev, XenbusStateClosed);
        break;
    default:
        break;
    }
}

static bool front_usable(struct xensim_xenbus_device *dev, int backend_id)
{
    if (backend_id < 0 || backend_id >= (int)DOMID_FIRST_RESERVED)
        return false;
    dev->otherend_id = (domid_t)backend_id;
    return true;
}

/* A driver (re)starting begins at Initialising: a back end left in Closed
 * by our predecessor takes that as the cue to go to InitWait. Over a
 * predecessor's Initialised, Connected or Closing by way of Closed, as
 * an honest end moves. */
static void front_start(struct xensim_xenbus_device *dev)
{
    if (dev->state != XenbusStateInitialising) {
        enum xenbus_state stale = xensim_xenbus_read_state(dev->nodename);
        __atomic_store_n(&dev->state, XenbusStateUnknown, __ATOMIC_RELEASE);
        if (stale > XenbusStateInitialising && stale != XenbusStateClosed)
            xensim_xenbus_switch_state(dev, XenbusStateClosed);
        xensim_xenbus_switch_state(dev, XenbusStateInitialising);
    }
}

const struct xbf_end xbf_front = {
    .frontend = true,
    .dir = "device",
    .per_frontend = false,
    .otherend_key = "backend",
    .otherend_id_key = "backend-id",
    .usable = front_usable,
    .start = front_start,
    .otherend_changed = front_otherend_changed,
};

int xensim_xenbus_frontend_register(const struct xensim_xenbus_driver *drv)
{
    return xbf_register(drv, &xbf_front);
}

void xensim_xenbus_frontend_unregister(const struct xensim_xenbus_driver *drv, bool graceful)
{
    xbf_unregister(drv, &xbf_front, graceful);
}
