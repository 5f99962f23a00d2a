/*
 * The harnesses' shared simulator helpers and their way of reporting a
 * finding (fz.h). Calls the public embedding API and the teardown check.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xensim/guest.h>
#include "fz.h"
#include "leakcheck.h"

void fz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz finding: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

bool fz_tracing;

void fz_trace(const char *fmt, ...)
{
    va_list ap;

    fputs("fz: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void fz_no_per_input_leak_scan(int *argc, char ***argv)
{
    static char flag[] = "-detect_leaks=0";
    static char *args[256];
    if (!argc || !argv || *argc + 2 > 256)
        return;
    for (int i = 1; i < *argc; i++)
        if (!strncmp((*argv)[i], "-detect_leaks=", 14))
            return;
    memcpy(args, *argv, (size_t)*argc * sizeof(*args));
    args[(*argc)++] = flag;
    args[*argc] = NULL;
    *argv = args;
}

struct xensim *fz_sim_new(enum xensim_gnttab_mode dom0_mode)
{
    struct xensim_domain_config cfg = { .gnttab_mode = dom0_mode };
    return fz_sim_new_cfg(&cfg);
}

struct xensim *fz_sim_new_cfg(const struct xensim_domain_config *dom0)
{
    fz_tracing = getenv("FZ_TRACE") != NULL;
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    FZ_CHECK(sim, "xensim_create failed");
    struct xensim_domain_config cfg = *dom0;
    cfg.name = "Domain-0";
    cfg.privileged = true;
    FZ_CHECK(xensim_domain_create(sim, &cfg) == 0, "dom0 not built");
    FZ_CHECK(xensim_domain_unpause(sim, 0) == 0, "dom0 not unpaused");
    return sim;
}

domid_t fz_domain(struct xensim *sim, const struct xensim_domain_config *cfg)
{
    int d = xensim_domain_create(sim, cfg);
    FZ_CHECK(d > 0, "domain %s not built: %s", cfg->name ? cfg->name : "?",
             xensim_strerror(d));
    FZ_CHECK(xensim_domain_unpause(sim, (domid_t)d) == 0, "domain %d not unpaused", d);
    return (domid_t)d;
}

void fz_call(struct xensim *sim, domid_t domid, unsigned int vcpu, void (*fn)(void *),
             void *arg)
{
    int rc = xensim_domain_call(sim, domid, vcpu, fn, arg);
    FZ_CHECK(rc == 0, "call on dom%u vcpu%u: %s", domid, vcpu, xensim_strerror(rc));
}

/* Enabling events delivers what is pending, as a return to the guest
 * would; SCHEDOP_yield would do it too but gives the host CPU away. */
void fz_take_events(void *unused)
{
    (void)unused;
    xensim_guest_irq_disable();
    xensim_guest_irq_enable();
}

void fz_acct_take(struct xensim *sim, struct fz_acct *a)
{
    a->n = xensim_domain_list(sim, a->d, FZ_MAX_DOMS);
    FZ_CHECK(a->n > 0 && a->n <= FZ_MAX_DOMS, "domain list: %d", a->n);
}

/* Domain by domain: xensim_domain_list() walks every possible domid,
 * which would cost more than most inputs. */
void fz_acct_expect(struct xensim *sim, const struct fz_acct *a, const char *when)
{
    for (int i = 0; i < a->n; i++) {
        const struct xensim_domain_info *was = &a->d[i];
        struct xensim_domain_info now;
        const struct xensim_domain_info *is = &now;
        FZ_CHECK(xensim_domain_info(sim, was->domid, &now) == 0, "%s: dom%u is gone", when,
                 was->domid);
#define FZ_SAME(field)                                                        \
    FZ_CHECK(is->field == was->field, "%s: dom%u " #field " is %lu, was %lu", when,     \
             was->domid, (unsigned long)is->field, (unsigned long)was->field)
        FZ_SAME(domid);
        FZ_SAME(state);
        FZ_SAME(ports_in_use);
        FZ_SAME(maptrack_in_use);
        FZ_SAME(pages_mapped_by_others);
        FZ_SAME(grant_entries_in_use);
        FZ_SAME(pages_allocated);
#undef FZ_SAME
    }
}

void fz_teardown_check(struct xensim *sim)
{
    char why[256];

    if (leakcheck_find(sim, why, sizeof(why)))
        fz_fail("leak at teardown: %s", why);
}

int fz_memfd(const char *name, size_t size, uint8_t **map, char *path, size_t path_size)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    FZ_CHECK(fd >= 0, "memfd_create");
    FZ_CHECK(ftruncate(fd, (off_t)size) == 0, "ftruncate");
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    FZ_CHECK(p != MAP_FAILED, "mmap of the memfd");
    *map = p;
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}
