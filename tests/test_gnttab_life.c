/*
 * Grants across domain life: a granter dying while mapped, a grantee dying
 * with mappings, host-thread mappings (gntdev), strict-mode faults (a write
 * through a read-only map, an access after unmap) and a pin/revoke race.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "gnttab_helpers.h"

static const uint32_t RW = GNTMAP_host_map;
static const uint32_t RO = GNTMAP_host_map | GNTMAP_readonly;

/* The granter dies; its page stays valid for the grantee until unmap, and
 * then the domain goes. */
START_TEST(granter_dies_while_mapped)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct gt_grant g2 = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m), GNTST_okay);
    g.page[0] = 11;

    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.a), 0);
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    ck_assert_int_eq(ia.state, XENSIM_DOMAIN_DYING);
    ck_assert_uint_eq(ia.pages_mapped_by_others, 1);

    uint8_t v = 0;
    void *p = (void *)(uintptr_t)m.host_addr;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, p, false, &v), 0);
    ck_assert_uint_eq(v, 11);
    v = 22;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, p, true, &v), 0);
    ck_assert_uint_eq(g.page[0], 22);

    /* Nothing new against a dying granter: no map, no copy. */
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g2.ref, RW, NULL), GNTST_general_error);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, NULL), GNTST_general_error);
    gnttab_copy_t c = {
        .source = { .u.ref = (grant_ref_t)g2.ref, .domid = f.a },
        .dest = { .u.ref = (grant_ref_t)g2.ref, .domid = f.a },
        .len = 8, .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, &c, 1), 0);
    ck_assert_int_eq(c.status, GNTST_general_error);
    ck_assert_uint_eq(gt_info(f.sim, f.a).pages_mapped_by_others, 1);

    gt_unmap_ok(f.sim, f.b, &m);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f.sim, f.a, &info), -ESRCH);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* The grantee dies: its mappings go and the granter can revoke. */
START_TEST(grantee_dies_with_mappings)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct gt_grant h = gt_grant(f.sim, f.c, f.b, true);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, i & 1 ? RO : RW, NULL), GNTST_okay);
        ck_assert_int_eq(gt_map(f.sim, f.b, f.c, h.ref, RO, NULL), GNTST_okay);
    }
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, GNTMAP_device_map, NULL), GNTST_okay);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 6);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), -EBUSY);

    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.b), 0);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    ck_assert_uint_eq(gt_pins(f.sim, f.c), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    ck_assert_int_eq(gt_flags(&h), GTF_permit_access | GTF_readonly);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    ck_assert_int_eq(gt_end_access(f.sim, f.c, h.ref), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* Both at once: a and b map each other's pages and both are destroyed. */
START_TEST(mutual_mappings_both_die)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant ga = gt_grant(f.sim, f.a, f.b, false);
    struct gt_grant gb = gt_grant(f.sim, f.b, f.a, false);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, ga.ref, RW, NULL), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.a, f.b, gb.ref, RW, NULL), GNTST_okay);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.a), 0);
    /* a is gone as a mapper; b still maps a's page, so a lingers. */
    ck_assert_uint_eq(gt_pins(f.sim, f.b), 0);
    ck_assert_uint_eq(gt_info(f.sim, f.a).pages_mapped_by_others, 1);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.b), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f.sim, f.a, &info), -ESRCH);
    gt_sim_free(f.sim);
}
END_TEST

/* A domain may map its own grants (by its real id); destroying it with
 * such mappings still frees it. */
START_TEST(self_map_then_destroy)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.a, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.a, f.a, g.ref, RW, &m), GNTST_okay);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 1);
    ck_assert_int_eq(gt_map(f.sim, f.a, DOMID_SELF, g.ref, RW, NULL), GNTST_bad_domain);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.a), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f.sim, f.a, &info), -ESRCH);
    gt_sim_free(f.sim);
}
END_TEST

/* gntdev: dom0's host thread maps a guest's grant without a vCPU. */
START_TEST(hostdev_map_unmap)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, 0, false);
    struct gt_grant other = gt_grant(f.sim, f.a, f.b, false);
    g.page[5] = 55;

    ck_assert_ptr_null(xensim_gnttab_dev_open(f.sim, GT_NODOM));
    ck_assert_int_eq(errno, ESRCH);
    struct xensim_gnttab_dev *dev = xensim_gnttab_dev_open(f.sim, 0);
    ck_assert_ptr_nonnull(dev);
    int16_t st = 99;
    uint8_t *p = xensim_gnttab_dev_map(dev, f.a, (grant_ref_t)g.ref, false, &st);
    ck_assert_int_eq(st, GNTST_okay);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p[5], 55);
    p[6] = 66;
    ck_assert_uint_eq(g.page[6], 66);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    ck_assert_uint_eq(gt_maptrack(f.sim, 0), 1);

    ck_assert_ptr_null(xensim_gnttab_dev_map(dev, f.a, (grant_ref_t)other.ref, true, &st));
    ck_assert_int_eq(st, GNTST_general_error);
    ck_assert_ptr_null(xensim_gnttab_dev_map(dev, GT_NODOM, 8, true, &st));
    ck_assert_int_eq(st, GNTST_bad_domain);

    ck_assert_int_eq(xensim_gnttab_dev_unmap(dev, p + 1), -EINVAL);
    ck_assert_int_eq(xensim_gnttab_dev_unmap(dev, p), 0);
    ck_assert_int_eq(xensim_gnttab_dev_unmap(dev, p), -EINVAL);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);

    /* close unmaps what is left. */
    for (int i = 0; i < 4; i++)
        ck_assert_ptr_nonnull(xensim_gnttab_dev_map(dev, f.a, (grant_ref_t)g.ref, i & 1, NULL));
    ck_assert_uint_eq(gt_maptrack(f.sim, 0), 4);
    xensim_gnttab_dev_close(dev);
    ck_assert_uint_eq(gt_maptrack(f.sim, 0), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/* A gntdev mapping outlives its granter until unmapped. */
START_TEST(hostdev_granter_dies)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, 0, false);
    struct xensim_gnttab_dev *dev = xensim_gnttab_dev_open(f.sim, 0);
    uint8_t *p = xensim_gnttab_dev_map(dev, f.a, (grant_ref_t)g.ref, false, NULL);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.a), 0);
    p[0] = 1;
    ck_assert_uint_eq(p[0], 1);
    ck_assert_int_eq(gt_info(f.sim, f.a).state, XENSIM_DOMAIN_DYING);
    xensim_gnttab_dev_close(dev);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f.sim, f.a, &info), -ESRCH);
    gt_sim_free(f.sim);
}
END_TEST

static void expect_crashed(struct xensim *sim, domid_t d)
{
    struct xensim_domain_info info = gt_info(sim, d);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_SHUTDOWN);
    ck_assert_uint_eq(info.shutdown_reason, SHUTDOWN_crash);
}

/* Strict only: a write through a read-only map faults, is reported, and
 * crashes that domain alone. */
START_TEST(strict_write_to_readonly_faults)
{
    struct gt_fix f = gt_fix_new(XENSIM_GNTTAB_STRICT);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m), GNTST_okay);
    g.page[0] = 42;
    uint8_t v = 0;
    void *p = (void *)(uintptr_t)m.host_addr;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, p, false, &v), 0);
    ck_assert_uint_eq(v, 42);

    v = 1;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, p, true, &v), -ESHUTDOWN);
    struct xensim_fault fault;
    ck_assert(xensim_last_fault(f.sim, &fault));
    ck_assert_uint_eq(fault.domid, f.b);
    ck_assert_uint_eq(fault.addr, (uintptr_t)p);
    ck_assert(fault.write);
    ck_assert(fault.mapped);
    ck_assert(fault.readonly);
    ck_assert_uint_eq(fault.granter, f.a);
    ck_assert_uint_eq(fault.ref, g.ref);
    ck_assert_uint_eq(g.page[0], 42);
    expect_crashed(f.sim, f.b);

    /* Everyone else goes on. */
    struct gt_grant g2 = gt_grant(f.sim, f.a, f.c, false);
    ck_assert_int_eq(gt_map(f.sim, f.c, f.a, g2.ref, RW, &m), GNTST_okay);
    gt_unmap_ok(f.sim, f.c, &m);
    ck_assert_int_eq(gt_info(f.sim, 0).state, XENSIM_DOMAIN_RUNNING);

    /* The crashed domain keeps its mapping until it is destroyed. */
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.b), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/* Strict only: after unmap the address faults, and the report still names
 * the grant that was there. */
START_TEST(strict_access_after_unmap_faults)
{
    struct gt_fix f = gt_fix_new(XENSIM_GNTTAB_STRICT);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m), GNTST_okay);
    gt_unmap_ok(f.sim, f.b, &m);
    uint8_t v = 0;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (void *)(uintptr_t)m.host_addr, false, &v),
                     -ESHUTDOWN);
    struct xensim_fault fault;
    ck_assert(xensim_last_fault(f.sim, &fault));
    ck_assert_uint_eq(fault.domid, f.b);
    ck_assert(!fault.write);
    ck_assert(!fault.mapped);
    ck_assert_uint_eq(fault.granter, f.a);
    ck_assert_uint_eq(fault.ref, g.ref);
    expect_crashed(f.sim, f.b);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    ck_assert_int_eq(xensim_domain_destroy(f.sim, f.b), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* Strict only: when the host mapping cannot be made (here: no room for a
 * 2^27-frame maptrack window), the map fails at Xen's last step with
 * GNTST_general_error and leaves nothing behind. */
START_TEST(strict_host_map_fails)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, XENSIM_GNTTAB_STRICT);
    struct xensim_domain_config cfg = {
        .name = "huge", .gnttab_mode = XENSIM_GNTTAB_STRICT, .max_maptrack_frames = 1u << 27,
    };
    domid_t b = th_domain_cfg(sim, &cfg);
    struct gt_grant g = gt_grant(sim, a, b, false);
    gnttab_map_grant_ref_t m[3];
    for (int i = 0; i < 3; i++)
        m[i] = (gnttab_map_grant_ref_t){ .flags = RW, .ref = (grant_ref_t)g.ref, .dom = a };
    m[1].flags = GNTMAP_device_map;
    ck_assert_int_eq(gt_op(sim, b, GNTTABOP_map_grant_ref, m, 3), 0);
    ck_assert_int_eq(m[0].status, GNTST_general_error);
    ck_assert_int_eq(m[1].status, GNTST_okay);
    ck_assert_int_eq(m[2].status, GNTST_general_error);
    ck_assert_uint_eq(gt_maptrack(sim, b), 1);
    ck_assert_uint_eq(gt_pins(sim, a), 1);
    ck_assert_int_eq(gt_unmap(sim, b, m[1].handle, 0, m[1].dev_bus_addr), GNTST_okay);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(sim);
}
END_TEST

/* Fast mode trades protection for speed: the same write goes through. */
START_TEST(fast_readonly_is_not_enforced)
{
    struct gt_fix f = gt_fix_new(XENSIM_GNTTAB_FAST);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, true);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m), GNTST_okay);
    uint8_t v = 9;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (void *)(uintptr_t)m.host_addr, true, &v), 0);
    gt_unmap_ok(f.sim, f.b, &m);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * The revoke race of spec 2.4: a grantee maps and unmaps in a loop while
 * the granter tries to revoke. Either the revoke sees the busy bits, or the
 * map fails; once the revoke succeeded no map may succeed.
 */
struct race {
    struct xensim *sim;
    domid_t a, b;
    grant_ref_t ref;
    grant_entry_v1_t *e;
    _Atomic bool revoked;
    _Atomic int maps_after;
    _Atomic bool stop;
};

static void mapper_fn(void *p)
{
    struct race *r = p;
    while (!atomic_load(&r->stop)) {
        bool was_revoked = atomic_load(&r->revoked);
        gnttab_map_grant_ref_t op = { .flags = RW, .ref = r->ref, .dom = r->a };
        HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &op, 1);
        if (op.status != GNTST_okay)
            continue;
        if (was_revoked)
            atomic_fetch_add(&r->maps_after, 1);
        gnttab_unmap_grant_ref_t un = { .host_addr = op.host_addr, .handle = op.handle };
        HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &un, 1);
    }
}

static void *mapper_thread(void *p)
{
    struct race *r = p;
    th_call(r->sim, r->b, 0, mapper_fn, r);
    return NULL;
}

static void revoker_fn(void *p)
{
    struct race *r = p;
    for (int i = 0; i < 2000; i++) {
        xensim_gnttab_grant_access_ref(r->ref, r->b, r->e[r->ref].frame, false);
        while (xensim_gnttab_end_access(r->ref) == -EBUSY)
            sched_yield();
    }
    atomic_store(&r->revoked, true);
    for (int i = 0; i < 1000; i++)
        sched_yield();
}

START_TEST(revoke_races_map)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct race r = { .sim = f.sim, .a = f.a, .b = f.b, .ref = (grant_ref_t)g.ref, .e = g.ents };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, mapper_thread, &r), 0);
    th_call(f.sim, f.a, 0, revoker_fn, &r);
    atomic_store(&r.stop, true);
    pthread_join(t, NULL);
    ck_assert_int_eq(atomic_load(&r.maps_after), 0);
    ck_assert_int_eq(gt_flags(&g), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* Two vCPUs of one domain map and unmap batches of one ref at once, and
 * race to unmap the same handles: exactly one unmap of each succeeds. */
struct storm {
    struct xensim *sim;
    domid_t a, b;
    grant_ref_t ref;
    gnttab_map_grant_ref_t shared[8];
    _Atomic int phase;
    _Atomic int okays;
};

static void storm_fn(void *p)
{
    struct storm *s = p;
    for (int it = 0; it < 300; it++) {
        gnttab_map_grant_ref_t m[8];
        gnttab_unmap_grant_ref_t u[8];
        for (int i = 0; i < 8; i++)
            m[i] = (gnttab_map_grant_ref_t){ .flags = RO, .ref = s->ref, .dom = s->a };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, m, 8), 0);
        for (int i = 0; i < 8; i++) {
            ck_assert_int_eq(m[i].status, GNTST_okay);
            u[i] = (gnttab_unmap_grant_ref_t){ .host_addr = m[i].host_addr,
                                               .handle = m[i].handle };
        }
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, u, 8), 0);
        for (int i = 0; i < 8; i++)
            ck_assert_int_eq(u[i].status, GNTST_okay);
    }
    /* Both unmap the same eight handles. */
    gnttab_unmap_grant_ref_t u[8];
    for (int i = 0; i < 8; i++)
        u[i] = (gnttab_unmap_grant_ref_t){ .host_addr = s->shared[i].host_addr,
                                           .handle = s->shared[i].handle };
    atomic_fetch_add(&s->phase, 1);
    while (atomic_load(&s->phase) < 2)
        sched_yield();
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, u, 8), 0);
    for (int i = 0; i < 8; i++) {
        ck_assert(u[i].status == GNTST_okay || u[i].status == GNTST_bad_handle);
        if (u[i].status == GNTST_okay)
            atomic_fetch_add(&s->okays, 1);
    }
}

static void *storm_thread(void *p)
{
    struct storm *s = p;
    th_call(s->sim, s->b, 1, storm_fn, s);
    return NULL;
}

START_TEST(two_vcpus_storm)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, GT_MODE);
    struct xensim_domain_config cfg = { .name = "smp", .nr_vcpus = 2, .gnttab_mode = GT_MODE };
    domid_t b = th_domain_cfg(sim, &cfg);
    struct gt_grant g = gt_grant(sim, a, b, true);
    struct storm s = { .sim = sim, .a = a, .b = b, .ref = (grant_ref_t)g.ref };
    for (int i = 0; i < 8; i++)
        ck_assert_int_eq(gt_map(sim, b, a, g.ref, RO, &s.shared[i]), GNTST_okay);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, storm_thread, &s), 0);
    th_call(sim, b, 0, storm_fn, &s);
    pthread_join(t, NULL);
    ck_assert_int_eq(atomic_load(&s.okays), 8);
    ck_assert_uint_eq(gt_maptrack(sim, b), 0);
    ck_assert_uint_eq(gt_pins(sim, a), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly);
    gt_sim_free(sim);
}
END_TEST

/* A granter that keeps rewriting its entry (here: toggling a cache bit)
 * cannot keep the hypervisor spinning: every map ends, okay or
 * GNTST_general_error, and nothing is left pinned. */
struct flipper { grant_entry_v1_t *e; _Atomic bool stop; };

static void *flip_thread(void *p)
{
    struct flipper *fl = p;
    while (!atomic_load(&fl->stop))
        __atomic_fetch_xor(&fl->e->flags, GTF_PWT, __ATOMIC_SEQ_CST);
    return NULL;
}

struct unstable_run { domid_t a; grant_ref_t ref; int ok, failed; };

static void unstable_fn(void *p)
{
    struct unstable_run *r = p;
    for (int i = 0; i < 3000; i++) {
        gnttab_map_grant_ref_t m = { .flags = RW, .ref = r->ref, .dom = r->a };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
        if (m.status != GNTST_okay) {
            ck_assert_int_eq(m.status, GNTST_general_error);
            r->failed++;
            continue;
        }
        r->ok++;
        gnttab_unmap_grant_ref_t u = { .host_addr = m.host_addr, .handle = m.handle };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
        ck_assert_int_eq(u.status, GNTST_okay);
    }
}

START_TEST(unstable_entry_is_bounded)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct flipper fl = { .e = &g.ents[g.ref] };
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, flip_thread, &fl), 0);
    struct unstable_run r = { .a = f.a, .ref = (grant_ref_t)g.ref };
    th_call(f.sim, f.b, 0, unstable_fn, &r);
    atomic_store(&fl.stop, true);
    pthread_join(t, NULL);
    ck_assert_int_eq(r.ok + r.failed, 3000);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    ck_assert_int_eq(gt_flags(&g) & (GTF_reading | GTF_writing), 0);
    gt_sim_free(f.sim);
}
END_TEST

static Suite *life_suite(void)
{
    Suite *s = suite_create("gnttab_life");
    TCase *tc = tcase_create("death");
    tcase_add_loop_test(tc, granter_dies_while_mapped, 0, 2);
    tcase_add_loop_test(tc, grantee_dies_with_mappings, 0, 2);
    tcase_add_loop_test(tc, mutual_mappings_both_die, 0, 2);
    tcase_add_loop_test(tc, self_map_then_destroy, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostdev");
    tcase_add_loop_test(tc, hostdev_map_unmap, 0, 2);
    tcase_add_loop_test(tc, hostdev_granter_dies, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("faults");
    tcase_add_test(tc, strict_write_to_readonly_faults);
    tcase_add_test(tc, strict_access_after_unmap_faults);
    tcase_add_test(tc, strict_host_map_fails);
    tcase_add_test(tc, fast_readonly_is_not_enforced);
    suite_add_tcase(s, tc);
    tc = tcase_create("race");
    tcase_add_loop_test(tc, revoke_races_map, 0, 2);
    tcase_add_loop_test(tc, two_vcpus_storm, 0, 2);
    tcase_add_loop_test(tc, unstable_entry_is_bounded, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(life_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
