/*
 * Console: every domU's static ring served by xenconsoled. Output gathered
 * per domain (memory and file), input delivered, a guest writing impossible
 * indices, a domain dying while attached. Drives guest code through the
 * harness and the daemon through include/xensim/console.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/console.h>
#include "harness.h"
#include "netcons.h"
#include <xen/io/console.h>

#define WAIT_MS 20000   /* a safety net: the tests wait for behaviour */

struct write_arg {
    const char *text;
    size_t len;
    ssize_t ret;
};

static void guest_write(void *p)
{
    struct write_arg *w = p;
    w->ret = xensim_console_write(w->text, w->len ? w->len : strlen(w->text));
}

static void cwrite(struct xensim *sim, domid_t d, const char *text)
{
    struct write_arg w = { .text = text };
    th_call(sim, d, 0, guest_write, &w);
    ck_assert_int_eq(w.ret, (ssize_t)strlen(text));
}

static struct xencons_interface *guest_ring(void)
{
    return xensim_guest_pfn_to_virt(xensim_guest_start_info()->console.domU.mfn);
}

START_TEST(output_per_domain)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "alpha", false, XENSIM_GNTTAB_STRICT);
    domid_t b = th_domain(sim, "beta", false, XENSIM_GNTTAB_FAST);
    /* Output written before the daemon exists waits in the ring. */
    cwrite(sim, a, "early bird\n");

    char dir[] = "/tmp/xensim-cons-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    FILE *term = tmpfile();
    ck_assert_ptr_nonnull(term);
    struct xensim_consoled_config cfg = { .log_dir = dir, .terminal = term };
    struct xensim_consoled *cd = xensim_consoled_start(sim, &cfg);
    ck_assert_ptr_nonnull(cd);
    xensim_consoled_sync(cd);
    ck_assert_uint_eq(xensim_consoled_attached(cd), 2);

    cwrite(sim, a, "hello from alpha\n");
    cwrite(sim, b, "hello from beta\n");
    ck_assert_int_eq(xensim_consoled_wait_for(cd, a, "hello from alpha\n", WAIT_MS), 0);
    ck_assert_int_eq(xensim_consoled_wait_for(cd, b, "hello from beta\n", WAIT_MS), 0);

    char log[4096];
    ck_assert_int_gt(xensim_consoled_log(cd, a, log, sizeof(log)), 0);
    ck_assert_str_eq(log, "early bird\nhello from alpha\n");
    ck_assert_int_eq(xensim_consoled_log(cd, b, log, sizeof(log)),
                     (int)strlen("hello from beta\n"));
    ck_assert_str_eq(log, "hello from beta\n");
    ck_assert_int_eq(xensim_consoled_log(cd, 0, log, sizeof(log)), -ENOENT);

    /* Far more than the 2 KiB ring: the guest waits for the daemon. */
    static char big[20000];
    for (size_t i = 0; i < sizeof(big) - 1; i++)
        big[i] = (char)('a' + i % 26);
    big[sizeof(big) - 2] = '\n';
    struct write_arg w = { .text = big, .len = sizeof(big) - 1 };
    th_call(sim, b, 0, guest_write, &w);
    ck_assert_int_eq(w.ret, (ssize_t)sizeof(big) - 1);
    ck_assert_int_eq(xensim_consoled_wait_for(cd, b, big + sizeof(big) - 30, WAIT_MS), 0);
    static char got[32768];
    ck_assert_int_eq(xensim_consoled_log(cd, b, got, sizeof(got)),
                     (ssize_t)(strlen("hello from beta\n") + sizeof(big) - 1));
    ck_assert(memcmp(got + strlen("hello from beta\n"), big, sizeof(big) - 1) == 0);

    xensim_consoled_stop(cd);
    /* The terminal got whole lines, each labelled with its domain. */
    static char tbuf[65536];
    rewind(term);
    size_t tn = fread(tbuf, 1, sizeof(tbuf) - 1, term);
    tbuf[tn] = '\0';
    fclose(term);
    ck_assert_ptr_nonnull(strstr(tbuf, "[alpha] early bird\n"));
    ck_assert_ptr_nonnull(strstr(tbuf, "[alpha] hello from alpha\n"));
    ck_assert_ptr_nonnull(strstr(tbuf, "[beta] hello from beta\n"));
    char path[256];
    snprintf(path, sizeof(path), "%s/guest-alpha.log", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(log, 1, sizeof(log) - 1, f);
    log[n] = '\0';
    fclose(f);
    ck_assert_str_eq(log, "early bird\nhello from alpha\n");
    unlink(path);
    snprintf(path, sizeof(path), "%s/guest-beta.log", dir);
    unlink(path);
    rmdir(dir);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    th_sim_free_checked(sim);
}
END_TEST

/* The guest echoes each line of input back as output. */
static void echo_handler(void *arg)
{
    (void)arg;
    char buf[256], out[300];
    ssize_t n = xensim_console_read(buf, sizeof(buf));
    if (n > 0) {
        int m = snprintf(out, sizeof(out), "echo:%.*s", (int)n, buf);
        xensim_console_try_write(out, (size_t)m);
    }
}

static void guest_bind_echo(void *arg)
{
    ck_assert_int_eq(xensim_console_bind(echo_handler, arg), 0);
}

static void guest_unbind(void *arg)
{
    (void)arg;
    ck_assert_int_eq(xensim_console_bind(NULL, NULL), 0);
}

START_TEST(input_delivered)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "alpha", false, XENSIM_GNTTAB_STRICT);
    struct xensim_consoled *cd = xensim_consoled_start(sim, NULL);
    ck_assert_ptr_nonnull(cd);
    th_call(sim, a, 0, guest_bind_echo, NULL);
    xensim_consoled_sync(cd);
    ck_assert_int_eq(xensim_consoled_input(cd, a, "uname\n", 6), 0);
    ck_assert_int_eq(xensim_consoled_wait_for(cd, a, "echo:uname\n", WAIT_MS), 0);
    /* More than the 1 KiB input ring, in pieces the guest drains. */
    static char big[3000];
    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '!';
    ck_assert_int_eq(xensim_consoled_input(cd, a, big, sizeof(big)), 0);
    ck_assert_int_eq(xensim_consoled_wait_for(cd, a, "x!", WAIT_MS), 0);
    ck_assert_int_eq(xensim_consoled_input(cd, 77, "x", 1), -ENOENT);
    th_call(sim, a, 0, guest_unbind, NULL);
    xensim_consoled_stop(cd);
    th_sim_free_checked(sim);
}
END_TEST

static void guest_bad_out(void *arg)
{
    (void)arg;
    struct xencons_interface *r = guest_ring();
    r->out_prod = r->out_cons + 5000;   /* claims more than the ring holds */
    wmb();
    xensim_evtchn_send(xensim_guest_start_info()->console.domU.evtchn);
}

static void guest_bad_in(void *arg)
{
    (void)arg;
    struct xencons_interface *r = guest_ring();
    r->in_cons = r->in_prod + 3000;     /* a consumer ahead of its producer */
    wmb();
}

static void guest_read_all(void *arg)
{
    char *buf = arg;
    ssize_t n = xensim_console_read(buf, 63);
    buf[n > 0 ? n : 0] = '\0';
}

START_TEST(hostile_indices)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "rogue", false, XENSIM_GNTTAB_STRICT);
    domid_t b = th_domain(sim, "honest", false, XENSIM_GNTTAB_STRICT);
    struct xensim_consoled *cd = xensim_consoled_start(sim, NULL);
    ck_assert_ptr_nonnull(cd);
    xensim_consoled_sync(cd);
    th_call(sim, a, 0, guest_bad_out, NULL);
    xensim_consoled_sync(cd);
    ck_assert_uint_ge(xensim_consoled_bad_indices(cd, a), 1);
    char log[64];
    ck_assert_int_eq(xensim_consoled_log(cd, a, log, sizeof(log)), 0);
    /* Resynchronised: the ring works again, and so does everyone else. */
    cwrite(sim, a, "recovered\n");
    cwrite(sim, b, "unaffected\n");
    ck_assert_int_eq(xensim_consoled_wait_for(cd, a, "recovered\n", WAIT_MS), 0);
    ck_assert_int_eq(xensim_consoled_wait_for(cd, b, "unaffected\n", WAIT_MS), 0);

    th_call(sim, a, 0, guest_bad_in, NULL);
    unsigned int before = xensim_consoled_bad_indices(cd, a);
    ck_assert_int_eq(xensim_consoled_input(cd, a, "hi", 2), 0);
    xensim_consoled_sync(cd);
    ck_assert_uint_gt(xensim_consoled_bad_indices(cd, a), before);
    char in[64];
    th_call(sim, a, 0, guest_read_all, in);
    ck_assert_str_eq(in, "hi");
    ck_assert_uint_eq(xensim_consoled_attached(cd), 2);
    xensim_consoled_stop(cd);
    th_sim_free_checked(sim);
}
END_TEST

START_TEST(domain_dies)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "doomed", false, XENSIM_GNTTAB_STRICT);
    domid_t b = th_domain(sim, "survivor", false, XENSIM_GNTTAB_STRICT);
    struct xensim_consoled *cd = xensim_consoled_start(sim, NULL);
    ck_assert_ptr_nonnull(cd);
    cwrite(sim, a, "last words\n");
    ck_assert_int_eq(xensim_consoled_wait_for(cd, a, "last words\n", WAIT_MS), 0);
    ck_assert_int_eq(xensim_domain_destroy(sim, a), 0);
    xensim_consoled_sync(cd);
    xensim_consoled_sync(cd);
    ck_assert_uint_eq(xensim_consoled_attached(cd), 1);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, 0, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 1);   /* b's ring only */
    /* The dead domain's log outlives it. */
    char log[64];
    ck_assert_int_eq(xensim_consoled_log(cd, a, log, sizeof(log)), (int)strlen("last words\n"));
    ck_assert_str_eq(log, "last words\n");
    cwrite(sim, b, "still here\n");
    ck_assert_int_eq(xensim_consoled_wait_for(cd, b, "still here\n", WAIT_MS), 0);
    xensim_consoled_stop(cd);
    ck_assert_uint_eq(th_ports_in_use(sim, 0), 0);
    th_sim_free_checked(sim);
}
END_TEST

static Suite *console_suite(void)
{
    Suite *s = suite_create("console");
    TCase *tc = tcase_create("console");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, output_per_domain);
    tcase_add_test(tc, input_delivered);
    tcase_add_test(tc, hostile_indices);
    tcase_add_test(tc, domain_dies);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(console_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
