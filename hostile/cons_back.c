/*
 * The hostile console back end (<xensim/hostile.h>): a host thread acting
 * as a dom0 process, as xenconsoled does, that maps one guest's static
 * console ring (grant GNTTAB_RESERVED_CONSOLE) and binds its console
 * port, then misuses them against the guest's console driver. It owns
 * that mapping and port; calls the embedding API and hostdev.h only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/hostdev.h>
#include <xensim/hostile.h>
#include <xensim/io/ring.h>
#include <xen/io/console.h>
#include "front.h"
#include "util.h"

#define STORM_INPUT "hostile console: input after the storm\n"

struct xensim_hostile_console {
    struct xensim_evtchn_dev *evd;
    struct xensim_gnttab_dev *gtd;
    struct xencons_interface *intf;   /* the guest writes out[], out_prod
                                       * and in_cons; we write the rest */
    evtchn_port_t port;
};

struct xensim_hostile_console *xensim_hostile_console_back_open(struct xensim *sim,
                                                                domid_t domid)
{
    struct xensim_domain_info info;
    int err = xensim_domain_info(sim, domid, &info);
    if (!err && (!domid || !info.console_port))
        err = -ENODEV;   /* dom0 has no console ring */
    if (err) {
        errno = -err;
        return NULL;
    }
    struct xensim_hostile_console *hc = calloc(1, sizeof(*hc));
    if (!hc)
        return NULL;
    int16_t st;
    long port = 0;
    if (!(hc->evd = xensim_evtchn_dev_open(sim, 0)) || !(hc->gtd = xensim_gnttab_dev_open(sim, 0)))
        goto fail;
    if (!(hc->intf = xensim_gnttab_dev_map(hc->gtd, domid, GNTTAB_RESERVED_CONSOLE, false, &st))) {
        errno = EACCES;   /* the domain's grant 0 is not dom0's to map */
        goto fail;
    }
    if ((port = xensim_evtchn_dev_bind_interdomain(hc->evd, domid, info.console_port)) < 0) {
        errno = (int)-port;   /* EINVAL: another back end holds the console */
        goto fail;
    }
    hc->port = (evtchn_port_t)port;
    return hc;
fail:
    err = errno;
    xensim_hostile_console_back_close(hc);
    errno = err;
    return NULL;
}

void xensim_hostile_console_back_close(struct xensim_hostile_console *hc)
{
    if (!hc)
        return;
    /* Closing the handles unbinds and unmaps whatever they still hold. */
    if (hc->gtd)
        xensim_gnttab_dev_close(hc->gtd);
    if (hc->evd)
        xensim_evtchn_dev_close(hc->evd);
    free(hc);
}

static void notify(struct xensim_hostile_console *hc, struct xensim_hostile_report *r)
{
    xensim_evtchn_dev_notify(hc->evd, hc->port);
    r->notifications++;
}

/* HOSTILE_STORM_EVENTS notifications with nothing new in the ring, then
 * one honest line of input, if the guest's in_cons leaves room. */
static void event_storm(struct xensim_hostile_console *hc, struct xensim_hostile_report *r)
{
    struct xencons_interface *intf = hc->intf;
    for (unsigned int i = 0; i < HOSTILE_STORM_EVENTS; i++)
        notify(hc, r);
    XENCONS_RING_IDX cons = READ_ONCE(intf->in_cons), prod = intf->in_prod;
    xen_mb();
    const char *p = STORM_INPUT;
    size_t len = sizeof(STORM_INPUT) - 1;
    if ((XENCONS_RING_IDX)(prod - cons) > sizeof(intf->in) - len)
        return;
    for (size_t i = 0; i < len; i++)
        intf->in[MASK_XENCONS_IDX(prod++, intf->in)] = p[i];
    xen_wmb();   /* the bytes before the index that publishes them */
    WRITE_ONCE(intf->in_prod, prod);
    r->requests = (unsigned int)len;
    notify(hc, r);
}

/* in_prod far ahead of in_cons, over a ring of 'X', then out_cons past
 * out_prod, each notified. */
static void ring_indices(struct xensim_hostile_console *hc, struct xensim_hostile_report *r)
{
    struct xencons_interface *intf = hc->intf;
    memset(intf->in, 'X', sizeof(intf->in));
    xen_wmb();
    WRITE_ONCE(intf->in_prod, READ_ONCE(intf->in_cons) + 5000u);
    notify(hc, r);
    WRITE_ONCE(intf->out_cons, READ_ONCE(intf->out_prod) + 3000u);
    notify(hc, r);
    r->requests = 2;
}

static void (*const attacks[XENSIM_HOSTILE_KINDS])(struct xensim_hostile_console *,
                                                   struct xensim_hostile_report *) = {
    [XENSIM_HOSTILE_EVENT_STORM] = event_storm,
    [XENSIM_HOSTILE_RING_INDICES] = ring_indices,
};

int xensim_hostile_console_back_attack(struct xensim_hostile_console *hc,
                                       enum xensim_hostile_kind kind,
                                       struct xensim_hostile_report *r)
{
    if ((unsigned int)kind >= XENSIM_HOSTILE_KINDS || !attacks[kind])
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    attacks[kind](hc, r);
    return 0;
}
