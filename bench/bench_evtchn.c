/*
 * Event channel benchmarks: the round trip between two domains (send,
 * upcall, send back, upcall) beside a raw futex ping-pong, and building
 * 1,000 domains with every usable port bound (time and RSS).
 * Uses only the public API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include "bench.h"

struct rtt {
    domid_t ping, pong;
    _Atomic evtchn_port_t ping_port;    /* ping's unbound port, for pong */
    _Atomic int pong_bound;
    _Atomic int pongs;                  /* upcalls seen by ping */
    _Atomic int done;
    unsigned long iters;
    uint64_t elapsed_ns;
};

static struct rtt rtt;

static void ping_irq(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
    rtt.pongs++;
}

static void ping_main(void *arg)
{
    (void)arg;
    long port = xensim_evtchn_alloc_unbound(rtt.pong);
    BENCH_CHECK(port > 0);
    BENCH_CHECK(xensim_irq_bind((evtchn_port_t)port, ping_irq, NULL) == 0);
    rtt.ping_port = (evtchn_port_t)port;
    /* Pong's bind raises its own port, and its handler answers: that first
     * pong is the handshake, not part of the measurement. */
    while (rtt.pongs < 1)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    int seen = rtt.pongs;
    uint64_t t0 = bench_now_ns();
    for (unsigned long i = 0; i < rtt.iters; i++) {
        xensim_evtchn_send((evtchn_port_t)port);
        while (rtt.pongs == seen)
            HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        seen = rtt.pongs;
    }
    rtt.elapsed_ns = bench_now_ns() - t0;
    rtt.done = 1;
    xensim_evtchn_send((evtchn_port_t)port);   /* let pong see done */
    xensim_irq_unbind((evtchn_port_t)port);
    xensim_evtchn_close((evtchn_port_t)port);
}

static void pong_irq(evtchn_port_t port, void *arg)
{
    (void)arg;
    xensim_evtchn_send(port);
}

static void pong_main(void *arg)
{
    (void)arg;
    while (!rtt.ping_port)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    long port = xensim_evtchn_bind_interdomain(rtt.ping, rtt.ping_port);
    BENCH_CHECK(port > 0);
    BENCH_CHECK(xensim_irq_bind((evtchn_port_t)port, pong_irq, NULL) == 0);
    while (!rtt.done)
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    xensim_irq_unbind((evtchn_port_t)port);
    xensim_evtchn_close((evtchn_port_t)port);
}

static double evtchn_rtt_ns(void)
{
    memset(&rtt, 0, sizeof(rtt));
    rtt.iters = bench_iters(20000, 200000);
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    BENCH_CHECK(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    struct xensim_domain_config a = { .name = "ping", .entry = ping_main };
    struct xensim_domain_config b = { .name = "pong", .entry = pong_main };
    BENCH_CHECK(xensim_domain_create(sim, &d0) == 0);
    int ping = xensim_domain_create(sim, &a), pong = xensim_domain_create(sim, &b);
    BENCH_CHECK(ping > 0 && pong > 0);
    rtt.ping = (domid_t)ping;
    rtt.pong = (domid_t)pong;
    xensim_domain_unpause(sim, 0);
    xensim_domain_unpause(sim, rtt.ping);
    xensim_domain_unpause(sim, rtt.pong);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    return (double)rtt.elapsed_ns / (double)rtt.iters;
}

/* Fills every usable port of the calling domain: loopback interdomain
 * pairs, then one IPI if a single port is left. */
static void fill_ports(void *arg)
{
    unsigned int *bound = arg;
    for (;;) {
        long a = xensim_evtchn_alloc_unbound(DOMID_SELF);
        if (a < 0)
            break;
        long b = xensim_evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)a);
        if (b < 0) {
            xensim_evtchn_close((evtchn_port_t)a);
            if (xensim_evtchn_bind_ipi(0) > 0)
                (*bound)++;
            break;
        }
        *bound += 2;
    }
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static void scale_domains(void)
{
    unsigned int n = bench_is_long() ? 1000 : 1000;
    struct xensim_config sc = { .quiet = true };
    long rss0 = rss_kib();
    uint64_t t0 = bench_now_ns();
    struct xensim *sim = xensim_create(&sc);
    BENCH_CHECK(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    BENCH_CHECK(xensim_domain_create(sim, &d0) == 0);
    xensim_domain_unpause(sim, 0);
    unsigned long ports = 0;
    for (unsigned int i = 1; i <= n; i++) {
        struct xensim_domain_config cfg = { .nr_pages = 64 };
        int id = xensim_domain_create(sim, &cfg);
        BENCH_CHECK(id > 0);
        xensim_domain_unpause(sim, (domid_t)id);
        unsigned int bound = 0;
        BENCH_CHECK(xensim_domain_call(sim, (domid_t)id, 0, fill_ports, &bound) == 0);
        struct xensim_domain_info info;
        xensim_domain_info(sim, (domid_t)id, &info);
        BENCH_CHECK(info.ports_in_use == 1023);
        ports += info.ports_in_use;
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    long rss = rss_kib() - rss0;
    /* The targets are absolute (5 s, 2 GiB): they are the baselines. */
    bench_report("scale_domains_create_s", secs, "s", 5.0);
    bench_report("scale_domains_rss_mib", (double)rss / 1024.0, "MiB", 2048.0);
    fprintf(stderr, "scale_domains: %u domains, %lu ports in use\n", n, ports);
    xensim_destroy(sim);
}

int main(void)
{
    double base = bench_baseline_futex_rtt_ns();
    bench_report("evtchn_rtt", evtchn_rtt_ns(), "ns", base);
    scale_domains();
    return 0;
}
