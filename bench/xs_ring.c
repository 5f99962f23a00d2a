/* XenStore from a guest over its store ring in the simulator: READ and
 * WRITE operations/s from guest code on a vCPU (sleeping in SCHEDOP_poll
 * for each reply), beside the round trips/s of two host threads waking
 * each other through a futex, measured in the same run. Each request
 * crosses the real event channel and grant mapping. */
#include "config.h"

#include <stdio.h>
#include <xensim/xensim.h>
#include <xensim/xenbus.h>

#include "bench.h"
#include "xs_guest_ring.h"

struct job {
    uint32_t type;
    const char *p;
    size_t len;
    unsigned long rounds;
    double ops;
    bool ok;
};

static void guest_loop(void *arg)
{
    struct job *j = arg;
    char out[XENSTORE_PAYLOAD_MAX + 1];
    uint32_t n;
    uint64_t start = bench_now_ns();

    j->ok = true;
    for (unsigned long i = 0; i < j->rounds; i++)
        j->ok &= xg_req(j->type, j->p, j->len, out, &n) == j->type;
    j->ops = j->rounds / ((bench_now_ns() - start) / 1e9);
}

static double run(struct xensim *sim, int dom, uint32_t type, const char *p, size_t len)
{
    double v[15];
    unsigned int runs = bench_runs() < 15 ? bench_runs() : 15;

    for (unsigned int i = 0; i < runs; i++) {
        struct job j = { type, p, len, bench_iters(20000, 200000), 0, false };

        BENCH_CHECK(xensim_domain_call(sim, dom, 0, guest_loop, &j) == 0 && j.ok);
        v[i] = j.ops;
    }
    return bench_median(v, runs);
}

int main(void)
{
    struct xensim_config scfg = { .quiet = true };
    struct xensim *sim = xensim_create(&scfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true }, g = { .name = "g" };
    static const char wr[] = "data/key\0sixteen-byte-val";
    int dom;

    BENCH_CHECK(sim && xensim_domain_create(sim, &d0) == 0);
    BENCH_CHECK(xensim_xenstore_start(sim, NULL) == 0);
    dom = xensim_domain_create(sim, &g);
    BENCH_CHECK(dom > 0 && xensim_domain_unpause(sim, dom) == 0);
    {
        /* Somewhere the guest may write. */
        struct xs_permissions p = { (domid_t)dom, XS_PERM_NONE };
        char path[64];

        snprintf(path, sizeof(path), "/local/domain/%d/data", dom);
        BENCH_CHECK(xensim_xenstore_write(sim, path, "") == 0 &&
                    xensim_xenstore_set_perms(sim, path, &p, 1) == 0);
    }
    double base = 1e9 / bench_baseline_futex_rtt_ns();
    double w = run(sim, dom, XS_WRITE, wr, sizeof(wr) - 1);
    double r = run(sim, dom, XS_READ, "data/key", 9);
    bench_report("xs_ring_read_ops", r, "ops/s", base);
    bench_report("xs_ring_write_ops", w, "ops/s", base);
    BENCH_CHECK(xensim_domain_destroy(sim, dom) == 0);
    xensim_destroy(sim);
    return 0;
}
