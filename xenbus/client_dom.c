/*
 * The guest xenbus client's per-domain state: one struct xb_dom per domain
 * on a guest data key, made by the first call from any of its vCPUs and
 * freed when the domain is destroyed; and dom0's self-made store ring.
 * Relies on <xensim/guest.h>.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include "xb_client.h"

static __thread char self_tag;

void *xb_self(void)
{
    return &self_tag;
}

/* The domain is gone and its vCPUs with it. The request lock may still be
 * held by a vCPU that the domain's shutdown took away mid-request; nobody
 * uses it any more. */
static void xb_free(void *p)
{
    struct xb_dom *xb = p;

    xb_events_free(xb);
    free(xb);
}

static struct xensim_guest_key xb_key = { .destroy = xb_free };

static struct xb_dom *xb_new(xen_pfn_t pfn, evtchn_port_t port, int *err)
{
    struct xb_dom *xb;

    if (!port) {
        *err = -ENODEV;       /* dom0 before xensim_xenbus_dom0_init() */
        return NULL;
    }
    xb = calloc(1, sizeof(*xb));
    if (!xb) {
        *err = -ENOMEM;
        return NULL;
    }
    xb->intf = xensim_guest_pfn_to_virt(pfn);
    xb->port = port;
    xb->next_req_id = 1;
    if (!xb->intf) {
        free(xb);
        *err = -EFAULT;
        return NULL;
    }
    pthread_mutex_init(&xb->lock, NULL);
    pthread_mutex_init(&xb->wlock, NULL);
    return xb;
}

/* Installs xb as this domain's client; returns the one installed (another
 * vCPU's, if it came first), or NULL without memory. */
static struct xb_dom *xb_install(struct xb_dom *xb)
{
    struct xb_dom *won = xensim_guest_data_init(&xb_key, xb);

    if (won != xb)
        free(xb);
    return won;
}

struct xb_dom *xb_get(int *err)
{
    struct xb_dom *xb = xensim_guest_data(&xb_key);

    if (!xb) {
        const start_info_t *si = xensim_guest_start_info();

        if (!si) {
            *err = -EPERM;    /* not a vCPU */
            return NULL;
        }
        xb = xb_new(si->store_mfn, si->store_evtchn, err);
        if (!xb)
            return NULL;
        if (!(xb = xb_install(xb))) {
            *err = -ENOMEM;
            return NULL;
        }
    }
    if (!atomic_load(&xb->irq_bound) && !atomic_exchange(&xb->irq_bound, true)) {
        /* Take the store port's interrupts on this vCPU. */
        struct evtchn_bind_vcpu bv = { .port = xb->port, .vcpu = xensim_guest_vcpu_id() };

        HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv);
        xensim_irq_bind(xb->port, xb_irq, xb);
    }
    return xb;
}

/*
 * dom0 has no ring from the domain builder. Like Linux's
 * xenstored_local_init, its kernel makes one: a page granted to itself at
 * the reserved xenstore ref and a port unbound to itself, which xenstored
 * then takes on once the toolstack introduces dom0 (XS_INTRODUCE). The
 * first xenbus call connects. The page is the one dom0's builder kept,
 * page 0 (start_info's store_mfn): C xenstored maps it from
 * /proc/xen/xsd_kva at offset 0, and a frame 0 must never be granted to
 * anyone else (Xen's unmap takes a device address of 0 for "none").
 */
int xb_local_init(xen_pfn_t *pfnp, evtchn_port_t *portp)
{
    const start_info_t *si = xensim_guest_start_info();
    struct xb_dom *xb;
    xen_pfn_t pfn;
    long port;
    int err = 0;

    if (!si)
        return -EPERM;
    if (si->store_evtchn || xensim_guest_data(&xb_key))
        return -EEXIST;
    pfn = si->store_mfn;
    /* The table set up, in whichever version the kernel runs it. */
    if (!xensim_gnttab_entries(NULL) && !xensim_gnttab_entries_v2(NULL))
        return -ENOMEM;
    xensim_gnttab_grant_access_ref(GNTTAB_RESERVED_XENSTORE, xensim_guest_domid(), pfn, false);
    port = xensim_evtchn_alloc_unbound(xensim_guest_domid());
    xb = port < 0 ? NULL : xb_new(pfn, (evtchn_port_t)port, &err);
    if (xb) {
        struct xb_dom *won = xb_install(xb);

        if (won != xb) {
            err = won ? -EEXIST : -ENOMEM;   /* another vCPU made one meanwhile */
            xb = NULL;
        }
    }
    if (!xb) {
        xensim_gnttab_end_access(GNTTAB_RESERVED_XENSTORE);
        if (port > 0)
            xensim_evtchn_close((evtchn_port_t)port);
        return port < 0 ? (int)port : err;
    }
    *pfnp = pfn;
    *portp = (evtchn_port_t)port;
    return 0;
}

int xensim_xenbus_init(void)
{
    int err = 0;

    return xb_get(&err) ? 0 : err;
}
