/*
 * The external-domain suites' fixture: see ext_fixture.h. Relies on the
 * public embedding API, external.h and the harness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xensim/xenbus.h>
#include "ext_fixture.h"

extern char **environ;

#ifndef EXT_BUILDDIR
#error "EXT_BUILDDIR names the build tree"
#endif
#ifndef EXT_SRCDIR
#error "EXT_SRCDIR names the source tree"
#endif

const char *ext_built(const char *rel, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", EXT_BUILDDIR, rel);
    return buf;
}

void ext_fix_start(struct ext_fix *f)
{
    char path[128];

    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/xensim-ext.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(f->dir));
    f->sim = th_sim_new();
    snprintf(path, sizeof(path), "%s/socket", f->dir);
    ck_assert_int_eq(xensim_xenstore_start(f->sim, path), 0);
    struct xensim_external_config cfg = { .dir = f->dir };
    f->ext = xensim_external_start(f->sim, &cfg);
    ck_assert_ptr_nonnull(f->ext);
    /* Processes that die must not take the test with them through a
     * write to a socket they held. */
    signal(SIGPIPE, SIG_IGN);
}

void ext_fix_assert_idle(struct ext_fix *f)
{
    struct xensim_external_stats st;

    xensim_external_sync(f->ext, &st);
    ck_assert_uint_eq(st.connections, 0);
    ck_assert_uint_eq(st.ports, 0);
    ck_assert_uint_eq(st.maps, 0);
    ck_assert_uint_eq(st.shares, 0);
    ck_assert_uint_eq(st.deferred, 0);
    ck_assert_uint_eq(st.xenstore_clients, 0);
    ck_assert_uint_eq(st.domains_asked, 0);
}

/* A dom0 process talks to the daemon over its socket, and the daemon
 * drops a dead process's watches when it reads its socket's end, on its
 * own thread, with nothing to wait on: ask until it has (or until a
 * bound far past any real delay, and let the check say what is left). */
static void xenstore_settle(struct ext_fix *f)
{
    struct xensim_xenstore_usage u;

    for (int i = 0; i < 20000; i++) {
        if (xensim_xenstore_usage(f->sim, &u) || (!u.watches && !u.transactions))
            return;
        usleep(1000);
    }
}

void ext_fix_stop(struct ext_fix *f)
{
    char path[128];

    ext_fix_assert_idle(f);
    xenstore_settle(f);
    th_check_clean(f->sim);
    xensim_external_stop(f->ext);
    th_check_clean(f->sim);
    xensim_destroy(f->sim);
    snprintf(path, sizeof(path), "%s/socket", f->dir);
    unlink(path);
    rmdir(f->dir);
}

void ext_spawn(struct ext_fix *f, domid_t domid, char *const argv[], char *const extra_env[],
               int keep_fd, bool with_stdin, struct ext_proc *p)
{
    static char lib[PATH_MAX + 32], hv[160], xs[160];
    char *env[256];
    unsigned int n = 0;
    int out[2], in[2] = { -1, -1 };
    posix_spawn_file_actions_t fa;

    snprintf(lib, sizeof(lib), "LD_LIBRARY_PATH=%s/libxen", EXT_BUILDDIR);
    snprintf(hv, sizeof(hv), "XENSIM_HV_PATH=%s/dom/%u/hypervisor", f->dir, domid);
    if (domid)
        snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/dom/%u/xenstore", f->dir, domid);
    else
        snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/socket", f->dir);
    for (char **e = environ; *e && n < 200; e++)
        if (strncmp(*e, "LD_LIBRARY_PATH=", 16) && strncmp(*e, "XENSIM_", 7) &&
            strncmp(*e, "XENSTORED_", 10) && strncmp(*e, "LD_PRELOAD=", 11))
            env[n++] = *e;
    env[n++] = lib;
    env[n++] = hv;
    env[n++] = xs;
    for (unsigned int i = 0; extra_env && extra_env[i] && n < 254; i++)
        env[n++] = extra_env[i];
    env[n] = NULL;

    memset(p, 0, sizeof(*p));
    ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
    if (with_stdin)
        ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (with_stdin)
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (keep_fd >= 0) {
        /* dup2 onto itself clears close-on-exec (posix_spawn, glibc 2.29+). */
        posix_spawn_file_actions_adddup2(&fa, keep_fd, keep_fd);
    }
    int err = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    ck_assert_msg(err == 0, "spawn %s: %s", argv[0], strerror(err));
    close(out[1]);
    p->out = out[0];
    p->in = -1;
    if (with_stdin) {
        close(in[0]);
        p->in = in[1];
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

bool ext_proc_line(struct ext_proc *p, const char *needle, char *line, size_t size,
                   unsigned int timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms;

    for (;;) {
        char *nl;
        while ((nl = memchr(p->buf, '\n', p->len))) {
            *nl = '\0';
            bool hit = strstr(p->buf, needle) != NULL;
            if (hit && line)
                snprintf(line, size, "%s", p->buf);
            size_t used = (size_t)(nl - p->buf) + 1;
            memmove(p->buf, p->buf + used, p->len - used);
            p->len -= used;
            if (hit)
                return true;
        }
        if (p->len == sizeof(p->buf))
            p->len = 0;             /* a line too long to keep: drop it */
        uint64_t t = now_ms();
        if (t >= end || p->out < 0)
            return false;
        struct pollfd pf = { .fd = p->out, .events = POLLIN };
        if (poll(&pf, 1, (int)(end - t)) <= 0)
            return false;
        ssize_t n = read(p->out, p->buf + p->len, sizeof(p->buf) - p->len);
        if (n <= 0) {
            close(p->out);
            p->out = -1;
            return false;
        }
        p->len += (size_t)n;
    }
}

int ext_proc_wait(struct ext_proc *p)
{
    int status;

    if (p->in >= 0) {
        close(p->in);
        p->in = -1;
    }
    while (waitpid(p->pid, &status, 0) < 0)
        ck_assert_int_eq(errno, EINTR);
    if (p->out >= 0) {
        close(p->out);
        p->out = -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void ext_proc_kill(struct ext_proc *p, int sig)
{
    kill(p->pid, sig);
}

/* prog under the build tree's tests/ext/SUB, fetched there by the source
 * tree's SCRIPT if it is not there yet. */
static const char *fetched(const char *sub, const char *script, const char *prog, char *buf,
                           size_t size)
{
    char dest[PATH_MAX], cmd[3 * PATH_MAX];

    snprintf(dest, sizeof(dest), "%s/tests/ext/%s", EXT_BUILDDIR, sub);
    snprintf(buf, size, "%s/%s", dest, prog);
    if (access(buf, X_OK) == 0)
        return buf;
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/ext/%s' '%s'", EXT_SRCDIR, script, dest);
    if (system(cmd) != 0 || access(buf, X_OK) != 0)
        return NULL;
    return buf;
}

const char *ext_xen_utils(const char *prog, char *buf, size_t size)
{
    char rel[256];
    snprintf(rel, sizeof(rel), "usr/lib/xen-4.17/bin/%s", prog);
    return fetched("xen-utils", "fetch-xen-utils.sh", rel, buf, size);
}

const char *ext_qemu(char *buf, size_t size)
{
    return fetched("qemu", "fetch-qemu.sh", "usr/libexec/xen-qemu-system-i386", buf, size);
}

void ext_require_xen_utils(const char *prog)
{
    char buf[PATH_MAX];

    if (ext_xen_utils(prog, buf, sizeof(buf)))
        return;
    const char *ci = getenv("CI");
    if (ci && !strcmp(ci, "true")) {
        fprintf(stderr, "FAIL (CI): %s: apt-get download xen-utils-4.17 failed\n", prog);
        exit(1);
    }
    fprintf(stderr, "SKIP: %s: apt-get download xen-utils-4.17 failed\n", prog);
    exit(77);
}
