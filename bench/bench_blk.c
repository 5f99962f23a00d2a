/*
 * Block benchmarks: 4 KiB random reads per second through blkfront and
 * blkback on a page-cached file, beside pread() of the same file in the
 * same run (with and without persistent grants, fast and strict grant
 * mapping), and null requests per second (the back end answers without
 * I/O) beside the same ring driven the same way with no simulator
 * (baseline_ring.c).
 * Uses the public API only. BLK_BENCH_VERBOSE=1 prints each run's event
 * counts on stderr; BLK_BENCH_ONLY=null runs the null figure alone (for
 * profiling), BLK_BENCH_ONLY=det the deterministic scheduler's null
 * figure beside the free-running one.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xensim/xensim.h>
#include <xensim/guest.h>
#include <xen/io/blkif.h>
#include <xensim/blkif.h>
#include "bench.h"

#define FILE_BYTES (64ull << 20)
#define BLOCKS (FILE_BYTES / 4096)

static char path[64];

/* A file of FILE_BYTES, written and read once so it sits in the page cache. */
static void make_file(void)
{
    bench_cached_file(path, FILE_BYTES, 1);
}

static double pread_once(unsigned long n)
{
    int fd = open(path, O_RDONLY);
    BENCH_CHECK(fd >= 0);
    uint8_t buf[4096] __attribute__((aligned(4096)));
    uint64_t s = 42;
    uint64_t t0 = bench_now_ns();
    for (unsigned long i = 0; i < n; i++)
        BENCH_CHECK(pread(fd, buf, 4096, (off_t)(bench_rnd(&s) % BLOCKS) * 4096) == 4096);
    double ops = (double)n * 1e9 / (double)(bench_now_ns() - t0);
    close(fd);
    return ops;
}

static double pread_ops(unsigned long n)
{
    double v[16];
    unsigned runs = bench_runs();
    for (unsigned r = 0; r < runs; r++)
        v[r] = pread_once(n);
    return bench_median(v, runs);
}

struct run {
    struct xensim *sim;
    struct blkback *be;
    struct xensim_blkfront *fe;
    struct xensim_blkif_backend_info info;
    struct xensim_blkif_front_params params;
    unsigned long total, issued, done;
    unsigned int depth;
    bool null;
    uint64_t seed;
    uint64_t ns;
    int rc;
    struct xensim_blkfront_io *ios;
    uint8_t (*bufs)[4096];
};

static void next_io(struct run *r, struct xensim_blkfront_io *io)
{
    if (r->null) {
        *io = (struct xensim_blkfront_io){ .op = BLKIF_OP_FLUSH_DISKCACHE, .done = io->done,
                                    .arg = r };
    } else {
        *io = (struct xensim_blkfront_io){ .op = BLKIF_OP_READ, .done = io->done, .arg = r,
                                    .sector = (bench_rnd(&r->seed) % BLOCKS) * 8, .nr_sectors = 8,
                                    .buf = r->bufs[io - r->ios] };
    }
    r->issued++;
    BENCH_CHECK(xensim_blkfront_submit(r->fe, io) == 0);
}

/* Keeps the queue full: each completion issues the next request. */
static void io_done(struct xensim_blkfront_io *io)
{
    struct run *r = io->arg;
    BENCH_CHECK(io->status == 0);
    r->done++;
    if (r->issued < r->total)
        next_io(r, io);
}

static void front_main(void *p)
{
    struct run *r = p;
    uint64_t t0 = bench_now_ns();
    xensim_blkfront_plug(r->fe);
    for (unsigned int i = 0; i < r->depth && r->issued < r->total; i++) {
        r->ios[i].done = io_done;
        next_io(r, &r->ios[i]);
    }
    xensim_blkfront_unplug(r->fe);
    xensim_guest_irq_disable();
    while (r->done < r->total) {
        HYPERVISOR_sched_op(SCHEDOP_block, NULL);
        xensim_guest_irq_disable();
    }
    xensim_guest_irq_enable();
    r->ns = bench_now_ns() - t0;
}

static void setup_fn(void *p)
{
    struct run *r = p;
    r->rc = xensim_blkfront_setup(r->fe, &r->info, &r->params);
}

static void bconnect_fn(void *p)
{
    struct run *r = p;
    r->rc = xensim_blkback_connect(r->be, &r->params);
}

static void fconnect_fn(void *p)
{
    struct run *r = p;
    r->rc = xensim_blkfront_connect(r->fe, &r->info);
}

static void bdisconnect_fn(void *p)
{
    struct run *r = p;
    r->rc = xensim_blkback_disconnect(r->be);
}

static void fdestroy_fn(void *p)
{
    struct run *r = p;
    xensim_blkfront_destroy(r->fe);
}

/* One connected pair, one timed run of total requests; returns ops/s. */
/* sched_seed non-zero: a deterministic run with that seed. */
static double blk_once(bool null, bool persistent, enum xensim_gnttab_mode mode,
                       unsigned int order, unsigned long total, uint64_t sched_seed)
{
    struct xensim_config sc = { .quiet = true, .seed = sched_seed };
    struct run r = { .total = total, .null = null, .seed = 42 };
    r.sim = xensim_create(&sc);
    BENCH_CHECK(r.sim != NULL);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .gnttab_mode = mode };
    BENCH_CHECK(xensim_domain_create(r.sim, &d0) == 0);
    BENCH_CHECK(xensim_domain_unpause(r.sim, 0) == 0);
    struct xensim_domain_config du = { .name = "domU", .nr_pages = 8192, .gnttab_mode = mode };
    int front = xensim_domain_create(r.sim, &du);
    BENCH_CHECK(front > 0);
    BENCH_CHECK(xensim_domain_unpause(r.sim, (domid_t)front) == 0);

    struct xensim_blkback_config bc = { .path = null ? NULL : path, .mem_bytes = null ? 1 << 20 : 0,
                                 .null_io = null, .feature_flush = true,
                                 .feature_persistent = persistent, .max_ring_order = 4 };
    BENCH_CHECK(xensim_blkback_create(&bc, &r.be) == 0);
    xensim_blkback_info(r.be, &r.info);
    struct xensim_blkfront_config fc = { .backend_domid = 0, .persistent = persistent,
                                  .max_ring_order = order };
    BENCH_CHECK(xensim_blkfront_create(&fc, &r.fe) == 0);
    BENCH_CHECK(xensim_domain_call(r.sim, (domid_t)front, 0, setup_fn, &r) == 0 && !r.rc);
    BENCH_CHECK(xensim_domain_call(r.sim, 0, 0, bconnect_fn, &r) == 0 && !r.rc);
    BENCH_CHECK(xensim_domain_call(r.sim, (domid_t)front, 0, fconnect_fn, &r) == 0 && !r.rc);
    r.depth = xensim_blkfront_ring_size(r.fe);
    r.ios = calloc(r.depth, sizeof(*r.ios));
    r.bufs = calloc(r.depth, 4096);
    BENCH_CHECK(r.ios && r.bufs);
    BENCH_CHECK(xensim_domain_call(r.sim, (domid_t)front, 0, front_main, &r) == 0);
    double ops = (double)total * 1e9 / (double)r.ns;
    if (getenv("BLK_BENCH_VERBOSE")) {
        struct xensim_blkback_stats bs;
        struct xensim_blkfront_stats fs;
        xensim_blkback_get_stats(r.be, &bs);
        xensim_blkfront_get_stats(r.fe, &fs);
        fprintf(stderr, "  %lu reqs: back notifies %llu wakeups %llu; front notifies %llu irqs %llu\n",
                total, (unsigned long long)bs.notifies, (unsigned long long)bs.wakeups,
                (unsigned long long)fs.notifies, (unsigned long long)fs.irqs);
    }
    BENCH_CHECK(xensim_domain_call(r.sim, 0, 0, bdisconnect_fn, &r) == 0);
    BENCH_CHECK(xensim_domain_call(r.sim, (domid_t)front, 0, fdestroy_fn, &r) == 0);
    xensim_blkback_destroy(r.be);
    xensim_destroy(r.sim);
    free(r.ios);
    free(r.bufs);
    return ops;
}

static double blk_ops_seeded(bool null, bool persistent, enum xensim_gnttab_mode mode,
                             unsigned int order, unsigned long total, uint64_t sched_seed)
{
    double v[16];
    unsigned runs = bench_runs();
    for (unsigned i = 0; i < runs; i++)
        v[i] = blk_once(null, persistent, mode, order, total, sched_seed);
    return bench_median(v, runs);
}

static double blk_ops(bool null, bool persistent, enum xensim_gnttab_mode mode,
                      unsigned int order, unsigned long total)
{
    return blk_ops_seeded(null, persistent, mode, order, total, 0);
}

/* Null requests under the deterministic scheduler (issue 11), beside the
 * free-running figure of the same run: the price of one task at a time
 * and a scheduling decision at every hypercall boundary. */
static void det_overhead(unsigned long nn)
{
    double free_ops = blk_ops(true, false, XENSIM_GNTTAB_FAST, 0, nn);
    bench_report("det_overhead_blk_null",
                 blk_ops_seeded(true, false, XENSIM_GNTTAB_FAST, 0, nn, 1), "ops/s", free_ops);
}

int main(void)
{
    unsigned long n = bench_iters(30000, 1000000);
    const char *only = getenv("BLK_BENCH_ONLY");
    if (only && !strcmp(only, "null")) {
        unsigned long nn = bench_iters(200000, 5000000);
        bench_report("blk_null_ops", blk_ops(true, false, XENSIM_GNTTAB_FAST, 0, nn), "ops/s",
                     bench_baseline_blk_ring_ops(0));
        return 0;
    }
    if (only && !strcmp(only, "det")) {
        det_overhead(bench_iters(50000, 1000000));
        return 0;
    }
    make_file();
    double base = pread_ops(n);
    bench_report("blk_read4k_persistent_fast_ops", blk_ops(false, true, XENSIM_GNTTAB_FAST, 0, n),
                 "ops/s", base);
    bench_report("blk_read4k_persistent_strict_ops",
                 blk_ops(false, true, XENSIM_GNTTAB_STRICT, 0, n), "ops/s", base);
    bench_report("blk_read4k_nonpersistent_fast_ops",
                 blk_ops(false, false, XENSIM_GNTTAB_FAST, 0, n), "ops/s", base);
    bench_report("blk_read4k_nonpersistent_strict_ops",
                 blk_ops(false, false, XENSIM_GNTTAB_STRICT, 0, n), "ops/s", base);
    bench_report("blk_read4k_persistent_fast_order2_ops",
                 blk_ops(false, true, XENSIM_GNTTAB_FAST, 2, n), "ops/s", base);
    unsigned long nn = bench_iters(200000, 5000000);
    bench_report("blk_null_ops", blk_ops(true, false, XENSIM_GNTTAB_FAST, 0, nn), "ops/s",
                 bench_baseline_blk_ring_ops(0));
    bench_report("blk_null_order2_ops", blk_ops(true, false, XENSIM_GNTTAB_FAST, 2, nn),
                 "ops/s", bench_baseline_blk_ring_ops(2));
    det_overhead(bench_iters(50000, 1000000));
    unlink(path);
    return 0;
}
