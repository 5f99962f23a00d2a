/*
 * Grant map benchmarks: GNTTABOP_map_grant_ref + first touch +
 * GNTTABOP_unmap_grant_ref of 1 page, and of 32 pages per hypercall, in
 * strict and fast mode (and from a v2 granter), in ns per page, beside a
 * raw mmap + first touch + munmap of a memfd page measured in the same
 * run. Public API only.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include "bench.h"

#define MAX_BATCH 32

struct gnt_bench {
    domid_t granter;
    unsigned int version;         /* the granter's grant table */
    unsigned int batch;
    bool contiguous;
    unsigned long iters;
    grant_ref_t refs[MAX_BATCH];
    xen_pfn_t pfns[MAX_BATCH];
    double ns_per_page;
};

/* Grants 32 pages to dom0. Real frontends grant whatever pages their I/O
 * sits in, so by default every other page: no two granted frames are
 * neighbours and each needs its own host mapping. */
static void grant_pages(void *arg)
{
    struct gnt_bench *b = arg;
    BENCH_CHECK(xensim_gnttab_set_version(b->version) == 0);
    for (unsigned int i = 0; i < MAX_BATCH; i++) {
        xen_pfn_t gap;
        BENCH_CHECK(!xensim_guest_page_alloc(&b->pfns[i]));
        if (!b->contiguous)
            BENCH_CHECK(!xensim_guest_page_alloc(&gap));
        long ref = xensim_gnttab_grant_access(0, b->pfns[i], false);
        BENCH_CHECK(ref >= 0);
        b->refs[i] = (grant_ref_t)ref;
    }
}

/* Runs on the grantee's vCPU: the guest's view of the cost. */
static void map_loop(void *arg)
{
    struct gnt_bench *b = arg;
    gnttab_map_grant_ref_t map[MAX_BATCH];
    gnttab_unmap_grant_ref_t unmap[MAX_BATCH];

    uint64_t start = bench_now_ns();
    for (unsigned long it = 0; it < b->iters; it++) {
        for (unsigned int i = 0; i < b->batch; i++)
            map[i] = (gnttab_map_grant_ref_t){
                .flags = GNTMAP_host_map, .ref = b->refs[i], .dom = b->granter,
            };
        BENCH_CHECK(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, map, b->batch) == 0);
        for (unsigned int i = 0; i < b->batch; i++) {
            BENCH_CHECK(map[i].status == GNTST_okay);
            *(volatile unsigned char *)(uintptr_t)map[i].host_addr = (unsigned char)it;
            unmap[i] = (gnttab_unmap_grant_ref_t){
                .host_addr = map[i].host_addr, .handle = map[i].handle,
            };
        }
        BENCH_CHECK(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, unmap, b->batch) == 0);
        for (unsigned int i = 0; i < b->batch; i++)
            BENCH_CHECK(unmap[i].status == GNTST_okay);
    }
    b->ns_per_page = (double)(bench_now_ns() - start) / ((double)b->iters * b->batch);
}

static double measure(enum xensim_gnttab_mode mode, unsigned int batch, bool contiguous,
                      unsigned int version)
{
    struct xensim_config sc = { .quiet = true };
    struct xensim *sim = xensim_create(&sc);
    BENCH_CHECK(sim != NULL);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .gnttab_mode = mode };
    BENCH_CHECK(xensim_domain_create(sim, &d0) == 0);
    BENCH_CHECK(xensim_domain_unpause(sim, 0) == 0);
    struct xensim_domain_config du = { .name = "granter", .gnttab_mode = mode };
    int a = xensim_domain_create(sim, &du);
    BENCH_CHECK(a > 0);
    BENCH_CHECK(xensim_domain_unpause(sim, (domid_t)a) == 0);

    /* The granter grants to dom0, which maps: a backend's view. */
    struct gnt_bench b = { .granter = (domid_t)a, .batch = batch, .contiguous = contiguous,
                           .version = version };
    BENCH_CHECK(xensim_domain_call(sim, (domid_t)a, 0, grant_pages, &b) == 0);

    unsigned long pages = mode == XENSIM_GNTTAB_STRICT ? bench_iters(20000, 200000)
                                                       : bench_iters(400000, 4000000);
    b.iters = pages / batch;
    unsigned runs = bench_runs();
    double v[16];
    for (unsigned r = 0; r < runs; r++) {
        BENCH_CHECK(xensim_domain_call(sim, 0, 0, map_loop, &b) == 0);
        v[r] = b.ns_per_page;
    }
    xensim_destroy(sim);
    return bench_median(v, runs);
}

/* An argument runs only the figures whose name contains it. */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        enum xensim_gnttab_mode mode;
        unsigned int batch;
        bool contiguous;
        unsigned int version;
    } cases[] = {
        { "gnttab_map_strict_1", XENSIM_GNTTAB_STRICT, 1, false, 1 },
        { "gnttab_map_strict_32", XENSIM_GNTTAB_STRICT, 32, false, 1 },
        { "gnttab_map_fast_1", XENSIM_GNTTAB_FAST, 1, false, 1 },
        { "gnttab_map_fast_32", XENSIM_GNTTAB_FAST, 32, false, 1 },
        /* The best case: 32 neighbouring frames map as one run. */
        { "gnttab_map_strict_32_contiguous", XENSIM_GNTTAB_STRICT, 32, true, 1 },
        /* v2 entries and status words instead of v1's compare-exchange. */
        { "gnttab_map_strict_1_v2", XENSIM_GNTTAB_STRICT, 1, false, 2 },
        { "gnttab_map_fast_1_v2", XENSIM_GNTTAB_FAST, 1, false, 2 },
    };
    double baseline = bench_baseline_mmap_page_ns();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (argc < 2 || strstr(cases[i].name, argv[1]))
            bench_report(cases[i].name,
                         measure(cases[i].mode, cases[i].batch, cases[i].contiguous,
                                 cases[i].version),
                         "ns", baseline);
    return 0;
}
