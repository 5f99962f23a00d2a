/*
 * Unit suites for the daemon's modules: paths, permission lists, the RCU
 * tree (with lock-free readers racing a writer), directory paging and
 * size limits, transactions, quotas and domain clean-up.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "xs_test.h"
#include "xs_internal.h"

/* Paths, with C xenstored 4.17's canonicalize() and is_valid_nodename(). */
START_TEST(test_path)
{
    struct xt t;
    char out[XS_PATH_BUF], in[XS_PATH_BUF + 10], big[XENSTORE_PAYLOAD_MAX + 64];

    xt_setup(&t, NULL);
    ck_assert_int_eq(xs_path_canon(t.c[1], "a/b", out, false), 0);
    ck_assert_str_eq(out, "/local/domain/1/a/b");
    ck_assert_int_eq(xs_path_canon(t.c[0], "/", out, false), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a-b_c@9", out, false), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "@releaseDomain", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "@releaseDomain", out, true), 0);
    /* do_watch() takes any "@name". */
    ck_assert_int_eq(xs_path_canon(t.c[0], "@other", out, true), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a/", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a//b", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a.b", out, false), -EINVAL);
    /* Length: "strlen(node) > local_off + quota_max_path_len" refused,
     * local_off the length of a "/local/domain/%5u/" prefix. */
    memset(in, 'x', sizeof(in));
    in[0] = '/';
    in[XENSTORE_REL_PATH_MAX] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), 0);
    in[XENSTORE_REL_PATH_MAX] = 'x';
    in[XENSTORE_REL_PATH_MAX + 1] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), -EINVAL);
    /* A relative one gets the home's prefix free: 2048 fit, not 2049. */
    ck_assert_int_eq(xs_path_canon(t.c[0], in + 1, out, false), 0);
    in[XENSTORE_REL_PATH_MAX + 1] = 'x';
    in[XENSTORE_REL_PATH_MAX + 2] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in + 1, out, false), -EINVAL);
    for (int pre = 0; pre < 3; pre++) {
        static const char *prefix[] = { "/local/domain/5/", "/local/domain/-123/",
                                        "/local/domain/123456/" };
        size_t pl = strlen(prefix[pre]);

        memcpy(in, prefix[pre], pl);
        memset(in + pl, 'y', XENSTORE_REL_PATH_MAX);
        in[pl + XENSTORE_REL_PATH_MAX] = '\0';
        ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), pre < 2 ? 0 : -EINVAL);
        in[pl + XENSTORE_REL_PATH_MAX] = 'y';
        in[pl + XENSTORE_REL_PATH_MAX + 1] = '\0';
        ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), -EINVAL);
    }
    /* Joining only: UNWATCH looks a path up without checking it. */
    ck_assert_uint_eq(xs_path_join(t.c[2], "x y/", big, sizeof(big)), 20);
    ck_assert_str_eq(big, "/local/domain/2/x y/");
    ck_assert_uint_eq(xs_path_join(t.c[2], "@x", big, sizeof(big)), 2);
    xs_path_parent("/a/b", out);
    ck_assert_str_eq(out, "/a");
    xs_path_parent("/a", out);
    ck_assert_str_eq(out, "/");
    ck_assert(xs_path_is_below("/a/b", "/a"));
    ck_assert(xs_path_is_below("/a", "/a"));
    ck_assert(!xs_path_is_below("/ab", "/a"));
    ck_assert(xs_path_is_below("/ab", "/"));
    ck_assert_str_eq(xs_path_leaf("/a/bc"), "bc");
    xt_teardown(&t);
}
END_TEST

/* Permission lists as xs_strings_to_perms() reads them and
 * xs_perm_to_string() prints them; perm_for_conn(). */
START_TEST(test_perms)
{
    struct xt t;
    struct xs_permissions p[8];
    char out[64];

    xt_setup(&t, NULL);
    ck_assert_int_eq(xs_perms_parse("n1\0r2\0w3\0b4", 4, p), 0);
    ck_assert_uint_eq(p[3].perms, XS_PERM_READ | XS_PERM_WRITE);
    ck_assert_int_eq(xs_perms_format(p, 4, out, sizeof(out)), 12);
    ck_assert(!memcmp(out, "n1\0r2\0w3\0b4\0", 12));
    ck_assert_int_eq(xs_perms_format(p, 4, out, 5), -E2BIG);
    ck_assert_int_eq(xs_perms_parse("q1", 1, p), -EINVAL);
    ck_assert_int_eq(xs_perms_parse("r", 1, p), -EINVAL);
    ck_assert_int_eq(xs_perms_parse("r1x", 1, p), -EINVAL);
    ck_assert_int_eq(xs_perms_parse("", 1, p), -EINVAL);
    /* strtol(p, &end, 0): hex, octal, a sign, any size. */
    ck_assert_int_eq(xs_perms_parse("n0x1\0r010\0w-1\0b99999", 4, p), 0);
    ck_assert_uint_eq(p[0].id, 1);
    ck_assert_uint_eq(p[1].id, 8);
    ck_assert_uint_eq(p[2].id, 4294967295u);
    ck_assert_uint_eq(p[3].id, 99999);
    ck_assert_int_eq(xs_perms_format(p, 4, out, sizeof(out)), 17);
    ck_assert(!memcmp(out, "n1\0r8\0w-1\0b99999\0", 17));
    /* Owner, then entries, then the default. */
    ck_assert_int_eq(xs_perms_parse("r1\0w2", 2, p), 0);
    ck_assert_uint_eq(xs_perm_for(t.c[0], p, 2), XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER);
    ck_assert_uint_eq(xs_perm_for(t.c[1], p, 2), XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER);
    ck_assert_uint_eq(xs_perm_for(t.c[2], p, 2), XS_PERM_WRITE);
    ck_assert_uint_eq(xs_perm_for(t.c[3], p, 2), XS_PERM_READ);
    /* An entry marked ignored grants nothing. */
    p[1].perms |= XS_PERM_IGNORE;
    ck_assert_uint_eq(xs_perm_for(t.c[2], p, 2), XS_PERM_READ);
    xt_teardown(&t);
}
END_TEST

/* DIRECTORY_PART pages and DIRECTORY's E2BIG. */
START_TEST(test_directory_part)
{
    struct xt t;
    char buf[8192], req[64], name[64];
    int n, total = 0;
    size_t off = 0;
    char gen[32] = "";

    xt_setup(&t, NULL);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "/d/child-with-a-long-name-%03d", i);
        xt_write(t.c[0], name, "");
    }
    ck_assert_uint_eq(xt_req(t.c[0], XS_DIRECTORY, 0, XT_P("/d\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "E2BIG");
    for (;;) {
        int pl = snprintf(req, sizeof(req), "/d%c%zu", 0, off) + 1;

        ck_assert_uint_eq(xt_req(t.c[0], XS_DIRECTORY_PART, 0, req, pl, buf, sizeof(buf), &n),
                          XS_DIRECTORY_PART);
        ck_assert_int_le(n, XENSTORE_PAYLOAD_MAX);
        if (gen[0])
            ck_assert_str_eq(gen, buf);
        strcpy(gen, buf);
        size_t i = strlen(buf) + 1;
        if (i == (size_t)n - 1 && buf[i] == '\0')
            break;
        for (; i < (size_t)n && buf[i]; i += strlen(buf + i) + 1) {
            total++;
            off += strlen(buf + i) + 1;
        }
        if (i < (size_t)n)
            break;                       /* the extra NUL: last page */
    }
    ck_assert_int_eq(total, 300);
    xt_teardown(&t);
}
END_TEST

/* Readers never lock: many threads reading while one writes and removes. */
struct race {
    struct xt *t;
    atomic_bool stop;
    atomic_long reads;
};

static void *reader(void *arg)
{
    struct race *r = arg;
    struct xs_conn *c = xs_local_open(r->t->xs, 0);
    char buf[256];

    while (!r->stop) {
        int n = xt_read(c, 0, "/race/a", buf, sizeof(buf));

        ck_assert(n == -1 || (n == 5 && (!memcmp(buf, "AAAAA", 5) || !memcmp(buf, "BBBBB", 5))));
        /* The writer makes a, then b, and removes both at once: any
         * listing is one of those states, never b alone. An empty one is
         * seen too: the write making /race and a links /race first, and
         * a lock-free reader can catch it between (C xenstored, single
         * threaded, never shows that). */
        if (xt_req(c, XS_DIRECTORY, 0, XT_P("/race\0"), buf, sizeof(buf), &n) == XS_ERROR)
            ck_assert_str_eq(buf, "ENOENT");
        else
            ck_assert_msg(n == 0 || (n == 2 && !memcmp(buf, "a", 2)) ||
                          (n == 4 && !memcmp(buf, "a\0b", 4)), "listing \"%s\" (%d bytes)", buf, n);
        r->reads++;
    }
    xs_local_close(c);
    return NULL;
}

START_TEST(test_rcu_race)
{
    struct xt t;
    struct race r = { .t = &t };
    pthread_t th[3];

    xt_setup(&t, NULL);
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, reader, &r);
    for (int i = 0; i < 3000; i++) {
        xt_write(t.c[0], "/race/a", i & 1 ? "AAAAA" : "BBBBB");
        xt_write(t.c[0], "/race/b", "x");
        if (i % 10 == 0)
            xt_expect(t.c[0], XS_RM, 0, XT_P("/race\0"), XS_RM, "OK", 3, "rm");
    }
    r.stop = true;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_gt(r.reads, 0);
    xt_teardown(&t);
}
END_TEST

/* Concurrent transactions by several writers: each increments a counter
 * with read-modify-write and retries on EAGAIN; no update is lost. */
static void *incrementer(void *arg)
{
    struct xt *t = arg;
    struct xs_conn *c = xs_local_open(t->xs, 0);
    char buf[64], req[64];
    int n;

    for (int i = 0; i < 200; i++) {
        uint32_t type;

        do {
            xt_req(c, XS_TRANSACTION_START, 0, XT_P("\0"), buf, sizeof(buf), &n);
            uint32_t tx = strtoul(buf, NULL, 10);
            n = xt_read(c, tx, "/ctr", buf, sizeof(buf));
            ck_assert_int_ge(n, 0);
            int len = snprintf(req, sizeof(req), "/ctr%c%ld", 0, strtol(buf, NULL, 10) + 1);
            ck_assert_uint_eq(xt_req(c, XS_WRITE, tx, req, len, buf, sizeof(buf), &n), XS_WRITE);
            type = xt_req(c, XS_TRANSACTION_END, tx, XT_P("T\0"), buf, sizeof(buf), &n);
            ck_assert(type == XS_TRANSACTION_END || !strcmp(buf, "EAGAIN"));
        } while (type != XS_TRANSACTION_END);
    }
    xs_local_close(c);
    return NULL;
}

START_TEST(test_tx_counter)
{
    struct xt t;
    pthread_t th[4];
    char buf[64];

    xt_setup(&t, NULL);
    xt_write(t.c[0], "/ctr", "0");
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, incrementer, &t);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(xt_read(t.c[0], 0, "/ctr", buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "800");
    xt_teardown(&t);
}
END_TEST

/* A big transaction, a big subtree removed, the node counts. */
START_TEST(test_tx_big)
{
    struct xt t;
    struct xensim_xenstored_stats st;
    char buf[64], path[64];
    int n;

    xt_setup(&t, NULL);
    xt_req(t.c[0], XS_TRANSACTION_START, 0, XT_P("\0"), buf, sizeof(buf), &n);
    uint32_t tx = strtoul(buf, NULL, 10);
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(path, sizeof(path), "/big/%d/x%c%d", i % 37, 0, i);

        ck_assert_uint_eq(xt_req(t.c[0], XS_WRITE, tx, path, len, buf, sizeof(buf), &n), XS_WRITE);
    }
    ck_assert_uint_eq(xt_req(t.c[0], XS_TRANSACTION_END, tx, XT_P("T\0"), buf, sizeof(buf), &n),
                      XS_TRANSACTION_END);
    xs_daemon_stats(t.xs, &st);
    ck_assert_uint_eq(st.nodes, t.base_nodes + 3 * 3 + 1 + 37 + 37);
    xt_expect(t.c[0], XS_RM, 0, XT_P("/big\0"), XS_RM, "OK", 3, "rm");
    xs_daemon_stats(t.xs, &st);
    ck_assert_uint_eq(st.nodes, t.base_nodes + 3 * 3);
    xt_teardown(&t);
}
END_TEST

/* The tree itself, below the protocol. */
START_TEST(test_tree)
{
    struct xs_tree tree;
    struct xs_permissions p = { 0, XS_PERM_NONE };

    xs_tree_init(&tree);
    ck_assert_int_eq(xs_tree_create(&tree, "/a", xs_data_new(2, &p, 1, "v", 1)), 0);
    struct xs_data *d = xs_data_new(3, &p, 1, "", 0);
    ck_assert_int_eq(xs_tree_create(&tree, "/a", d), -EEXIST);
    free(d);
    d = xs_data_new(3, &p, 1, "", 0);
    ck_assert_int_eq(xs_tree_create(&tree, "/x/y", d), -ENOENT);
    free(d);
    ck_assert_int_eq(xs_tree_remove(&tree, "/nope"), -ENOENT);
    ck_assert_int_eq(xs_tree_remove(&tree, "/"), -EINVAL);
    ck_assert_ptr_nonnull(xs_tree_lookup(&tree, "/a"));
    ck_assert_uint_eq(tree.nr_nodes, 2);
    ck_assert_int_eq(xs_tree_remove(&tree, "/a"), 0);
    ck_assert_uint_eq(tree.nr_nodes, 1);
    ck_assert_uint_eq(tree.owned[0], 1);
    urcu_bp_barrier();
    xs_tree_fini(&tree);
}
END_TEST

/* Quota defaults and the CONTROL output. */
START_TEST(test_quota)
{
    struct xs_quota q = { .nodes = 7 };
    struct xt t;
    char buf[4096];
    int n;

    xs_quota_defaults(&q);
    ck_assert_uint_eq(q.nodes, 7);
    ck_assert_uint_eq(q.watches, 128);
    ck_assert_uint_eq(q.transactions, 10);
    ck_assert_uint_eq(q.entry_size, 2048);
    ck_assert_uint_eq(q.outstanding, 20);
    xt_setup(&t, NULL);
    ck_assert_uint_eq(xt_req(t.c[0], XS_CONTROL, 0, XT_P("quota\0"), buf, sizeof(buf), &n), XS_CONTROL);
    ck_assert_ptr_nonnull(strstr(buf, "watches"));
    ck_assert_uint_eq(xt_req(t.c[0], XS_CONTROL, 0, XT_P("quota\0" "x\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EINVAL");
    ck_assert_uint_eq(xt_req(t.c[0], XS_CONTROL, 0, XT_P("quota\0" "a\0" "b\0" "c\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EINVAL");
    xt_teardown(&t);
}
END_TEST

/* In-process API edges. */
START_TEST(test_local_api)
{
    struct xt t;
    char buf[8], big[XENSTORE_PAYLOAD_MAX + 1] = "";
    struct xsd_sockmsg h;

    xt_setup(&t, NULL);
    ck_assert_ptr_null(xs_local_open(t.xs, DOMID_FIRST_RESERVED));
    ck_assert_int_eq(xs_local_request(t.c[0], XS_READ, 0, big, sizeof(big), &h, buf, sizeof(buf)), -EPROTO);
    xt_write(t.c[0], "/long", "0123456789");
    ck_assert_int_eq(xs_local_request(t.c[0], XS_READ, 0, XT_P("/long\0"), &h, buf, sizeof(buf)), -E2BIG);
    ck_assert_int_eq(xs_daemon_introduce(t.xs, DOMID_FIRST_RESERVED, 1, 1), -EINVAL);
    ck_assert_int_eq(xs_daemon_release(t.xs, DOMID_FIRST_RESERVED), -EINVAL);
    xs_daemon_domain_shutdown(t.xs, 2);
    xs_daemon_domain_shutdown(t.xs, 2);
    xt_teardown(&t);
    xs_daemon_destroy(NULL);
}
END_TEST

/* The next event's body is exactly path, NUL, token, NUL. */
static void expect_event(struct xs_conn *c, const char *body, size_t len)
{
    char buf[64];
    int n = xs_local_event(c, buf, sizeof(buf));

    ck_assert_msg(n >= 0, "no event, wanted \"%s\"", body);
    ck_assert_msg((size_t)n == len && !memcmp(buf, body, len),
                  "event \"%s\" \"%s\" (%d bytes), wanted \"%s\" \"%s\" (%zu bytes)", buf,
                  buf + strlen(buf) + 1, n, body, body + strlen(body) + 1, len);
}

/* @releaseDomain on shutdown: once, until RESUME. */
START_TEST(test_shutdown_event)
{
    struct xt t;
    char buf[64];

    xt_setup(&t, NULL);
    xt_expect(t.c[0], XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "w");
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    xs_daemon_domain_shutdown(t.xs, 2);
    xs_daemon_domain_shutdown(t.xs, 2);
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    ck_assert_int_eq(xs_local_event(t.c[0], buf, sizeof(buf)), -EAGAIN);
    xt_expect(t.c[0], XS_RESUME, 0, XT_P("2\0"), XS_RESUME, "OK", 3, "resume");
    xs_daemon_domain_shutdown(t.xs, 2);
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    ck_assert_int_eq(xs_local_event(t.c[0], buf, sizeof(buf)), -EAGAIN);
    xt_teardown(&t);
}
END_TEST

/*
 * send_event() drops an event identical to one still queued on the
 * connection, across requests too: a watcher that has not read gets one
 * event for many changes of a node. "@" events are never dropped so.
 */
START_TEST(test_event_dedup)
{
    struct xt t;
    char buf[64];

    xt_setup(&t, NULL);
    xt_expect(t.c[1], XS_WATCH, 0, XT_P("name\0n\0"), XS_WATCH, "OK", 3, "watch");
    /* The first event itself is one: a change before it is read adds
     * nothing. */
    xt_write(t.c[0], "/local/domain/1/name", "a");
    ck_assert_int_eq(xs_local_event(t.c[1], buf, sizeof(buf)), 7);
    ck_assert_str_eq(buf, "name");
    ck_assert_int_eq(xs_local_event(t.c[1], buf, sizeof(buf)), -EAGAIN);
    for (int i = 0; i < 10; i++)
        xt_write(t.c[0], "/local/domain/1/name", "b");
    expect_event(t.c[1], XT_P("name\0n\0"));
    ck_assert_int_eq(xs_local_event(t.c[1], buf, sizeof(buf)), -EAGAIN);
    /* Read, the next change is heard again. */
    xt_write(t.c[0], "/local/domain/1/name", "c");
    expect_event(t.c[1], XT_P("name\0n\0"));
    /* Special events are all kept. */
    xt_expect(t.c[0], XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "special");
    xs_daemon_domain_shutdown(t.xs, 2);
    xs_daemon_domain_shutdown(t.xs, 3);
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    expect_event(t.c[0], XT_P("@releaseDomain\0r\0"));
    ck_assert_int_eq(xs_local_event(t.c[0], buf, sizeof(buf)), -EAGAIN);
    xt_teardown(&t);
}
END_TEST

/* At a domain's death it leaves the special nodes' lists
 * (domain_tree_remove() → remove_domid_from_perm()): a new domain with
 * its number hears nothing through them. */
START_TEST(test_special_perms_release)
{
    struct xt t;
    struct xs_conn *g;
    char buf[64];

    xt_setup(&t, NULL);
    xt_expect(t.c[0], XS_SET_PERMS, 0, XT_P("@releaseDomain\0n0\0r2\0"), XS_SET_PERMS, "OK", 3,
              "perms");
    xt_expect(t.c[3], XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(t.c[3]);
    ck_assert_int_eq(xs_daemon_release(t.xs, 2), 0);
    ck_assert_int_eq(xs_daemon_introduce(t.xs, 2, 1, 1), 0);
    g = xs_local_open(t.xs, 2);
    xt_expect(g, XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(g);
    xs_daemon_domain_shutdown(t.xs, 3);
    ck_assert_int_eq(xs_local_event(g, buf, sizeof(buf)), -EAGAIN);
    ck_assert_int_eq(xs_local_event(t.c[3], buf, sizeof(buf)), -EAGAIN);
    xs_local_close(g);
    xt_teardown(&t);
}
END_TEST

/*
 * Limits count for the whole domain, whichever of its connections asks
 * (C's struct domain: a guest there has one connection, its ring; here
 * it may open more). Watches: "domain_watch(conn) >
 * quota_nb_watch_per_domain" is E2BIG, so 129 fit; transactions:
 * "transaction_started > quota_max_transaction" is ENOSPC, so 11.
 */
#define NG 8

START_TEST(test_domain_limits)
{
    struct xt t;
    struct xs_conn *g[NG];
    char req[64], buf[64];
    int n;

    xt_setup(&t, NULL);
    for (int i = 0; i < NG; i++)
        g[i] = xs_local_open(t.xs, 2);
    for (int w = 0; w <= 129; w++) {
        int len = snprintf(req, sizeof(req), "/local/domain/2%ct%d", 0, w) + 1;
        uint32_t type = xt_req(g[w % NG], XS_WATCH, 0, req, len, buf, sizeof(buf), &n);

        ck_assert_uint_eq(type, w < 129 ? XS_WATCH : XS_ERROR);
        if (w == 129)
            ck_assert_str_eq(buf, "E2BIG");
    }
    /* Another domain and dom0 are not affected; a watch given back is
     * one more for any of the domain's connections. */
    xt_expect(t.c[3], XS_WATCH, 0, XT_P("/local/domain/3\0t\0"), XS_WATCH, "OK", 3, "dom3");
    xt_expect(t.c[0], XS_WATCH, 0, XT_P("/\0t\0"), XS_WATCH, "OK", 3, "dom0");
    xt_expect(g[0], XS_UNWATCH, 0, XT_P("/local/domain/2\0t0\0"), XS_UNWATCH, "OK", 3, "unwatch");
    xt_expect(g[5], XS_WATCH, 0, XT_P("/local/domain/2\0x\0"), XS_WATCH, "OK", 3, "again");
    xt_expect(g[6], XS_WATCH, 0, XT_P("/local/domain/2\0y\0"), XS_ERROR, "E2BIG", 6, "full");
    for (int i = 0; i <= 11; i++) {
        uint32_t type = xt_req(g[i % NG], XS_TRANSACTION_START, 0, XT_P("\0"), buf,
                               sizeof(buf), &n);

        ck_assert_uint_eq(type, i < 11 ? XS_TRANSACTION_START : XS_ERROR);
        if (i == 11)
            ck_assert_str_eq(buf, "ENOSPC");
    }
    /* RESET_WATCHES and closing give back that connection's share. */
    xt_expect(g[1], XS_RESET_WATCHES, 0, XT_P(""), XS_RESET_WATCHES, "OK", 3, "reset");
    xt_expect(g[6], XS_WATCH, 0, XT_P("/local/domain/2\0y\0"), XS_WATCH, "OK", 3, "after reset");
    xt_expect(g[7], XS_TRANSACTION_START, 0, XT_P("\0"), XS_TRANSACTION_START, NULL, 0, "after");
    xs_local_close(g[2]);
    g[2] = xs_local_open(t.xs, 2);
    xt_expect(g[2], XS_TRANSACTION_START, 0, XT_P("\0"), XS_TRANSACTION_START, NULL, 0, "closed");
    for (int i = 0; i < NG; i++)
        xs_local_close(g[i]);
    xt_teardown(&t);
}
END_TEST

/* Bytes queued on a connection, as the transport would send them. */
static long queued(struct xs_conn *c)
{
    struct xs_msg *m;
    long n = 0;

    XS_CHECK(pthread_mutex_lock(&c->out_lock));
    cds_list_for_each_entry(m, &c->out, link)
        n += m->len - m->off;
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
    return n;
}

/*
 * One guest cannot make the daemon grow without bound. C xenstored 4.17
 * counts per domain its watches, the messages queued for it and its
 * nodes (domain_memory_add()) against 2.5 MiB: past that a watch event
 * for it is dropped (send_event()) and it is read no more
 * (domain_can_read()). Here a guest's connections beyond its ring count
 * too, so it cannot open them without bound either.
 */
START_TEST(test_guest_memory_bound)
{
    static struct xs_conn *g[2048];
    static char tok[3901], req[4096], buf[8192];
    const long quota = 2621440;
    struct xs_dom_acct *acct;
    struct xt t;
    long total = 0, before, base;
    int ng = 0, n, events = 0;

    xt_setup(&t, NULL);
    acct = xs_acct(t.xs, 1);
    base = acct->memory;
    ck_assert_uint_eq(t.xs->quota.memory, quota);
    for (; ng < NG; ng++)
        g[ng] = xs_local_open(t.xs, 1);
    memset(tok, 'k', sizeof(tok) - 1);
    for (int w = 0; w < 129; w++) {
        int len = snprintf(req, sizeof(req), "/local/domain/1%c%03d%s", 0, w, tok) + 1;

        ck_assert_uint_eq(xt_req(g[w % NG], XS_WATCH, 0, req, len, buf, sizeof(buf), &n),
                          XS_WATCH);
    }
    for (int i = 0; i < NG; i++)
        xt_drain_events(g[i]);
    /* Watches cost path and token. */
    ck_assert_int_ge(acct->memory, 129L * (15 + 3903));
    /* Nobody reads; dom0 writes 40 new nodes, each heard by 129 watches
     * of about 3.9 KB: 20 MB if nothing stopped it. */
    for (int i = 0; i < 40; i++) {
        snprintf(req, sizeof(req), "/local/domain/1/n%d", i);
        xt_write(t.c[0], req, "x");
    }
    for (int i = 0; i < ng; i++)
        total += queued(g[i]);
    ck_assert_int_gt(total, quota / 2);
    ck_assert_int_lt(total, quota);
    ck_assert_int_lt(xs_mem_of(t.xs, 1), quota);
    /* More connections until the domain is at its quota: then no more. */
    while ((g[ng] = xs_local_open(t.xs, 1)))
        ck_assert_int_lt(++ng, 2048);
    ck_assert_int_ge(xs_mem_of(t.xs, 1), quota);
    /* Over it, its requests are not taken, events for it are dropped,
     * other domains go on. */
    ck_assert_int_eq(xs_local_request(g[0], XS_READ, 0, XT_P("domid\0"), NULL, buf, sizeof(buf)),
                     -EAGAIN);
    before = xs_mem_of(t.xs, 1);
    for (int i = 0; i < 40; i++) {
        snprintf(req, sizeof(req), "/local/domain/1/m%d", i);
        xt_write(t.c[0], req, "x");
    }
    ck_assert_int_eq(xs_mem_of(t.xs, 1), before);
    ck_assert_int_eq(xt_read(t.c[2], 0, "/local/domain/2/domid", buf, sizeof(buf)), 1);
    /* What was queued is delivered, each event once: no two alike on one
     * connection. Reading gives the memory back. */
    for (int i = 0; i < ng; i++) {
        static char last[sizeof(buf)];
        int lastn = -1;

        while ((n = xs_local_event(g[i], buf, sizeof(buf))) >= 0) {
            ck_assert(n != lastn || memcmp(buf, last, n));
            memcpy(last, buf, n);
            lastn = n;
            events++;
        }
    }
    ck_assert_int_gt(events, 129 * 4);
    ck_assert_int_lt(events, 129 * 40);
    while (ng > NG)
        xs_local_close(g[--ng]);
    ck_assert_int_lt(xs_mem_of(t.xs, 1), quota / 4);
    ck_assert_int_eq(xt_read(g[0], 0, "domid", buf, sizeof(buf)), 1);
    for (int i = 0; i < ng; i++)
        xs_local_close(g[i]);
    ck_assert_int_eq(acct->memory, base);
    xt_teardown(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xenstore units");
    TCase *tc = tcase_create("units");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_path);
    tcase_add_test(tc, test_perms);
    tcase_add_test(tc, test_directory_part);
    tcase_add_test(tc, test_rcu_race);
    tcase_add_test(tc, test_tx_counter);
    tcase_add_test(tc, test_tx_big);
    tcase_add_test(tc, test_tree);
    tcase_add_test(tc, test_quota);
    tcase_add_test(tc, test_local_api);
    tcase_add_test(tc, test_shutdown_event);
    tcase_add_test(tc, test_event_dedup);
    tcase_add_test(tc, test_special_perms_release);
    tcase_add_test(tc, test_domain_limits);
    tcase_add_test(tc, test_guest_memory_bound);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
