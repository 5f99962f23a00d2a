/*
 * Test harness: owns nothing but the simulator handles tests ask for; it
 * calls only the public embedding API.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <xensim/task.h>
#include "harness.h"

/* XENSIM_TEST_EVTCHN_ABI=fifo: every domain built here with the default
 * ABI runs its kernel on FIFO instead, so that a suite runs unchanged on
 * both ABIs (tests/test_fifo_suites.sh). */
static void th_abi(struct xensim_domain_config *cfg)
{
    const char *abi = getenv("XENSIM_TEST_EVTCHN_ABI");

    if (abi && !strcmp(abi, "fifo") && cfg->evtchn_abi == XENSIM_EVTCHN_2L_32)
        cfg->evtchn_abi = XENSIM_EVTCHN_FIFO;
}

/* XENSIM_TEST_SEED=N runs the suite's simulators deterministically. */
struct xensim *th_sim_new(void)
{
    const char *seed = getenv("XENSIM_TEST_SEED");
    struct xensim_config sc = { .quiet = true, .seed = seed ? strtoull(seed, NULL, 0) : 0 };
    struct xensim *sim = xensim_create(&sc);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config cfg = { .name = "Domain-0", .privileged = true };
    th_abi(&cfg);
    int dom0 = xensim_domain_create(sim, &cfg);
    ck_assert_int_eq(dom0, 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    return sim;
}

domid_t th_domain_cfg(struct xensim *sim, const struct xensim_domain_config *cfg)
{
    struct xensim_domain_config c = *cfg;
    th_abi(&c);
    int d = xensim_domain_create(sim, &c);
    ck_assert_int_gt(d, 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, (domid_t)d), 0);
    return (domid_t)d;
}

domid_t th_domain(struct xensim *sim, const char *name, bool privileged,
                  enum xensim_gnttab_mode mode)
{
    struct xensim_domain_config cfg = {
        .name = name, .privileged = privileged, .gnttab_mode = mode,
    };
    return th_domain_cfg(sim, &cfg);
}

void th_call(struct xensim *sim, domid_t domid, unsigned int vcpu,
             void (*fn)(void *), void *arg)
{
    ck_assert_int_eq(xensim_domain_call(sim, domid, vcpu, fn, arg), 0);
}

static void long_trampoline(void *p)
{
    struct th_long_call *c = p;
    c->ret = c->fn(c->arg);
}

long th_call_long(struct xensim *sim, domid_t domid, unsigned int vcpu,
                  long (*fn)(void *), void *arg)
{
    struct th_long_call c = { .fn = fn, .arg = arg, .ret = -9999 };
    th_call(sim, domid, vcpu, long_trampoline, &c);
    return c.ret;
}

unsigned int th_ports_in_use(struct xensim *sim, domid_t domid)
{
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, domid, &info), 0);
    unsigned int n = info.ports_in_use;
    if (info.store_port)
        n--;
    if (info.console_port)
        n--;
    return n;
}

/* One domain as the check sees it. */
struct th_dom {
    struct xensim_domain_info info;
    struct xensim_port_info *ports;
    int nr_ports;
    struct xensim_grant_info *grants;
    int nr_grants;
};

/* The rows of list(), grown until they all fit. */
#define TH_LIST_ALL(list, sim, domid, rows, n)                                  \
    do {                                                                      \
        int max_ = 0;                                                         \
        (rows) = NULL;                                                        \
        for (;;) {                                                            \
            (n) = list((sim), (domid), (rows), max_);                        \
            ck_assert_int_ge((n), 0);                                         \
            if ((n) <= max_)                                                  \
                break;                                                        \
            max_ = (n) + 16;                                                  \
            (rows) = realloc((rows), (size_t)max_ * sizeof(*(rows)));        \
            ck_assert_ptr_nonnull((rows));                                    \
        }                                                                     \
    } while (0)

static int th_domain_list(struct xensim *sim, domid_t unused,
                          struct xensim_domain_info *infos, int max)
{
    (void)unused;
    return xensim_domain_list(sim, infos, max);
}

static const struct th_dom *th_find(const struct th_dom *doms, int n, domid_t domid)
{
    for (int i = 0; i < n; i++)
        if (doms[i].info.domid == domid)
            return &doms[i];
    return NULL;
}

/* Whether dom0 has a host-process port bound to e's builder port `port`:
 * a service (xenstored, xenconsoled) serving that ring. */
static bool th_served(const struct th_dom *doms, int n, const struct th_dom *e,
                      uint32_t port)
{
    const struct th_dom *d0 = th_find(doms, n, 0);

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
static domid_t own_ring_doms[8];
static unsigned int nr_own_ring_doms;

void th_allow_own_store_ring(domid_t domid)
{
    ck_assert_uint_lt(nr_own_ring_doms, 8);
    own_ring_doms[nr_own_ring_doms++] = domid;
}

static bool th_own_ring(domid_t domid)
{
    for (unsigned int i = 0; i < nr_own_ring_doms; i++)
        if (own_ring_doms[i] == domid)
            return true;
    return false;
}

/* The port of a ring a kernel made for itself: unbound to itself, or
 * bound by dom0's xenstored (a host process). */
static bool th_own_ring_port(const struct th_dom *doms, int n, const struct th_dom *d,
                             const struct xensim_port_info *p)
{
    if (!th_own_ring(d->info.domid))
        return false;
    if (p->status == EVTCHNSTAT_unbound)
        return p->remote_dom == d->info.domid;
    if (p->status != EVTCHNSTAT_interdomain)
        return false;
    const struct th_dom *d0 = th_find(doms, n, 0);
    for (int i = 0; d0 && i < d0->nr_ports; i++)
        if (d0->ports[i].port == p->remote_port && d0->ports[i].host_consumer)
            return true;
    return false;
}

/* Whether port p of d is one the check allows. */
static bool th_port_allowed(const struct th_dom *doms, int n, const struct th_dom *d,
                            const struct xensim_port_info *p, bool xenstored)
{
    if (p->reserved)
        return true;
    if (p->port == d->info.store_port || p->port == d->info.console_port)
        return true;
    if (th_own_ring_port(doms, n, d, p))
        return true;
    if (!p->host_consumer || d->info.domid != 0)
        return false;
    /* xenstored's end of dom0's own ring. */
    if (p->status == EVTCHNSTAT_interdomain && p->remote_dom == d->info.domid &&
        th_own_ring(d->info.domid))
        return true;
    if (p->status == EVTCHNSTAT_virq)
        return xenstored && p->virq == VIRQ_DOM_EXC;
    if (p->status != EVTCHNSTAT_interdomain)
        return false;
    const struct th_dom *e = th_find(doms, n, p->remote_dom);
    return e && e != d &&
           (p->remote_port == e->info.store_port || p->remote_port == e->info.console_port);
}

/* Writes why and returns true: the first leak found. */
static bool th_leak(char *why, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool th_leak(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return true;
}

/* The checks on one domain; adds the pins services hold on it. */
static bool th_dom_leak(const struct th_dom *doms, int n, const struct th_dom *d,
                        bool xenstored, unsigned int *service_pins, char *why, size_t size)
{
    domid_t id = d->info.domid;
    unsigned int pins = 0;

    if (d->info.state == XENSIM_DOMAIN_DYING)
        return th_leak(why, size, "dom%u was destroyed but lingers: someone maps its pages", id);
    /* A kernel's own store ring is on a page its builder kept. The
     * pages its kernel gave the hypervisor for FIFO events Xen keeps
     * until a reset or the domain's end; a test may give frames it never
     * allocated, hence at most. */
    unsigned long may_hold = d->info.evtchn_pages_held;
    if (d->info.pages_allocated > may_hold)
        return th_leak(why, size, "dom%u leaks %lu pages", id,
                       d->info.pages_allocated - may_hold);
    if (d->info.grant_entries_in_use)
        return th_leak(why, size, "dom%u leaks %u grant entries", id,
                       d->info.grant_entries_in_use);
    for (int j = 0; j < d->nr_ports; j++) {
        const struct xensim_port_info *p = &d->ports[j];
        if (!th_port_allowed(doms, n, d, p, xenstored))
            return th_leak(why, size,
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
        bool own = th_own_ring(id) && g->ref == GNTTAB_RESERVED_XENSTORE && xenstored;
        if (g->mapped_by != 0 || g->read_pins + g->write_pins != 1 ||
            (!own && !th_served(doms, n, d, ring_port)))
            return th_leak(why, size,
                           "dom%u's grant ref %u is still mapped by dom%u (%u read, %u write pins)",
                           id, g->ref, g->mapped_by, g->read_pins, g->write_pins);
        pins++;
    }
    if (d->info.pages_mapped_by_others != pins)
        return th_leak(why, size, "dom%u has %u pins left, %u of them by services", id,
                       d->info.pages_mapped_by_others, pins);
    *service_pins += pins;
    return false;
}

bool th_find_leak(struct xensim *sim, char *why, size_t size)
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
        return th_leak(why, size, "xenstored holds %lu watches", xs.watches);
    if (!xs_rc && xs.transactions)
        return th_leak(why, size, "xenstored holds %lu transactions", xs.transactions);
    TH_LIST_ALL(th_domain_list, sim, 0, infos, n);
    struct th_dom *doms = calloc((size_t)n + 1, sizeof(*doms));
    ck_assert_ptr_nonnull(doms);
    for (int i = 0; i < n; i++) {
        doms[i].info = infos[i];
        TH_LIST_ALL(xensim_port_list, sim, infos[i].domid, doms[i].ports, doms[i].nr_ports);
        TH_LIST_ALL(xensim_grant_list, sim, infos[i].domid, doms[i].grants,
                    doms[i].nr_grants);
    }
    for (int i = 0; i < n && !leak; i++)
        leak = th_dom_leak(doms, n, &doms[i], xenstored, &service_pins, why, size);
    /* Every mapping is a pin on some domain: only dom0's services may
     * hold any, and exactly the pins counted above. */
    for (int i = 0; i < n && !leak; i++) {
        unsigned int allowed = doms[i].info.domid == 0 ? service_pins : 0;
        if (doms[i].info.maptrack_in_use != allowed)
            leak = th_leak(why, size, "dom%u holds %u mappings where %u are expected",
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

void th_check_clean(struct xensim *sim)
{
    char why[256];

    if (th_find_leak(sim, why, sizeof(why)))
        ck_abort_msg("%s", why);
}

void th_wait_gone(struct xensim *sim, domid_t domid)
{
    struct xensim_domain_info info;
    int rc = 0;

    for (int i = 0; i < 10000 && (rc = xensim_domain_info(sim, domid, &info)) == 0; i++)
        xensim_sleep_ns(1000000);
    ck_assert_msg(rc == -ESRCH, "dom%u was destroyed but lingers: someone maps its pages",
                  domid);
}

void th_sim_free_checked(struct xensim *sim)
{
    th_check_clean(sim);
    xensim_destroy(sim);
}
