/*
 * Helpers for the xenbus suites (see the header). The daemon's counters
 * are read through sim.h: a white-box look for the leak check only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "test_xenbus_helpers.h"
#include "sim.h"
#include "xs_daemon.h"

struct xensim *xbt_sim_new(void)
{
    struct xensim *sim = th_sim_new();

    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), 0);
    return sim;
}

domid_t xbt_guest(struct xensim *sim, const char *name)
{
    domid_t d = th_domain(sim, name, false, XENSIM_GNTTAB_STRICT);
    char path[64];
    struct xs_permissions p[] = { { d, XS_PERM_NONE } };

    snprintf(path, sizeof(path), "/local/domain/%u/data", d);
    ck_assert_int_eq(xensim_xenstore_write(sim, path, ""), 0);
    ck_assert_int_eq(xensim_xenstore_set_perms(sim, path, p, 1), 0);
    return d;
}

void xbt_run(struct xensim *sim, domid_t dom, void (*fn)(void *), void *arg)
{
    th_call(sim, dom, 0, fn, arg);
}

void xbt_daemon_counts(struct xensim *sim, unsigned long *watches, unsigned long *txs)
{
    struct xensim_xenstored_stats st;

    xs_daemon_stats(sim->xs, &st);
    *watches = st.watches;
    *txs = st.transactions;
}

static void stats_fn(void *p)
{
    ck_assert_int_eq(xenbus_get_stats(p), 0);
}

struct xenbus_stats xbt_stats(struct xensim *sim, domid_t dom)
{
    struct xenbus_stats st;

    xbt_run(sim, dom, stats_fn, &st);
    return st;
}

const char *xbt_read(struct xensim *sim, const char *fmt, ...)
{
    static char buf[XENSTORE_PAYLOAD_MAX + 1];
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return xensim_xenstore_read(sim, path, buf, sizeof(buf)) < 0 ? NULL : buf;
}

void xbt_sleep_ms(unsigned int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

bool xbt_wait_value(struct xensim *sim, const char *path, const char *want, unsigned int ms)
{
    for (unsigned int i = 0; i <= ms; i++) {
        const char *v = xbt_read(sim, "%s", path);

        if (want ? v && !strcmp(v, want) : !v)
            return true;
        xbt_sleep_ms(1);
    }
    return false;
}

bool xbt_wait_atomic(_Atomic int *v, int want, unsigned int ms)
{
    for (unsigned int i = 0; i <= ms; i++) {
        if (atomic_load(v) >= want)
            return true;
        xbt_sleep_ms(1);
    }
    return false;
}

int xbt_destroy(struct xensim *sim, domid_t dom)
{
    int rc;

    /* Works around a use after free in xensim_domain_destroy(): its last
     * domain_put_foreign(d) can run after xenstored's unmap already
     * finalized d and a grace period freed it. A read-side section here
     * holds that grace period off. */
    sim_rcu_ensure();
    rcu_read_lock();
    rc = xensim_domain_destroy(sim, dom);
    rcu_read_unlock();
    return rc;
}

void xbt_sim_free(struct xensim *sim)
{
    struct xensim_domain_info infos[64];
    unsigned long w, t;
    int n;

    xbt_daemon_counts(sim, &w, &t);
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(t, 0);
    /* Guests first: xenstored (in dom0) maps each live guest's ring. */
    n = xensim_domain_list(sim, infos, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (infos[i].domid && infos[i].state != XENSIM_DOMAIN_DYING)
            ck_assert_int_eq(xbt_destroy(sim, infos[i].domid), 0);
    /* dom0's own ring (xensim_xenbus_dom0_init) is a mapping of its own
     * page by its own xenstored: let go of it first. */
    xs_daemon_release(sim->xs, 0);
    xbt_daemon_counts(sim, &w, &t);
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(t, 0);
    th_sim_free_checked(sim);
}
