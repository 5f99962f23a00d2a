/*
 * External domains, measured between processes (ext_peer.c) that are
 * domains of a simulator run here, through the drop-in libraries:
 *   ext_evtchn_rtt    an event round trip between two guests' processes
 *                     (notify, pending, unmask each way), beside a 1-byte
 *                     unix-socket ping-pong between the same processes;
 *   ext_vchan_mib_s   Debian's libxenvchan streaming between them, 16-page
 *                     rings, beside a unix-socket stream between them;
 *   ext_gnttab_map_1  map + touch + unmap of one page a guest granted,
 *                     from a guest's process, beside a memfd page's
 *                     mmap + touch + munmap in that process.
 * Public API only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xensim/external.h>
#include <xensim/guest.h>
#include <xensim/xensim.h>
#include "bench.h"

#ifndef BENCH_BUILDDIR
#error "BENCH_BUILDDIR names the build tree"
#endif

extern char **environ;

struct bench_env {
    struct xensim *sim;
    struct xensim_external *ext;
    char dir[64];
};

struct proc {
    pid_t pid;
    FILE *out;
};

/* argv[0] is ext_peer's role; keep is a descriptor the child keeps. */
static void spawn(struct bench_env *b, domid_t dom, char *const args[], int keep, struct proc *p)
{
    static char peer[4096], lib[4096 + 32], hv[128], xs[128];
    char *argv[10] = { peer }, *env[256];
    unsigned int n = 0;
    int out[2];
    posix_spawn_file_actions_t fa;

    snprintf(peer, sizeof(peer), "%s/bench/ext_peer", BENCH_BUILDDIR);
    for (int i = 0; args[i] && i < 8; i++)
        argv[1 + i] = args[i];
    snprintf(lib, sizeof(lib), "LD_LIBRARY_PATH=%s/libxen", BENCH_BUILDDIR);
    snprintf(hv, sizeof(hv), "XENSIM_HV_PATH=%s/dom/%u/hypervisor", b->dir, dom);
    if (dom)
        snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/dom/%u/xenstore", b->dir, dom);
    else
        snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/socket", b->dir);
    for (char **e = environ; *e && n < 250; e++)
        if (strncmp(*e, "LD_", 3) && strncmp(*e, "XENSIM_", 7) && strncmp(*e, "XENSTORED_", 10))
            env[n++] = *e;
    env[n++] = lib;
    env[n++] = hv;
    env[n++] = xs;
    env[n] = NULL;
    BENCH_CHECK(pipe2(out, O_CLOEXEC) == 0);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (keep >= 0)
        posix_spawn_file_actions_adddup2(&fa, keep, keep);
    BENCH_CHECK_RC(posix_spawn(&p->pid, peer, &fa, NULL, argv, env));
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    p->out = fdopen(out[0], "r");
    BENCH_CHECK(p->out != NULL);
}

/* The value of the next "key value" line it prints (0 for a bare key). */
static double value_of(struct proc *p, const char *key)
{
    char line[256];
    size_t k = strlen(key);
    while (fgets(line, sizeof(line), p->out))
        if (!strncmp(line, key, k) && (line[k] == ' ' || line[k] == '\n'))
            return line[k] == ' ' ? strtod(line + k + 1, NULL) : 0;
    XENSIM_DIE(key, errno);
}

static int finish(struct proc *p)
{
    int status;
    BENCH_CHECK(waitpid(p->pid, &status, 0) == p->pid);
    fclose(p->out);
    return status;
}

static void env_start(struct bench_env *b, unsigned long pages)
{
    struct xensim_config sc = { .quiet = true };
    char path[128];
    snprintf(b->dir, sizeof(b->dir), "/tmp/xensim-bench.XXXXXX");
    BENCH_CHECK(mkdtemp(b->dir) != NULL);
    b->sim = xensim_create(&sc);
    BENCH_CHECK(b->sim != NULL);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    BENCH_CHECK(xensim_domain_create(b->sim, &d0) == 0);
    BENCH_CHECK(xensim_domain_unpause(b->sim, 0) == 0);
    snprintf(path, sizeof(path), "%s/socket", b->dir);
    BENCH_CHECK(xensim_xenstore_start(b->sim, path) == 0);
    struct xensim_external_config ec = { .dir = b->dir };
    b->ext = xensim_external_start(b->sim, &ec);
    BENCH_CHECK(b->ext != NULL);
    for (int i = 1; i <= 2; i++) {
        struct xensim_domain_config g = { .nr_pages = pages };
        int d = xensim_domain_create(b->sim, &g);
        BENCH_CHECK(d == i);
        BENCH_CHECK(xensim_domain_unpause(b->sim, (domid_t)d) == 0);
    }
}

static void env_stop(struct bench_env *b)
{
    char path[128];
    xensim_external_stop(b->ext);
    xensim_destroy(b->sim);
    snprintf(path, sizeof(path), "%s/socket", b->dir);
    unlink(path);
    rmdir(b->dir);
}

static void bench_evtchn(void)
{
    struct bench_env b;
    struct proc pong, ping;
    int sv[2];
    char sock[2][8], port[16], iters[24];

    env_start(&b, 0);
    BENCH_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    snprintf(sock[0], sizeof(sock[0]), "%d", sv[0]);
    snprintf(sock[1], sizeof(sock[1]), "%d", sv[1]);
    snprintf(iters, sizeof(iters), "%lu", bench_iters(5000, 50000));
    spawn(&b, 2, (char *[]){ "evtchn-pong", "1", sock[1], NULL }, sv[1], &pong);
    snprintf(port, sizeof(port), "%.0f", value_of(&pong, "port"));
    spawn(&b, 1, (char *[]){ "evtchn-ping", "2", port, sock[0], iters, NULL }, sv[0], &ping);
    close(sv[0]);
    close(sv[1]);
    double ev = value_of(&ping, "evtchn_ns"), ux = value_of(&ping, "unix_ns");
    BENCH_CHECK(finish(&ping) == 0);
    kill(pong.pid, SIGKILL);
    finish(&pong);
    env_stop(&b);
    bench_report("ext_evtchn_rtt", ev, "ns", ux);
}

static void bench_vchan(void)
{
    struct bench_env b;
    struct proc srv, cli;
    int sv[2];
    char sock[2][8], bytes[24];
    env_start(&b, 0);
    BENCH_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    snprintf(sock[0], sizeof(sock[0]), "%d", sv[0]);
    snprintf(sock[1], sizeof(sock[1]), "%d", sv[1]);
    snprintf(bytes, sizeof(bytes), "%lu", bench_iters(64ul << 20, 1024ul << 20));
    /* dom0 serves (its home is its own), guest 1 receives. */
    spawn(&b, 0, (char *[]){ "vchan-server", "1", "/local/domain/0/data/bench", "65536", bytes,
                             sock[0], NULL }, sv[0], &srv);
    value_of(&srv, "listening");
    spawn(&b, 1, (char *[]){ "vchan-client", "0", "/local/domain/0/data/bench", bytes, sock[1],
                             NULL }, sv[1], &cli);
    close(sv[0]);
    close(sv[1]);
    double vm = value_of(&cli, "vchan_mibs"), um = value_of(&cli, "unix_mibs");
    BENCH_CHECK(finish(&cli) == 0);
    BENCH_CHECK(finish(&srv) == 0);
    env_stop(&b);
    bench_report("ext_vchan_mib_s", vm, "MiB/s", um);
}

struct grant {
    xen_pfn_t pfn;
    long ref;
};

static void grant_fn(void *arg)
{
    struct grant *g = arg;
    BENCH_CHECK(!xensim_guest_page_alloc(&g->pfn));
    g->ref = xensim_gnttab_grant_access(1, g->pfn, false);
}

static void bench_map(void)
{
    struct bench_env b;
    struct proc m;
    struct grant g;
    char ref[24], iters[24];

    env_start(&b, 0);
    BENCH_CHECK(xensim_domain_call(b.sim, 2, 0, grant_fn, &g) == 0 && g.ref > 0);
    snprintf(ref, sizeof(ref), "%ld", g.ref);
    snprintf(iters, sizeof(iters), "%lu", bench_iters(5000, 50000));
    spawn(&b, 1, (char *[]){ "gnttab-map", "2", ref, iters, NULL }, -1, &m);
    double map = value_of(&m, "map_ns"), mm = value_of(&m, "mmap_ns");
    BENCH_CHECK(finish(&m) == 0);
    env_stop(&b);
    bench_report("ext_gnttab_map_1", map, "ns", mm);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bench_evtchn();
    bench_vchan();
    bench_map();
    return 0;
}
