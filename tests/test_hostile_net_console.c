/*
 * The hostile peers of the network and console devices against the real
 * honest ends: the hostile vif back end (<xensim/hostile.h>) against
 * netfront, every kind. The honest end must fail the device or drop the
 * bad answer with an error, never crash or block; its domain lives; and
 * once the device is removed no port, grant, page or mapping is left.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/hostile.h>
#include <xensim/netif.h>
#include "test_xenbus_helpers.h"

#define WAIT_MS 10000   /* a safety net: the tests wait for behaviour */
#define FRAME 60

struct net {
    struct xensim *sim;
    domid_t be, guest;
    enum xensim_hostile_kind kind;
    uint8_t frame[FRAME], got[2048];
    int rc;                          /* the last send or receive */
    bool found, connected;
    unsigned int inflight, want_rx;
    struct xensim_netfront_stats st;
};

static void net_back_up(void *p)
{
    (void)p;
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_hostile_vif_back), 0);
}

static void net_back_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_hostile_vif_back, true);
}

static void net_front_up(void *p)
{
    (void)p;
    struct xensim_netfront_config c = { 0 };
    ck_assert_int_eq(xensim_vif_front_config(&c), 0);
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_vif_front), 0);
}

static void net_front_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vif_front, true);
    ck_assert_int_eq(xensim_vif_front_config(NULL), 0);
}

/* What netfront says now. */
static void net_look(void *p)
{
    struct net *n = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    n->found = nf != NULL;
    if (!nf)
        return;
    n->connected = xensim_netfront_connected(nf);
    n->inflight = xensim_netfront_tx_inflight(nf);
    xensim_netfront_stats(nf, &n->st);
}

static void net_send(void *p)
{
    struct net *n = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    n->rc = nf ? xensim_netfront_send(nf, n->frame, sizeof(n->frame)) : -ENODEV;
}

static void net_recv(void *p)
{
    struct net *n = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    n->rc = nf ? (int)xensim_netfront_recv(nf, n->got, sizeof(n->got)) : -ENODEV;
}

/* Until netfront's counters and state say done(n), or WAIT_MS. */
static void net_wait(struct net *n, bool (*done)(const struct net *))
{
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(n->sim, n->guest, net_look, n);
        if (done(n))
            return;
        xbt_sleep_ms(1);
    }
}

static bool failed(const struct net *n)
{
    return !n->connected;
}

static bool received(const struct net *n)
{
    return n->st.rx_packets >= n->want_rx;
}

static bool answered(const struct net *n)
{
    return n->inflight == 0;
}

/* Three lies, then the echo, per frame sent. */
static void rx_oversize(struct net *n)
{
    for (unsigned int round = 1; round <= 2; round++) {
        xbt_run(n->sim, n->guest, net_send, n);
        ck_assert_int_eq(n->rc, 0);
        n->want_rx = round;
        net_wait(n, received);
        xbt_run(n->sim, n->guest, net_recv, n);
        ck_assert_int_eq(n->rc, FRAME);
        ck_assert_mem_eq(n->got, n->frame, FRAME);
        net_wait(n, answered);
        ck_assert(n->connected);
        ck_assert_uint_eq(n->st.rx_packets, round);
        ck_assert_uint_eq(n->st.rx_errors, 3 * round);
        ck_assert_uint_eq(n->st.bad_responses, 3 * round);
        ck_assert_uint_eq(n->inflight, 0);
        n->frame[FRAME - 1]++;
    }
}

/* netfront fails the device: sends say so, nothing was received. */
static void fails_the_device(struct net *n)
{
    xbt_run(n->sim, n->guest, net_send, n);
    ck_assert_int_eq(n->rc, 0);
    net_wait(n, failed);
    ck_assert(!n->connected);
    ck_assert_uint_ge(n->st.bad_responses, 1);
    ck_assert_uint_eq(n->st.rx_packets, 0);
    xbt_run(n->sim, n->guest, net_send, n);
    ck_assert_int_eq(n->rc, -ENOTCONN);
    xbt_run(n->sim, n->guest, net_recv, n);
    ck_assert_int_eq(n->rc, -EAGAIN);
}

/* Every send buffer goes and none comes back: sends end with -EAGAIN,
 * never block, and the device stays up (Linux's waits too). */
static void never_answers(struct net *n)
{
    unsigned int sent = 0;
    for (;;) {
        xbt_run(n->sim, n->guest, net_send, n);
        if (n->rc)
            break;
        sent++;
    }
    ck_assert_int_eq(n->rc, -EAGAIN);
    ck_assert_uint_eq(sent, 64);              /* netfront's default buffers */
    xbt_run(n->sim, n->guest, net_look, n);
    ck_assert(n->connected);
    ck_assert_uint_eq(n->inflight, 64);
    ck_assert_uint_eq(n->st.bad_responses, 0);
    ck_assert_uint_eq(n->st.rx_packets, 0);
}

static const struct {
    enum xensim_hostile_kind kind;
    void (*expect)(struct net *n);
} vif_back_cases[] = {
    { XENSIM_HOSTILE_MADE_UP_IDS, fails_the_device },
    { XENSIM_HOSTILE_RSP_INDICES, fails_the_device },
    { XENSIM_HOSTILE_NEVER_ANSWERS, never_answers },
    { XENSIM_HOSTILE_RX_OVERSIZE, rx_oversize },
};

START_TEST(hostile_vif_back)
{
    struct net n = { .kind = vif_back_cases[_i].kind };
    for (unsigned int i = 0; i < FRAME; i++)
        n.frame[i] = i < 6 ? 0xff : (uint8_t)(i * 5 + 3);
    n.sim = xbt_sim_new();
    n.be = xbt_guest(n.sim, "evil-netdd");
    n.guest = xbt_guest(n.sim, "honest");
    xbt_run(n.sim, n.be, net_back_up, &n);
    xbt_run(n.sim, n.guest, net_front_up, &n);
    const char *fk[] = { "mac", "00:16:3e:00:00:07", NULL };
    const char *bk[] = { "mac", "00:16:3e:00:00:07", "hostile-kind",
                         xensim_hostile_name(n.kind), NULL };
    struct xensim_device_config dc = { .type = "vif", .frontend = n.guest, .backend = n.be,
                                       .devid = 0, .front_keys = fk, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(n.sim, &dc), 0);
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", n.guest);
    ck_assert(xbt_wait_value(n.sim, p, "4", WAIT_MS));
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vif/%u/0/state", n.be, n.guest);
    ck_assert(xbt_wait_value(n.sim, p, "4", WAIT_MS));
    for (int i = 0; i < WAIT_MS && !n.found; i++) {
        xbt_run(n.sim, n.guest, net_look, &n);
        if (!n.found)
            xbt_sleep_ms(1);
    }
    ck_assert(n.found);
    vif_back_cases[_i].expect(&n);

    ck_assert_int_eq(xensim_device_remove(n.sim, "vif", n.guest, 0, WAIT_MS), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(n.sim, n.guest, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    xbt_run(n.sim, n.guest, net_front_down, &n);
    xbt_run(n.sim, n.be, net_back_down, &n);
    ck_assert_uint_eq(th_ports_in_use(n.sim, n.guest), 0);
    ck_assert_uint_eq(th_ports_in_use(n.sim, n.be), 0);
    ck_assert_int_eq(xensim_domain_info(n.sim, n.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    ck_assert_int_eq(xensim_domain_info(n.sim, n.guest, &info), 0);
    ck_assert_uint_eq(info.grant_entries_in_use, 0);
    ck_assert_uint_eq(xbt_stats(n.sim, n.guest).deferred_grants, 0);
    xbt_sim_free(n.sim);
}
END_TEST

static void net_sync(void *p)
{
    struct net *n = p;
    char path[96];
    snprintf(path, sizeof(path), "backend/vif/%u/0", n->guest);
    n->rc = xensim_xenbus_exists(0, path);
}

/* A device whose hostile-kind is not a network back end's never leaves
 * the probe. */
START_TEST(hostile_vif_back_refuses_other_kinds)
{
    struct net n = { 0 };
    n.sim = xbt_sim_new();
    n.be = xbt_guest(n.sim, "evil-netdd");
    n.guest = xbt_guest(n.sim, "honest");
    xbt_run(n.sim, n.be, net_back_up, &n);
    const char *bk[] = { "hostile-kind", "event-storm", NULL };
    struct xensim_device_config dc = { .type = "vif", .frontend = n.guest, .backend = n.be,
                                       .devid = 0, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(n.sim, &dc), 0);
    /* A request of the back end's takes in the watch event for the new
     * device; its callback runs as the request leaves. */
    xbt_run(n.sim, n.be, net_sync, &n);
    ck_assert_int_eq(n.rc, 1);
    ck_assert_uint_eq(xbt_stats(n.sim, n.be).devices, 0);
    ck_assert_ptr_null(xbt_read(n.sim, "/local/domain/%u/backend/vif/%u/0/feature-rx-copy",
                                n.be, n.guest));
    ck_assert_int_eq(xensim_device_remove(n.sim, "vif", n.guest, 0, 100), -ETIMEDOUT);
    xbt_run(n.sim, n.be, net_back_down, &n);
    xbt_sim_free(n.sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("hostile_net_console");
    TCase *tc = tcase_create("vif");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, hostile_vif_back, 0, (int)(sizeof(vif_back_cases) /
                                                       sizeof(vif_back_cases[0])));
    tcase_add_test(tc, hostile_vif_back_refuses_other_kinds);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
