/*
 * Event channel benchmark: the round trip between two domains (send,
 * upcall, send back, upcall) beside a raw futex ping-pong, on the 2-level
 * ABI and on FIFO (both guests' kernels switch at boot). Building many
 * domains is bench_scale.c.
 * Uses only the public API.
 */
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

static double evtchn_rtt_ns(enum xensim_evtchn_abi abi)
{
    memset(&rtt, 0, sizeof(rtt));
    rtt.iters = bench_iters(20000, 200000);
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    BENCH_CHECK(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    struct xensim_domain_config a = { .name = "ping", .entry = ping_main, .evtchn_abi = abi };
    struct xensim_domain_config b = { .name = "pong", .entry = pong_main, .evtchn_abi = abi };
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

int main(void)
{
    double base = bench_baseline_futex_rtt_ns();
    bench_report("evtchn_rtt", evtchn_rtt_ns(XENSIM_EVTCHN_2L_32), "ns", base);
    bench_report("evtchn_rtt_fifo", evtchn_rtt_ns(XENSIM_EVTCHN_FIFO), "ns", base);
    return 0;
}
