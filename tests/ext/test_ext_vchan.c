/*
 * Debian's real libxenvchan.so.4.17 between processes of simulated
 * domains, through the drop-in libraries (vchantest.c drives it): both
 * directions between dom0 and a domU, in-page and 16-page rings, MiBs
 * checked byte for byte; each side's SIGKILL seen by the other through
 * the unmap notification; two guests with no dom0 process in the path.
 * Every case ends with the teardown check.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xenbus.h>
#include "ext_fixture.h"

#define BULK "4194304"
#define LONG_WAIT 120000            /* ms: a safety net, not a timing */

static char vchantest[PATH_MAX];

struct side {
    domid_t domid;
    struct ext_proc p;
};

static void start_server(struct ext_fix *f, struct side *s, domid_t peer, const char *path,
                         const char *ring, const char *end)
{
    char peer_s[8];
    snprintf(peer_s, sizeof(peer_s), "%u", peer);
    char *argv[] = { vchantest, "server", peer_s, (char *)path, (char *)ring, (char *)ring,
                     BULK, (char *)end, NULL };
    ext_spawn(f, s->domid, argv, NULL, -1, false, &s->p);
    ck_assert_msg(ext_proc_line(&s->p, "listening", NULL, 0, LONG_WAIT), "server never listened");
}

static void start_client(struct ext_fix *f, struct side *s, domid_t peer, const char *path,
                         const char *end)
{
    char peer_s[8];
    snprintf(peer_s, sizeof(peer_s), "%u", peer);
    char *argv[] = { vchantest, "client", peer_s, (char *)path, BULK, (char *)end, NULL };
    ext_spawn(f, s->domid, argv, NULL, -1, false, &s->p);
}

static void parse(const char *line, const char *verb, unsigned long *n, char *sum)
{
    char fmt[32];
    snprintf(fmt, sizeof(fmt), "%s %%lu sum %%16s", verb);
    ck_assert_msg(sscanf(line, fmt, n, sum) == 2, "bad line '%s'", line);
}

/* Both streams crossed intact: each side's "sent" sum is the other's
 * "got" sum, and each receiver checked every byte ("ok"). */
static void expect_transfer(struct side *server, struct side *client)
{
    char l[4][128], sum[4][17];
    unsigned long n[4];
    ck_assert(ext_proc_line(&server->p, "sent ", l[0], sizeof(l[0]), LONG_WAIT));
    ck_assert(ext_proc_line(&client->p, "got ", l[1], sizeof(l[1]), LONG_WAIT));
    ck_assert(ext_proc_line(&client->p, "sent ", l[2], sizeof(l[2]), LONG_WAIT));
    ck_assert(ext_proc_line(&server->p, "got ", l[3], sizeof(l[3]), LONG_WAIT));
    for (int i = 0; i < 4; i++)
        parse(l[i], i % 2 ? "got" : "sent", &n[i], sum[i]);
    ck_assert(strstr(l[1], " ok") && strstr(l[3], " ok"));
    ck_assert_uint_eq(n[0], strtoul(BULK, NULL, 10));
    ck_assert_uint_eq(n[0], n[1]);
    ck_assert_uint_eq(n[2], n[3]);
    ck_assert_str_eq(sum[0], sum[1]);
    ck_assert_str_eq(sum[2], sum[3]);
}

/* Rows: which domain serves, ring size, and how it ends. */
static const struct {
    bool dom0_serves;
    const char *ring;
} rows[] = {
    { true, "0" },        /* in-page rings (orders 10 and 11) */
    { true, "65536" },    /* 16 pages each way: share_pages, map_domain_grant_refs */
    { false, "0" },
    { false, "65536" },
};

START_TEST(test_vchan_both_ways)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    struct side srv = { .domid = rows[_i].dom0_serves ? 0 : g };
    struct side cli = { .domid = rows[_i].dom0_serves ? g : 0 };
    char path[64];
    snprintf(path, sizeof(path), "/local/domain/%u/data/vchan", srv.domid);
    if (srv.domid) {
        /* As libxl makes it: the guest's own data directory. */
        struct xs_permissions p = { .id = srv.domid, .perms = XS_PERM_NONE };
        char dir[48];
        snprintf(dir, sizeof(dir), "/local/domain/%u/data", srv.domid);
        ck_assert_int_eq(xensim_xenstore_write(f.sim, dir, ""), 0);
        ck_assert_int_eq(xensim_xenstore_set_perms(f.sim, dir, &p, 1), 0);
    }

    start_server(&f, &srv, cli.domid, path, rows[_i].ring, "wait");
    start_client(&f, &cli, srv.domid, path, "close");
    expect_transfer(&srv, &cli);
    /* The client's close is seen by the server: cli_live cleared. */
    ck_assert(ext_proc_line(&srv.p, "peer closed", NULL, 0, LONG_WAIT));
    ck_assert_int_eq(ext_proc_wait(&cli.p), 0);
    ck_assert_int_eq(ext_proc_wait(&srv.p), 0);
    if (srv.domid) {
        char dir[48];
        snprintf(dir, sizeof(dir), "/local/domain/%u/data", srv.domid);
        ck_assert_int_eq(xensim_xenstore_rm(f.sim, dir), 0);
    }
    ext_fix_stop(&f);
}
END_TEST

/* SIGKILL of one side: the simulator ends what it held, clearing its
 * live byte and sending its event, and the other side sees it. */
START_TEST(test_vchan_sigkill)
{
    bool kill_client = _i == 0;
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_FAST);
    struct side srv = { .domid = 0 }, cli = { .domid = g };

    start_server(&f, &srv, g, "/local/domain/0/data/vchan", "65536",
                 kill_client ? "wait" : "hold");
    start_client(&f, &cli, 0, "/local/domain/0/data/vchan", kill_client ? "hold" : "wait");
    expect_transfer(&srv, &cli);
    struct side *victim = kill_client ? &cli : &srv, *other = kill_client ? &srv : &cli;
    ck_assert(ext_proc_line(&victim->p, "holding", NULL, 0, LONG_WAIT));
    ext_proc_kill(&victim->p, SIGKILL);
    ck_assert_int_eq(ext_proc_wait(&victim->p), 128 + SIGKILL);
    ck_assert(ext_proc_line(&other->p, "peer closed", NULL, 0, LONG_WAIT));
    ck_assert_int_eq(ext_proc_wait(&other->p), 0);
    if (!kill_client) {
        /* The killed server never removed its keys. */
        xensim_xenstore_rm(f.sim, "/local/domain/0/data");
    }
    ext_fix_stop(&f);
}
END_TEST

/* Two guests, no dom0 process: guest 1 serves, guest 2 connects. */
START_TEST(test_vchan_guest_to_guest)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t a = th_domain(f.sim, "left", false, XENSIM_GNTTAB_STRICT);
    domid_t b = th_domain(f.sim, "right", false, XENSIM_GNTTAB_FAST);
    struct side srv = { .domid = a }, cli = { .domid = b };
    struct xs_permissions p = { .id = a, .perms = XS_PERM_NONE };
    char dir[48], path[64];

    snprintf(dir, sizeof(dir), "/local/domain/%u/data", a);
    snprintf(path, sizeof(path), "%s/vchan", dir);
    ck_assert_int_eq(xensim_xenstore_write(f.sim, dir, ""), 0);
    ck_assert_int_eq(xensim_xenstore_set_perms(f.sim, dir, &p, 1), 0);
    start_server(&f, &srv, b, path, "65536", "wait");
    start_client(&f, &cli, a, path, "close");
    expect_transfer(&srv, &cli);
    ck_assert(ext_proc_line(&srv.p, "peer closed", NULL, 0, LONG_WAIT));
    ck_assert_int_eq(ext_proc_wait(&cli.p), 0);
    ck_assert_int_eq(ext_proc_wait(&srv.p), 0);
    ck_assert_int_eq(xensim_xenstore_rm(f.sim, dir), 0);
    ext_fix_stop(&f);
}
END_TEST

static Suite *vchan_suite(void)
{
    Suite *s = suite_create("ext_vchan");
    TCase *t = tcase_create("vchan");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, test_vchan_both_ways, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_loop_test(t, test_vchan_sigkill, 0, 2);
    tcase_add_test(t, test_vchan_guest_to_guest);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    ext_built("tests/ext/vchantest", vchantest, sizeof(vchantest));
    SRunner *sr = srunner_create(vchan_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
