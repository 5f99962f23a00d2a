/*
 * Domains and vCPUs through the embedding API: ids as Xen gives them, info
 * and list, pause, entry functions and shutdown, destroy closing ports
 * (spec §1.6, §1.8), dying domains, and xensim_domain_call's errors.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include "evtchn_helpers.h"

#define SELF DOMID_SELF

static int make_domain(struct xensim *sim, const char *name, unsigned int nr_vcpus)
{
    struct xensim_domain_config cfg = { .name = name, .nr_vcpus = nr_vcpus };
    return xensim_domain_create(sim, &cfg);
}

static void free_checked(struct xensim *sim, const domid_t *doms, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        ck_assert_msg(th_ports_in_use(sim, doms[i]) == 0, "dom%u leaks %u ports", doms[i],
                      th_ports_in_use(sim, doms[i]));
    th_sim_free_checked(sim);
}

static void never_called(void *arg)
{
    (void)arg;
    ck_abort_msg("xensim_domain_call ran fn on a vCPU that does not exist");
}

static void wait_gone(struct xensim *sim, domid_t d)
{
    struct xensim_domain_info info;
    EV_WAIT_FOR(xensim_domain_info(sim, d, &info) == -ESRCH);
}

/* start_info and the builder's ports, as a guest reads them (§1.6). */
struct boot_view {
    uint32_t store_evtchn, cons_evtchn;
    xen_pfn_t store_mfn, cons_mfn;
    unsigned long nr_pages;
    domid_t domid;
    unsigned int vcpu, nr_vcpus;
};

static void boot_view_fn(void *p)
{
    struct boot_view *b = p;
    const start_info_t *si = xensim_guest_start_info();
    ck_assert_ptr_nonnull(si);
    b->store_evtchn = si->store_evtchn;
    b->cons_evtchn = si->console.domU.evtchn;
    b->store_mfn = si->store_mfn;
    b->cons_mfn = si->console.domU.mfn;
    b->nr_pages = si->nr_pages;
    b->domid = xensim_guest_domid();
    b->vcpu = xensim_guest_vcpu_id();
    b->nr_vcpus = xensim_guest_nr_vcpus();
}

START_TEST(test_ids_info_list)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_info info;

    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert_uint_eq(info.domid, 0);
    ck_assert_str_eq(info.name, "Domain-0");
    ck_assert(info.privileged);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    ck_assert_uint_eq(info.nr_vcpus, 1);
    ck_assert_uint_eq(info.nr_pages, 256);
    ck_assert_uint_eq(info.ports_in_use, 0);

    /* dom0 has no store or console channel in its start_info (§1.6) */
    struct boot_view b0;
    th_call(sim, 0, 0, boot_view_fn, &b0);
    ck_assert_uint_eq(b0.domid, 0);
    ck_assert_uint_eq(b0.store_evtchn, 0);

    /* ids in order; built paused */
    struct xensim_domain_config c1 = { .name = "alpha", .nr_vcpus = 3, .nr_pages = 512 };
    ck_assert_int_eq(xensim_domain_create(sim, &c1), 1);
    struct xensim_domain_config c2 = { .name = NULL };
    ck_assert_int_eq(xensim_domain_create(sim, &c2), 2);
    struct xensim_domain_config c3 = { .name = "gamma", .privileged = true };
    ck_assert_int_eq(xensim_domain_create(sim, &c3), 3);

    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), 0);
    ck_assert_uint_eq(info.domid, 1);
    ck_assert_str_eq(info.name, "alpha");
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_PAUSED);
    ck_assert(!info.privileged);
    ck_assert_uint_eq(info.nr_vcpus, 3);
    ck_assert_uint_eq(info.nr_pages, 512);
    /* the toolstack's store then console port, unbound to dom0 */
    ck_assert_uint_eq(info.store_port, 1);
    ck_assert_uint_eq(info.console_port, 2);
    ck_assert_uint_eq(info.ports_in_use, 2);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, 1, 1, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);
    ck_assert_int_eq(ev_state(sim, 1, 2, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);

    ck_assert_int_eq(xensim_domain_info(sim, 2, &info), 0);
    ck_assert_str_eq(info.name, "dom2");
    ck_assert_uint_eq(info.nr_vcpus, 1);
    ck_assert_uint_eq(info.nr_pages, 256);
    ck_assert_int_eq(xensim_domain_info(sim, 3, &info), 0);
    ck_assert(info.privileged);

    for (domid_t d = 1; d <= 3; d++) {
        ck_assert_int_eq(xensim_domain_unpause(sim, d), 0);
        ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
        ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    }

    /* what the guest itself learns at boot */
    struct xensim_domain_info i1;
    ck_assert_int_eq(xensim_domain_info(sim, 1, &i1), 0);
    for (unsigned int v = 0; v < 3; v++) {
        struct boot_view b;
        th_call(sim, 1, v, boot_view_fn, &b);
        ck_assert_uint_eq(b.domid, 1);
        ck_assert_uint_eq(b.vcpu, v);
        ck_assert_uint_eq(b.nr_vcpus, 3);
        ck_assert_uint_eq(b.store_evtchn, 1);
        ck_assert_uint_eq(b.cons_evtchn, 2);
        ck_assert_uint_eq(b.store_mfn, i1.store_pfn);
        ck_assert_uint_eq(b.cons_mfn, i1.console_pfn);
        ck_assert_uint_eq(b.nr_pages, 512);
    }

    /* list: lowest domid first; returns how many exist */
    struct xensim_domain_info l[8];
    ck_assert_int_eq(xensim_domain_list(sim, l, 8), 4);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(l[i].domid, (domid_t)i);
    ck_assert_str_eq(l[1].name, "alpha");
    ck_assert_int_eq(xensim_domain_list(sim, NULL, 0), 4);
    memset(l, 0xff, sizeof(l));
    ck_assert_int_eq(xensim_domain_list(sim, l, 2), 4);
    ck_assert_uint_eq(l[0].domid, 0);
    ck_assert_uint_eq(l[1].domid, 1);
    ck_assert_uint_eq(l[2].domid, 0xffff);

    domid_t all[] = { 0, 1, 2, 3 };
    free_checked(sim, all, 4);
}
END_TEST

/* Bad configurations and missing domains give errors, not crashes. */
START_TEST(test_bad_config_and_missing)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config big = { .name = "big", .nr_vcpus = XENSIM_MAX_VCPUS + 1 };
    ck_assert_int_eq(xensim_domain_create(sim, &big), -EINVAL);
    struct xensim_domain_config huge = { .name = "huge", .nr_pages = ~0ul };
    ck_assert_int_eq(xensim_domain_create(sim, &huge), -EINVAL);
    /* neither took a domid: the next domain is dom1 */
    struct xensim_domain_config max = { .name = "max", .nr_vcpus = XENSIM_MAX_VCPUS };
    int d = xensim_domain_create(sim, &max);
    ck_assert_int_eq(d, 1);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);

    struct xensim_domain_info info;
    static const domid_t missing[] = { 2, 100, EV_NODOM, DOMID_SELF, DOMID_IDLE, 0xFFFF };
    for (unsigned int i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        domid_t m = missing[i];
        ck_assert_int_eq(xensim_domain_info(sim, m, &info), -ESRCH);
        ck_assert_int_eq(xensim_domain_pause(sim, m), -ESRCH);
        ck_assert_int_eq(xensim_domain_unpause(sim, m), -ESRCH);
        ck_assert_int_eq(xensim_domain_shutdown(sim, m, SHUTDOWN_poweroff), -ESRCH);
        ck_assert_int_eq(xensim_domain_destroy(sim, m), -ESRCH);
        ck_assert_int_eq(xensim_domain_call(sim, m, 0, never_called, NULL), -ESRCH);
    }
    /* waiting for a domain that does not exist returns at once, with
     * -ESRCH rather than a SHUTDOWN_* reason */
    for (unsigned int i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
        ck_assert_int_eq(xensim_domain_wait_shutdown(sim, missing[i]), -ESRCH);
    ck_assert_int_eq(xensim_domain_call(sim, 1, XENSIM_MAX_VCPUS, never_called, NULL), -ENOENT);
    ck_assert_int_eq(xensim_domain_call(sim, 1, 1000000, never_called, NULL), -ENOENT);
    ck_assert_int_eq(xensim_domain_call(sim, 0, 1, never_called, NULL), -ENOENT);
    /* every one of the 32 vCPUs serves calls */
    for (unsigned int v = 0; v < XENSIM_MAX_VCPUS; v++) {
        struct boot_view b;
        th_call(sim, 1, v, boot_view_fn, &b);
        ck_assert_uint_eq(b.vcpu, v);
    }
    domid_t all[] = { 0, 1 };
    free_checked(sim, all, 2);
}
END_TEST

/* Log names for Xen errnos. */
START_TEST(test_strerror)
{
    ck_assert_ptr_nonnull(strstr(xensim_strerror(-ENOSPC), "ENOSPC"));
    ck_assert_ptr_nonnull(strstr(xensim_strerror(-EINVAL), "EINVAL"));
    ck_assert_ptr_nonnull(strstr(xensim_strerror(-ESRCH), "ESRCH"));
    ck_assert_ptr_nonnull(xensim_strerror(-12345));
    ck_assert_ptr_nonnull(xensim_strerror(0));
    ck_assert_ptr_nonnull(xensim_strerror(7));
}
END_TEST

/* The first domain is dom0 and privileged whatever its config says. */
START_TEST(test_dom0_always_privileged)
{
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    ck_assert_ptr_nonnull(sim);
    ck_assert_int_eq(make_domain(sim, "first", 1), 0);
    ck_assert_int_eq(make_domain(sim, "second", 1), 1);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert(info.privileged);
    ck_assert_uint_eq(info.store_port, 0);
    ck_assert_uint_eq(info.console_port, 0);
    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), 0);
    ck_assert(!info.privileged);
    th_sim_free_checked(sim);
}
END_TEST

/* Xen hands out the next id after the last one, not a freed one. */
START_TEST(test_domid_not_reused_at_once)
{
    struct xensim *sim = th_sim_new();
    ck_assert_int_eq(make_domain(sim, "a", 1), 1);
    ck_assert_int_eq(make_domain(sim, "b", 1), 2);
    ck_assert_int_eq(xensim_domain_destroy(sim, 1), 0);
    wait_gone(sim, 1);
    ck_assert_int_eq(make_domain(sim, "c", 1), 3);
    domid_t all[] = { 0, 2, 3 };
    free_checked(sim, all, 3);
}
END_TEST

/* Pause and unpause; events reach a paused domain's shared_info. */
START_TEST(test_pause_unpause)
{
    struct xensim *sim = th_sim_new();
    domid_t d = th_domain(sim, "p", false, XENSIM_GNTTAB_STRICT);
    struct xensim_domain_info info;
    long p = ev_alloc_unbound(sim, d, SELF, 0);
    long q = ev_bind_interdomain(sim, 0, d, (evtchn_port_t)p);
    ck_assert_int_gt(q, 0);

    ck_assert_int_eq(xensim_domain_pause(sim, d), 0);
    ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_PAUSED);
    ck_assert_int_eq(ev_send(sim, 0, (evtchn_port_t)q), 0);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, d, (evtchn_port_t)p, &st), EVTCHNSTAT_interdomain);
    ck_assert_int_eq(xensim_domain_unpause(sim, d), 0);
    ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    ck_assert(ev_is_pending(sim, d, (evtchn_port_t)p));

    ck_assert_int_eq(ev_close(sim, 0, (evtchn_port_t)q), 0);
    ck_assert_int_eq(ev_close(sim, d, (evtchn_port_t)p), 0);
    domid_t all[] = { 0, d };
    free_checked(sim, all, 2);
}
END_TEST

/*
 * Destroy: every port of the dead domain closes; each peer's port becomes
 * unbound with remote = the dead domid, with no event (§1.8); dom0's
 * VIRQ_DOM_EXC is raised; the domain then goes away.
 */
static void poll_one_fn(void *p)
{
    evtchn_port_t port = *(evtchn_port_t *)p;
    struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
    evtchn_port_t *pp = &port;
    memcpy(&sp.ports, &pp, sizeof(pp));
    ck_assert_int_eq(HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0);
}

START_TEST(test_destroy_closes_ports)
{
    struct xensim *sim = th_sim_new();
    domid_t d1 = th_domain(sim, "victim", false, XENSIM_GNTTAB_STRICT);
    domid_t d2 = th_domain(sim, "peer", false, XENSIM_GNTTAB_STRICT);
    evtchn_port_t exc = (evtchn_port_t)ev_bind_virq(sim, 0, VIRQ_DOM_EXC, 0);
    ck_assert_uint_eq(exc, 1);
    ev_set_mask(sim, 0, exc, true);

    /* dom0 <-> d1 (d1 allocated), d2 <-> d1 (d2 allocated), d1 loopback */
    long a = ev_alloc_unbound(sim, d1, SELF, 0);
    long b = ev_bind_interdomain(sim, 0, d1, (evtchn_port_t)a);
    long c = ev_alloc_unbound(sim, d2, SELF, d1);
    long e = ev_bind_interdomain(sim, d1, d2, (evtchn_port_t)c);
    long f = ev_alloc_unbound(sim, d2, SELF, d1);
    ck_assert_int_eq(b, 2);
    ck_assert_int_eq(c, 3);
    ck_assert_int_eq(e, 4);
    ck_assert_int_eq(f, 4);
    ev_clear_pending(sim, 0, (evtchn_port_t)b);
    ck_assert(!ev_is_pending(sim, d2, (evtchn_port_t)c));

    ck_assert_int_eq(xensim_domain_destroy(sim, d1), 0);
    evtchn_status_t st;
    ck_assert_int_eq(ev_state(sim, 0, (evtchn_port_t)b, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, d1);
    ck_assert(!ev_is_pending(sim, 0, (evtchn_port_t)b));
    ck_assert_int_eq(ev_state(sim, d2, (evtchn_port_t)c, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, d1);
    ck_assert(!ev_is_pending(sim, d2, (evtchn_port_t)c));
    /* an unbound port waiting for the dead domain is left alone */
    ck_assert_int_eq(ev_state(sim, d2, (evtchn_port_t)f, &st), EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, d1);
    /* sends from the survivors are dropped */
    ck_assert_int_eq(ev_send(sim, 0, (evtchn_port_t)b), 0);
    ck_assert_int_eq(ev_send(sim, d2, (evtchn_port_t)c), 0);
    /* dom0 heard about it */
    th_call(sim, 0, 0, poll_one_fn, &exc);

    wait_gone(sim, d1);
    ck_assert_int_eq(xensim_domain_destroy(sim, d1), -ESRCH);
    ck_assert_int_eq(xensim_domain_call(sim, d1, 0, poll_one_fn, &exc), -ESRCH);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d1, 0), -ESRCH);
    ck_assert_int_eq(ev_bind_interdomain(sim, 0, d1, (evtchn_port_t)a), -ESRCH);
    struct xensim_domain_info l[4];
    ck_assert_int_eq(xensim_domain_list(sim, l, 4), 2);

    ck_assert_int_eq(ev_close(sim, 0, (evtchn_port_t)b), 0);
    ck_assert_int_eq(ev_close(sim, 0, exc), 0);
    ck_assert_int_eq(ev_close(sim, d2, (evtchn_port_t)c), 0);
    ck_assert_int_eq(ev_close(sim, d2, (evtchn_port_t)f), 0);
    domid_t all[] = { 0, d2 };
    free_checked(sim, all, 2);
}
END_TEST

/*
 * Entry functions: one per vCPU, with its arg; vCPUs start with upcalls
 * masked; the domain powers off when the last one returns.
 */
struct entry_rec {
    _Atomic unsigned int ran[XENSIM_MAX_VCPUS];
    _Atomic unsigned int mask_at_start[XENSIM_MAX_VCPUS];
    _Atomic int domid;
    _Atomic int returned0;
    _Atomic int release;
};

static void entry_fn(void *arg)
{
    struct entry_rec *r = arg;
    unsigned int v = xensim_guest_vcpu_id();
    ck_assert_uint_lt(v, XENSIM_MAX_VCPUS);
    atomic_fetch_add(&r->ran[v], 1);
    atomic_store(&r->mask_at_start[v], g_upcall_mask(v));
    atomic_store(&r->domid, xensim_guest_domid());
    if (v == 0) {
        atomic_store(&r->returned0, 1);
        return;
    }
    /* the others hold the domain up until the test lets them go */
    while (!atomic_load(&r->release))
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
}

START_TEST(test_entry_and_poweroff)
{
    struct xensim *sim = th_sim_new();
    static struct entry_rec rec;
    evtchn_port_t exc = (evtchn_port_t)ev_bind_virq(sim, 0, VIRQ_DOM_EXC, 0);
    ck_assert_uint_eq(exc, 1);
    ev_set_mask(sim, 0, exc, true);
    struct xensim_domain_config cfg = { .name = "runner", .nr_vcpus = 3, .entry = entry_fn,
                                        .entry_arg = &rec };
    int d = xensim_domain_create(sim, &cfg);
    ck_assert_int_eq(d, 1);
    ck_assert_uint_eq(atomic_load(&rec.ran[0]), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);

    EV_WAIT_FOR(atomic_load(&rec.returned0) && atomic_load(&rec.ran[1]) && atomic_load(&rec.ran[2]));
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);

    atomic_store(&rec.release, 1);
    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, 1), SHUTDOWN_poweroff);
    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_SHUTDOWN);
    ck_assert_uint_eq(info.shutdown_reason, SHUTDOWN_poweroff);
    for (int v = 0; v < 3; v++) {
        ck_assert_uint_eq(atomic_load(&rec.ran[v]), 1);
        ck_assert_uint_eq(atomic_load(&rec.mask_at_start[v]), 1);
    }
    ck_assert_int_eq(atomic_load(&rec.domid), 1);
    ck_assert_int_eq(xensim_domain_call(sim, 1, 0, entry_fn, &rec), -ESHUTDOWN);
    /* the toolstack's domain heard of the shutdown */
    th_call(sim, 0, 0, poll_one_fn, &exc);
    ck_assert_int_eq(ev_close(sim, 0, exc), 0);
    ck_assert_int_eq(xensim_domain_destroy(sim, 1), 0);
    domid_t all[] = { 0 };
    free_checked(sim, all, 1);
}
END_TEST

/* The toolstack's shutdown; wait_all_shutdown returns once all are down. */
static void return_at_once(void *arg)
{
    (void)arg;
}

START_TEST(test_toolstack_shutdown_and_wait_all)
{
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    ck_assert_ptr_nonnull(sim);
    struct xensim_domain_config c0 = { .name = "Domain-0", .privileged = true };
    ck_assert_int_eq(xensim_domain_create(sim, &c0), 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, 0), 0);
    struct xensim_domain_config c1 = { .name = "quick", .entry = return_at_once };
    ck_assert_int_eq(xensim_domain_create(sim, &c1), 1);
    ck_assert_int_eq(xensim_domain_unpause(sim, 1), 0);
    ck_assert_int_eq(make_domain(sim, "idle", 2), 2);
    ck_assert_int_eq(xensim_domain_unpause(sim, 2), 0);

    ck_assert_int_eq(xensim_domain_shutdown(sim, 2, SHUTDOWN_reboot), 0);
    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, 2), SHUTDOWN_reboot);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 2, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_SHUTDOWN);
    ck_assert_uint_eq(info.shutdown_reason, SHUTDOWN_reboot);
    ck_assert_int_eq(xensim_domain_call(sim, 2, 1, return_at_once, NULL), -ESHUTDOWN);
    /* the first reason stands (Xen's domain_shutdown ignores later ones) */
    xensim_domain_shutdown(sim, 2, SHUTDOWN_crash);
    ck_assert_int_eq(xensim_domain_info(sim, 2, &info), 0);
    ck_assert_uint_eq(info.shutdown_reason, SHUTDOWN_reboot);

    ck_assert_int_eq(xensim_domain_wait_shutdown(sim, 1), SHUTDOWN_poweroff);
    ck_assert_int_eq(xensim_domain_shutdown(sim, 0, SHUTDOWN_poweroff), 0);
    xensim_wait_all_shutdown(sim);
    for (domid_t d = 0; d < 3; d++) {
        ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
        ck_assert_int_eq(info.state, XENSIM_DOMAIN_SHUTDOWN);
    }
    domid_t all[] = { 0, 1, 2 };
    free_checked(sim, all, 3);
}
END_TEST

/*
 * A destroyed domain that others still map lingers as DYING: it refuses
 * new ports with -EINVAL (§1.1) and goes away after the last unmap.
 */
struct grant_arg {
    grant_ref_t ref;
    xen_pfn_t pfn;
};

static void grant_fn(void *p)
{
    struct grant_arg *g = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&g->pfn), 0);
    long r = xensim_gnttab_grant_access(0, g->pfn, false);
    ck_assert_int_ge(r, 0);
    g->ref = (grant_ref_t)r;
}

struct map_arg {
    domid_t dom;
    grant_ref_t ref;
    gnttab_map_grant_ref_t m;
    long rc;
};

static void map_fn(void *p)
{
    struct map_arg *a = p;
    memset(&a->m, 0, sizeof(a->m));
    a->m.flags = GNTMAP_host_map;
    a->m.ref = a->ref;
    a->m.dom = a->dom;
    a->rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &a->m, 1);
}

static void unmap_fn(void *p)
{
    struct map_arg *a = p;
    gnttab_unmap_grant_ref_t u = { .host_addr = a->m.host_addr, .handle = a->m.handle };
    a->rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    ck_assert_int_eq(u.status, GNTST_okay);
}

START_TEST(test_dying_refuses_ports)
{
    struct xensim *sim = th_sim_new();
    domid_t d = th_domain(sim, "granter", false, XENSIM_GNTTAB_STRICT);
    struct grant_arg g;
    th_call(sim, d, 0, grant_fn, &g);
    struct map_arg m = { .dom = d, .ref = g.ref };
    th_call(sim, 0, 0, map_fn, &m);
    ck_assert_int_eq(m.rc, 0);
    ck_assert_int_eq(m.m.status, GNTST_okay);

    ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_DYING);
    ck_assert_uint_eq(info.ports_in_use, 0);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), -EINVAL);
    ck_assert_int_eq(ev_bind_interdomain(sim, 0, d, 1), -EINVAL);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);

    th_call(sim, 0, 0, unmap_fn, &m);
    ck_assert_int_eq(m.rc, 0);
    wait_gone(sim, d);
    ck_assert_int_eq(ev_alloc_unbound(sim, 0, d, 0), -ESRCH);
    domid_t all[] = { 0 };
    free_checked(sim, all, 1);
}
END_TEST

/* A domain whose memory cannot be had fails whole: the file size limit
 * makes the memfd's ftruncate fail (EFBIG; SIGXFSZ ignored), and the
 * creation is undone (no domain, no id published, nothing leaked); with
 * the limit back the same config builds. */
START_TEST(test_memory_refused)
{
    struct xensim *sim = th_sim_new();
    struct rlimit old, small;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    small = old;
    small.rlim_cur = 1u << 20;
    signal(SIGXFSZ, SIG_IGN);
    struct xensim_domain_config big = { .name = "big", .nr_pages = 1024 };
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
    int rc = xensim_domain_create(sim, &big);
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    ck_assert_int_eq(rc, -EFBIG);
    ck_assert_str_eq(xensim_strerror(rc), "-EFBIG (file size limit reached)");
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 1, &info), -ESRCH);
    int id = xensim_domain_create(sim, &big);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(xensim_domain_info(sim, (domid_t)id, &info), 0);
    ck_assert_uint_eq(info.nr_pages, 1024);
    domid_t all[] = { 0, (domid_t)id };
    free_checked(sim, all, 2);
}
END_TEST

static Suite *domain_suite(void)
{
    Suite *s = suite_create("domain");
    TCase *t = tcase_create("lifecycle");
    tcase_add_test(t, test_ids_info_list);
    tcase_add_test(t, test_bad_config_and_missing);
    tcase_add_test(t, test_dom0_always_privileged);
    tcase_add_test(t, test_strerror);
    tcase_add_test(t, test_domid_not_reused_at_once);
    tcase_add_test(t, test_pause_unpause);
    tcase_add_test(t, test_destroy_closes_ports);
    tcase_add_test(t, test_entry_and_poweroff);
    tcase_add_test(t, test_toolstack_shutdown_and_wait_all);
    tcase_add_test(t, test_dying_refuses_ports);
    tcase_add_test(t, test_memory_refused);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(domain_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
