/*
 * Scale: builds N domains whose guests each bind every usable port (1,023
 * of the 2-level ABI's 1,024), then destroys the simulator: seconds until
 * all N are up with their ports bound, seconds to destroy, and the memory
 * the domains took (RSS). The short
 * tier builds 1,000; the long tier 1,000 and 10,000, so the two show
 * whether both directions stay linear. The targets are absolute (10,000
 * domains in 5 s each way, in 1 GiB), so they are the baselines; 1,000
 * domains get a tenth of each. Then FIFO domains, each binding 10,000
 * ports (short tier 100 domains, long 1,000), whose baselines are the
 * same targets scaled by the number of ports bound.
 *
 * What bounds a larger run on this host: the hard RLIMIT_NOFILE (20,000
 * here, one memfd per domain), vm.max_map_count (65,530: three mappings
 * per domain, its memory and its vCPU's stack and guard), kernel.pid_max
 * (32,768 threads in all, one per vCPU, shared with every other process)
 * and Xen's domid space (32,752). Uses only the public API.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include "bench.h"

static struct {
    uint32_t booted;              /* guests done binding (futex word) */
    unsigned int n;
} boot;

/* Each guest's kernel: binds every usable port of its domain (loopback
 * interdomain pairs, then one IPI if a single port is left), says so, and
 * idles until destroyed. SCHEDOP_poll on no port sleeps until an event is
 * deliverable, and the guest never unmasks them. */
static void guest_main(void *arg)
{
    (void)arg;
    for (;;) {
        long a = xensim_evtchn_alloc_unbound(DOMID_SELF);
        if (a < 0)
            break;
        long b = xensim_evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)a);
        if (b < 0) {
            xensim_evtchn_close((evtchn_port_t)a);
            xensim_evtchn_bind_ipi(0);
            break;
        }
    }
    if (__atomic_add_fetch(&boot.booted, 1, __ATOMIC_RELEASE) == boot.n)
        bench_futex_wake(&boot.booted);
    struct sched_poll none = { .nr_ports = 0 };
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_poll, &none);
}

/* A FIFO kernel as Linux's boots: a control block for vCPU 0, event
 * array pages for the ports it will use (all words masked first), then
 * FIFO_PORTS ports bound as loopback pairs. */
#define FIFO_PORTS 10000u
static void fifo_guest_main(void *arg)
{
    (void)arg;
    xen_pfn_t cb;
    BENCH_CHECK(!xensim_guest_page_alloc(&cb));
    evtchn_init_control_t init = { .control_gfn = cb, .offset = 0, .vcpu = 0 };
    BENCH_CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &init) == 0);
    unsigned int words = XEN_PAGE_SIZE / sizeof(event_word_t);
    for (unsigned int p = 0; p <= FIFO_PORTS / words; p++) {
        xen_pfn_t pfn;
        BENCH_CHECK(!xensim_guest_page_alloc(&pfn));
        event_word_t *w = xensim_guest_pfn_to_virt(pfn);
        for (unsigned int i = 0; i < words; i++)
            w[i] = 1u << EVTCHN_FIFO_MASKED;
        evtchn_expand_array_t exp = { .array_gfn = pfn };
        BENCH_CHECK(HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &exp) == 0);
    }
    for (unsigned int bound = 0; bound < FIFO_PORTS; bound += 2) {
        long a = xensim_evtchn_alloc_unbound(DOMID_SELF);
        BENCH_CHECK(a > 0);
        BENCH_CHECK(xensim_evtchn_bind_interdomain(DOMID_SELF, (evtchn_port_t)a) > 0);
    }
    if (__atomic_add_fetch(&boot.booted, 1, __ATOMIC_RELEASE) == boot.n)
        bench_futex_wake(&boot.booted);
    struct sched_poll none = { .nr_ports = 0 };
    for (;;)
        HYPERVISOR_sched_op(SCHEDOP_poll, &none);
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

static void scale_domains(unsigned int n, bool fifo)
{
    struct xensim_config sc = { .quiet = true };
    long rss0 = rss_kib();
    uint64_t t0 = bench_now_ns();
    struct xensim *sim = xensim_create(&sc);
    BENCH_CHECK(sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    BENCH_CHECK(xensim_domain_create(sim, &d0) == 0);
    xensim_domain_unpause(sim, 0);
    /* The toolstack builds and unpauses each guest and goes on to the
     * next; the guests boot (bind their ports) meanwhile, as they would. */
    boot.booted = 0;
    boot.n = n;
    for (unsigned int i = 1; i <= n; i++) {
        struct xensim_domain_config cfg = { .nr_pages = 64,
                                            .entry = fifo ? fifo_guest_main : guest_main };
        int id = xensim_domain_create(sim, &cfg);
        BENCH_CHECK(id > 0);
        xensim_domain_unpause(sim, (domid_t)id);
    }
    for (uint32_t b; (b = __atomic_load_n(&boot.booted, __ATOMIC_ACQUIRE)) < n;)
        bench_futex_wait(&boot.booted, b);
    double create = (double)(bench_now_ns() - t0) / 1e9;
    long rss = rss_kib() - rss0;
    unsigned long ports = 0;
    for (unsigned int i = 1; i <= n; i++) {
        struct xensim_domain_info info;
        BENCH_CHECK(xensim_domain_info(sim, (domid_t)i, &info) == 0);
        /* FIFO: its own, and the builder's store and console ports */
        BENCH_CHECK(info.ports_in_use == (fifo ? FIFO_PORTS + 2 : 1023));
        ports += info.ports_in_use;
    }
    uint64_t t1 = bench_now_ns();
    xensim_destroy(sim);
    double destroy = (double)(bench_now_ns() - t1) / 1e9;
    /* Give the heap back, so that the next run's RSS is its own. */
    malloc_trim(0);

    /* The targets are for 10,000 domains of 1,023 ports: by ports here. */
    double share = (double)ports / (10000.0 * 1023.0);
    const char *kind = fifo ? "fifo_" : "";
    char name[64];
    snprintf(name, sizeof(name), "scale_domains_%s%u_create_s", kind, n);
    bench_report(name, create, "s", 5.0 * share);
    snprintf(name, sizeof(name), "scale_domains_%s%u_destroy_s", kind, n);
    bench_report(name, destroy, "s", 5.0 * share);
    snprintf(name, sizeof(name), "scale_domains_%s%u_rss_mib", kind, n);
    bench_report(name, (double)rss / 1024.0, "MiB", 1024.0 * share);
    fprintf(stderr, "scale_domains: %u domains, %lu ports in use\n", n, ports);
}

int main(void)
{
    scale_domains(1000, false);
    if (bench_is_long())
        scale_domains(10000, false);
    scale_domains(bench_is_long() ? 1000 : 100, true);
    return 0;
}
