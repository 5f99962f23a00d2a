/*
 * The daemon inside the simulator: domains are introduced at build over
 * the real hostdev binding (xs_hostdev.c), guest code on a vCPU talks on
 * its store ring, and at death the domain is released: its home goes and
 * @releaseDomain fires. Nothing is left behind.
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include "xs_test.h"
#include "xs_guest_ring.h"

struct call {
    uint32_t type, len;
    const char *p;
    size_t plen;
    char out[XENSTORE_PAYLOAD_MAX + 1];
};

static void guest_req(void *arg)
{
    struct call *c = arg;

    c->type = xg_req(c->type, c->p, c->plen, c->out, &c->len);
}

static uint32_t on_guest(struct xensim *sim, domid_t d, uint32_t type, const char *p, size_t n,
                         struct call *c)
{
    c->type = type;
    c->p = p;
    c->plen = n;
    ck_assert_int_eq(xensim_domain_call(sim, d, 0, guest_req, c), 0);
    return c->type;
}

START_TEST(test_sim_ring)
{
    struct xensim_config scfg = { .quiet = true };
    struct xensim *sim = xensim_create(&scfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true }, g = { .name = "g" };
    struct xs_daemon_config xcfg = { .ring_ops = &xs_hostdev_ops, .quiet = true };
    struct xs_hostdev *hd;
    struct xs_daemon *xs;
    struct xs_conn *c0;
    struct xensim_xenstored_stats st;
    struct call c;
    char buf[256];
    int dom;

    ck_assert_ptr_nonnull(sim);
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    hd = xs_hostdev_open(sim);
    ck_assert_ptr_nonnull(hd);
    xcfg.ring_ctx = hd;
    xs = xs_daemon_create(&xcfg);
    ck_assert_int_eq(xs_daemon_start(xs), 0);
    ck_assert_int_eq(xs_sim_attach(sim, xs), 0);
    c0 = xs_local_open(xs, 0);
    xt_expect(c0, XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);

    dom = xensim_domain_create(sim, &g);
    ck_assert_int_gt(dom, 0);
    ck_assert_int_eq(xensim_domain_unpause(sim, dom), 0);
    snprintf(buf, sizeof(buf), "%d", dom);
    xt_expect(c0, XS_IS_DOMAIN_INTRODUCED, 0, buf, strlen(buf) + 1, XS_IS_DOMAIN_INTRODUCED,
              "T", 2, "introduced");
    ck_assert_uint_eq(on_guest(sim, dom, XS_READ, XT_P("name\0"), &c), XS_READ);
    ck_assert_str_eq(c.out, "g");
    ck_assert_uint_eq(on_guest(sim, dom, XS_WRITE, XT_P("/x\0" "1"), &c), XS_ERROR);
    ck_assert_str_eq(c.out, "EACCES");
    ck_assert_uint_eq(on_guest(sim, dom, XS_WATCH, XT_P("domid\0t\0"), &c), XS_WATCH);

    /* Shutdown (VIRQ_DOM_EXC) fires @releaseDomain once; death again. */
    ck_assert_int_eq(xensim_domain_shutdown(sim, dom, SHUTDOWN_poweroff), 0);
    for (int i = 0; i < 5000 && xs_local_event(c0, buf, sizeof(buf)) < 0; i++)
        usleep(1000);
    ck_assert_str_eq(buf, "@releaseDomain");
    ck_assert_int_eq(xensim_domain_destroy(sim, dom), 0);
    ck_assert_int_ge(xs_local_event(c0, buf, sizeof(buf)), 0);
    ck_assert_str_eq(buf, "@releaseDomain");
    snprintf(buf, sizeof(buf), "/local/domain/%d", dom);
    ck_assert_int_eq(xt_read(c0, 0, buf, buf, sizeof(buf)), -1);
    xs_local_close(c0);
    xs_daemon_stats(xs, &st);
    ck_assert_uint_eq(st.conns, 0);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.domains, 0);
    xs_sim_detach(sim);
    xs_daemon_destroy(xs);
    xs_hostdev_close(hd);
    xensim_destroy(sim);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xenstore in the simulator");
    TCase *tc = tcase_create("sim");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_sim_ring);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
