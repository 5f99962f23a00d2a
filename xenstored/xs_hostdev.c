/*
 * The daemon's hypervisor binding: its ring ops over dom0's
 * evtchn and gntdev handles (<xensim/hostdev.h>), VIRQ_DOM_EXC for
 * shutdowns, and the simulator hooks that introduce a domain at build
 * and release it at death.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <xensim/hostdev.h>
#include "sim.h"
#include "xs_daemon.h"

struct xs_hostdev {
    struct xensim *sim;
    struct xensim_evtchn_dev *ev;
    struct xensim_gnttab_dev *gt;
    long virq_port;                      /* VIRQ_DOM_EXC, as C xenstored binds */
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

/* Some domain changed state: tell the daemon about those now shut down
 * (it fires @releaseDomain once for each). */
static void dom_exc(struct xs_hostdev *hd)
{
    struct xensim_domain_info info[64];
    int n = xensim_domain_list(hd->sim, info, 64);

    for (int i = 0; i < n && i < 64; i++)
        if (info[i].state == XENSIM_DOMAIN_SHUTDOWN && hd->sim->xs)
            xs_daemon_domain_shutdown(hd->sim->xs, info[i].domid);
}

static long hd_pending(void *ctx)
{
    struct xs_hostdev *hd = ctx;
    long port;

    while ((port = xensim_evtchn_dev_pending(hd->ev)) == hd->virq_port && port > 0) {
        dom_exc(hd);
        xensim_evtchn_dev_unmask(hd->ev, port);
    }
    return port;
}

static void hd_unmask(void *ctx, uint32_t port)
{
    xensim_evtchn_dev_unmask(((struct xs_hostdev *)ctx)->ev, port);
}

const struct xensim_xenstored_ring_ops xs_hostdev_ops = {
    .map = hd_map, .unmap = hd_unmap, .bind = hd_bind, .unbind = hd_unbind,
    .notify = hd_notify, .fd = hd_fd, .pending = hd_pending, .unmask = hd_unmask,
};

struct xs_hostdev *xs_hostdev_open(struct xensim *sim)
{
    struct xs_hostdev *hd = calloc(1, sizeof(*hd));

    if (!hd)
        return NULL;
    hd->sim = sim;
    hd->ev = xensim_evtchn_dev_open(sim, 0);
    hd->gt = xensim_gnttab_dev_open(sim, 0);
    hd->virq_port = hd->ev ? xensim_evtchn_dev_bind_virq(hd->ev, VIRQ_DOM_EXC) : -1;
    if (!hd->ev || !hd->gt || hd->virq_port < 0) {
        int err = hd->virq_port < -1 ? (int)-hd->virq_port : errno;

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

static void on_built(struct xensim *sim, struct domain *d)
{
    struct xs_daemon *xs = sim->xs;

    xs_daemon_domain_home(xs, d->domid, d->name);
    if (d->domid != 0 && d->store_port)
        xs_daemon_introduce(xs, d->domid, d->store_pfn, d->store_port);
}

static void on_released(struct xensim *sim, domid_t domid)
{
    xs_daemon_release(sim->xs, domid);
}

int xs_sim_attach(struct xensim *sim, struct xs_daemon *xs)
{
    struct xensim_domain_info info[64];
    int n = xensim_domain_list(sim, info, 64);

    sim->xs = xs;
    sim->on_domain_released = on_released;
    sim->on_domain_built = on_built;
    /* Domains built before the daemon came up. */
    for (int i = 0; i < n && i < 64; i++) {
        xs_daemon_domain_home(xs, info[i].domid, info[i].name);
        if (info[i].domid != 0 && info[i].store_port)
            xs_daemon_introduce(xs, info[i].domid, info[i].store_pfn, info[i].store_port);
    }
    return 0;
}

void xs_sim_detach(struct xensim *sim)
{
    sim->on_domain_built = NULL;
    sim->on_domain_released = NULL;
    sim->xs = NULL;
}
