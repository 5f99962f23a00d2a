/*
 * The hostile peers of the network and console devices against the real
 * honest ends: the hostile vif back end (<xensim/hostile.h>) against
 * netfront, every kind. The honest end must fail the device or drop the
 * bad answer with an error, never crash or block; its domain lives; and
 * once the device is removed no port, grant, page or mapping is left.
 * Then the console pair: the hostile console front end against
 * xenconsoled, which must count and survive it and serve every other
 * console on, and the hostile console back end against the guest's
 * console driver, whose reads and writes must stay bounded or fail.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/console.h>
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

/* What netfront told the simulator it caught (xensim_protocol_violation),
 * or NULL for a kind that breaks no protocol netfront checks. */
static const struct {
    enum xensim_hostile_kind kind;
    void (*expect)(struct net *n);
    const char *violation;
} vif_back_cases[] = {
    { XENSIM_HOSTILE_MADE_UP_IDS, fails_the_device, "netfront: dom1 answered tx id " },
    /* Told once per ring netfront catches it on; the last is kept. */
    { XENSIM_HOSTILE_RSP_INDICES, fails_the_device, " rsp_prod " },
    { XENSIM_HOSTILE_NEVER_ANSWERS, never_answers, NULL },
    { XENSIM_HOSTILE_RX_OVERSIZE, rx_oversize, NULL },
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
    struct xensim_protocol_violation pv;
    uint64_t seen = xensim_protocol_violations(n.sim, &pv);
    if (vif_back_cases[_i].violation) {
        ck_assert_msg(seen >= 1, "netfront told of nothing");
        ck_assert_uint_eq(pv.domid, n.guest);
        ck_assert_msg(strstr(pv.what, vif_back_cases[_i].violation), "%s", pv.what);
    } else {
        ck_assert_uint_eq(seen, 0);
    }

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

struct cons {
    struct xensim *sim;
    domid_t rogue, honest;
    struct xensim_consoled *cd;
    enum xensim_hostile_kind kind;
    struct xensim_hostile_report rep;
    int rc;
    ssize_t n;
    char buf[8192];
    _Atomic int upcalls;
};

static void cons_attack(void *p)
{
    struct cons *c = p;
    c->rc = xensim_hostile_console_front_attack(c->kind, &c->rep);
}

static void cons_write(void *p)
{
    struct cons *c = p;
    c->n = xensim_console_write(c->buf, strlen(c->buf));
}

static void cons_try_write(void *p)
{
    struct cons *c = p;
    c->n = xensim_console_try_write(c->buf, strlen(c->buf));
}

static void cons_read(void *p)
{
    struct cons *c = p;
    c->n = xensim_console_read(c->buf, sizeof(c->buf) - 1);
    c->buf[c->n > 0 ? c->n : 0] = '\0';
}

/* One line through a domain's console to xenconsoled's log. */
static void cons_line(struct cons *c, domid_t d, const char *line)
{
    snprintf(c->buf, sizeof(c->buf), "%s", line);
    th_call(c->sim, d, 0, cons_write, c);
    ck_assert_int_eq(c->n, (ssize_t)strlen(line));
    ck_assert_int_eq(xensim_consoled_wait_for(c->cd, d, line, WAIT_MS), 0);
}

static const enum xensim_hostile_kind cons_kinds[] = { XENSIM_HOSTILE_EVENT_STORM,
                                                       XENSIM_HOSTILE_RING_INDICES };

/* A guest misusing its own console ring: xenconsoled counts what it
 * must, logs none of what the indices claim, and serves the rogue's
 * console (once honest again) and the other domain's. */
START_TEST(hostile_console_front)
{
    struct cons c = { .kind = cons_kinds[_i] };
    c.sim = th_sim_new();
    c.rogue = th_domain(c.sim, "rogue", false, XENSIM_GNTTAB_STRICT);
    c.honest = th_domain(c.sim, "honest", false, XENSIM_GNTTAB_STRICT);
    c.cd = xensim_consoled_start(c.sim, NULL);
    ck_assert_ptr_nonnull(c.cd);
    xensim_consoled_sync(c.cd);
    ck_assert_uint_eq(xensim_consoled_attached(c.cd), 2);
    cons_line(&c, c.honest, "before\n");
    th_call(c.sim, c.rogue, 0, cons_attack, &c);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_int_eq(c.rep.kind, c.kind);
    xensim_consoled_sync(c.cd);
    char log[256];
    switch (c.kind) {
    case XENSIM_HOSTILE_EVENT_STORM:
        /* Its line was taken while the storm went on: the daemon kept
         * making passes over every ring, not only draining events. */
        ck_assert_uint_ge(c.rep.notifications, 100000);
        ck_assert_uint_gt(c.rep.requests, 0);
        ck_assert_uint_eq(c.rep.responses, c.rep.requests);
        ck_assert_int_eq(xensim_consoled_log(c.cd, c.rogue, log, sizeof(log)),
                         (ssize_t)c.rep.requests);
        ck_assert_uint_eq(xensim_consoled_bad_indices(c.cd, c.rogue), 0);
        break;
    case XENSIM_HOSTILE_RING_INDICES: {
        /* Every claim refused: counted, nothing of it logged. */
        ck_assert_uint_eq(c.rep.requests, 2 * 64);
        ck_assert_uint_ge(xensim_consoled_bad_indices(c.cd, c.rogue), 1);
        ck_assert_int_eq(xensim_consoled_log(c.cd, c.rogue, log, sizeof(log)), 0);
        /* in_cons moved back: the daemon sees it when it has input to
         * give, counts it and writes from where the guest reads. */
        unsigned int before = xensim_consoled_bad_indices(c.cd, c.rogue);
        ck_assert_int_eq(xensim_consoled_input(c.cd, c.rogue, "hi", 2), 0);
        xensim_consoled_sync(c.cd);
        ck_assert_uint_gt(xensim_consoled_bad_indices(c.cd, c.rogue), before);
        th_call(c.sim, c.rogue, 0, cons_read, &c);
        ck_assert_str_eq(c.buf, "hi");
        break;
    }
    default:
        ck_abort_msg("kind %d has no expectation", (int)c.kind);
    }
    cons_line(&c, c.rogue, "recovered\n");
    cons_line(&c, c.honest, "unaffected\n");
    ck_assert_uint_eq(xensim_consoled_bad_indices(c.cd, c.honest), 0);
    ck_assert_uint_eq(xensim_consoled_attached(c.cd), 2);
    xensim_consoled_stop(c.cd);
    ck_assert_uint_eq(th_ports_in_use(c.sim, 0), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(c.sim, 0, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    th_sim_free_checked(c.sim);
}
END_TEST

static void cons_handler(void *arg)
{
    struct cons *c = arg;
    atomic_fetch_add(&c->upcalls, 1);
}

static void cons_bind(void *p)
{
    struct cons *c = p;
    c->rc = xensim_console_bind(cons_handler, c);
}

static void cons_unbind(void *p)
{
    struct cons *c = p;
    c->rc = xensim_console_bind(NULL, NULL);
}

/* A dom0 process misusing a guest's console ring: the guest's console
 * driver returns what the ring can hold or an error, never blocks, and
 * its domain lives. */
START_TEST(hostile_console_back)
{
    struct cons c = { .kind = cons_kinds[_i] };
    c.sim = th_sim_new();
    c.honest = th_domain(c.sim, "victim", false, XENSIM_GNTTAB_STRICT);
    struct xensim_hostile_console *hc = xensim_hostile_console_back_open(c.sim, c.honest);
    ck_assert_ptr_nonnull(hc);
    ck_assert_ptr_null(xensim_hostile_console_back_open(c.sim, 0));
    th_call(c.sim, c.honest, 0, cons_bind, &c);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_int_eq(xensim_hostile_console_back_attack(hc, c.kind, &c.rep), 0);
    ck_assert_int_eq(c.rep.kind, c.kind);
    switch (c.kind) {
    case XENSIM_HOSTILE_EVENT_STORM:
        /* The storm reaches the guest's handler; then the real line is
         * read whole, and output still goes. */
        ck_assert_uint_eq(c.rep.notifications, 100001);
        ck_assert_uint_gt(c.rep.requests, 0);
        ck_assert(xbt_wait_atomic(&c.upcalls, 1, WAIT_MS));
        th_call(c.sim, c.honest, 0, cons_read, &c);
        ck_assert_int_eq(c.n, (ssize_t)c.rep.requests);
        ck_assert_int_eq(c.buf[c.n - 1], '\n');
        snprintf(c.buf, sizeof(c.buf), "still writing\n");
        th_call(c.sim, c.honest, 0, cons_try_write, &c);
        ck_assert_int_eq(c.n, (ssize_t)strlen("still writing\n"));
        break;
    case XENSIM_HOSTILE_RING_INDICES:
        /* A read takes no more than the ring holds (it skips what no
         * ring can hold), and then nothing: the driver resynchronised. */
        ck_assert_uint_eq(c.rep.requests, 2);
        th_call(c.sim, c.honest, 0, cons_read, &c);
        ck_assert_int_ge(c.n, 0);
        ck_assert_int_le(c.n, 1024);
        th_call(c.sim, c.honest, 0, cons_read, &c);
        ck_assert_int_eq(c.n, 0);
        /* out_cons past out_prod: writes fail at once, also the one that
         * would otherwise wait for room. */
        snprintf(c.buf, sizeof(c.buf), "lost\n");
        th_call(c.sim, c.honest, 0, cons_try_write, &c);
        ck_assert_int_eq(c.n, -EIO);
        snprintf(c.buf, sizeof(c.buf), "lost\n");
        th_call(c.sim, c.honest, 0, cons_write, &c);
        ck_assert_int_eq(c.n, -EIO);
        break;
    default:
        ck_abort_msg("kind %d has no expectation", (int)c.kind);
    }
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(c.sim, c.honest, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    th_call(c.sim, c.honest, 0, cons_unbind, &c);
    ck_assert_int_eq(c.rc, 0);
    xensim_hostile_console_back_close(hc);
    ck_assert_uint_eq(th_ports_in_use(c.sim, 0), 0);
    ck_assert_int_eq(xensim_domain_info(c.sim, 0, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    th_sim_free_checked(c.sim);
}
END_TEST

START_TEST(hostile_console_other_kinds)
{
    struct cons c = { .kind = XENSIM_HOSTILE_MADE_UP_IDS };
    c.sim = th_sim_new();
    c.honest = th_domain(c.sim, "victim", false, XENSIM_GNTTAB_STRICT);
    th_call(c.sim, c.honest, 0, cons_attack, &c);
    ck_assert_int_eq(c.rc, -EINVAL);
    ck_assert_int_eq(xensim_hostile_console_front_attack(XENSIM_HOSTILE_EVENT_STORM, &c.rep),
                     -EPERM);
    struct xensim_hostile_console *hc = xensim_hostile_console_back_open(c.sim, c.honest);
    ck_assert_ptr_nonnull(hc);
    /* One back end a console: a second cannot bind its port. */
    ck_assert_ptr_null(xensim_hostile_console_back_open(c.sim, c.honest));
    ck_assert_int_eq(xensim_hostile_console_back_attack(hc, XENSIM_HOSTILE_KINDS, &c.rep),
                     -EINVAL);
    xensim_hostile_console_back_close(hc);
    ck_assert_uint_eq(th_ports_in_use(c.sim, 0), 0);
    th_sim_free_checked(c.sim);
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
    tc = tcase_create("console");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, hostile_console_front, 0,
                        (int)(sizeof(cons_kinds) / sizeof(cons_kinds[0])));
    tcase_add_loop_test(tc, hostile_console_back, 0,
                        (int)(sizeof(cons_kinds) / sizeof(cons_kinds[0])));
    tcase_add_test(tc, hostile_console_other_kinds);
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
