/*
 * The teardown check of every test and fuzz harness, without Check: what
 * a simulator may still hold once its devices and services are gone. It
 * calls only the public embedding API. tests/harness.c wraps it for Check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "leakcheck.h"

/* One domain as the check sees it. */
struct lc_dom {
    struct xensim_domain_info info;
    struct xensim_port_info *ports;
    int nr_ports;
    struct xensim_grant_info *grants;
    int nr_grants;
};

/* The rows of list(), grown until they all fit; n < 0 when the list
 * failed (a domain gone meanwhile, no memory). */
#define LC_LIST_ALL(list, sim, domid, rows, n)                                  \
    do {                                                                      \
        int max_ = 0;                                                         \
        (rows) = NULL;                                                        \
        for (;;) {                                                            \
            (n) = list((sim), (domid), (rows), max_);                        \
            if ((n) < 0 || (n) <= max_)                                       \
                break;                                                        \
            max_ = (n) + 16;                                                  \
            void *grown_ = realloc((rows), (size_t)max_ * sizeof(*(rows)));   \
            if (!grown_) {                                                    \
                (n) = -ENOMEM;                                                \
                break;                                                        \
            }                                                                 \
            (rows) = grown_;                                                  \
        }                                                                     \
    } while (0)

static int lc_domain_list(struct xensim *sim, domid_t unused,
                          struct xensim_domain_info *infos, int max)
{
    (void)unused;
    return xensim_domain_list(sim, infos, max);
}

static const struct lc_dom *lc_find(const struct lc_dom *doms, int n, domid_t domid)
{
    for (int i = 0; i < n; i++)
        if (doms[i].info.domid == domid)
            return &doms[i];
    return NULL;
}

/* Whether dom0 has a host-process port bound to e's builder port `port`:
 * a service (xenstored, xenconsoled) serving that ring. */
static bool lc_served(const struct lc_dom *doms, int n, const struct lc_dom *e,
                      uint32_t port)
{
    const struct lc_dom *d0 = lc_find(doms, n, 0);

    if (!d0 || !port || e->info.domid == 0)
        return false;
    for (int i = 0; i < d0->nr_ports; i++) {
        const struct xensim_port_info *p = &d0->ports[i];
        if (p->host_consumer && p->status == EVTCHNSTAT_interdomain &&
            p->remote_dom == e->info.domid && p->remote_port == port)
            return true;
    }
    return false;
}

/* Domains whose kernel made its own store ring (one test process runs
 * one case, so one list per process is one per case). */
static domid_t lc_own_ring_doms[8];
static unsigned int lc_nr_own_ring_doms;

int leakcheck_allow_own_store_ring(domid_t domid)
{
    if (lc_nr_own_ring_doms == 8)
        return -ENOSPC;
    lc_own_ring_doms[lc_nr_own_ring_doms++] = domid;
    return 0;
}

static bool lc_own_ring(domid_t domid)
{
    for (unsigned int i = 0; i < lc_nr_own_ring_doms; i++)
        if (lc_own_ring_doms[i] == domid)
            return true;
    return false;
}

/* The port of a ring a kernel made for itself: unbound to itself, or
 * bound by dom0's xenstored (a host process). */
static bool lc_own_ring_port(const struct lc_dom *doms, int n, const struct lc_dom *d,
                             const struct xensim_port_info *p)
{
    if (!lc_own_ring(d->info.domid))
        return false;
    if (p->status == EVTCHNSTAT_unbound)
        return p->remote_dom == d->info.domid;
    if (p->status != EVTCHNSTAT_interdomain)
        return false;
    const struct lc_dom *d0 = lc_find(doms, n, 0);
    for (int i = 0; d0 && i < d0->nr_ports; i++)
        if (d0->ports[i].port == p->remote_port && d0->ports[i].host_consumer)
            return true;
    return false;
}

/* Whether port p of d is one the check allows. */
static bool lc_port_allowed(const struct lc_dom *doms, int n, const struct lc_dom *d,
                            const struct xensim_port_info *p, bool xenstored)
{
    if (p->reserved)
        return true;
    if (p->port == d->info.store_port || p->port == d->info.console_port)
        return true;
    if (lc_own_ring_port(doms, n, d, p))
        return true;
    if (!p->host_consumer || d->info.domid != 0)
        return false;
    /* xenstored's end of dom0's own ring. */
    if (p->status == EVTCHNSTAT_interdomain && p->remote_dom == d->info.domid &&
        lc_own_ring(d->info.domid))
        return true;
    if (p->status == EVTCHNSTAT_virq)
        return xenstored && p->virq == VIRQ_DOM_EXC;
    if (p->status != EVTCHNSTAT_interdomain)
        return false;
    const struct lc_dom *e = lc_find(doms, n, p->remote_dom);
    return e && e != d &&
           (p->remote_port == e->info.store_port || p->remote_port == e->info.console_port);
}

/* Writes why and returns true: the first leak found. */
static bool lc_leak(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool lc_leak(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return true;
}

/* The checks on one domain; adds the pins services hold on it. */
static bool lc_dom_leak(const struct lc_dom *doms, int n, const struct lc_dom *d,
                        bool xenstored, unsigned int *service_pins, char *why, size_t size)
{
    domid_t id = d->info.domid;
    unsigned int pins = 0;

    if (d->info.state == XENSIM_DOMAIN_DYING)
        return lc_leak(why, size, "dom%u was destroyed but lingers: someone maps its pages", id);
    /* A kernel's own store ring is on a page its builder kept. The
     * pages its kernel gave the hypervisor for FIFO events Xen keeps
     * until a reset or the domain's end; a test may give frames it never
     * allocated, hence at most. */
    unsigned long may_hold = d->info.evtchn_pages_held;
    if (d->info.pages_allocated > may_hold)
        return lc_leak(why, size, "dom%u leaks %lu pages", id,
                       d->info.pages_allocated - may_hold);
    if (d->info.grant_entries_in_use)
        return lc_leak(why, size, "dom%u leaks %u grant entries", id,
                       d->info.grant_entries_in_use);
    for (int j = 0; j < d->nr_ports; j++) {
        const struct xensim_port_info *p = &d->ports[j];
        if (!lc_port_allowed(doms, n, d, p, xenstored))
            return lc_leak(why, size,
                           "dom%u leaks port %u (status %u, remote dom%u port %u, virq %u%s)",
                           id, p->port, p->status, p->remote_dom, p->remote_port, p->virq,
                           p->host_consumer ? ", host process" : "");
    }
    for (int j = 0; j < d->nr_grants; j++) {
        const struct xensim_grant_info *g = &d->grants[j];
        if (g->mapped_by == DOMID_INVALID)
            continue;
        uint32_t ring_port = g->ref == GNTTAB_RESERVED_XENSTORE ? d->info.store_port
                           : g->ref == GNTTAB_RESERVED_CONSOLE ? d->info.console_port
                           : 0;
        bool own = lc_own_ring(id) && g->ref == GNTTAB_RESERVED_XENSTORE && xenstored;
        if (g->mapped_by != 0 || g->read_pins + g->write_pins != 1 ||
            (!own && !lc_served(doms, n, d, ring_port)))
            return lc_leak(why, size,
                           "dom%u's grant ref %u is still mapped by dom%u (%u read, %u write pins)",
                           id, g->ref, g->mapped_by, g->read_pins, g->write_pins);
        pins++;
    }
    if (d->info.pages_mapped_by_others != pins)
        return lc_leak(why, size, "dom%u has %u pins left, %u of them by services", id,
                       d->info.pages_mapped_by_others, pins);
    *service_pins += pins;
    return false;
}

bool leakcheck_find(struct xensim *sim, char *why, size_t size)
{
    struct xensim_xenstore_usage xs;
    int xs_rc = xensim_xenstore_usage(sim, &xs);
    /* A xenstored program runs but keeps its counts to itself. */
    bool xenstored = xs_rc == 0 || xs_rc == -EOPNOTSUPP;
    struct xensim_domain_info *infos = NULL;
    unsigned int service_pins = 0;
    bool leak = false;
    int n;

    if (!xs_rc && xs.watches)
        return lc_leak(why, size, "xenstored holds %lu watches", xs.watches);
    if (!xs_rc && xs.transactions)
        return lc_leak(why, size, "xenstored holds %lu transactions", xs.transactions);
    LC_LIST_ALL(lc_domain_list, sim, 0, infos, n);
    if (n < 0) {
        free(infos);
        return lc_leak(why, size, "cannot list the domains: %s", xensim_strerror(n));
    }
    struct lc_dom *doms = calloc((size_t)n + 1, sizeof(*doms));
    if (!doms) {
        free(infos);
        return lc_leak(why, size, "no memory for the check");
    }
    for (int i = 0; i < n && !leak; i++) {
        doms[i].info = infos[i];
        LC_LIST_ALL(xensim_port_list, sim, infos[i].domid, doms[i].ports, doms[i].nr_ports);
        if (doms[i].nr_ports >= 0)
            LC_LIST_ALL(xensim_grant_list, sim, infos[i].domid, doms[i].grants,
                        doms[i].nr_grants);
        if (doms[i].nr_ports < 0 || doms[i].nr_grants < 0)
            leak = lc_leak(why, size, "cannot list dom%u's ports and grants", infos[i].domid);
    }
    for (int i = 0; i < n && !leak; i++)
        leak = lc_dom_leak(doms, n, &doms[i], xenstored, &service_pins, why, size);
    /* Every mapping is a pin on some domain: only dom0's services may
     * hold any, and exactly the pins counted above. */
    for (int i = 0; i < n && !leak; i++) {
        unsigned int allowed = doms[i].info.domid == 0 ? service_pins : 0;
        if (doms[i].info.maptrack_in_use != allowed)
            leak = lc_leak(why, size, "dom%u holds %u mappings where %u are expected",
                           doms[i].info.domid, doms[i].info.maptrack_in_use, allowed);
    }
    for (int i = 0; i < n; i++) {
        free(doms[i].ports);
        free(doms[i].grants);
    }
    free(doms);
    free(infos);
    return leak;
}

