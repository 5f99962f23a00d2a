/*
 * Debian's own xen-utils-4.17 programs, unmodified, as processes of
 * simulated domains (fetched with apt-get download and unpacked into the
 * build tree, never installed; skipped when they cannot be fetched,
 * failed under CI=true):
 *  - vchan-socket-proxy in both modes tunnels a unix socket between dom0
 *    and a guest, 1 MiB each way, intact;
 *  - xenconsole --type=pv attaches to a guest's console pty: a typed
 *    line reaches the guest (serve's idle guest program) and its echo
 *    comes back.
 * Each case ends with the teardown check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xensim/xenbus.h>
#include "ext_fixture.h"

#define WAIT 60000                  /* ms: a safety net, not a timing */
#define MIB (1u << 20)

void xensim_serve_guest_main(void *arg);    /* tools/serve_guest.c */

static char vsp[PATH_MAX], xenconsole[PATH_MAX];

static int unix_listen(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    return fd;
}

static uint8_t pattern(unsigned int dir, size_t i)
{
    return (uint8_t)((i * 7 + (i >> 9) + dir * 101) & 0xff);
}

/* Both sockets at once, both ways: each sends MIB bytes of its pattern and
 * checks MIB bytes of the other's. */
static void pump(int a, int b)
{
    int fds[2] = { a, b };
    size_t sent[2] = { 0, 0 }, got[2] = { 0, 0 };
    uint8_t buf[16384];

    fcntl(a, F_SETFL, O_NONBLOCK);
    fcntl(b, F_SETFL, O_NONBLOCK);
    while (got[0] < MIB || got[1] < MIB) {
        struct pollfd p[2];
        for (int k = 0; k < 2; k++)
            p[k] = (struct pollfd){ .fd = fds[k],
                                    .events = POLLIN | (sent[k] < MIB ? POLLOUT : 0) };
        ck_assert_int_gt(poll(p, 2, WAIT), 0);
        for (int k = 0; k < 2; k++) {
            if ((p[k].revents & POLLOUT) && sent[k] < MIB) {
                size_t n = MIB - sent[k] < sizeof(buf) ? MIB - sent[k] : sizeof(buf);
                for (size_t i = 0; i < n; i++)
                    buf[i] = pattern((unsigned int)k, sent[k] + i);
                ssize_t w = write(fds[k], buf, n);
                ck_assert(w > 0 || errno == EAGAIN);
                if (w > 0)
                    sent[k] += (size_t)w;
            }
            if (p[k].revents & (POLLIN | POLLHUP)) {
                ssize_t r = read(fds[k], buf, sizeof(buf));
                ck_assert_msg(r > 0 || (r < 0 && errno == EAGAIN), "side %d ended early", k);
                for (ssize_t i = 0; i < r; i++)
                    ck_assert_msg(buf[i] == pattern(1u - (unsigned int)k, got[k] + (size_t)i),
                                  "side %d byte %zu differs", k, got[k] + (size_t)i);
                if (r > 0)
                    got[k] += (size_t)r;
            }
        }
    }
    ck_assert_uint_eq(got[0], MIB);
    ck_assert_uint_eq(got[1], MIB);
}

static int accept_one(int lfd)
{
    struct pollfd p = { .fd = lfd, .events = POLLIN };
    ck_assert_msg(poll(&p, 1, WAIT) == 1, "nobody connected");
    int fd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(fd, 0);
    return fd;
}

START_TEST(test_vchan_socket_proxy)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    char srv_path[100], cli_path[100], peer[8], fdarg[8];
    snprintf(srv_path, sizeof(srv_path), "%s/srv.sock", f.dir);
    snprintf(cli_path, sizeof(cli_path), "%s/cli.sock", f.dir);
    snprintf(peer, sizeof(peer), "%u", g);

    /* dom0: server mode, connecting to srv.sock when a client comes. */
    int srv_listen = unix_listen(srv_path);
    struct ext_proc server, client;
    ext_spawn(&f, 0,
              (char *[]){ vsp, "-m", "server", peer, "/local/domain/0/data/vsp", srv_path, NULL },
              NULL, -1, false, &server);
    /* The guest: client mode, listening on cli.sock (made here, and
     * handed over as a listening descriptor, as the proxy allows). */
    int cli_listen = unix_listen(cli_path);
    snprintf(fdarg, sizeof(fdarg), "%d", cli_listen);
    ext_spawn(&f, g, (char *[]){ vsp, "0", "/local/domain/0/data/vsp", fdarg, NULL }, NULL,
              cli_listen, false, &client);
    close(cli_listen);

    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cli_path);
    int user = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(user, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int back = accept_one(srv_listen);
    pump(user, back);
    close(user);
    close(back);
    close(srv_listen);
    /* Both keep serving further connections until told to stop. */
    ext_proc_kill(&client, SIGTERM);
    ext_proc_kill(&server, SIGTERM);
    ck_assert_int_eq(ext_proc_wait(&client), 128 + SIGTERM);
    ck_assert_int_eq(ext_proc_wait(&server), 128 + SIGTERM);
    unlink(srv_path);
    unlink(cli_path);
    /* The killed server never removed its keys. */
    xensim_xenstore_rm(f.sim, "/local/domain/0/data");
    ext_fix_stop(&f);
}
END_TEST

START_TEST(test_xenconsole)
{
    struct ext_fix f;
    ext_fix_start(&f);
    struct xensim_console_ptys *cp = xensim_console_ptys_start(f.sim);
    ck_assert_ptr_nonnull(cp);
    struct xensim_domain_config cfg = { .name = "echo", .entry = xensim_serve_guest_main };
    domid_t g = th_domain_cfg(f.sim, &cfg);
    char dom[8], line[256];
    snprintf(dom, sizeof(dom), "%u", g);

    /* xenconsole holds /var/lock/xenconsole.N: another run of this test
     * may hold it for a while, so a refusal is tried again. */
    struct ext_proc p;
    bool echoed = false;
    for (int tries = 0; tries < 100 && !echoed; tries++) {
        ext_spawn(&f, 0, (char *[]){ xenconsole, "--type=pv", "--interactive", dom, NULL },
                  NULL, -1, true, &p);
        ck_assert_int_eq(write(p.in, "hello xensim\n", 13), 13);
        echoed = ext_proc_line(&p, "echo: hello xensim", line, sizeof(line), WAIT);
        ext_proc_kill(&p, SIGTERM);
        int rc = ext_proc_wait(&p);
        if (!echoed) {
            ck_assert_msg(rc == EBUSY, "xenconsole ended with %d: %.*s", rc, (int)p.len, p.buf);
            usleep(100000);
        }
    }
    ck_assert(echoed);
    xensim_console_ptys_stop(cp);
    ext_fix_stop(&f);
}
END_TEST

static Suite *debian_suite(void)
{
    Suite *s = suite_create("ext_debian");
    TCase *t = tcase_create("xen-utils");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, test_vchan_socket_proxy);
    tcase_add_test(t, test_xenconsole);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    ext_require_xen_utils("vchan-socket-proxy");
    ext_xen_utils("vchan-socket-proxy", vsp, sizeof(vsp));
    ext_xen_utils("xenconsole", xenconsole, sizeof(xenconsole));
    SRunner *sr = srunner_create(debian_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
