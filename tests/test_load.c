/*
 * Many domains under load (issue 13): N guests, each with a disk and a
 * network interface that the toolstack adds through XenStore, all doing
 * I/O at once. Each iteration of a guest writes a sector of its own disk
 * with a pattern that names the guest and the iteration, reads it back
 * and compares, and sends one frame to its partner (guests pair up, 0-1,
 * 2-3, ...) through dom0's netback and switch; it takes every frame that
 * has arrived and checks whom it came from, that its sequence number
 * only grows and that its payload is whole. At the end every send must
 * have been answered (no frame in flight) and every guest must have
 * received from its partner.
 *
 * A lost event shows as a guest that never finishes (its read never
 * completes); the run then fails naming it. Memory must stay flat in the
 * second half of the run. Prints one JSON line of figures.
 *
 * Usage: test_load [DOMAINS [ITERATIONS | -SECONDS]]. With no arguments
 * (make check) 8 guests do 40 iterations each; the long tier (.ci/long,
 * make check-load) runs 1000 guests for 60 s. Calls only the public API.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include <xensim/blkif.h>
#include <xensim/netif.h>
#include <xensim/trace.h>
#include <xen/io/xs_wire.h>

#define VBD_DEVID 51712
#define DISK_SECTORS 64u
#define SECTOR 512u
#define FRAME_LEN 128u
#define ETHERTYPE_LOAD 0x88b5        /* IEEE local experimental 1 */
#define ETHERTYPE_HELLO 0x88b6       /* local experimental 2: the warm-up */
#define CONNECT_MS 600000u           /* for every device of every guest */
#define FINISH_MS 600000u            /* for every guest once the run ends */
#define REMOVE_MS 10000u

#define FAIL(...) do { fprintf(stderr, "test_load: " __VA_ARGS__); fputc('\n', stderr); \
                       exit(1); } while (0)

struct guest {
    domid_t domid, partner_domid;
    unsigned int index, partner;
    pthread_t thread;
    /* Written by the guest, read by main once it is done (or for a
     * progress figure while it runs). */
    _Atomic uint64_t iterations;
    uint64_t blk_ops, sent, send_busy, received, flooded;
    uint32_t last_seq;
    bool got_any;
    char error[160];
    atomic_bool done;
    int rc;
};

struct load {
    struct xensim *sim;
    struct guest *g;
    unsigned int n;
    uint64_t iterations;         /* per guest, or 0: until stop */
    atomic_bool stop;
    struct xensim_netback *nb;
    int rc;
};

static struct load L;

static void mac_of(domid_t d, uint8_t mac[6])
{
    const uint8_t m[6] = { 0x00, 0x16, 0x3e, 0x10, (uint8_t)(d >> 8), (uint8_t)d };
    memcpy(mac, m, 6);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kib = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

/* dom0: blkback with a memory disk per vbd, netback with its switch. */
static void backends_up(void *p)
{
    struct load *l = p;
    struct xensim_blkback_config bcfg = { .mem_bytes = DISK_SECTORS * SECTOR,
                                          .feature_persistent = true };
    struct xensim_netback_config ncfg = { 0 };
    l->rc = xensim_vbd_back_config(&bcfg);
    if (!l->rc)
        l->rc = xensim_xenbus_backend_register(&xensim_vbd_back);
    if (!l->rc)
        l->rc = xensim_netback_create(&ncfg, &l->nb);
    if (!l->rc)
        l->rc = xensim_vif_back_attach(l->nb);
    if (!l->rc)
        l->rc = xensim_xenbus_backend_register(&xensim_vif_back);
}

static void backends_down(void *p)
{
    struct load *l = p;
    xensim_xenbus_backend_unregister(&xensim_vif_back, true);
    xensim_vif_back_attach(NULL);
    if (l->nb)
        xensim_netback_destroy(l->nb);
    xensim_xenbus_backend_unregister(&xensim_vbd_back, true);
    xensim_vbd_back_config(NULL);
}

static void frontends_up(void *p)
{
    struct guest *g = p;
    struct xensim_blkfront_config bcfg = { .backend_domid = 0 };
    struct xensim_netfront_config ncfg = { .backend = 0, .rx_buffers = 32, .tx_buffers = 32 };
    g->rc = xensim_vbd_front_config(&bcfg);
    if (!g->rc)
        g->rc = xensim_xenbus_frontend_register(&xensim_vbd_front);
    if (!g->rc)
        g->rc = xensim_vif_front_config(&ncfg);
    if (!g->rc)
        g->rc = xensim_xenbus_frontend_register(&xensim_vif_front);
}

static void frontends_down(void *p)
{
    (void)p;
    xensim_xenbus_frontend_unregister(&xensim_vif_front, true);
    xensim_vif_front_config(NULL);
    xensim_xenbus_frontend_unregister(&xensim_vbd_front, true);
    xensim_vbd_front_config(NULL);
}

#define GUEST_FAIL(g, ...) do { snprintf((g)->error, sizeof((g)->error), __VA_ARGS__); \
                                return false; } while (0)

/* One sector of the guest's own disk, written with a pattern naming the
 * guest and the iteration, read back whole. */
static bool disk_step(struct guest *g, struct xensim_blkfront *fe, uint8_t *buf, uint64_t i)
{
    uint64_t sector = i % DISK_SECTORS;
    for (unsigned int k = 0; k < SECTOR; k++)
        buf[k] = (uint8_t)(g->index * 7 + i * 13 + k);
    int rc = xensim_blkfront_write(fe, sector, buf, 1);
    if (rc)
        GUEST_FAIL(g, "write of sector %llu: %s", (unsigned long long)sector, xensim_strerror(rc));
    memset(buf, 0, SECTOR);
    if ((rc = xensim_blkfront_read(fe, sector, buf, 1)))
        GUEST_FAIL(g, "read of sector %llu: %s", (unsigned long long)sector, xensim_strerror(rc));
    for (unsigned int k = 0; k < SECTOR; k++)
        if (buf[k] != (uint8_t)(g->index * 7 + i * 13 + k))
            GUEST_FAIL(g, "sector %llu reads back wrong at byte %u", (unsigned long long)sector, k);
    g->blk_ops += 2;
    return true;
}

static void frame_fill(const struct guest *g, uint8_t *f, uint32_t seq)
{
    mac_of(g->partner_domid, f);
    mac_of(g->domid, f + 6);
    f[12] = ETHERTYPE_LOAD >> 8;
    f[13] = ETHERTYPE_LOAD & 0xff;
    memcpy(f + 14, &g->index, 4);
    memcpy(f + 18, &seq, 4);
    for (unsigned int k = 22; k < FRAME_LEN; k++)
        f[k] = (uint8_t)(seq + k);
}

/* Every frame that has arrived: from the partner, in order, whole. */
static bool take_frames(struct guest *g, struct xensim_netfront *nf)
{
    uint8_t f[1514], mac[6];
    ssize_t n;
    while ((n = xensim_netfront_recv(nf, f, sizeof(f))) >= 0) {
        uint32_t from, seq;
        /* A learning switch floods a frame for a MAC it has not seen yet:
         * one meant for another guest is no error, only not ours. */
        mac_of(g->domid, mac);
        if (n >= 14 && memcmp(f, mac, 6)) {
            g->flooded++;
            continue;
        }
        if (n >= 14 && f[12] == ETHERTYPE_HELLO >> 8 && f[13] == (ETHERTYPE_HELLO & 0xff))
            continue;
        mac_of(g->partner_domid, mac);
        memcpy(&from, f + 14, 4);
        memcpy(&seq, f + 18, 4);
        if (n != FRAME_LEN || memcmp(f + 6, mac, 6) || from != g->partner)
            GUEST_FAIL(g, "a frame of %zd bytes not from its partner (index %u)", n, from);
        if (g->got_any && seq <= g->last_seq)
            GUEST_FAIL(g, "frame %u after frame %u: out of order", seq, g->last_seq);
        for (unsigned int k = 22; k < FRAME_LEN; k++)
            if (f[k] != (uint8_t)(seq + k))
                GUEST_FAIL(g, "frame %u damaged at byte %u", seq, k);
        g->last_seq = seq;
        g->got_any = true;
        g->received++;
    }
    if (n != -EAGAIN)
        GUEST_FAIL(g, "receive: %s", xensim_strerror((int)n));
    return true;
}

static bool net_step(struct guest *g, struct xensim_netfront *nf)
{
    uint8_t f[FRAME_LEN];
    frame_fill(g, f, (uint32_t)g->sent);
    int rc = xensim_netfront_send(nf, f, sizeof(f));
    if (rc == -EAGAIN)
        g->send_busy++;        /* ring or buffers full: a later iteration sends */
    else if (rc)
        GUEST_FAIL(g, "send: %s", xensim_strerror(rc));
    else
        g->sent++;
    return take_frames(g, nf);
}

/* Until every send has its response; bounded, so a lost one fails. */
static bool drain_sends(struct guest *g, struct xensim_netfront *nf)
{
    double until = now_s() + FINISH_MS / 1000.0;
    while (xensim_netfront_tx_inflight(nf)) {
        if (now_s() > until)
            GUEST_FAIL(g, "%u send(s) never answered", xensim_netfront_tx_inflight(nf));
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return true;
}

static bool guest_run(struct guest *g)
{
    struct xensim_blkfront *fe = xensim_vbd_front_find(VBD_DEVID);
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    xen_pfn_t pfn;
    if (!fe || !nf)
        GUEST_FAIL(g, "no connected %s", fe ? "vif" : "vbd");
    if (xensim_guest_page_alloc(&pfn))
        GUEST_FAIL(g, "no page for the disk buffer");
    uint8_t *buf = xensim_guest_pfn_to_virt(pfn);
    bool ok = true;
    for (uint64_t i = 0; ok && (L.iterations ? i < L.iterations : !atomic_load(&L.stop)); i++) {
        ok = disk_step(g, fe, buf, i) && net_step(g, nf);
        atomic_store(&g->iterations, i + 1);
    }
    ok = ok && drain_sends(g, nf);
    xensim_guest_page_free(pfn);
    return ok;
}

static void guest_load(void *p)
{
    struct guest *g = p;
    g->rc = guest_run(g) ? 0 : -EIO;
}

static void *guest_thread(void *p)
{
    struct guest *g = p;
    int rc = xensim_domain_call(L.sim, g->domid, 0, guest_load, g);
    if (rc && !g->rc)
        g->rc = rc;
    atomic_store(&g->done, true);
    return NULL;
}

/*
 * The switch learns a MAC from the frames it sends, and floods a frame for
 * a MAC it has not learned to every vif: if all N guests began at once,
 * their first frames alone would make N * (N - 1) deliveries. So, before
 * the run, as hosts announce themselves: guest 0 broadcasts a hello (one
 * flood), then every other guest sends one to guest 0, a MAC the switch
 * knows, and is learned on the way.
 */
static void guest_hello(void *p)
{
    struct guest *g = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    uint8_t f[60] = { 0 };
    if (g->index == 0)
        memset(f, 0xff, 6);
    else
        mac_of(L.g[0].domid, f);
    mac_of(g->domid, f + 6);
    f[12] = ETHERTYPE_HELLO >> 8;
    f[13] = ETHERTYPE_HELLO & 0xff;
    g->rc = nf ? -EAGAIN : -ENODEV;
    for (unsigned long i = 0; nf && g->rc == -EAGAIN && i < 1000000; i++) {
        g->rc = xensim_netfront_send(nf, f, sizeof(f));
        if (g->rc == -EAGAIN)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    if (!g->rc && !drain_sends(g, nf))
        g->rc = -EIO;
}

/* Guest 0's share of the hellos: taken and let go. */
static void guest_forget_hellos(void *p)
{
    struct guest *g = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    if (nf && !take_frames(g, nf))
        g->rc = -EIO;
    g->flooded = 0;
}

/* After the run: a frame still on its way to a partner that stopped
 * receiving is not lost; take what has come before judging. */
static void guest_last_frames(void *p)
{
    struct guest *g = p;
    struct xensim_netfront *nf = xensim_vif_front_find(0);
    if (nf && !take_frames(g, nf))
        g->rc = -EIO;
}

static bool wait_value(const char *path, const char *want, double until)
{
    char buf[16];
    while (now_s() < until) {
        int n = xensim_xenstore_read(L.sim, path, buf, sizeof(buf) - 1);
        if (n >= 0) {
            buf[n] = '\0';
            if (!strcmp(buf, want))
                return true;
        }
        usleep(2000);
    }
    return false;
}

/* dom0's XS_DIRECTORY requests while the devices are added: a back end
 * that rescanned every device at each watch event would make them grow
 * as N^2 (xenbus/probe.c looks only at the device an event names). */
static atomic_uint dom0_directories;

static void count_directories(struct xensim *sim, const struct xensim_trace_event *ev, void *arg)
{
    (void)sim;
    (void)arg;
    if (ev->kind == XENSIM_TRACE_XENSTORE_MSG && ev->domid == 0 && !ev->u.xenstore.reply &&
        ev->u.xenstore.type == XS_DIRECTORY)
        atomic_fetch_add(&dom0_directories, 1);
}

static void build(void)
{
    struct xensim_config cfg = { .quiet = true };
    /* dom0 binds three ports per guest (XenStore, disk, network): FIFO,
     * as a Linux dom0 uses it, for more than the 2-level 1024. */
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .evtchn_abi = XENSIM_EVTCHN_FIFO };
    L.sim = xensim_create(&cfg);
    if (!L.sim || xensim_domain_create(L.sim, &d0) != 0 || xensim_domain_unpause(L.sim, 0))
        FAIL("cannot build dom0");
    if (xensim_xenstore_start(L.sim, NULL) || xensim_xenbus_dom0_init(L.sim))
        FAIL("cannot start xenstored");
    xensim_domain_call(L.sim, 0, 0, backends_up, &L);
    if (L.rc)
        FAIL("back ends: %s", xensim_strerror(L.rc));
    if (xensim_trace_subscribe(L.sim, count_directories, NULL))
        FAIL("cannot count dom0's requests");
    for (unsigned int i = 0; i < L.n; i++) {
        struct guest *g = &L.g[i];
        char name[32], mac[24];
        uint8_t m[6];
        snprintf(name, sizeof(name), "load%u", i);
        struct xensim_domain_config gc = { .name = name };
        int d = xensim_domain_create(L.sim, &gc);
        if (d < 0 || xensim_domain_unpause(L.sim, (domid_t)d))
            FAIL("cannot build guest %u: %s", i, xensim_strerror(d));
        g->domid = (domid_t)d;
        g->index = i;
        xensim_domain_call(L.sim, g->domid, 0, frontends_up, g);
        if (g->rc)
            FAIL("dom%u's front ends: %s", d, xensim_strerror(g->rc));
        mac_of(g->domid, m);
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        const char *keys[] = { "mac", mac, NULL };
        struct xensim_device_config vbd = { .type = "vbd", .frontend = g->domid, .devid = VBD_DEVID };
        struct xensim_device_config vif = { .type = "vif", .frontend = g->domid, .devid = 0,
                                            .front_keys = keys, .back_keys = keys };
        int rc;
        if ((rc = xensim_device_add(L.sim, &vbd)) || (rc = xensim_device_add(L.sim, &vif)))
            FAIL("cannot add dom%u's devices: %s", d, xensim_strerror(rc));
    }
    for (unsigned int i = 0; i < L.n; i++) {
        L.g[i].partner = i ^ 1;
        L.g[i].partner_domid = L.g[i ^ 1].domid;
    }
    double until = now_s() + CONNECT_MS / 1000.0;
    for (unsigned int i = 0; i < L.n; i++) {
        char p[96];
        snprintf(p, sizeof(p), "/local/domain/%u/device/vbd/%u/state", L.g[i].domid, VBD_DEVID);
        if (!wait_value(p, "4", until))
            FAIL("dom%u's disk never connected", L.g[i].domid);
        snprintf(p, sizeof(p), "/local/domain/%u/device/vif/0/state", L.g[i].domid);
        if (!wait_value(p, "4", until))
            FAIL("dom%u's network interface never connected", L.g[i].domid);
    }
    xensim_trace_unsubscribe(L.sim, count_directories, NULL);
    /* Two device types; a rescan lists the type and each front end. */
    unsigned int dirs = atomic_load(&dom0_directories);
    if (dirs > 2 * L.n + 8)
        FAIL("dom0 listed %u directories to connect %u guests' devices: a rescan per event",
             dirs, L.n);
}

static void hellos(void)
{
    for (unsigned int i = 0; i < L.n; i++) {
        xensim_domain_call(L.sim, L.g[i].domid, 0, guest_hello, &L.g[i]);
        if (L.g[i].rc)
            FAIL("dom%u's hello: %s", L.g[i].domid, L.g[i].error[0] ? L.g[i].error :
                 xensim_strerror(L.g[i].rc));
        /* Within its 32 receive buffers, so no hello waits for room. */
        if (i % 16 == 15 || i == L.n - 1) {
            xensim_domain_call(L.sim, L.g[0].domid, 0, guest_forget_hellos, &L.g[0]);
            if (L.g[0].rc)
                FAIL("dom%u: %s", L.g[0].domid, L.g[0].error);
        }
    }
}

static void teardown(void)
{
    for (unsigned int i = 0; i < L.n; i++) {
        domid_t d = L.g[i].domid;
        int rc;
        if ((rc = xensim_device_remove(L.sim, "vbd", d, VBD_DEVID, REMOVE_MS)) ||
            (rc = xensim_device_remove(L.sim, "vif", d, 0, REMOVE_MS)))
            FAIL("dom%u's devices did not go: %s", d, xensim_strerror(rc));
        xensim_domain_call(L.sim, d, 0, frontends_down, NULL);
        xensim_domain_destroy(L.sim, d);
    }
    xensim_domain_call(L.sim, 0, 0, backends_down, &L);
    xensim_xenstore_stop(L.sim);
    xensim_destroy(L.sim);
}

/* Starts every guest, lets them run, stops them; the RSS at the middle
 * and at the end of the run. */
static void run(double seconds, long *rss_mid, long *rss_end)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (unsigned int i = 0; i < L.n; i++)
        if (pthread_create(&L.g[i].thread, &attr, guest_thread, &L.g[i]))
            FAIL("cannot start guest %u's thread", i);
    pthread_attr_destroy(&attr);
    *rss_mid = -1;
    if (!L.iterations) {
        usleep((useconds_t)(seconds * 500000));
        *rss_mid = rss_kib();
        usleep((useconds_t)(seconds * 500000));
        atomic_store(&L.stop, true);
    }
    double until = now_s() + FINISH_MS / 1000.0;
    for (unsigned int i = 0; i < L.n; i++) {
        while (!atomic_load(&L.g[i].done) && now_s() < until)
            usleep(10000);
        if (!atomic_load(&L.g[i].done))
            FAIL("dom%u never finished: stuck after %llu iterations (a lost event?)",
                 L.g[i].domid, (unsigned long long)atomic_load(&L.g[i].iterations));
        pthread_join(L.g[i].thread, NULL);
    }
    *rss_end = rss_kib();
    if (*rss_mid < 0)
        *rss_mid = *rss_end;
}

int main(int argc, char **argv)
{
    L.n = argc > 1 ? (unsigned int)strtoul(argv[1], NULL, 10) : 8;
    long it = argc > 2 ? strtol(argv[2], NULL, 10) : 40;
    double seconds = it < 0 ? (double)-it : 0;
    L.iterations = it > 0 ? (uint64_t)it : 0;
    if (L.n < 2 || L.n % 2 || L.n > 4000 || it == 0)
        FAIL("usage: test_load [DOMAINS (even, 2..4000) [ITERATIONS | -SECONDS]]");
    L.g = calloc(L.n, sizeof(*L.g));
    if (!L.g)
        FAIL("no memory");

    double t0 = now_s();
    build();
    double t_build = now_s() - t0;
    hellos();
    double t_setup = now_s() - t0;
    long rss_start = rss_kib(), rss_mid, rss_end;
    t0 = now_s();
    run(seconds, &rss_mid, &rss_end);
    double t_run = now_s() - t0;

    uint64_t blk = 0, sent = 0, busy = 0, recv = 0, gaps = 0, flooded = 0;
    uint64_t min_it = UINT64_MAX, max_it = 0;
    int bad = 0;
    for (unsigned int i = 0; i < L.n; i++) {
        struct guest *g = &L.g[i];
        xensim_domain_call(L.sim, g->domid, 0, guest_last_frames, g);
        if (g->rc || !g->got_any) {
            fprintf(stderr, "test_load: dom%u: %s\n", g->domid,
                    g->rc ? (g->error[0] ? g->error : xensim_strerror(g->rc))
                          : "received nothing from its partner");
            bad++;
        }
        uint64_t n = atomic_load(&g->iterations);
        min_it = n < min_it ? n : min_it;
        max_it = n > max_it ? n : max_it;
        blk += g->blk_ops;
        sent += g->sent;
        busy += g->send_busy;
        recv += g->received;
        /* What the partner sent that never arrived: the switch drops a
         * frame when the receiver has no buffer posted, as netback does. */
        gaps += L.g[g->partner].sent - g->received;
        flooded += g->flooded;
    }
    /* Flat: the second half of the run grows the heap by at most 5 %
     * (plus 16 MiB of slack for the allocator's arenas). */
    long grew = rss_end - rss_mid;
    bool flat = grew <= rss_mid / 20 + 16 * 1024;
    printf("{\"test\": \"load\", \"domains\": %u, \"dom0_directories\": %u, \"build_s\": %.1f, \"setup_s\": %.1f, \"run_s\": %.1f, "
           "\"iterations_min\": %llu, \"iterations_max\": %llu, \"blk_ops\": %llu, "
           "\"blk_ops_per_s\": %.0f, \"frames_sent\": %llu, \"frames_received\": %llu, "
           "\"frames_dropped\": %llu, \"frames_flooded\": %llu, \"send_busy\": %llu, "
           "\"rss_mib_start\": %ld, "
           "\"rss_mib_mid\": %ld, \"rss_mib_end\": %ld}\n",
           L.n, atomic_load(&dom0_directories), t_build, t_setup, t_run, (unsigned long long)min_it, (unsigned long long)max_it,
           (unsigned long long)blk, (double)blk / t_run, (unsigned long long)sent,
           (unsigned long long)recv, (unsigned long long)gaps, (unsigned long long)flooded,
           (unsigned long long)busy,
           rss_start / 1024, rss_mid / 1024, rss_end / 1024);
    if (bad)
        FAIL("%d of %u guests failed", bad, L.n);
    if (!flat)
        FAIL("memory grew by %ld KiB in the second half of the run", grew);
    if (L.iterations && min_it != L.iterations)
        FAIL("a guest did %llu of %llu iterations", (unsigned long long)min_it,
             (unsigned long long)L.iterations);
    teardown();
    free(L.g);
    return 0;
}
