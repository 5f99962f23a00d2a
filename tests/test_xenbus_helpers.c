/*
 * Helpers for the xenbus suites (see the header), on the public API: the
 * daemon's counters come from xensim_xenstore_usage().
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "test_xenbus_helpers.h"

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
    struct xensim_xenstore_usage u;

    ck_assert_int_eq(xensim_xenstore_usage(sim, &u), 0);
    *watches = u.watches;
    *txs = u.transactions;
}

static void stats_fn(void *p)
{
    ck_assert_int_eq(xensim_xenbus_get_stats(p), 0);
}

struct xensim_xenbus_stats xbt_stats(struct xensim *sim, domid_t dom)
{
    struct xensim_xenbus_stats st;

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

/* Every domain's info, however many there are; free() it. */
static struct xensim_domain_info *list_all(struct xensim *sim, int *n)
{
    struct xensim_domain_info *infos = NULL;
    int max = 0;

    while ((*n = xensim_domain_list(sim, infos, max)) > max) {
        max = *n + 16;
        infos = realloc(infos, (size_t)max * sizeof(*infos));
        ck_assert_ptr_nonnull(infos);
    }
    return infos;
}

/* xenstored learns of a death from VIRQ_DOM_EXC and then lets go of the
 * domain's ring; until then the domain lingers dying. Waits (bounded) for
 * it to be gone. */
void xbt_sim_free(struct xensim *sim)
{
    struct xensim_domain_info *infos;
    unsigned long w, t;
    int n;

    /* Those the test destroyed go once xenstored has noticed. */
    infos = list_all(sim, &n);
    for (int i = 0; i < n; i++)
        if (infos[i].state == XENSIM_DOMAIN_DYING)
            th_wait_gone(sim, infos[i].domid);
    free(infos);
    /* Everything is checked while every other domain still lives, so a
     * guest's leaked port or mapping cannot vanish with it. */
    th_check_clean(sim);
    /* Guests first: xenstored (in dom0) maps each live guest's ring. */
    infos = list_all(sim, &n);
    for (int i = 0; i < n; i++)
        if (infos[i].domid && infos[i].state != XENSIM_DOMAIN_DYING)
            ck_assert_int_eq(xensim_domain_destroy(sim, infos[i].domid), 0);
    for (int i = 0; i < n; i++)
        if (infos[i].domid)
            th_wait_gone(sim, infos[i].domid);
    free(infos);
    xbt_daemon_counts(sim, &w, &t);
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(t, 0);
    th_sim_free_checked(sim);
}
