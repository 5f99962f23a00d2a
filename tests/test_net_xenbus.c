/*
 * The "vif" device type through the xenbus framework: the toolstack adds
 * the device, netback and netfront walk the states of <xen/io/netif.h> and carry
 * frames; unplug and a guest dying mid-traffic tear down cleanly. Uses the
 * xenbus test helpers and include/xensim/netif.h.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>
#include <xensim/netif.h>
#include "test_xenbus_helpers.h"

#define WAIT_MS 10000

struct env {
    struct xensim *sim;
    domid_t be, a, b, c;
    struct xensim_netback *nb;
    int rc;
};

static void back_up(void *p)
{
    struct env *e = p;
    struct xensim_netback_config cfg = { 0 };
    ck_assert_int_eq(xensim_netback_create(&cfg, &e->nb), 0);
    ck_assert_int_eq(xensim_vif_back_attach(e->nb), 0);
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_vif_back), 0);
}

static void back_down(void *p)
{
    struct env *e = p;
    bool graceful = true;
    xensim_xenbus_backend_unregister(&xensim_vif_back, graceful);
    ck_assert_int_eq(xensim_netback_nr_vifs(e->nb), 0);
    ck_assert_int_eq(xensim_vif_back_attach(NULL), 0);
    ck_assert_int_eq(xensim_netback_destroy(e->nb), 0);
    e->nb = NULL;
}

static void front_up(void *p)
{
    (void)p;
    struct xensim_netfront_config cfg = { .sg = true };
    ck_assert_int_eq(xensim_vif_front_config(&cfg), 0);
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_vif_front), 0);
}

static void front_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vif_front, true);
    ck_assert_int_eq(xensim_vif_front_config(NULL), 0);
}

static void add_vif(struct env *e, domid_t fe, const char *mac)
{
    const char *keys[] = { "mac", mac, NULL };
    struct xensim_device_config cfg = {
        .type = "vif", .frontend = fe, .backend = e->be, .devid = 0,
        .front_keys = keys, .back_keys = keys,
    };
    ck_assert_int_eq(xensim_device_add(e->sim, &cfg), 0);
}

static bool wait_state(struct env *e, const char *fmt, domid_t d1, domid_t d2, const char *want)
{
    char p[160];
    snprintf(p, sizeof(p), fmt, d1, d2);
    return xbt_wait_value(e->sim, p, want, WAIT_MS);
}

struct io {
    uint8_t frame[1514];
    size_t len;
    int rc;
};

static void send_fn(void *p)
{
    struct io *io = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    io->rc = nf ? xensim_netfront_send(nf, io->frame, io->len) : -ENODEV;
}

static void recv_fn(void *p)
{
    struct io *io = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    ssize_t n = nf ? xensim_netfront_recv(nf, io->frame, sizeof(io->frame)) : -ENODEV;
    io->rc = n < 0 ? (int)n : 0;
    io->len = n > 0 ? (size_t)n : 0;
}

static void send_retry(struct env *e, domid_t d, struct io *io)
{
    for (int i = 0; i < 100000; i++) {
        xbt_run(e->sim, d, send_fn, io);
        if (io->rc != -EAGAIN)
            break;
        usleep(100);
    }
    ck_assert_int_eq(io->rc, 0);
}

static ssize_t recv_wait(struct env *e, domid_t d, struct io *io)
{
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e->sim, d, recv_fn, io);
        if (io->rc != -EAGAIN)
            return io->rc ? io->rc : (ssize_t)io->len;
        usleep(1000);
    }
    return -EAGAIN;
}

static void frame(struct io *io, uint8_t to, uint8_t from, size_t len)
{
    uint8_t hdr[14] = { 0x00, 0x16, 0x3e, 0x00, 0x00, to, 0x00, 0x16, 0x3e, 0x00, 0x00, from,
                        0x88, 0xb5 };
    memcpy(io->frame, hdr, 14);
    for (size_t i = 14; i < len; i++)
        io->frame[i] = (uint8_t)(i ^ to);
    io->len = len;
}

static void env_up(struct env *e)
{
    memset(e, 0, sizeof(*e));
    e->sim = xbt_sim_new();
    e->be = xbt_guest(e->sim, "netdd");
    e->a = xbt_guest(e->sim, "guest-a");
    e->b = xbt_guest(e->sim, "guest-b");
    xbt_run(e->sim, e->be, back_up, e);
    xbt_run(e->sim, e->a, front_up, e);
    xbt_run(e->sim, e->b, front_up, e);
    add_vif(e, e->a, "00:16:3e:00:00:0a");
    add_vif(e, e->b, "00:16:3e:00:00:0b");
    for (int i = 0; i < 2; i++) {
        domid_t fe = i ? e->b : e->a;
        bool ok = wait_state(e, "/local/domain/%u/device/vif/%u/state", fe, 0, "4");
        if (!ok)
            fprintf(stderr, "front %s back %s\n",
                    xbt_read(e->sim, "/local/domain/%u/device/vif/0/state", fe),
                    xbt_read(e->sim, "/local/domain/%u/backend/vif/%u/0/state", e->be, fe));
        ck_assert(ok);
        ck_assert(wait_state(e, "/local/domain/%u/backend/vif/%u/0/state", e->be, fe, "4"));
    }
}

/* Grants a torn-down front end's back end still mapped wait on the
 * domain's deferred list until it unmaps (when it sees the front end
 * Closed); the client's stats retry them. */
static bool wait_no_deferred(struct env *e, domid_t d)
{
    for (int i = 0; i < WAIT_MS; i++) {
        if (xbt_stats(e->sim, d).deferred_grants == 0)
            return true;
        usleep(1000);
    }
    return false;
}

START_TEST(vif_handshake_and_traffic)
{
    struct env e;
    env_up(&e);
    ck_assert_str_eq(xbt_read(e.sim, "/local/domain/%u/device/vif/0/request-rx-copy", e.a), "1");
    ck_assert_str_eq(xbt_read(e.sim, "/local/domain/%u/backend/vif/%u/0/feature-rx-copy", e.be, e.a), "1");
    ck_assert_str_eq(xbt_read(e.sim, "/local/domain/%u/backend/vif/%u/0/feature-sg", e.be, e.a), "1");

    static struct io io, got;
    for (unsigned int i = 0; i < 50; i++) {
        frame(&io, 0x0b, 0x0a, 60 + i * 29);
        send_retry(&e, e.a, &io);
        ck_assert_int_eq(recv_wait(&e, e.b, &got), (ssize_t)io.len);
        ck_assert(memcmp(got.frame, io.frame, io.len) == 0);
    }
    frame(&io, 0x0a, 0x0b, 1514);
    send_retry(&e, e.b, &io);
    ck_assert_int_eq(recv_wait(&e, e.a, &got), 1514);

    /* A third guest, so that b has a peer once a is gone. */
    e.c = xbt_guest(e.sim, "guest-c");
    xbt_run(e.sim, e.c, front_up, &e);
    add_vif(&e, e.c, "00:16:3e:00:00:0c");
    ck_assert(wait_state(&e, "/local/domain/%u/device/vif/%u/state", e.c, 0, "4"));
    ck_assert(wait_state(&e, "/local/domain/%u/backend/vif/%u/0/state", e.be, e.c, "4"));

    /* Unplug a: the back end closes, b keeps working: its frames reach c
     * and c's reach it. */
    ck_assert_int_eq(xensim_device_remove(e.sim, "vif", e.a, 0, WAIT_MS), 0);
    frame(&io, 0x0c, 0x0b, 100);
    send_retry(&e, e.b, &io);
    ck_assert_int_eq(recv_wait(&e, e.c, &got), 100);
    ck_assert(memcmp(got.frame, io.frame, 100) == 0);
    frame(&io, 0x0b, 0x0c, 700);
    send_retry(&e, e.c, &io);
    ck_assert_int_eq(recv_wait(&e, e.b, &got), 700);
    ck_assert(memcmp(got.frame, io.frame, 700) == 0);
    /* Front ends first, while the back end still maps their rings. */
    xbt_run(e.sim, e.c, front_down, &e);
    xbt_run(e.sim, e.b, front_down, &e);
    xbt_run(e.sim, e.a, front_down, &e);
    domid_t all[] = { e.be, e.a, e.b, e.c };
    for (int i = 1; i < 4; i++)
        ck_assert(wait_no_deferred(&e, all[i]));
    xbt_run(e.sim, e.be, back_down, &e);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(th_ports_in_use(e.sim, all[i]), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(e.sim);
}
END_TEST

START_TEST(vif_guest_dies_mid_traffic)
{
    struct env e;
    env_up(&e);
    static struct io io;
    for (unsigned int i = 0; i < 20; i++) {
        frame(&io, 0x0b, 0x0a, 1000);
        send_retry(&e, e.a, &io);
    }
    ck_assert_int_eq(xensim_domain_destroy(e.sim, e.b), 0);
    /* The framework sees b's directory go and the back end tears down. */
    ck_assert(wait_state(&e, "/local/domain/%u/backend/vif/%u/0/state", e.be, e.b, "6"));
    for (unsigned int i = 0; i < 20; i++) {
        frame(&io, 0x0b, 0x0a, 1000);
        send_retry(&e, e.a, &io);
    }
    struct xensim_domain_info info;
    for (int i = 0; i < WAIT_MS; i++) {
        ck_assert_int_eq(xensim_domain_info(e.sim, e.be, &info), 0);
        if (info.maptrack_in_use == 2)
            break;
        usleep(1000);
    }
    ck_assert_uint_eq(info.maptrack_in_use, 2);   /* a's rings only */
    xbt_run(e.sim, e.a, front_down, &e);
    ck_assert(wait_no_deferred(&e, e.a));
    xbt_run(e.sim, e.be, back_down, &e);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.a), 0);
    ck_assert_uint_eq(th_ports_in_use(e.sim, e.be), 0);
    xbt_sim_free(e.sim);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("net_xenbus");
    TCase *tc = tcase_create("vif");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, vif_handshake_and_traffic);
    tcase_add_test(tc, vif_guest_dies_mid_traffic);
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
