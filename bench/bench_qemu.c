/*
 * QEMU's xen-block against xensim's blkback, same run, same guest, same
 * front end, same page-cached file: 4 KiB random reads per second from
 * blkfront with the ring full (what QEMU offers decides the shape: no
 * persistent grants, no indirect segments, a one-page ring), first
 * through xensim's blkback in dom0, then through Debian's unmodified QEMU
 * (qemu-system-xen 7.2) as a dom0 process on the drop-in libraries.
 *   qemu_blk_read4k_ops   QEMU's figure, beside blkback's as the baseline.
 * QEMU comes from $XENSIM_QEMU, else tests/ext/qemu in the build tree
 * (fetched by tests/ext/fetch-qemu.sh). Public API only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>
#include <xensim/external.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include <xensim/xensim.h>
#include "bench.h"

#ifndef BENCH_BUILDDIR
#error "BENCH_BUILDDIR and BENCH_SRCDIR name the trees"
#endif

extern char **environ;

#define FILE_BYTES (64ull << 20)
#define BLOCKS (FILE_BYTES / 4096)
#define WAIT_MS 20000

static char image[64], qemu[PATH_MAX + 64];

/* FILE_BYTES of data, read once so it sits in the page cache. */
static void make_file(void)
{
    bench_cached_file(image, FILE_BYTES, 7);
}

static bool find_qemu(void)
{
    const char *env = getenv("XENSIM_QEMU");
    char dest[PATH_MAX], cmd[3 * PATH_MAX];

    if (env && *env) {
        snprintf(qemu, sizeof(qemu), "%s", env);
        return access(qemu, X_OK) == 0;
    }
    snprintf(dest, sizeof(dest), "%s/tests/ext/qemu", BENCH_BUILDDIR);
    snprintf(qemu, sizeof(qemu), "%s/usr/libexec/xen-qemu-system-i386", dest);
    if (access(qemu, X_OK) == 0)
        return true;
    snprintf(cmd, sizeof(cmd), "sh '%s/tests/ext/fetch-qemu.sh' '%s' >/dev/null 2>&1",
             BENCH_SRCDIR, dest);
    return system(cmd) == 0 && access(qemu, X_OK) == 0;
}

struct bench {
    struct xensim *sim;
    struct xensim_external *ext;
    char dir[64];
    domid_t guest;
    pid_t qemu_pid;
    /* One timed run. */
    unsigned int devid;
    unsigned long total, issued, done;
    uint64_t seed, ns;
    struct xensim_blkfront *fe;
    struct xensim_blkfront_io *ios;
    uint8_t (*bufs)[4096];
    int rc;
};

static void back_up(void *p)
{
    struct bench *b = p;
    struct xensim_blkback_config bc = { .feature_flush = true, .max_ring_order = 4 };
    b->rc = xensim_vbd_back_config(&bc);
    if (!b->rc)
        b->rc = xensim_xenbus_backend_register(&xensim_vbd_back);
}

static void back_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_vbd_back, true);
    xensim_vbd_back_config(NULL);
}

static void front_up(void *p)
{
    struct bench *b = p;
    struct xensim_blkfront_config fc = { .backend_domid = 0 };
    b->rc = xensim_vbd_front_config(&fc);
    if (!b->rc)
        b->rc = xensim_xenbus_frontend_register(&xensim_vbd_front);
}

static void front_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vbd_front, true);
    xensim_vbd_front_config(NULL);
}

static void next_io(struct bench *b, struct xensim_blkfront_io *io)
{
    *io = (struct xensim_blkfront_io){ .op = BLKIF_OP_READ, .done = io->done, .arg = b,
                                       .sector = (bench_rnd(&b->seed) % BLOCKS) * 8, .nr_sectors = 8,
                                       .buf = b->bufs[io - b->ios] };
    b->issued++;
    BENCH_CHECK(xensim_blkfront_submit(b->fe, io) == 0);
}

static void io_done(struct xensim_blkfront_io *io)
{
    struct bench *b = io->arg;
    BENCH_CHECK(io->status == 0);
    b->done++;
    if (b->issued < b->total)
        next_io(b, io);
}

/* Guest code: the ring kept full until total reads are done. */
static void reads_fn(void *p)
{
    struct bench *b = p;
    b->fe = xensim_vbd_front_find(b->devid);
    BENCH_CHECK(b->fe != NULL);
    unsigned int depth = xensim_blkfront_ring_size(b->fe);
    b->ios = calloc(depth, sizeof(*b->ios));
    b->bufs = calloc(depth, 4096);
    BENCH_CHECK(b->ios && b->bufs);
    b->issued = b->done = 0;
    uint64_t t0 = bench_now_ns();
    xensim_blkfront_plug(b->fe);
    for (unsigned int i = 0; i < depth && b->issued < b->total; i++) {
        b->ios[i].done = io_done;
        next_io(b, &b->ios[i]);
    }
    xensim_blkfront_unplug(b->fe);
    xensim_guest_irq_disable();
    while (b->done < b->total) {
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        xensim_guest_irq_disable();
    }
    xensim_guest_irq_enable();
    b->ns = bench_now_ns() - t0;
    free(b->ios);
    free(b->bufs);
}

static bool state_is(struct bench *b, const char *path, const char *want)
{
    char v[16];
    int n = xensim_xenstore_read(b->sim, path, v, sizeof(v) - 1);
    v[n > 0 ? n : 0] = '\0';
    return !strcmp(v, want);
}

static void find_fn(void *p)
{
    struct bench *b = p;
    b->fe = xensim_vbd_front_find(b->devid);
}

static void wait_connected(struct bench *b, const char *btype)
{
    char f[128], k[128];
    snprintf(f, sizeof(f), "/local/domain/%u/device/vbd/%u/state", b->guest, b->devid);
    snprintf(k, sizeof(k), "/local/domain/0/backend/%s/%u/%u/state", btype, b->guest, b->devid);
    for (unsigned int i = 0; i < WAIT_MS; i++) {
        if (state_is(b, f, "4") && state_is(b, k, "4"))
            break;
        usleep(1000);
    }
    BENCH_CHECK(state_is(b, f, "4") && state_is(b, k, "4"));
    /* XenStore says Connected a moment before the driver has the disk. */
    for (unsigned int i = 0; i < WAIT_MS; i++) {
        BENCH_CHECK(xensim_domain_call(b->sim, b->guest, 0, find_fn, b) == 0);
        if (b->fe)
            return;
        usleep(1000);
    }
    BENCH_CHECK(b->fe != NULL);
}

/* Median ops/s of bench_runs() timed runs on the connected device. */
static double timed_reads(struct bench *b, unsigned long n)
{
    double v[16];
    unsigned runs = bench_runs();
    for (unsigned r = 0; r < runs; r++) {
        b->total = n;
        b->seed = 42 + r;
        BENCH_CHECK(xensim_domain_call(b->sim, b->guest, 0, reads_fn, b) == 0);
        v[r] = (double)n * 1e9 / (double)b->ns;
    }
    return bench_median(v, runs);
}

static void spawn_qemu(struct bench *b)
{
    char lib[PATH_MAX + 32], hv[128], xs[128], id[16], name[32];
    char *env[256];
    unsigned int n = 0;

    snprintf(lib, sizeof(lib), "LD_LIBRARY_PATH=%s/libxen", BENCH_BUILDDIR);
    snprintf(hv, sizeof(hv), "XENSIM_HV_PATH=%s/dom/0/hypervisor", b->dir);
    snprintf(xs, sizeof(xs), "XENSTORED_PATH=%s/socket", b->dir);
    for (char **e = environ; *e && n < 250; e++)
        if (strncmp(*e, "LD_", 3) && strncmp(*e, "XENSIM_", 7) && strncmp(*e, "XENSTORED_", 10))
            env[n++] = *e;
    env[n++] = lib;
    env[n++] = hv;
    env[n++] = xs;
    env[n] = NULL;
    snprintf(id, sizeof(id), "%u", b->guest);
    snprintf(name, sizeof(name), "domain-%u", b->guest);
    char *argv[] = { qemu, "-xen-domid", id, "-xen-attach", "-name", name, "-nographic",
                     "-M", "xenpv", "-nodefaults", "-no-user-config", "-monitor", "/dev/null",
                     "-serial", "/dev/null", "-parallel", "/dev/null", NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    BENCH_CHECK_RC(posix_spawn(&b->qemu_pid, qemu, &fa, NULL, argv, env));
    posix_spawn_file_actions_destroy(&fa);
}

int main(void)
{
    unsigned long n = bench_iters(20000, 500000);
    struct bench b = { 0 };
    char sock[96];

    if (!find_qemu()) {
        const char *ci = getenv("CI");
        fprintf(stderr, "bench_qemu: no QEMU (apt-get download qemu-system-xen failed)\n");
        return ci && !strcmp(ci, "true") ? 1 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    make_file();
    snprintf(b.dir, sizeof(b.dir), "/tmp/xensim-bench-qemu.XXXXXX");
    BENCH_CHECK(mkdtemp(b.dir) != NULL);
    struct xensim_config sc = { .quiet = true };
    b.sim = xensim_create(&sc);
    BENCH_CHECK(b.sim != NULL);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    BENCH_CHECK(xensim_domain_create(b.sim, &d0) == 0);
    BENCH_CHECK(xensim_domain_unpause(b.sim, 0) == 0);
    snprintf(sock, sizeof(sock), "%s/socket", b.dir);
    BENCH_CHECK_RC(-xensim_xenstore_start(b.sim, sock));
    BENCH_CHECK_RC(-xensim_xenbus_dom0_init(b.sim));
    struct xensim_external_config ec = { .dir = b.dir };
    b.ext = xensim_external_start(b.sim, &ec);
    BENCH_CHECK(b.ext != NULL);
    struct xensim_domain_config du = { .name = "guest", .nr_pages = 8192 };
    int g = xensim_domain_create(b.sim, &du);
    BENCH_CHECK(g > 0);
    b.guest = (domid_t)g;
    BENCH_CHECK(xensim_domain_unpause(b.sim, b.guest) == 0);
    BENCH_CHECK(xensim_domain_call(b.sim, 0, 0, back_up, &b) == 0 && !b.rc);
    BENCH_CHECK(xensim_domain_call(b.sim, b.guest, 0, front_up, &b) == 0 && !b.rc);

    /* xensim's blkback: xvda. */
    /* Writable, as QEMU 7.2's xen-block fails to realize a read-only
     * qdisk ("Block node is read-only"); nothing writes. */
    const char *bk[] = { "params", image, "mode", "w", NULL };
    const char *fk[] = { "virtual-device", "51712", "device-type", "disk", NULL };
    struct xensim_device_config vbd = { .type = "vbd", .frontend = b.guest, .backend = 0,
                                        .devid = 51712, .front_keys = fk, .back_keys = bk };
    BENCH_CHECK_RC(-xensim_device_add(b.sim, &vbd));
    b.devid = 51712;
    wait_connected(&b, "vbd");
    double blkback = timed_reads(&b, n);
    BENCH_CHECK_RC(-xensim_device_remove(b.sim, "vbd", b.guest, 51712, WAIT_MS));

    /* QEMU's xen-block: xvdb, the same file. */
    spawn_qemu(&b);
    struct xensim_qdisk q = { .frontend = b.guest, .backend = 0, .vdev = "xvdb", .path = image };
    BENCH_CHECK_RC(-xensim_qdisk_add(b.sim, &q));
    BENCH_CHECK_RC(-xensim_qdisk_devid("xvdb", &b.devid));
    wait_connected(&b, "qdisk");
    double by_qemu = timed_reads(&b, n);
    bench_report("qemu_blk_read4k_ops", by_qemu, "ops/s", blkback);
    BENCH_CHECK_RC(-xensim_device_remove(b.sim, "vbd", b.guest, b.devid, WAIT_MS));
    kill(b.qemu_pid, SIGTERM);
    int status;
    while (waitpid(b.qemu_pid, &status, 0) < 0 && errno == EINTR)
        ;

    BENCH_CHECK(xensim_domain_call(b.sim, b.guest, 0, front_down, &b) == 0);
    BENCH_CHECK(xensim_domain_call(b.sim, 0, 0, back_down, &b) == 0);
    xensim_external_stop(b.ext);
    xensim_destroy(b.sim);
    unlink(image);
    unlink(sock);
    rmdir(b.dir);
    return 0;
}
