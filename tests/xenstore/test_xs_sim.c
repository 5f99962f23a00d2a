/*
 * The daemon inside the simulator, through its public API only: it runs
 * over the hostdev binding of dom0, this test plays the toolstack (the
 * home and XS_INTRODUCE over a dom0 connection), guest code on a vCPU
 * talks on its store ring, and the daemon learns of the shutdown and the
 * death from VIRQ_DOM_EXC as C xenstored does: @releaseDomain once for
 * the shutdown, and at death the release, after which the zombie domain
 * goes. Nothing is left behind.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include <xensim/xenstored.h>
#include "xs_guest_ring.h"
#include "../harness.h"

#define P(s) s, sizeof(s) - 1
#define WAIT_MS 5000

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

/* One request as dom0; returns the reply type, its body in buf. */
static uint32_t req(struct xensim_xenstored_conn *c, uint32_t type, const char *p, size_t len,
                    char *buf, size_t size)
{
    struct xsd_sockmsg h;

    ck_assert_int_ge(xensim_xenstored_local_request(c, type, 0, p, len, &h, buf, size), 0);
    return h.type;
}

static void req_ok(struct xensim_xenstored_conn *c, uint32_t type, const char *p, size_t len)
{
    char buf[64];

    ck_assert_uint_eq(req(c, type, p, len, buf, sizeof(buf)), type);
}

/* The next watch event's path, waiting for the loop thread to queue it. */
static const char *next_event(struct xensim_xenstored_conn *c, char *buf, size_t size)
{
    for (int i = 0; i < WAIT_MS; i++) {
        if (xensim_xenstored_local_event(c, buf, size) >= 0)
            return buf;
        usleep(1000);
    }
    return NULL;
}

/* The home and the introduction, as the toolstack makes them. */
static void toolstack_introduce(struct xensim *sim, struct xensim_xenstored_conn *c0, domid_t d)
{
    struct xensim_domain_info info;
    char p[128];
    int n;

    ck_assert_int_eq(xensim_domain_info(sim, d, &info), 0);
    n = snprintf(p, sizeof(p), "/local/domain/%u", d) + 1;
    req_ok(c0, XS_MKDIR, p, n);
    n += snprintf(p + n, sizeof(p) - n, "n0") + 1;
    n += snprintf(p + n, sizeof(p) - n, "r%u", d) + 1;
    req_ok(c0, XS_SET_PERMS, p, n);
    n = snprintf(p, sizeof(p), "/local/domain/%u/name%c%s", d, 0, info.name);
    req_ok(c0, XS_WRITE, p, n);
    n = snprintf(p, sizeof(p), "%u%c%lu%c%u", d, 0, (unsigned long)info.store_pfn, 0,
                 info.store_port) + 1;
    req_ok(c0, XS_INTRODUCE, p, n);
}

static bool introduced(struct xensim_xenstored_conn *c0, domid_t d)
{
    char p[16], buf[8];
    int n = snprintf(p, sizeof(p), "%u", d) + 1;

    ck_assert_uint_eq(req(c0, XS_IS_DOMAIN_INTRODUCED, p, n, buf, sizeof(buf)),
                      XS_IS_DOMAIN_INTRODUCED);
    return !strcmp(buf, "T");
}

START_TEST(test_sim_ring)
{
    struct xensim_config scfg = { .quiet = true };
    struct xensim *sim = xensim_create(&scfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true }, g = { .name = "g" };
    struct xensim_xenstored_config xcfg = { .sim = sim, .quiet = true };
    struct xensim_xenstored *xsd;
    struct xensim_xenstored_conn *c0;
    struct xensim_xenstored_stats st;
    struct xensim_domain_info info;
    struct call c;
    char buf[256];
    int dom, rc = 0;

    ck_assert_ptr_nonnull(sim);
    /* xenstored runs in dom0: without it there is nowhere to run. */
    ck_assert_ptr_null(xensim_xenstored_create(&xcfg));
    ck_assert_int_eq(errno, ESRCH);
    ck_assert_int_eq(xensim_domain_create(sim, &d0), 0);
    xsd = xensim_xenstored_create(&xcfg);
    ck_assert_ptr_nonnull(xsd);
    ck_assert_int_eq(xensim_xenstored_start(xsd), 0);
    c0 = xensim_xenstored_local_open(xsd, 0);
    ck_assert_ptr_nonnull(c0);
    req_ok(c0, XS_WATCH, P("@releaseDomain\0r\0"));
    ck_assert_str_eq(next_event(c0, buf, sizeof(buf)), "@releaseDomain");

    dom = xensim_domain_create(sim, &g);
    ck_assert_int_gt(dom, 0);
    toolstack_introduce(sim, c0, dom);
    ck_assert_int_eq(xensim_domain_unpause(sim, dom), 0);
    ck_assert(introduced(c0, dom));
    ck_assert_uint_eq(on_guest(sim, dom, XS_READ, P("name\0"), &c), XS_READ);
    ck_assert_str_eq(c.out, "g");
    ck_assert_uint_eq(on_guest(sim, dom, XS_WRITE, P("/x\0" "1"), &c), XS_ERROR);
    ck_assert_str_eq(c.out, "EACCES");
    ck_assert_uint_eq(on_guest(sim, dom, XS_WATCH, P("domid\0t\0"), &c), XS_WATCH);

    /* The shutdown fires @releaseDomain once; the domain stays served
     * until it dies. */
    ck_assert_int_eq(xensim_domain_shutdown(sim, dom, SHUTDOWN_poweroff), 0);
    ck_assert_ptr_nonnull(next_event(c0, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "@releaseDomain");
    ck_assert(introduced(c0, dom));
    /* Death is the daemon's to notice: the domain lingers dying while
     * xenstored maps its ring, then goes. */
    ck_assert_int_eq(xensim_domain_destroy(sim, dom), 0);
    ck_assert_ptr_nonnull(next_event(c0, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "@releaseDomain");
    ck_assert(!introduced(c0, dom));
    /* As C xenstored, the daemon leaves the home the toolstack made (it is
     * dom0's); the toolstack removes it, as libxl does: here, the test. */
    snprintf(buf, sizeof(buf), "/local/domain/%d", dom);
    ck_assert_uint_eq(req(c0, XS_READ, buf, strlen(buf) + 1, buf, sizeof(buf)), XS_READ);
    snprintf(buf, sizeof(buf), "/local/domain/%d", dom);
    ck_assert_uint_eq(req(c0, XS_RM, buf, strlen(buf) + 1, buf, sizeof(buf)), XS_RM);
    for (int i = 0; i < WAIT_MS && (rc = xensim_domain_info(sim, dom, &info)) == 0; i++)
        usleep(1000);
    ck_assert_int_eq(rc, -ESRCH);
    ck_assert_int_eq(xensim_xenstored_local_event(c0, buf, sizeof(buf)), -EAGAIN);
    xensim_xenstored_local_close(c0);
    xensim_xenstored_stats(xsd, &st);
    ck_assert_uint_eq(st.conns, 0);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.domains, 0);
    xensim_xenstored_destroy(xsd);
    /* The daemon's handles are closed: dom0 must hold nothing of the
     * guest's (ports, mappings) any more. */
    th_sim_free_checked(sim);
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
