/*
 * Block device channel, well-behaved ends: data integrity through
 * blkfront and blkback for every ring size and feature on and off (checked
 * against the backing file), flush and barrier ordering, read-only and
 * unsupported operations, and the leak check at each teardown.
 */
#include <pthread.h>
#include "blk_fixture.h"

#define DISK_BYTES (16u << 20)
#define INFLIGHT 96
#define SLOT_IO_MAX (64u << 10)
#define BLK_PAGE_T 4096u

struct integ_row {
    const char *name;
    unsigned int order, queues, indirect;
    bool persistent, back_persistent, back_indirect;
    enum xensim_gnttab_mode mode;
    bool memory, guest_buf, large4k;
    bool batch_events;
    unsigned int max_pgrants;   /* the back end's limit per queue; 0: its default */
};

static const struct integ_row integ_rows[] = {
    { "o0 q1 plain strict guest-buf", 0, 1, 0, false, false, false,
      XENSIM_GNTTAB_STRICT, false, true, false, false, 0 },
    { "o0 q1 plain strict bounce", 0, 1, 0, false, false, false,
      XENSIM_GNTTAB_STRICT, false, false, false, false, 0 },
    { "o1 q1 persistent fast", 1, 1, 0, true, true, false,
      XENSIM_GNTTAB_FAST, false, true, false, false, 0 },
    { "o2 q2 indirect64 strict guest-buf", 2, 2, 64, false, false, true,
      XENSIM_GNTTAB_STRICT, false, true, false, false, 0 },
    { "o3 q4 persistent indirect256 fast memory", 3, 4, 256, true, true, true,
      XENSIM_GNTTAB_FAST, true, false, false, false, 0 },
    { "o4 q1 persistent indirect32 strict", 4, 1, 32, true, true, true,
      XENSIM_GNTTAB_STRICT, false, true, false, false, 0 },
    { "o1 q3 all on, bounce, batched events", 1, 3, 128, true, true, true,
      XENSIM_GNTTAB_FAST, false, false, false, true, 0 },
    { "front persistent, back not", 0, 1, 0, true, false, false,
      XENSIM_GNTTAB_STRICT, false, true, false, false, 0 },
    { "back indirect, front not", 2, 1, 0, false, false, true,
      XENSIM_GNTTAB_STRICT, false, true, false, false, 0 },
    { "4 KiB sectors (large-sector)", 1, 2, 64, false, false, true,
      XENSIM_GNTTAB_STRICT, false, true, true, false, 0 },
    /* Fewer persistent grants than the front uses: the least recently used
     * make room, and every byte still lands where it should. */
    { "o1 q2 persistent indirect64, 8 kept (LRU)", 1, 2, 64, true, true, true,
      XENSIM_GNTTAB_FAST, false, true, false, false, 8 },
    { "o0 q1 persistent strict bounce, 3 kept (LRU)", 0, 1, 0, true, true, false,
      XENSIM_GNTTAB_STRICT, false, false, false, false, 3 },
};

static void fault_print(const struct xensim_fault *ft, void *arg)
{
    (void)arg;
    fprintf(stderr, "FAULT dom%u vcpu%u addr %#lx write %d mapped %d granter %u ref %u ro %d\n",
            ft->domid, ft->vcpu, (unsigned long)ft->addr, ft->write, ft->mapped, ft->granter,
            ft->ref, ft->readonly);
}

static struct blk_fix *fix_new(const struct integ_row *r)
{
    struct blk_fix *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    f->sim = th_sim_new();
    xensim_set_fault_hook(f->sim, fault_print, NULL);
    f->back = 0;
    f->front = blk_guest(f->sim, "domU", 16384, 1, r->mode);
    f->bcfg = (struct xensim_blkback_config){
        .feature_flush = true, .feature_barrier = true, .feature_discard = true,
        .discard_secure = true, .feature_persistent = r->back_persistent,
        .max_indirect_segments = r->back_indirect ? 256 : 0,
        .max_ring_order = 4, .max_queues = 4,
        .sector_size = r->large4k ? 4096 : 512,
        .physical_sector_size = 4096,
        .max_persistent_grants = r->max_pgrants,
    };
    if (r->memory) {
        f->bcfg.mem_bytes = DISK_BYTES;
        f->bytes = DISK_BYTES;
    } else {
        blk_file(f, DISK_BYTES);
    }
    f->fcfg = (struct xensim_blkfront_config){
        .max_ring_order = r->order, .max_queues = r->queues, .persistent = r->persistent,
        .max_indirect_segments = r->indirect, .large_sector = r->large4k,
        .batch_events = r->batch_events,
    };
    return f;
}

struct integ {
    struct blk_fix *f;
    const struct integ_row *row;
    uint8_t *model;
    uint64_t seed;
    unsigned int unit;
    uint8_t *gbuf;            /* contiguous guest RAM, or NULL */
    size_t gbuf_len;
    int err;
    char msg[256];
};

#define GFAIL(g, ...) do { snprintf((g)->msg, sizeof((g)->msg), __VA_ARGS__); \
    (g)->err = 1; return; } while (0)

/* Guest RAM buffer of n pages if the allocator hands them out in a row
 * (*first is then its first frame); NULL, with nothing kept, if not. */
static uint8_t *guest_pages(size_t n, xen_pfn_t *first)
{
    size_t got = 1;
    if (xensim_guest_page_alloc(first))
        return NULL;
    for (; got < n; got++) {
        xen_pfn_t p;
        if (xensim_guest_page_alloc(&p))
            break;
        if (p != *first + got) {
            xensim_guest_page_free(p);
            break;
        }
    }
    if (got == n)
        return xensim_guest_pfn_to_virt(*first);
    while (got--)
        xensim_guest_page_free(*first + got);
    return NULL;
}

static void guest_pages_free(xen_pfn_t first, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xensim_guest_page_free(first + i);
}

static uint8_t *buf_for(struct integ *g, unsigned int slot, size_t len, uint64_t *seed,
                        uint8_t *host)
{
    /* Offsets inside the page vary, so first_sect is not always 0. */
    size_t skew = (size_t)(blk_rand(seed) % 8) * g->unit % BLK_PAGE_T;
    if (g->gbuf) {
        uint8_t *b = g->gbuf + (size_t)slot * (SLOT_IO_MAX + BLK_PAGE_T) + skew;
        (void)len;
        return b;
    }
    return host + (size_t)slot * (SLOT_IO_MAX + BLK_PAGE_T) + skew;
}

static void integ_fn(void *p)
{
    struct integ *g = p;
    struct blk_fix *f = g->f;
    struct xensim_blkfront *fe = f->fe;
    uint64_t units = f->bytes / g->unit;
    uint32_t maxs = xensim_blkfront_max_sectors(fe);
    size_t area = (size_t)INFLIGHT * (SLOT_IO_MAX + BLK_PAGE_T);
    uint8_t *host = malloc(area);
    uint8_t *big = malloc((size_t)4 * maxs * g->unit + 4096);
    struct xensim_blkfront_io *ios = calloc(INFLIGHT, sizeof(*ios));
    if (!host || !big || !ios)
        GFAIL(g, "malloc");
    xen_pfn_t gbuf_first = 0;
    size_t gbuf_pages = area / BLK_PAGE_T + 1;
    if (g->row->guest_buf) {
        g->gbuf = guest_pages(gbuf_pages, &gbuf_first);
        if (!g->gbuf)
            GFAIL(g, "no contiguous guest RAM");
    }

    /* 1: many writes in flight at once, to disjoint slots. */
    uint64_t slot_units = units / INFLIGHT;
    for (unsigned int i = 0; i < INFLIGHT; i++) {
        uint32_t cap = SLOT_IO_MAX / g->unit < maxs ? SLOT_IO_MAX / g->unit : maxs;
        uint32_t n = 1 + (uint32_t)(blk_rand(&g->seed) % cap);
        uint64_t start = i * slot_units + blk_rand(&g->seed) % (slot_units - n);
        size_t len = (size_t)n * g->unit;
        uint8_t *b = buf_for(g, i, len, &g->seed, host);
        blk_fill(b, len, &g->seed);
        memcpy(g->model + start * g->unit, b, len);
        ios[i] = (struct xensim_blkfront_io){ .op = BLKIF_OP_WRITE, .queue = i, .sector = start,
                                       .nr_sectors = n, .buf = b };
        int rc = xensim_blkfront_submit(fe, &ios[i]);
        if (rc)
            GFAIL(g, "submit write %u: %d", i, rc);
    }
    for (unsigned int i = 0; i < INFLIGHT; i++)
        if (xensim_blkfront_wait(fe, &ios[i]))
            GFAIL(g, "write %u: %d", i, ios[i].status);

    /* 2: overlapping synchronous writes, split into several requests. */
    for (int k = 0; k < 12; k++) {
        uint64_t n = 1 + blk_rand(&g->seed) % (3ull * maxs);
        uint64_t start = blk_rand(&g->seed) % (units - n);
        size_t len = (size_t)n * g->unit;
        uint8_t *b = g->gbuf && len <= area ? g->gbuf : big;
        blk_fill(b, len, &g->seed);
        memcpy(g->model + start * g->unit, b, len);
        int rc = xensim_blkfront_write(fe, start, b, n);
        if (rc)
            GFAIL(g, "sync write %d: %d", k, rc);
    }
    /* A discard reads back as zeroes from this back end. */
    {
        uint64_t n = 64, start = blk_rand(&g->seed) % (units - n);
        start -= start % (4096 / g->unit);
        int rc = xensim_blkfront_discard(fe, start, n, (g->seed & 1) != 0);
        if (rc)
            GFAIL(g, "discard: %d", rc);
        memset(g->model + start * g->unit, 0, (size_t)n * g->unit);
    }

    /* 3: many reads in flight, checked against the model. */
    for (unsigned int i = 0; i < INFLIGHT; i++) {
        uint32_t cap = SLOT_IO_MAX / g->unit < maxs ? SLOT_IO_MAX / g->unit : maxs;
        uint32_t n = 1 + (uint32_t)(blk_rand(&g->seed) % cap);
        uint64_t start = blk_rand(&g->seed) % (units - n);
        uint8_t *b = buf_for(g, i, (size_t)n * g->unit, &g->seed, host);
        ios[i] = (struct xensim_blkfront_io){ .op = BLKIF_OP_READ, .queue = i * 7, .sector = start,
                                       .nr_sectors = n, .buf = b };
        int rc = xensim_blkfront_submit(fe, &ios[i]);
        if (rc)
            GFAIL(g, "submit read %u: %d", i, rc);
    }
    for (unsigned int i = 0; i < INFLIGHT; i++) {
        if (xensim_blkfront_wait(fe, &ios[i]))
            GFAIL(g, "read %u: %d", i, ios[i].status);
        if (memcmp(ios[i].buf, g->model + ios[i].sector * g->unit,
                   (size_t)ios[i].nr_sectors * g->unit))
            GFAIL(g, "read %u (sector %llu, %u) differs", i,
                  (unsigned long long)ios[i].sector, ios[i].nr_sectors);
    }
    /* 4: a large synchronous read across many requests. */
    {
        uint64_t n = 3ull * maxs + 5;
        uint64_t start = blk_rand(&g->seed) % (units - n);
        if (xensim_blkfront_read(fe, start, big, n))
            GFAIL(g, "big read");
        if (memcmp(big, g->model + start * g->unit, (size_t)n * g->unit))
            GFAIL(g, "big read differs");
    }
    if (xensim_blkfront_flush(fe))
        GFAIL(g, "flush");
    if (xensim_blkfront_inflight(fe))
        GFAIL(g, "%u still in flight", xensim_blkfront_inflight(fe));
    if (g->gbuf)
        guest_pages_free(gbuf_first, gbuf_pages);
    free(host);
    free(big);
    free(ios);
}

START_TEST(integrity)
{
    const struct integ_row *r = &integ_rows[_i];
    struct blk_fix *f = fix_new(r);
    blk_connect(f);
    struct integ g = { .f = f, .row = r, .seed = 0x9e3779b97f4a7c15ull + (uint64_t)_i,
                       .unit = r->large4k ? 4096 : 512 };
    g.model = calloc(1, f->bytes);
    ck_assert_ptr_nonnull(g.model);
    ck_assert_uint_eq(xensim_blkfront_sectors(f->fe) * xensim_blkfront_sector_size(f->fe), f->bytes);
    ck_assert_uint_eq(xensim_blkfront_nr_queues(f->fe), r->queues);
    ck_assert_uint_eq(xensim_blkfront_ring_size(f->fe), 32u << r->order);
    th_call(f->sim, f->front, 0, integ_fn, &g);
    ck_assert_msg(!g.err, "%s: %s", r->name, g.msg);
    struct xensim_blkback_stats st;
    xensim_blkback_get_stats(f->be, &st);
    if (getenv("BLK_VERBOSE"))
        fprintf(stderr, "%s: %llu requests, %llu maps, %llu persistent, %llu evicted\n", r->name,
                (unsigned long long)st.requests, (unsigned long long)st.maps,
                (unsigned long long)st.persistent_grants, (unsigned long long)st.persistent_evicted);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.unsupported, 0);
    if (r->persistent && r->back_persistent)
        ck_assert_uint_gt(st.persistent_grants, 0);
    else
        ck_assert_uint_eq(st.persistent_grants, 0);
    if (r->max_pgrants) {
        ck_assert_uint_le(st.persistent_grants, (uint64_t)r->max_pgrants * r->queues);
        ck_assert_uint_gt(st.persistent_evicted, 0);
    }
    if (!r->memory) {
        /* What the back end wrote is what the front end meant. */
        uint8_t *disk = malloc(f->bytes);
        ck_assert_ptr_nonnull(disk);
        blk_file_read(f, 0, disk, f->bytes);
        ck_assert_msg(memcmp(disk, g.model, f->bytes) == 0, "%s: file differs", r->name);
        free(disk);
    }
    free(g.model);
    blk_teardown(f);
    free(f);
}
END_TEST

/* Flush and barrier: served in ring order, so every write queued before a
 * barrier is complete when the barrier completes. */
struct order_ctx {
    struct blk_fix *f;
    int order[8];
    int n;
    int rc[8];
    uint8_t data[3][4096];
};

static struct order_ctx *order_cur;

static void order_done(struct xensim_blkfront_io *io)
{
    order_cur->order[order_cur->n++] = (int)(uintptr_t)io->arg;
}

static void order_fn(void *p)
{
    struct order_ctx *c = p;
    struct xensim_blkfront *fe = c->f->fe;
    struct xensim_blkfront_io io[5];
    uint64_t seed = 7;
    for (int i = 0; i < 3; i++)
        blk_fill(c->data[i], 4096, &seed);
    order_cur = c;
    io[0] = (struct xensim_blkfront_io){ .op = BLKIF_OP_WRITE, .sector = 0, .nr_sectors = 8,
                                  .buf = c->data[0], .done = order_done, .arg = (void *)0 };
    io[1] = (struct xensim_blkfront_io){ .op = BLKIF_OP_WRITE, .sector = 8, .nr_sectors = 8,
                                  .buf = c->data[1], .done = order_done, .arg = (void *)1 };
    io[2] = (struct xensim_blkfront_io){ .op = BLKIF_OP_WRITE_BARRIER, .sector = 0, .nr_sectors = 8,
                                  .buf = c->data[2], .done = order_done, .arg = (void *)2 };
    io[3] = (struct xensim_blkfront_io){ .op = BLKIF_OP_FLUSH_DISKCACHE, .done = order_done,
                                  .arg = (void *)3 };
    io[4] = (struct xensim_blkfront_io){ .op = BLKIF_OP_WRITE, .sector = 16, .nr_sectors = 8,
                                  .buf = c->data[0], .done = order_done, .arg = (void *)4 };
    for (int i = 0; i < 5; i++)
        c->rc[i] = xensim_blkfront_submit(fe, &io[i]);
    for (int i = 0; i < 5; i++)
        if (!c->rc[i])
            c->rc[i] = xensim_blkfront_wait(fe, &io[i]);
}

START_TEST(flush_barrier_order)
{
    struct integ_row r = { .mode = XENSIM_GNTTAB_STRICT };
    struct blk_fix *f = fix_new(&r);
    blk_connect(f);
    ck_assert(f->info.feature_barrier && f->info.feature_flush);
    struct order_ctx c = { .f = f };
    th_call(f->sim, f->front, 0, order_fn, &c);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(c.rc[i], 0);
    ck_assert_int_eq(c.n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(c.order[i], i);
    uint8_t got[3 * 4096];
    blk_file_read(f, 0, got, sizeof(got));
    /* The barrier's data replaced the first write's, the third is there. */
    ck_assert(memcmp(got, c.data[2], 4096) == 0);
    ck_assert(memcmp(got + 4096, c.data[1], 4096) == 0);
    ck_assert(memcmp(got + 8192, c.data[0], 4096) == 0);
    blk_teardown(f);
    free(f);
}
END_TEST

struct simple_ctx {
    struct blk_fix *f;
    int rc_flush, rc_barrier, rc_discard, rc_write, rc_read, rc_big;
    uint8_t buf[8192];
};

static void simple_fn(void *p)
{
    struct simple_ctx *c = p;
    struct xensim_blkfront *fe = c->f->fe;
    c->rc_flush = xensim_blkfront_flush(fe);
    c->rc_barrier = xensim_blkfront_write_barrier(fe, 0, c->buf, 8);
    c->rc_discard = xensim_blkfront_discard(fe, 0, 8, false);
    c->rc_write = xensim_blkfront_write(fe, 0, c->buf, 16);
    c->rc_read = xensim_blkfront_read(fe, 8, c->buf, 16);
    struct xensim_blkfront_io io = { .op = BLKIF_OP_READ, .nr_sectors = xensim_blkfront_max_sectors(fe) + 1,
                              .buf = c->buf };
    c->rc_big = xensim_blkfront_submit(fe, &io);
}

/* No optional features: the front end refuses what was not offered. */
START_TEST(features_off)
{
    struct integ_row r = { .mode = XENSIM_GNTTAB_FAST };
    struct blk_fix *f = fix_new(&r);
    f->bcfg.feature_flush = f->bcfg.feature_barrier = f->bcfg.feature_discard = false;
    blk_connect(f);
    struct simple_ctx c = { .f = f };
    th_call(f->sim, f->front, 0, simple_fn, &c);
    ck_assert_int_eq(c.rc_flush, -EOPNOTSUPP);
    ck_assert_int_eq(c.rc_barrier, -EOPNOTSUPP);
    ck_assert_int_eq(c.rc_discard, -EOPNOTSUPP);
    ck_assert_int_eq(c.rc_write, 0);
    ck_assert_int_eq(c.rc_read, 0);
    ck_assert_int_eq(c.rc_big, -E2BIG);
    blk_teardown(f);
    free(f);
}
END_TEST

/* Read-only: VDISK_READONLY, writes fail with BLKIF_RSP_ERROR (-EIO),
 * reads work, nothing changes in the file. */
START_TEST(read_only)
{
    struct integ_row r = { .mode = XENSIM_GNTTAB_STRICT };
    struct blk_fix *f = fix_new(&r);
    f->bcfg.readonly = true;
    f->bcfg.info = VDISK_CDROM;
    blk_connect(f);
    ck_assert_uint_eq(f->info.info, VDISK_READONLY | VDISK_CDROM);
    ck_assert(!f->info.feature_flush && !f->info.feature_discard);
    struct simple_ctx c = { .f = f };
    memset(c.buf, 0xab, sizeof(c.buf));
    th_call(f->sim, f->front, 0, simple_fn, &c);
    ck_assert_int_eq(c.rc_write, -EIO);
    ck_assert_int_eq(c.rc_read, 0);
    uint8_t zero[8192] = { 0 };
    ck_assert(memcmp(c.buf, zero, sizeof(zero)) == 0);
    struct xensim_blkback_stats st;
    xensim_blkback_get_stats(f->be, &st);
    ck_assert_uint_ge(st.errors, 1);
    blk_teardown(f);
    free(f);
}
END_TEST

/* Reconnect on the same pair: the second connection sees the first one's
 * data, and the grants and ports of the first are all gone. */
struct rw_ctx {
    struct blk_fix *f;
    uint64_t sector;
    uint8_t w[16384], r[16384];
    int rc_w, rc_r;
};

static void rw_fn(void *p)
{
    struct rw_ctx *c = p;
    if (c->rc_w == 1)
        c->rc_w = xensim_blkfront_write(c->f->fe, c->sector, c->w, sizeof(c->w) / 512);
    c->rc_r = xensim_blkfront_read(c->f->fe, c->sector, c->r, sizeof(c->r) / 512);
}

START_TEST(reconnect_same_pair)
{
    struct integ_row r = { .mode = XENSIM_GNTTAB_STRICT, .persistent = true,
                           .back_persistent = true, .order = 2, .queues = 2 };
    struct blk_fix *f = fix_new(&r);
    for (int round = 0; round < 3; round++) {
        blk_connect(f);
        struct rw_ctx *c = calloc(1, sizeof(*c));
        c->f = f;
        c->sector = 100;
        c->rc_w = round == 0 ? 1 : 0;
        uint64_t seed = 99;
        blk_fill(c->w, sizeof(c->w), &seed);
        th_call(f->sim, f->front, 0, rw_fn, c);
        ck_assert_int_eq(c->rc_w, 0);
        ck_assert_int_eq(c->rc_r, 0);
        ck_assert(memcmp(c->w, c->r, sizeof(c->w)) == 0);
        free(c);
        blk_disconnect(f);
        ck_assert_uint_eq(th_ports_in_use(f->sim, f->front), 0);
        ck_assert_uint_eq(th_ports_in_use(f->sim, f->back), 0);
        struct xensim_domain_info di;
        ck_assert_int_eq(xensim_domain_info(f->sim, f->back, &di), 0);
        ck_assert_uint_eq(di.maptrack_in_use, 0);
    }
    blk_connect(f);
    blk_teardown(f);
    free(f);
}
END_TEST


/* Multi-page rings whose pages are not side by side, on both ends: the
 * front end's page allocator is fragmented first, and dom0's free mapping
 * handles (one strict-mode window slot each) are put out of order, so the
 * slot copies take the piecewise path (<xensim/io/blkif_ring.h>). */
struct frag {
    struct blk_fix *f;
    xen_pfn_t keep[2];
    uint32_t frames[2];       /* the ring's pages, as granted */
    long refs[3];
    gnttab_map_grant_ref_t map[3];
    int rc;
};

static void frag_front(void *p)
{
    struct frag *fr = p;
    xen_pfn_t a[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(xensim_guest_page_alloc(&a[i]), 0);
    /* Holes at a[1] and a[3]: the ring's two pages land there. */
    fr->keep[0] = a[0];
    fr->keep[1] = a[2];
    xensim_guest_page_free(a[1]);
    xensim_guest_page_free(a[3]);
    for (int i = 0; i < 3; i++)
        fr->refs[i] = xensim_gnttab_grant_access(0, fr->keep[0], false);
}

/* One map and unmap of ref as dom0: the handle it was given. */
static long frag_turn(struct frag *fr, grant_ref_t ref)
{
    gnttab_map_grant_ref_t m = { .flags = GNTMAP_host_map, .ref = ref, .dom = fr->f->front };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
    if (rc || m.status)
        return rc ? rc : m.status;
    gnttab_unmap_grant_ref_t u = { .host_addr = m.host_addr, .handle = m.handle };
    rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    return rc ? rc : u.status ? u.status : (long)m.handle;
}

static void frag_back_map(void *p)
{
    struct frag *fr = p;
    for (int i = 0; i < 3; i++)
        fr->map[i] = (gnttab_map_grant_ref_t){ .flags = GNTMAP_host_map,
                                               .ref = (grant_ref_t)fr->refs[i],
                                               .dom = fr->f->front };
    fr->rc = (int)HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, fr->map, 3);
    /* Freed in the order 1, 0, 2, they go to the tail of the free list
     * (Xen reuses freed handles last). Turning the list (a map and an
     * unmap take its head to its tail) until map[1]'s handle comes round
     * leaves map[0]'s then map[2]'s at its head: the ring's two maps get
     * those, which are not neighbours. */
    static const int order[3] = { 1, 0, 2 };
    for (int k = 0; k < 3 && !fr->rc; k++) {
        gnttab_map_grant_ref_t *m = &fr->map[order[k]];
        gnttab_unmap_grant_ref_t u = { .host_addr = m->host_addr, .handle = m->handle };
        fr->rc = (int)HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
        if (!fr->rc)
            fr->rc = u.status;
    }
    for (int turns = 0; !fr->rc && turns < 1024; turns++) {
        long h = frag_turn(fr, (grant_ref_t)fr->refs[0]);
        if (h < 0) {
            fr->rc = (int)h;
            break;
        }
        if (h == fr->map[1].handle)
            return;
    }
    if (!fr->rc)
        fr->rc = -ENOENT;
}

/* The frames behind the ring's grant refs, read from the front end's own
 * grant table, in the version its kernel runs. */
static void frag_ring_frames(void *p)
{
    struct frag *fr = p;
    grant_entry_v1_t *v1 = xensim_gnttab_entries(NULL);
    grant_entry_v2_t *v2 = xensim_gnttab_entries_v2(NULL);
    ck_assert(v1 || v2);
    for (int i = 0; i < 2; i++) {
        grant_ref_t ref = fr->f->params.queue[0].ring_ref[i];
        fr->frames[i] = v1 ? v1[ref].frame : v2[ref].full_page.frame;
    }
}

static void frag_front_end(void *p)
{
    struct frag *fr = p;
    fr->rc = 0;
    for (int i = 0; i < 3; i++) {
        fr->rc |= xensim_gnttab_end_access((grant_ref_t)fr->refs[i]);
        xensim_gnttab_free_ref((grant_ref_t)fr->refs[i]);
    }
    xensim_guest_page_free(fr->keep[0]);
    xensim_guest_page_free(fr->keep[1]);
}

START_TEST(noncontiguous_rings)
{
    struct integ_row r = { .name = "non-contiguous o1", .order = 1, .queues = 1,
                           .mode = XENSIM_GNTTAB_STRICT, .guest_buf = false,
                           .persistent = _i == 1, .back_persistent = _i == 1 };
    struct blk_fix *f = fix_new(&r);
    struct frag fr = { .f = f };
    th_call(f->sim, f->front, 0, frag_front, &fr);
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(fr.refs[i], 8);
    th_call(f->sim, 0, 0, frag_back_map, &fr);
    ck_assert_int_eq(fr.rc, 0);
    blk_connect(f);
    /* The premise: neither end sees the ring's two pages side by side. */
    th_call(f->sim, f->front, 0, frag_ring_frames, &fr);
    ck_assert_uint_ne(fr.frames[1], fr.frames[0] + 1);
    ck_assert_uint_eq(f->params.ring_order, 1);
    struct xensim_blkback_stats bst;
    xensim_blkback_get_stats(f->be, &bst);
    ck_assert_uint_eq(bst.split_rings, 1);
    struct integ g = { .f = f, .row = &r, .seed = 4242, .unit = 512 };
    g.model = calloc(1, f->bytes);
    th_call(f->sim, f->front, 0, integ_fn, &g);
    ck_assert_msg(!g.err, "%s", g.msg);
    uint8_t *disk = malloc(f->bytes);
    blk_file_read(f, 0, disk, f->bytes);
    ck_assert(memcmp(disk, g.model, f->bytes) == 0);
    free(disk);
    free(g.model);
    th_call(f->sim, f->front, 0, frag_front_end, &fr);
    ck_assert_int_eq(fr.rc, 0);
    blk_teardown(f);
    free(f);
}
END_TEST

static Suite *blk_suite(void)
{
    Suite *s = suite_create("blk");
    TCase *tc = tcase_create("integrity");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, integrity, 0, (int)(sizeof(integ_rows) / sizeof(integ_rows[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("semantics");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, flush_barrier_order);
    tcase_add_test(tc, features_off);
    tcase_add_test(tc, read_only);
    tcase_add_test(tc, reconnect_same_pair);
    tcase_add_loop_test(tc, noncontiguous_rings, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(blk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
