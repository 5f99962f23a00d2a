/*
 * The teardown check itself (harness.c): clean simulations pass it, and
 * each kind of thing a test can leave behind is named. Public API only.
 */
#include <errno.h>
#include <string.h>
#include "harness.h"
#include <xensim/xenbus.h>

struct leak_ctx {
    domid_t peer;
    long port, ref;
    xen_pfn_t pfn;
    grant_handle_t handle;
    uint64_t addr;
    struct xensim_xenbus_watch watch;
};

/* Fails unless the check finds a leak whose description has `what`. */
static void expect_leak(struct xensim *sim, const char *what)
{
    char why[256] = "";

    ck_assert_msg(th_find_leak(sim, why, sizeof(why)), "no leak found, expected '%s'", what);
    ck_assert_msg(strstr(why, what), "found '%s', expected '%s'", why, what);
}

static void expect_clean(struct xensim *sim)
{
    char why[256] = "";

    ck_assert_msg(!th_find_leak(sim, why, sizeof(why)), "unexpected leak: %s", why);
}

static void alloc_port(void *p)
{
    struct leak_ctx *c = p;
    c->port = xensim_evtchn_alloc_unbound(0);
    ck_assert_int_gt(c->port, 0);
}

static void close_port(void *p)
{
    struct leak_ctx *c = p;
    ck_assert_int_eq(xensim_evtchn_close((evtchn_port_t)c->port), 0);
}

START_TEST(port_left_bound)
{
    struct xensim *sim = th_sim_new();
    struct leak_ctx c = { 0 };
    domid_t g = th_domain(sim, "g", false, XENSIM_GNTTAB_STRICT);

    expect_clean(sim);
    th_call(sim, g, 0, alloc_port, &c);
    expect_leak(sim, "leaks port");
    th_call(sim, g, 0, close_port, &c);
    th_sim_free_checked(sim);
}
END_TEST

static void alloc_page(void *p)
{
    struct leak_ctx *c = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&c->pfn), 0);
}

static void free_page(void *p)
{
    struct leak_ctx *c = p;
    xensim_guest_page_free(c->pfn);
}

START_TEST(page_left_allocated)
{
    struct xensim *sim = th_sim_new();
    struct leak_ctx c = { 0 };
    domid_t g = th_domain(sim, "g", false, XENSIM_GNTTAB_FAST);

    th_call(sim, g, 0, alloc_page, &c);
    expect_leak(sim, "leaks 1 pages");
    th_call(sim, g, 0, free_page, &c);
    /* A page freed twice is freed once. */
    th_call(sim, g, 0, free_page, &c);
    th_sim_free_checked(sim);
}
END_TEST

static void grant_page(void *p)
{
    struct leak_ctx *c = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&c->pfn), 0);
    c->ref = xensim_gnttab_grant_access(c->peer, c->pfn, false);
    ck_assert_int_ge(c->ref, 8);
    /* The entry stays: only it is left behind. */
    xensim_guest_page_free(c->pfn);
}

static void end_grant(void *p)
{
    struct leak_ctx *c = p;
    ck_assert_int_eq(xensim_gnttab_end_access((grant_ref_t)c->ref), 0);
    xensim_gnttab_free_ref((grant_ref_t)c->ref);
}

START_TEST(grant_entry_left)
{
    struct xensim *sim = th_sim_new();
    domid_t g = th_domain(sim, "granter", false, XENSIM_GNTTAB_STRICT);
    struct leak_ctx c = { .peer = 0 };

    th_call(sim, g, 0, grant_page, &c);
    expect_leak(sim, "dom1 leaks 1 grant entries");
    th_call(sim, g, 0, end_grant, &c);
    th_sim_free_checked(sim);
}
END_TEST

static void map_grant(void *p)
{
    struct leak_ctx *c = p;
    struct gnttab_map_grant_ref m = {
        .flags = GNTMAP_host_map, .ref = (grant_ref_t)c->ref, .dom = c->peer,
    };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    ck_assert_int_eq(m.status, GNTST_okay);
    c->handle = m.handle;
    c->addr = m.host_addr;
}

static void unmap_grant(void *p)
{
    struct leak_ctx *c = p;
    struct gnttab_unmap_grant_ref u = { .host_addr = c->addr, .handle = c->handle };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    ck_assert_int_eq(u.status, GNTST_okay);
}

/* With no xenstored, nobody may map a guest's store ring at the end. */
START_TEST(mapping_left)
{
    struct xensim *sim = th_sim_new();
    domid_t g = th_domain(sim, "granter", false, XENSIM_GNTTAB_STRICT);
    struct leak_ctx c = { .peer = g, .ref = GNTTAB_RESERVED_XENSTORE };

    th_call(sim, 0, 0, map_grant, &c);
    expect_leak(sim, "dom1's grant ref 1 is still mapped by dom0 (0 read, 1 write pins)");
    /* Destroyed while mapped: it lingers, and that is a leak too. */
    ck_assert_int_eq(xensim_domain_destroy(sim, g), 0);
    expect_leak(sim, "dom1 was destroyed but lingers");
    th_call(sim, 0, 0, unmap_grant, &c);
    ck_assert_int_eq(xensim_domain_info(sim, g, &(struct xensim_domain_info){ 0 }), -ESRCH);
    th_sim_free_checked(sim);
}
END_TEST

static void on_watch(struct xensim_xenbus_watch *w, const char *path, const char *token)
{
    (void)w;
    (void)path;
    (void)token;
}

static void watch_fn(void *p)
{
    struct leak_ctx *c = p;
    c->watch = (struct xensim_xenbus_watch){ .node = "device", .callback = on_watch };
    ck_assert_int_eq(xensim_xenbus_watch(&c->watch), 0);
}

static void unwatch_fn(void *p)
{
    struct leak_ctx *c = p;
    ck_assert_int_eq(xensim_xenbus_unwatch(&c->watch), 0);
}

/* xenstored's own port and mapping for a guest are allowed; a watch is not. */
START_TEST(xenstore_watch_left)
{
    struct xensim *sim = th_sim_new();
    struct leak_ctx c = { 0 };

    ck_assert_int_eq(xensim_xenstore_start(sim, NULL), 0);
    domid_t g = th_domain(sim, "watcher", false, XENSIM_GNTTAB_STRICT);
    expect_clean(sim);
    th_call(sim, g, 0, watch_fn, &c);
    expect_leak(sim, "xenstored holds 1 watches");
    th_call(sim, g, 0, unwatch_fn, &c);
    th_sim_free_checked(sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("teardown-check");
    tcase_add_test(tc, port_left_bound);
    tcase_add_test(tc, page_left_allocated);
    tcase_add_test(tc, grant_entry_left);
    tcase_add_test(tc, mapping_left);
    tcase_add_test(tc, xenstore_watch_left);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
