/*
 * The "vbd" device type through the xenbus framework: the toolstack adds
 * the device, blkback (in a driver domain) and blkfront walk the states
 * with the keys of <xen/io/blkif.h>, sector I/O reaches the backing file;
 * the back end restarts and the front end reconnects; unplug and a guest dying
 * mid-I/O tear down with nothing left. Uses the xenbus test helpers.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>
#include <xensim/io/blkif_ring.h>
#include "test_xenbus_helpers.h"

#define WAIT_MS 10000
#define DISK (4u << 20)

struct env {
    struct xensim *sim;
    domid_t be, fe;
    char path[64];
    struct xensim_blkback_config bcfg;
    struct xensim_blkfront_config fcfg;
    int rc;
    uint8_t w[65536], r[65536];
};

static void back_up(void *p)
{
    struct env *e = p;
    ck_assert_int_eq(xensim_vbd_back_config(&e->bcfg), 0);
    ck_assert_int_eq(xensim_xenbus_backend_register(&xensim_vbd_back), 0);
}

static void back_crash(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_vbd_back, false);
}

static void back_down(void *p)
{
    (void)p;
    xensim_xenbus_backend_unregister(&xensim_vbd_back, true);
    ck_assert_int_eq(xensim_vbd_back_config(NULL), 0);
}

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

static const char *bstate(struct env *e)
{
    return xbt_read(e->sim, "/local/domain/%u/backend/vbd/%u/51712/state", e->be, e->fe);
}

/* The front end's queue count, or -ENODEV while the guest's driver does
 * not call the disk connected yet. */
static void nr_queues_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(51712);
    e->rc = fe ? (int)xensim_blkfront_nr_queues(fe) : -ENODEV;
}

/* Both ends Connected in XenStore, and the disk usable in the guest: the
 * front end writes Connected before its driver state says so. */
static bool wait_connected(struct env *e)
{
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/device/vbd/51712/state", e->fe);
    bool ok = xbt_wait_value(e->sim, p, "4", WAIT_MS);
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%u/51712/state", e->be, e->fe);
    ok = ok && xbt_wait_value(e->sim, p, "4", WAIT_MS);
    for (int i = 0; ok && i <= WAIT_MS; i++) {
        xbt_run(e->sim, e->fe, nr_queues_fn, e);
        if (e->rc != -ENODEV)
            break;
        xbt_sleep_ms(1);
    }
    ok = ok && e->rc > 0;
    if (!ok)
        fprintf(stderr, "front %s back %s\n",
                xbt_read(e->sim, "/local/domain/%u/device/vbd/51712/state", e->fe), bstate(e));
    return ok;
}

static void env_up(struct env *e, unsigned int order, unsigned int queues, bool persistent)
{
    e->sim = xbt_sim_new();
    e->be = xbt_guest(e->sim, "blkdd");
    struct xensim_domain_config gc = { .name = "guest", .nr_pages = 4096, .nr_vcpus = 2 };
    e->fe = th_domain_cfg(e->sim, &gc);
    snprintf(e->path, sizeof(e->path), "/tmp/xensim-vbd-XXXXXX");
    int fd = mkstemp(e->path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, DISK), 0);
    close(fd);
    e->bcfg = (struct xensim_blkback_config){
        .feature_flush = true, .feature_barrier = true, .feature_discard = true,
        .discard_secure = true, .feature_persistent = true, .max_indirect_segments = 64,
        .max_ring_order = 4, .max_queues = 4, .physical_sector_size = 4096,
    };
    e->fcfg = (struct xensim_blkfront_config){ .max_ring_order = order, .max_queues = queues,
                                        .persistent = persistent, .max_indirect_segments = 32 };
    xbt_run(e->sim, e->be, back_up, e);
    xbt_run(e->sim, e->fe, front_up, e);
    const char *bk[] = { "params", e->path, "mode", "w", "type", "file",
                         "physical-device", "fe:0", NULL };
    const char *fk[] = { "virtual-device", "51712", "device-type", "disk", NULL };
    struct xensim_device_config dc = {
        .type = "vbd", .frontend = e->fe, .backend = e->be, .devid = 51712,
        .front_keys = fk, .back_keys = bk,
    };
    ck_assert_int_eq(xensim_device_add(e->sim, &dc), 0);
}

static void io_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(51712);
    if (!fe) {
        e->rc = -ENODEV;
        return;
    }
    e->rc = xensim_blkfront_write(fe, 24, e->w, sizeof(e->w) / 512);
    if (!e->rc)
        e->rc = xensim_blkfront_flush(fe);
    if (!e->rc)
        e->rc = xensim_blkfront_read(fe, 24, e->r, sizeof(e->r) / 512);
    if (!e->rc && memcmp(e->w, e->r, sizeof(e->w)))
        e->rc = -EILSEQ;
}

static void check_file(struct env *e)
{
    int fd = open(e->path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, e->r, sizeof(e->r), 24 * 512), (ssize_t)sizeof(e->r));
    close(fd);
    ck_assert(memcmp(e->w, e->r, sizeof(e->w)) == 0);
}

static void env_down(struct env *e)
{
    xbt_run(e->sim, e->fe, front_down, e);
    xbt_run(e->sim, e->be, back_down, e);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->fe), 0);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->be), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e->sim, e->be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_sim_free(e->sim);
    unlink(e->path);
}

/* Rows of (ring page order, queues, persistent grants). The front end has
 * two vCPUs and the back end offers four queues: queues = 2 gives two. */
static const struct { unsigned int order, queues; bool persistent; } rows[] = {
    { 0, 1, true }, { 2, 1, false }, { 4, 1, true }, { 0, 2, true }, { 1, 2, false },
};

START_TEST(vbd_handshake_and_io)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, rows[_i].order, rows[_i].queues, rows[_i].persistent);
    ck_assert(wait_connected(e));
    /* Spec 5.3: what each end published. */
    const char *b = "/local/domain/%u/backend/vbd/%u/51712/%s";
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "sectors"), "8192");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "sector-size"), "512");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "physical-sector-size"), "4096");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "info"), "0");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "feature-flush-cache"), "1");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "feature-discard"), "1");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "feature-max-indirect-segments"), "64");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "max-ring-page-order"), "4");
    ck_assert_str_eq(xbt_read(e->sim, b, e->be, e->fe, "multi-queue-max-queues"), "4");
    const char *f = "/local/domain/%u/device/vbd/51712/%s";
    ck_assert_str_eq(xbt_read(e->sim, f, e->fe, "protocol"), "x86_64-abi");
    ck_assert_str_eq(xbt_read(e->sim, f, e->fe, "feature-persistent"),
                     rows[_i].persistent ? "1" : "0");
    /* Spec 5.4: ring-page-order at the top; each queue's keys under
     * queue-%u with several queues, at the top with one. */
    char o[16], key[64];
    snprintf(o, sizeof(o), "%u", rows[_i].order);
    if (rows[_i].order)
        ck_assert_str_eq(xbt_read(e->sim, f, e->fe, "ring-page-order"), o);
    else
        ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, "ring-page-order"));
    const char *q = "";
    if (rows[_i].queues > 1) {
        ck_assert_str_eq(xbt_read(e->sim, f, e->fe, "multi-queue-num-queues"), "2");
        ck_assert_ptr_nonnull(xbt_read(e->sim, f, e->fe, "queue-1/event-channel"));
        ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, "event-channel"));
        ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, "ring-ref"));
        ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, "ring-ref0"));
        q = "queue-0/";
    } else {
        ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, "multi-queue-num-queues"));
        ck_assert_ptr_nonnull(xbt_read(e->sim, f, e->fe, "event-channel"));
    }
    snprintf(key, sizeof(key), "%sring-ref%s", q, rows[_i].order ? "1" : "");
    ck_assert_ptr_nonnull(xbt_read(e->sim, f, e->fe, key));
    snprintf(key, sizeof(key), "%sring-ref%s", q, rows[_i].order ? "" : "0");
    ck_assert_ptr_null(xbt_read(e->sim, f, e->fe, key));
    xbt_run(e->sim, e->fe, nr_queues_fn, e);
    ck_assert_int_eq(e->rc, (int)rows[_i].queues);
    /* One event channel per queue, bound on both ends. */
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->fe), rows[_i].queues);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->be), rows[_i].queues);
    uint64_t seed = 77;
    for (size_t i = 0; i < sizeof(e->w); i++)
        e->w[i] = (uint8_t)((seed = seed * 6364136223846793005ull + 1) >> 56);
    xbt_run(e->sim, e->fe, io_fn, e);
    ck_assert_int_eq(e->rc, 0);
    check_file(e);
    /* Unplug: the back end closes and unmaps. */
    ck_assert_int_eq(xensim_device_remove(e->sim, "vbd", e->fe, 51712, WAIT_MS), 0);
    env_down(e);
    free(e);
}
END_TEST

/* The back end's driver crashes and comes back: the front end starts
 * over on its InitWait and the disk works again. */
START_TEST(vbd_backend_restart)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, 1, 1, true);
    ck_assert(wait_connected(e));
    memset(e->w, 0x5a, sizeof(e->w));
    xbt_run(e->sim, e->fe, io_fn, e);
    ck_assert_int_eq(e->rc, 0);
    xbt_run(e->sim, e->be, back_crash, e);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(e->sim, e->be, &info), 0);
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    xbt_run(e->sim, e->be, back_up, e);
    ck_assert(wait_connected(e));
    memset(e->w, 0xa5, sizeof(e->w));
    for (int i = 0; i < WAIT_MS; i++) {
        xbt_run(e->sim, e->fe, io_fn, e);
        if (e->rc != -ENODEV)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_int_eq(e->rc, 0);
    check_file(e);
    ck_assert_int_eq(xensim_device_remove(e->sim, "vbd", e->fe, 51712, WAIT_MS), 0);
    env_down(e);
    free(e);
}
END_TEST

/* Keeps the disk busy from vCPU 1 until the domain goes: e->rc counts
 * the writes done, busy_err is what stopped the loop. */
static int busy_err;
static _Atomic bool busy_done;

static void busy_fn(void *p)
{
    struct env *e = p;
    struct xensim_blkfront *fe = xensim_vbd_front_find(51712);
    static uint8_t buf[8 * 4096];
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
    xensim_domain_call(e->sim, e->fe, 1, busy_fn, e);
    atomic_store(&busy_done, true);
    return NULL;
}

static void front_found_fn(void *p)
{
    *(bool *)p = xensim_vbd_front_find(51712) != NULL;
}

/* XenStore says Connected a moment before the front end's own device
 * does (xensim_xenbus_switch_state writes the node first): wait for the latter. */
static bool wait_front_found(struct env *e)
{
    bool found = false;
    for (int i = 0; i < WAIT_MS && !found; i++) {
        xbt_run(e->sim, e->fe, front_found_fn, &found);
        if (!found)
            xbt_sleep_ms(1);
    }
    return found;
}

START_TEST(vbd_guest_dies_mid_io)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, 0, 1, _i == 0);
    ck_assert(wait_connected(e));
    ck_assert(wait_front_found(e));
    e->rc = 0;
    atomic_store(&busy_done, false);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, busy_thread, e), 0);
    while (__atomic_load_n(&e->rc, __ATOMIC_ACQUIRE) < 20 && !atomic_load(&busy_done))
        xbt_sleep_ms(1);
    ck_assert_msg(__atomic_load_n(&e->rc, __ATOMIC_ACQUIRE) >= 20,
                  "the I/O loop stopped after %d writes: %d", e->rc, busy_err);
    ck_assert_int_eq(xensim_domain_destroy(e->sim, e->fe), 0);
    pthread_join(t, NULL);
    /* The back end sees the front end's directory go and lets go. */
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%u/51712/state", e->be, e->fe);
    ck_assert(xbt_wait_value(e->sim, p, "6", WAIT_MS));
    struct xensim_domain_info info;
    for (int i = 0; i < WAIT_MS; i++) {
        ck_assert_int_eq(xensim_domain_info(e->sim, e->be, &info), 0);
        if (info.maptrack_in_use == 0)
            break;
        xbt_sleep_ms(1);
    }
    ck_assert_uint_eq(info.maptrack_in_use, 0);
    ck_assert_uint_eq(th_ports_in_use(e->sim, e->be), 0);
    xbt_run(e->sim, e->be, back_down, e);
    xbt_sim_free(e->sim);
    unlink(e->path);
    free(e);
}
END_TEST


/* A front end written by hand through XenStore: it publishes a ring, then
 * an impossible req_prod. The back end closes that device (Closing) and
 * its other device, of another guest, keeps working. */
struct evil {
    struct env *e;
    domid_t dom;
    blkif_sring_t *sring;
    grant_ref_t ref;
    evtchn_port_t port;
    int rc;
};

static void evil_publish(void *p)
{
    struct evil *v = p;
    char dir[96];
    snprintf(dir, sizeof(dir), "/local/domain/%u/device/vbd/51712", v->dom);
    xen_pfn_t pfn;
    ck_assert_int_eq(xensim_guest_page_alloc(&pfn), 0);
    v->sring = xensim_guest_pfn_to_virt(pfn);
    SHARED_RING_INIT(v->sring);
    v->ref = (grant_ref_t)xensim_gnttab_grant_access(v->e->be, pfn, false);
    v->port = (evtchn_port_t)xensim_evtchn_alloc_unbound(v->e->be);
    v->rc = xensim_xenbus_printf(0, dir, "ring-ref", "%u", v->ref);
    if (!v->rc)
        v->rc = xensim_xenbus_printf(0, dir, "event-channel", "%u", v->port);
    if (!v->rc)
        v->rc = xensim_xenbus_printf(0, dir, "protocol", "x86_64-abi");
    if (!v->rc)
        v->rc = xensim_xenbus_printf(0, dir, "state", "%d", XenbusStateInitialised);
}

static void evil_overflow(void *p)
{
    struct evil *v = p;
    v->sring->req_prod = 1000;
    v->rc = (int)xensim_evtchn_send(v->port);
}

static void evil_close(void *p)
{
    struct evil *v = p;
    char dir[96];
    snprintf(dir, sizeof(dir), "/local/domain/%u/device/vbd/51712", v->dom);
    v->rc = xensim_xenbus_printf(0, dir, "state", "%d", XenbusStateClosed);
}

static void evil_free(void *p)
{
    struct evil *v = p;
    xensim_evtchn_close(v->port);
    v->rc = xensim_gnttab_end_access(v->ref);
    xensim_gnttab_free_ref(v->ref);
    xensim_guest_page_free(xensim_guest_virt_to_pfn(v->sring));
}

START_TEST(vbd_hostile_front_overflow)
{
    struct env *e = calloc(1, sizeof(*e));
    env_up(e, 0, 1, true);
    ck_assert(wait_connected(e));
    struct evil v = { .e = e, .dom = xbt_guest(e->sim, "evil") };
    const char *bk[] = { "params", "mem:1048576", "mode", "w", NULL };
    struct xensim_device_config dc = { .type = "vbd", .frontend = v.dom, .backend = e->be,
                                       .devid = 51712, .back_keys = bk };
    ck_assert_int_eq(xensim_device_add(e->sim, &dc), 0);
    char p[160];
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%u/51712/state", e->be, v.dom);
    ck_assert(xbt_wait_value(e->sim, p, "2", WAIT_MS));
    xbt_run(e->sim, v.dom, evil_publish, &v);
    ck_assert_int_eq(v.rc, 0);
    ck_assert(xbt_wait_value(e->sim, p, "4", WAIT_MS));
    xbt_run(e->sim, v.dom, evil_overflow, &v);
    ck_assert_int_eq(v.rc, 0);
    ck_assert(xbt_wait_value(e->sim, p, "5", WAIT_MS));
    /* The good guest's disk still works. */
    memset(e->w, 0x3c, sizeof(e->w));
    xbt_run(e->sim, e->fe, io_fn, e);
    ck_assert_int_eq(e->rc, 0);
    check_file(e);
    /* The evil guest closes; the back end lets go of its ring. */
    xbt_run(e->sim, v.dom, evil_close, &v);
    ck_assert(xbt_wait_value(e->sim, p, "6", WAIT_MS));
    xbt_run(e->sim, v.dom, evil_free, &v);
    ck_assert_int_eq(v.rc, 0);
    /* The back end is Closed already: as libxl, the toolstack leaves it
     * so and removes the directories at once. */
    ck_assert_int_eq(xensim_device_remove(e->sim, "vbd", v.dom, 51712, WAIT_MS), 0);
    ck_assert_ptr_null(xbt_read(e->sim, "%s", p));
    ck_assert_int_eq(xensim_device_remove(e->sim, "vbd", e->fe, 51712, WAIT_MS), 0);
    env_down(e);
    free(e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("blk_xenbus");
    TCase *tc = tcase_create("vbd");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, vbd_handshake_and_io, 0, (int)(sizeof(rows) / sizeof(rows[0])));
    tcase_add_test(tc, vbd_backend_restart);
    tcase_add_loop_test(tc, vbd_guest_dies_mid_io, 0, 2);
    tcase_add_test(tc, vbd_hostile_front_overflow);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
