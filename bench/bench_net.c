/* Frames per second between two domUs through netfront, netback and the
 * back end's switch, at 64 and 1500 bytes, each beside frames of the same
 * size through a raw ring with one copy each (baseline_netring.c) in the
 * same run. Relies on the
 * embedding API, include/xensim/netif.h and bench.h. */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include <xensim/netif.h>
#include "bench.h"

struct run {
    struct xensim *sim;
    domid_t a, b;
    struct xensim_netback *nb;
    struct xensim_netfront *nfa, *nfb;
    struct xensim_netif_front_keys ka, kb;
    size_t size;
    unsigned long frames, sent;
    _Atomic unsigned long received;
    int rc;
};

/* Runs fn on vCPU 0 of d; it reports in r->rc. */
static void call(struct run *r, domid_t d, void (*fn)(void *))
{
    r->rc = 0;
    BENCH_CHECK(xensim_domain_call(r->sim, d, 0, fn, r) == 0);
    BENCH_CHECK(r->rc == 0);
}

static void count_rx(struct xensim_netfront *nf, const uint8_t *frame, size_t len, void *arg)
{
    (void)nf;
    (void)frame;
    (void)len;
    struct run *r = arg;
    atomic_fetch_add_explicit(&r->received, 1, memory_order_relaxed);
}

static void be_up(void *p)
{
    struct run *r = p;
    struct xensim_netback_config cfg = { .pool_pages = 512, .rx_queue = 256 };
    BENCH_CHECK(xensim_netback_create(&cfg, &r->nb) == 0);
}

static void front_up(struct run *r, struct xensim_netfront **nf,
                     struct xensim_netif_front_keys *keys, uint8_t last, bool counting)
{
    struct xensim_netfront_config cfg = {
        .backend = 0, .rx_buffers = 256, .tx_buffers = 256,
        .mac = { 0x00, 0x16, 0x3e, 0x00, 0x00, last },
        .rx = counting ? count_rx : NULL, .rx_arg = r,
    };
    BENCH_CHECK(xensim_netfront_create(&cfg, nf) == 0);
    xensim_netfront_keys(*nf, keys);
    struct xensim_netif_back_features bf;
    xensim_netback_features(r->nb, &bf);
    BENCH_CHECK(xensim_netfront_connect(*nf, &bf) == 0);
}

static void a_up(void *p)
{
    struct run *r = p;
    front_up(r, &r->nfa, &r->ka, 1, false);
}

static void b_up(void *p)
{
    struct run *r = p;
    front_up(r, &r->nfb, &r->kb, 2, true);
}

static void be_connect(void *p)
{
    struct run *r = p;
    BENCH_CHECK(xensim_netback_connect(r->nb, r->a, 0, &r->ka) == 0);
    BENCH_CHECK(xensim_netback_connect(r->nb, r->b, 0, &r->kb) == 0);
}

/* b announces itself so the switch forwards to it rather than flooding. */
static void b_hello(void *p)
{
    struct run *r = p;
    uint8_t f[64] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02,
                      0x88, 0xb5 };
    r->rc = xensim_netfront_send(r->nfb, f, sizeof(f));
}

/* The timed part: a sends as fast as its ring and buffers allow, keeping at
 * most WINDOW frames ahead of what b took, as a transport protocol would:
 * the switch drops what its queues cannot hold, and a drop is not a frame
 * delivered. */
#define WINDOW 192
static void a_blast(void *p)
{
    struct run *r = p;
    static uint8_t f[1514];
    memset(f, 0x5a, sizeof(f));
    memcpy(f, (uint8_t[]){ 0x00, 0x16, 0x3e, 0x00, 0x00, 0x02, 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01,
                            0x88, 0xb5 }, 14);
    while (r->sent < r->frames) {
        if (r->sent - atomic_load_explicit(&r->received, memory_order_relaxed) >= WINDOW) {
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
            continue;
        }
        int rc = xensim_netfront_send(r->nfa, f, r->size);
        if (rc == 0) {
            r->sent++;
        } else if (rc == -EAGAIN) {
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        } else {
            r->rc = rc;
            return;
        }
    }
}

static void downs(void *p)
{
    struct run *r = p;
    r->rc = xensim_netback_destroy(r->nb);
}

static void a_down(void *p)
{
    struct run *r = p;
    r->rc = xensim_netfront_destroy(r->nfa);
}

static void b_down(void *p)
{
    struct run *r = p;
    r->rc = xensim_netfront_destroy(r->nfb);
}

static double frames_per_sec(size_t size, unsigned long frames, unsigned long *dropped)
{
    static struct run r;
    memset(&r, 0, sizeof(r));
    r.size = size;
    r.frames = frames;
    struct xensim_config sc = { .quiet = true };
    r.sim = xensim_create(&sc);
    BENCH_CHECK(r.sim != NULL);
    struct xensim_domain_config cfg = { .name = "Domain-0", .privileged = true, .nr_pages = 2048 };
    BENCH_CHECK(xensim_domain_create(r.sim, &cfg) == 0);
    BENCH_CHECK(xensim_domain_unpause(r.sim, 0) == 0);
    cfg.privileged = false;
    cfg.nr_pages = 1024;
    cfg.name = "a";
    r.a = (domid_t)xensim_domain_create(r.sim, &cfg);
    cfg.name = "b";
    r.b = (domid_t)xensim_domain_create(r.sim, &cfg);
    BENCH_CHECK(xensim_domain_unpause(r.sim, r.a) == 0);
    BENCH_CHECK(xensim_domain_unpause(r.sim, r.b) == 0);
    call(&r, 0, be_up);
    call(&r, r.a, a_up);
    call(&r, r.b, b_up);
    call(&r, 0, be_connect);
    call(&r, r.b, b_hello);

    uint64_t t0 = bench_now_ns();
    call(&r, r.a, a_blast);
    /* Every send is answered; wait for b to finish taking what it got. */
    unsigned long seen = atomic_load(&r.received);
    uint64_t t_last = bench_now_ns();
    while (seen < frames) {
        usleep(200);
        unsigned long now = atomic_load(&r.received);
        uint64_t t = bench_now_ns();
        if (now != seen) {
            seen = now;
            t_last = t;
        } else if (t - t_last > 200000000ull) {
            break;   /* the rest were dropped */
        }
    }
    double secs = (double)(t_last - t0) / 1e9;
    *dropped = frames - seen;

    call(&r, 0, downs);
    call(&r, r.a, a_down);
    call(&r, r.b, b_down);
    xensim_destroy(r.sim);
    return secs > 0 ? (double)seen / secs : 0;
}

int main(void)
{
    unsigned long frames = bench_iters(20000, 500000);
    static const size_t sizes[] = { 64, 1500 };
    for (size_t i = 0; i < 2; i++) {
        double ring = bench_baseline_net_ring_fps(sizes[i]);
        unsigned long dropped;
        double runs[5];
        unsigned int n = bench_is_long() ? 5 : 3;
        for (unsigned int k = 0; k < n; k++)
            runs[k] = frames_per_sec(sizes[i], frames, &dropped);
        char name[64];
        snprintf(name, sizeof(name), "net_frames_per_sec_%zu", sizes[i]);
        bench_report(name, bench_median(runs, n), "frames/s", ring);
        snprintf(name, sizeof(name), "net_frames_dropped_%zu", sizes[i]);
        bench_report(name, (double)dropped, "frames", (double)frames);
    }
    return 0;
}
