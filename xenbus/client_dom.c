/*
 * The guest xenbus client's per-domain state: found by the domain's
 * start_info from any of its vCPU threads, connected on first use, freed
 * when the last of those threads exits; and dom0's self-made store ring.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include "xb_client.h"

/* Domains' clients, found by their start_info. An entry goes when the last
 * vCPU thread that used it exits, before the domain's memory is freed, so
 * a key is never seen again while its entry lives. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xb_dom *registry;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static __thread struct xb_dom *tls_xb;
static __thread char self_tag;

void *xb_self(void)
{
    return &self_tag;
}

static void xb_free(struct xb_dom *xb)
{
    if (xb->framework_free)
        xb->framework_free(xb->framework);
    xb_events_free(xb);
    /* The lock may still be held by a vCPU that the domain's shutdown took
     * away mid-request; nobody uses it any more. */
    free(xb);
}

/* A vCPU thread is leaving: the domain is going, or that vCPU is. */
static void tls_release(void *p)
{
    struct xb_dom *xb = p, **pp;
    bool last;

    xb_lock(&reg_lock);
    last = --xb->refs == 0;
    if (last)
        for (pp = &registry; *pp; pp = &(*pp)->reg_next)
            if (*pp == xb) {
                *pp = xb->reg_next;
                break;
            }
    xb_unlock(&reg_lock);
    if (last)
        xb_free(xb);
}

static void tls_init(void)
{
    if (pthread_key_create(&tls_key, tls_release))
        abort();
}

static struct xb_dom *xb_new(const start_info_t *si, xen_pfn_t pfn, evtchn_port_t port,
                             int *err)
{
    struct xb_dom *xb;

    if (!port || !pfn) {
        *err = -ENODEV;       /* dom0 before xensim_xenbus_dom0_init() */
        return NULL;
    }
    xb = calloc(1, sizeof(*xb));
    if (!xb) {
        *err = -ENOMEM;
        return NULL;
    }
    xb->key = si;
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

struct xb_dom *xb_get(int *err)
{
    const start_info_t *si;
    struct xb_dom *xb;
    bool created = false;

    if (tls_xb)
        return tls_xb;
    si = xensim_guest_start_info();
    if (!si) {
        *err = -EPERM;        /* not a vCPU */
        return NULL;
    }
    pthread_once(&tls_once, tls_init);
    xb_lock(&reg_lock);
    for (xb = registry; xb; xb = xb->reg_next)
        if (xb->key == si)
            break;
    if (!xb) {
        xb = xb_new(si, si->store_mfn, si->store_evtchn, err);
        if (!xb) {
            xb_unlock(&reg_lock);
            return NULL;
        }
        xb->reg_next = registry;
        registry = xb;
    }
    created = !xb->irq_bound;
    xb->irq_bound = true;
    xb->refs++;
    xb_unlock(&reg_lock);
    tls_xb = xb;
    pthread_setspecific(tls_key, xb);
    if (created) {
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
 * first xenbus call connects.
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
    if (si->store_evtchn)
        return -EEXIST;
    pthread_once(&tls_once, tls_init);
    xb_lock(&reg_lock);
    for (xb = registry; xb; xb = xb->reg_next)
        if (xb->key == si)
            break;
    xb_unlock(&reg_lock);
    if (xb)
        return -EEXIST;
    pfn = xensim_guest_page_alloc();
    if (pfn == ~(xen_pfn_t)0)
        return -ENOMEM;
    if (!xensim_gnttab_entries(NULL)) {
        xensim_guest_page_free(pfn);
        return -ENOMEM;
    }
    xensim_gnttab_grant_access_ref(GNTTAB_RESERVED_XENSTORE, xensim_guest_domid(), pfn, false);
    port = xensim_evtchn_alloc_unbound(xensim_guest_domid());
    if (port < 0 || !(xb = xb_new(si, pfn, (evtchn_port_t)port, &err))) {
        xensim_gnttab_end_access(GNTTAB_RESERVED_XENSTORE);
        if (port > 0)
            xensim_evtchn_close((evtchn_port_t)port);
        xensim_guest_page_free(pfn);
        return port < 0 ? (int)port : err;
    }
    xb_lock(&reg_lock);
    xb->reg_next = registry;
    registry = xb;
    xb_unlock(&reg_lock);
    *pfnp = pfn;
    *portp = (evtchn_port_t)port;
    return 0;
}

int xenbus_init(void)
{
    int err = 0;

    return xb_get(&err) ? 0 : err;
}

