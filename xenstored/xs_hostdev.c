/*
 * The daemon's hypervisor binding: its ring ops over dom0's evtchn and
 * gntdev handles (<xensim/hostdev.h>), and the hypervisor's word on a
 * domain (xensim_domain_info(), as C xenstored asks xc_domain_getinfo).
 * Sees only the public headers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <xensim/hostdev.h>
#include <xensim/xensim.h>
#include "xs_daemon.h"

struct xs_hostdev {
    struct xensim *sim;
    struct xensim_evtchn_dev *ev;
    struct xensim_gnttab_dev *gt;
};

static void *hd_map(void *ctx, domid_t domid, unsigned long gfn)
{
    struct xs_hostdev *hd = ctx;
    int16_t status;

    (void)gfn;  /* like C xenstored: the page granted at the reserved ref */
    return xensim_gnttab_dev_map(hd->gt, domid, GNTTAB_RESERVED_XENSTORE, false, &status);
}

static void hd_unmap(void *ctx, domid_t domid, void *page)
{
    struct xs_hostdev *hd = ctx;

    (void)domid;
    xensim_gnttab_dev_unmap(hd->gt, page);
}

static long hd_bind(void *ctx, domid_t domid, uint32_t port)
{
    return xensim_evtchn_dev_bind_interdomain(((struct xs_hostdev *)ctx)->ev, domid, port);
}

static void hd_unbind(void *ctx, uint32_t port)
{
    xensim_evtchn_dev_unbind(((struct xs_hostdev *)ctx)->ev, port);
}

static void hd_notify(void *ctx, uint32_t port)
{
    xensim_evtchn_dev_notify(((struct xs_hostdev *)ctx)->ev, port);
}

static int hd_fd(void *ctx)
{
    return xensim_evtchn_dev_fd(((struct xs_hostdev *)ctx)->ev);
}

static long hd_pending(void *ctx)
{
    return xensim_evtchn_dev_pending(((struct xs_hostdev *)ctx)->ev);
}

static void hd_unmask(void *ctx, uint32_t port)
{
    xensim_evtchn_dev_unmask(((struct xs_hostdev *)ctx)->ev, port);
}

static long hd_bind_virq(void *ctx, uint32_t virq)
{
    return xensim_evtchn_dev_bind_virq(((struct xs_hostdev *)ctx)->ev, virq);
}

static int hd_domain_state(void *ctx, domid_t domid, enum xensim_domain_state *state)
{
    struct xensim_domain_info info;
    int err = xensim_domain_info(((struct xs_hostdev *)ctx)->sim, domid, &info);

    if (!err)
        *state = info.state;
    return err;
}

const struct xensim_xenstored_ring_ops xs_hostdev_ops = {
    .map = hd_map, .unmap = hd_unmap, .bind = hd_bind, .unbind = hd_unbind,
    .notify = hd_notify, .fd = hd_fd, .pending = hd_pending, .unmask = hd_unmask,
    .bind_virq = hd_bind_virq, .domain_state = hd_domain_state,
};

struct xs_hostdev *xs_hostdev_open(struct xensim *sim)
{
    struct xs_hostdev *hd = calloc(1, sizeof(*hd));
    int err;

    if (!hd)
        return NULL;
    hd->sim = sim;
    hd->ev = xensim_evtchn_dev_open(sim, 0);
    hd->gt = hd->ev ? xensim_gnttab_dev_open(sim, 0) : NULL;
    if (!hd->gt) {
        err = errno;
        xs_hostdev_close(hd);
        errno = err;
        return NULL;
    }
    return hd;
}

void xs_hostdev_close(struct xs_hostdev *hd)
{
    if (!hd)
        return;
    if (hd->gt)
        xensim_gnttab_dev_close(hd->gt);
    if (hd->ev)
        xensim_evtchn_dev_close(hd->ev);
    free(hd);
}
