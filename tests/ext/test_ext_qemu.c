/*
 * Debian's unmodified QEMU (qemu-system-xen 7.2, fetched with apt-get
 * download and unpacked, never installed) as the block back end of a
 * simulated guest: QEMU runs as a dom0 process on the drop-in libraries,
 * attaches to the guest (-xen-attach -M xenpv), finds the qdisk the
 * toolstack wrote as libxl does, and serves xensim's blkfront.
 *  - A write, a flush and a read back of several MiB, across ring orders
 *    0 and 4, with QEMU's grant copy and with its map-and-memcpy
 *    fallback (XENSIM_GNTTAB_NO_COPY makes grant copy fail in the drop-in
 *    library, so QEMU's probe turns it off); the backing file holds
 *    exactly what was written.
 *  - Removing the disk: QEMU closes its end (state 6) and unmaps the
 *    ring, and nothing is left in the simulator or the server.
 *  - Console 0 through QEMU's console back end (type=ioemu): the guest's
 *    boot line comes out of QEMU's chardev (a unix socket), and a line
 *    written into it reaches the guest, which echoes it.
 *  - The guest destroyed mid-I/O (its back ends removed as libxl does):
 *    QEMU lets go of everything and the domain is gone.
 *  - Killing QEMU mid-I/O: the front end's requests end with an error,
 *    the guest lives, and the server drops QEMU's connections, pins and
 *    ports.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>
#include <xensim/xenbus.h>
#include "ext_fixture.h"

#define DISK_BYTES (16u << 20)
#define IO_BYTES (4u << 20)
#define WAIT_MS 20000

static char qemu[PATH_MAX];

struct env {
    struct ext_fix f;
    domid_t fe;
    unsigned int devid;
    char image[64];
    struct ext_proc q;
    struct xensim_blkfront_config fcfg;
    int rc;
    unsigned int base_pins;         /* the guest's pages others mapped before QEMU */
    uint64_t sector, bytes;
    uint8_t *w, *r;
};

static void front_up(void *p)
{
    struct env *e = p;
    ck_assert_int_eq(xensim_vbd_front_config(&e->fcfg), 0);
    ck_assert_int_eq(xensim_xenbus_frontend_register(&xensim_vbd_front), 0);
}

static void front_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vbd_front, true);
    ck_assert_int_eq(xensim_vbd_front_config(NULL), 0);
}

static const char *xs_read(struct env *e, const char *fmt, unsigned int a, unsigned int b)
{
    static char buf[256];
    char path[192];
    snprintf(path, sizeof(path), fmt, a, b);
    int n = xensim_xenstore_read(e->f.sim, path, buf, sizeof(buf));
    return n < 0 ? NULL : buf;
}

static bool wait_value(struct env *e, const char *fmt, unsigned int a, unsigned int b,
                       const char *want)
{
    for (unsigned int i = 0; i < WAIT_MS; i++) {
        const char *v = xs_read(e, fmt, a, b);
        if (want ? v && !strcmp(v, want) : !v)
            return true;
        usleep(1000);
    }
    return false;
}

#define FRONT "/local/domain/%u/device/vbd/%u/state"
#define BACK "/local/domain/0/backend/qdisk/%u/%u/state"

static void env_up(struct env *e, unsigned int order, char *const *qemu_env)
{
    e->w = malloc(IO_BYTES);
    e->r = malloc(IO_BYTES);
    ck_assert(e->w && e->r);
    ext_fix_start(&e->f);
    struct xensim_domain_config gc = { .name = "guest", .nr_pages = 8192, .nr_vcpus = 2 };
    e->fe = th_domain_cfg(e->f.sim, &gc);
    snprintf(e->image, sizeof(e->image), "/tmp/xensim-qdisk-XXXXXX");
    int fd = mkstemp(e->image);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, DISK_BYTES), 0);
    close(fd);
    e->fcfg = (struct xensim_blkfront_config){ .max_ring_order = order, .persistent = true,
                                               .max_indirect_segments = 32 };
    th_call(e->f.sim, e->fe, 0, front_up, e);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e->f.sim, e->fe, &info), 0);
    e->base_pins = info.pages_mapped_by_others;

    char dom[16];
    snprintf(dom, sizeof(dom), "%u", e->fe);
    char name[32];
    snprintf(name, sizeof(name), "domain-%u", e->fe);
    char *argv[] = { qemu, "-xen-domid", dom, "-xen-attach", "-name", name, "-nographic",
                     "-M", "xenpv", "-nodefaults", "-no-user-config", "-monitor", "/dev/null",
                     "-serial", "/dev/null", "-parallel", "/dev/null", NULL };
    ext_spawn(&e->f, 0, argv, qemu_env, -1, false, &e->q);

    struct xensim_qdisk q = { .frontend = e->fe, .backend = 0, .vdev = "xvda",
                              .path = e->image };
    ck_assert_int_eq(xensim_qdisk_devid("xvda", &e->devid), 0);
    ck_assert_uint_eq(e->devid, 51712);
    ck_assert_int_eq(xensim_qdisk_add(e->f.sim, &q), 0);
}

static void wait_connected(struct env *e)
{
    bool fe = wait_value(e, FRONT, e->fe, e->devid, "4");
    bool be = wait_value(e, BACK, e->fe, e->devid, "4");
    ck_assert_msg(fe && be, "front %s back %s", xs_read(e, FRONT, e->fe, e->devid),
                  xs_read(e, BACK, e->fe, e->devid));
}

static void io_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(e->devid);
    if (!fe) {
        e->rc = -ENODEV;
        return;
    }
    uint64_t n = e->bytes / 512;
    e->rc = xensim_blkfront_write(fe, e->sector, e->w, n);
    if (!e->rc)
        e->rc = xensim_blkfront_flush(fe);
    if (!e->rc)
        e->rc = xensim_blkfront_read(fe, e->sector, e->r, n);
}

/* What QEMU offered, as the front end took it. */
static void features_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(e->devid);
    e->rc = fe ? (int)xensim_blkfront_ring_size(fe) : -ENODEV;
}

static void fill(uint8_t *buf, size_t len, unsigned int seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
}

static void check_image(struct env *e)
{
    int fd = open(e->image, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, e->r, e->bytes, (off_t)(e->sector * 512)), (ssize_t)e->bytes);
    close(fd);
    ck_assert_msg(memcmp(e->w, e->r, e->bytes) == 0, "the image differs from what was written");
}

static void env_down(struct env *e, bool qemu_alive)
{
    if (qemu_alive) {
        /* The toolstack's removal: QEMU closes its end and unmaps. */
        ck_assert_int_eq(xensim_device_remove(e->f.sim, "vbd", e->fe, e->devid, WAIT_MS), 0);
        ext_proc_kill(&e->q, SIGTERM);
        ext_proc_wait(&e->q);
    }
    th_call(e->f.sim, e->fe, 0, front_down, e);
    ext_fix_stop(&e->f);
    unlink(e->image);
    free(e->w);
    free(e->r);
}

static const struct { unsigned int order; bool no_copy; } rows[] = {
    { 0, false }, { 4, false }, { 0, true }, { 4, true },
};

START_TEST(qdisk_write_flush_read)
{
    struct env *e = calloc(1, sizeof(*e));
    char *no_copy[] = { "XENSIM_GNTTAB_NO_COPY=1", NULL };
    env_up(e, rows[_i].order, rows[_i].no_copy ? no_copy : NULL);
    wait_connected(e);
    /* What QEMU's xen-block published, as the front end reads it. */
    const char *b = "/local/domain/0/backend/qdisk/%u/%u/";
    char key[128];
    snprintf(key, sizeof(key), "%s%s", b, "max-ring-page-order");
    ck_assert_str_eq(xs_read(e, key, e->fe, e->devid), "4");
    snprintf(key, sizeof(key), "%s%s", b, "feature-flush-cache");
    ck_assert_str_eq(xs_read(e, key, e->fe, e->devid), "1");
    snprintf(key, sizeof(key), "%s%s", b, "sectors");
    ck_assert_str_eq(xs_read(e, key, e->fe, e->devid), "32768");
    snprintf(key, sizeof(key), "%s%s", b, "feature-persistent");
    ck_assert_ptr_null(xs_read(e, key, e->fe, e->devid));
    th_call(e->f.sim, e->fe, 0, features_fn, e);
    ck_assert_int_eq(e->rc, rows[_i].order ? 512 : 32);

    e->sector = 2048 + 7;
    e->bytes = IO_BYTES;
    fill(e->w, e->bytes, (unsigned int)_i + 1);
    th_call(e->f.sim, e->fe, 0, io_fn, e);
    ck_assert_int_eq(e->rc, 0);
    ck_assert_msg(memcmp(e->w, e->r, e->bytes) == 0, "read back differs");
    check_image(e);
    env_down(e, true);
    free(e);
}
END_TEST

/* Writes from vCPU 1 until one fails: e->rc counts those done, busy_err
 * is the failure. */
static int busy_err;
static _Atomic bool busy_done;

static void busy_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(e->devid);
    static uint8_t buf[64 * 512];
    busy_err = fe ? 0 : -ENODEV;
    for (unsigned int i = 0; fe; i++) {
        if ((busy_err = xensim_blkfront_write(fe, (i % 64) * 64, buf, 64)))
            break;
        __atomic_store_n(&e->rc, (int)i + 1, __ATOMIC_RELEASE);
    }
}

static void *busy_thread(void *p)
{
    struct env *e = p;
    xensim_domain_call(e->f.sim, e->fe, 1, busy_fn, e);
    atomic_store(&busy_done, true);
    return NULL;
}

static void start_busy(struct env *e, pthread_t *t)
{
    e->rc = 0;
    atomic_store(&busy_done, false);
    ck_assert_int_eq(pthread_create(t, NULL, busy_thread, e), 0);
    while (__atomic_load_n(&e->rc, __ATOMIC_ACQUIRE) < 20 && !atomic_load(&busy_done))
        usleep(1000);
    ck_assert_msg(__atomic_load_n(&e->rc, __ATOMIC_ACQUIRE) >= 20,
                  "the I/O loop stopped after %d writes: %d", e->rc, busy_err);
}

/* QEMU dies with writes in flight: its connections, ports and pins go at
 * once; the toolstack removes the disk, and the front end fails what was
 * in flight rather than wait for ever. The guest lives on. */
START_TEST(qemu_killed_mid_io)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, 0, NULL);
    wait_connected(e);
    pthread_t t;
    start_busy(e, &t);
    ext_proc_kill(&e->q, SIGKILL);
    ck_assert_int_eq(ext_proc_wait(&e->q), 128 + SIGKILL);
    struct xensim_external_stats st;
    xensim_external_sync(e->f.ext, &st);
    ck_assert_uint_eq(st.connections, 0);
    ck_assert_uint_eq(st.maps, 0);
    ck_assert_uint_eq(st.ports, 0);
    /* Nobody answers Closed: the removal times out and removes anyway. */
    ck_assert_int_eq(xensim_device_remove(e->f.sim, "vbd", e->fe, e->devid, 200), -ETIMEDOUT);
    pthread_join(t, NULL);
    ck_assert_int_ne(busy_err, 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e->f.sim, e->fe, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    ck_assert_uint_eq(info.pages_mapped_by_others, e->base_pins);
    env_down(e, false);
    free(e);
}
END_TEST

/* The guest dies with writes in flight, and the toolstack removes its
 * devices' back-end halves as libxl's domain destroy does (its home, with
 * the front ends, goes with the domain): QEMU destroys its device and
 * unmaps, and the guest's domain is then gone entirely. Whether QEMU
 * would also close on the front end's going alone depends on where its
 * I/O was; libxl does not leave it to that. */
START_TEST(guest_killed_mid_io)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, 2, NULL);
    wait_connected(e);
    pthread_t t;
    start_busy(e, &t);
    ck_assert_int_eq(xensim_domain_destroy(e->f.sim, e->fe), 0);
    pthread_join(t, NULL);
    char bdir[96];
    snprintf(bdir, sizeof(bdir), "/local/domain/0/backend/qdisk/%u/%u", e->fe, e->devid);
    ck_assert_int_eq(xensim_xenstore_rm(e->f.sim, bdir), 0);
    struct xensim_external_stats st;
    for (unsigned int i = 0; i < WAIT_MS; i++) {
        xensim_external_sync(e->f.ext, &st);
        if (!st.maps)
            break;
        usleep(1000);
    }
    ck_assert_uint_eq(st.maps, 0);
    th_wait_gone(e->f.sim, e->fe);
    /* QEMU writes its state once more as it goes, then removes it all. */
    bool gone = false;
    for (unsigned int i = 0; i < WAIT_MS && !gone; i++) {
        char v[8];
        gone = xensim_xenstore_read(e->f.sim, bdir, v, sizeof(v)) == -ENOENT;
        if (!gone)
            usleep(1000);
    }
    ck_assert_msg(gone, "QEMU left %s", bdir);
    ck_assert_int_eq(xensim_device_remove(e->f.sim, "vbd", e->fe, e->devid, WAIT_MS), -ENOENT);
    ext_proc_kill(&e->q, SIGTERM);
    ext_proc_wait(&e->q);
    ext_fix_stop(&e->f);
    unlink(e->image);
    free(e->w);
    free(e->r);
    free(e);
}
END_TEST

void xensim_serve_guest_main(void *arg);    /* tools/serve_guest.c */

/* Reads from fd until buf holds needle, or WAIT_MS pass. */
static bool read_until(int fd, char *buf, size_t size, const char *needle)
{
    size_t len = strlen(buf);
    for (unsigned int waited = 0; waited < WAIT_MS && !strstr(buf, needle); waited += 10) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = read(fd, buf + len, size - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return strstr(buf, needle) != NULL;
}

START_TEST(console_through_qemu)
{
    struct ext_fix f;
    ext_fix_start(&f);
    struct xensim_domain_config gc = { .name = "echo", .entry = xensim_serve_guest_main };
    domid_t g = th_domain_cfg(f.sim, &gc);
    char sock[100], output[192], dom[16], name[32];
    snprintf(sock, sizeof(sock), "%s/console.sock", f.dir);
    snprintf(output, sizeof(output), "unix:%s,server=on,wait=off", sock);
    ck_assert_int_eq(xensim_qemu_console_add(f.sim, g, 0, output), 0);
    ck_assert_int_eq(xensim_qemu_console_add(f.sim, g, g, output), -EINVAL);
    snprintf(dom, sizeof(dom), "%u", g);
    snprintf(name, sizeof(name), "domain-%u", g);
    char *argv[] = { qemu, "-xen-domid", dom, "-xen-attach", "-name", name, "-nographic",
                     "-M", "xenpv", "-nodefaults", "-no-user-config", "-monitor", "/dev/null",
                     "-serial", "/dev/null", "-parallel", "/dev/null", NULL };
    struct ext_proc q;
    ext_spawn(&f, 0, argv, NULL, -1, false, &q);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
    bool connected = false;
    for (unsigned int i = 0; i < WAIT_MS && !connected; i++) {
        connected = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        if (!connected)
            usleep(1000);
    }
    ck_assert_msg(connected, "QEMU's console socket never came");
    char buf[4096] = "", want[64];
    snprintf(want, sizeof(want), "xensim guest %u ready", g);
    ck_assert_msg(read_until(fd, buf, sizeof(buf), want), "console said: %s", buf);
    ck_assert_int_eq(write(fd, "through qemu\r", 13), 13);
    ck_assert_msg(read_until(fd, buf, sizeof(buf), "echo: through qemu"), "console said: %s", buf);
    close(fd);
    ext_proc_kill(&q, SIGTERM);
    ext_proc_wait(&q);
    ext_fix_stop(&f);
}
END_TEST

static Suite *qemu_suite(void)
{
    Suite *s = suite_create("qemu");
    TCase *t = tcase_create("qdisk");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, qdisk_write_flush_read, 0, sizeof(rows) / sizeof(rows[0]));
    tcase_add_test(t, qemu_killed_mid_io);
    tcase_add_test(t, guest_killed_mid_io);
    tcase_add_test(t, console_through_qemu);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    if (!ext_qemu(qemu, sizeof(qemu))) {
        const char *ci = getenv("CI");
        fprintf(stderr, "%s: apt-get download qemu-system-xen failed\n",
                ci && !strcmp(ci, "true") ? "FAIL (CI)" : "SKIP");
        return ci && !strcmp(ci, "true") ? 1 : 77;
    }
    SRunner *sr = srunner_create(qemu_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
