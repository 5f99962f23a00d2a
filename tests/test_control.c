/*
 * The control socket of `xensim serve` (tools/control.c), in process:
 * clients that connect and send nothing, send half a line, or never read
 * their answer must not keep `xensim domains|ports|grants` from theirs.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "harness.h"
#include "control.h"

struct fix {
    struct xensim *sim;
    struct control *ctl;
    char dir[64];
    char path[96];            /* fits a sockaddr_un */
};

static struct fix fix_new(void)
{
    struct fix f;
    f.sim = th_sim_new();
    snprintf(f.dir, sizeof(f.dir), "/tmp/xensim-control.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f.dir));
    snprintf(f.path, sizeof(f.path), "%s/control", f.dir);
    f.ctl = control_start(f.sim, f.path);
    ck_assert_ptr_nonnull(f.ctl);
    return f;
}

static void fix_free(struct fix *f)
{
    control_stop(f->ctl);
    ck_assert_int_ne(access(f->path, F_OK), 0);   /* the socket is gone */
    rmdir(f->dir);
    th_sim_free_checked(f->sim);
}

/* A client that connects and then does only what the test says. */
static int client(const struct fix *f, const char *send_this)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (send_this)
        ck_assert_int_eq(write(fd, send_this, strlen(send_this)), (ssize_t)strlen(send_this));
    return fd;
}

/* What `xensim VERB` would print; control_query must say whether it is
 * a refusal (1) or not (0), as want says. */
static char *query(const struct fix *f, const char *command, int want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(control_query(f->path, command, out), want);
    fclose(out);
    return buf;
}

static void expect_answer(const struct fix *f, const char *command, const char *needle)
{
    char *got = query(f, command, strncmp(needle, "error: ", 7) == 0);
    ck_assert_msg(strstr(got, needle), "'%s' answered without '%s':\n%s", command, needle, got);
    free(got);
}

START_TEST(idle_clients_do_not_block)
{
    struct fix f = fix_new();
    int idle = client(&f, NULL);
    int half = client(&f, "dom");
    int mute = client(&f, "grants 0\n");   /* never reads its answer */
    expect_answer(&f, "domains", "Domain-0");
    expect_answer(&f, "ports 0", "reserved");
    expect_answer(&f, "grants 0", "dom0");
    /* The one that sent half a line finishes it and gets its answer. */
    ck_assert_int_eq(write(half, "ains\n", 5), 5);
    char buf[64];
    ck_assert_int_gt(read(half, buf, sizeof(buf)), 0);
    close(idle);
    close(half);
    close(mute);
    fix_free(&f);
}
END_TEST

/* More idle clients than the socket keeps: the oldest go, the newest
 * command is still answered. */
START_TEST(idle_flood_does_not_block)
{
    struct fix f = fix_new();
    int fds[40];
    for (int i = 0; i < 40; i++)
        fds[i] = client(&f, i % 2 ? NULL : "ports");
    expect_answer(&f, "domains", "Domain-0");
    for (int i = 0; i < 40; i++)
        close(fds[i]);
    expect_answer(&f, "domains", "Domain-0");
    fix_free(&f);
}
END_TEST

/* A command ended by EOF instead of a newline, and an unknown one. */
START_TEST(eof_ends_a_command)
{
    struct fix f = fix_new();
    int fd = client(&f, "domains");
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    char buf[4096];
    ssize_t n, total = 0;
    while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
        total += n;
    buf[total] = '\0';
    ck_assert_ptr_nonnull(strstr(buf, "Domain-0"));
    close(fd);
    expect_answer(&f, "frobnicate", "error: unknown command 'frobnicate'");
    fix_free(&f);
}
END_TEST

static Suite *control_suite(void)
{
    Suite *s = suite_create("control");
    TCase *tc = tcase_create("clients");
    tcase_add_test(tc, idle_clients_do_not_block);
    tcase_add_test(tc, idle_flood_does_not_block);
    tcase_add_test(tc, eof_ends_a_command);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(control_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
