/*
 * Test harness: owns nothing but the simulator handles tests ask for; it
 * calls only the public embedding API.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <xensim/task.h>
#include "harness.h"
#include "leakcheck.h"

/* XENSIM_TEST_EVTCHN_ABI=fifo: every domain built here with the default
 * ABI runs its kernel on FIFO instead, so that a suite runs unchanged on
 * both ABIs (tests/test_fifo_suites.sh). XENSIM_TEST_GRANT_VERSION=2: every
 * kernel that asks for nothing switches its grant table to v2 at first
 * use (tests/test_gnttab_v2_suites.sh). */
static void th_abi(struct xensim_domain_config *cfg)
{
    const char *abi = getenv("XENSIM_TEST_EVTCHN_ABI");
    const char *gv = getenv("XENSIM_TEST_GRANT_VERSION");

    if (abi && !strcmp(abi, "fifo") && cfg->evtchn_abi == XENSIM_EVTCHN_2L_32)
        cfg->evtchn_abi = XENSIM_EVTCHN_FIFO;
    if (gv && !strcmp(gv, "2") && cfg->kernel_grant_version == 0)
        cfg->kernel_grant_version = 2;
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

void th_allow_own_store_ring(domid_t domid)
{
    ck_assert_int_eq(leakcheck_allow_own_store_ring(domid), 0);
}

bool th_find_leak(struct xensim *sim, char *why, size_t size)
{
    return leakcheck_find(sim, why, size);
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
