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

/* Paths. */
START_TEST(test_path)
{
    struct xt t;
    char out[XS_PATH_BUF], in[XS_PATH_BUF + 10];

    xt_setup(&t, NULL);
    ck_assert_int_eq(xs_path_canon(t.c[1], "a/b", out, false), 0);
    ck_assert_str_eq(out, "/local/domain/1/a/b");
    ck_assert_int_eq(xs_path_canon(t.c[0], "/", out, false), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a-b_c@9", out, false), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "@releaseDomain", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "@releaseDomain", out, true), 0);
    ck_assert_int_eq(xs_path_canon(t.c[0], "@other", out, true), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a/", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a//b", out, false), -EINVAL);
    ck_assert_int_eq(xs_path_canon(t.c[0], "/a.b", out, false), -EINVAL);
    /* Length limits: 3072 absolute, 2048 relative. */
    memset(in, 'x', sizeof(in));
    in[0] = '/';
    in[XENSTORE_ABS_PATH_MAX] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), 0);
    in[XENSTORE_ABS_PATH_MAX] = 'x';
    in[XENSTORE_ABS_PATH_MAX + 1] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in, out, false), -EINVAL);
    in[XENSTORE_REL_PATH_MAX] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in + 1, out, false), 0);
    in[XENSTORE_REL_PATH_MAX] = 'x';
    in[XENSTORE_REL_PATH_MAX + 2] = '\0';
    ck_assert_int_eq(xs_path_canon(t.c[0], in + 1, out, false), -EINVAL);
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

START_TEST(test_perms)
{
    struct xt t;
    struct xs_permissions p[8];
    unsigned int n;
    char out[64];

    xt_setup(&t, NULL);
    ck_assert_int_eq(xs_perms_parse(XT_P("n1\0r2\0w3\0b4\0"), p, 8, &n), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(p[3].perms, XS_PERM_READ | XS_PERM_WRITE);
    ck_assert_int_eq(xs_perms_format(p, n, out, sizeof(out)), 12);
    ck_assert(!memcmp(out, "n1\0r2\0w3\0b4\0", 12));
    ck_assert_int_eq(xs_perms_format(p, n, out, 5), -E2BIG);
    ck_assert_int_eq(xs_perms_parse(XT_P("n1\0r2\0"), p, 1, &n), -ENOSPC);
    ck_assert_int_eq(xs_perms_parse(XT_P("q1\0"), p, 8, &n), -EINVAL);
    ck_assert_int_eq(xs_perms_parse(XT_P("r\0"), p, 8, &n), -EINVAL);
    ck_assert_int_eq(xs_perms_parse(XT_P("r1x\0"), p, 8, &n), -EINVAL);
    ck_assert_int_eq(xs_perms_parse(XT_P("r99999\0"), p, 8, &n), -EINVAL);
    ck_assert_int_eq(xs_perms_parse(XT_P("r1"), p, 8, &n), -EINVAL);
    ck_assert_int_eq(xs_perms_parse("", 0, p, 8, &n), -EINVAL);
    /* Owner, then entries, then the default. */
    ck_assert_int_eq(xs_perms_parse(XT_P("r1\0w2\0"), p, 8, &n), 0);
    ck_assert_uint_eq(xs_perm_for(t.c[0], p, n), XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER);
    ck_assert_uint_eq(xs_perm_for(t.c[1], p, n), XS_PERM_READ | XS_PERM_WRITE | XS_PERM_OWNER);
    ck_assert_uint_eq(xs_perm_for(t.c[2], p, n), XS_PERM_WRITE);
    ck_assert_uint_eq(xs_perm_for(t.c[3], p, n), XS_PERM_READ);
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
    ck_assert_int_eq(xs_tree_remove(&tree, "/nope", NULL, NULL), -ENOENT);
    ck_assert_int_eq(xs_tree_remove(&tree, "/", NULL, NULL), -EINVAL);
    ck_assert_ptr_nonnull(xs_tree_lookup(&tree, "/a"));
    ck_assert_uint_eq(tree.nr_nodes, 2);
    ck_assert_int_eq(xs_tree_remove(&tree, "/a", NULL, NULL), 0);
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
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
