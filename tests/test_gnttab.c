/*
 * Grant table conformance (spec §2): map and unmap with every check in
 * Xen's order, pins and GTF_* bits, maptrack handles, table ops, versions
 * and bad input. Every case runs in both mapping modes (a loop test).
 */
#include <sys/mman.h>
#include <unistd.h>
#include "gnttab_helpers.h"

static const uint32_t RW = GNTMAP_host_map;
static const uint32_t RO = GNTMAP_host_map | GNTMAP_readonly;

START_TEST(map_rw_then_unmap)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);

    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m), GNTST_okay);
    ck_assert_uint_ne(m.host_addr, 0);
    ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)g.pfn << 12);
    /* Fast mode hands out the granter's own page; strict mode an alias. */
    if (GT_MODE == XENSIM_GNTTAB_FAST)
        ck_assert_ptr_eq((void *)(uintptr_t)m.host_addr, g.page);
    else
        ck_assert_ptr_ne((void *)(uintptr_t)m.host_addr, g.page);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 1);

    /* Both sides see one page. */
    uint8_t v = 0x5a;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (void *)(uintptr_t)m.host_addr, true, &v), 0);
    ck_assert_uint_eq(g.page[0], 0x5a);
    g.page[1] = 0xa5;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (uint8_t *)(uintptr_t)m.host_addr + 1,
                                     false, &v), 0);
    ck_assert_uint_eq(v, 0xa5);

    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    ck_assert_int_eq(gt_flags(&g), 0);
    gt_sim_free(f.sim);
}
END_TEST

START_TEST(map_readonly)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, true);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly);

    /* A writable map of a read-only grant: refused, entry untouched. */
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, NULL), GNTST_general_error);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);

    gnttab_map_grant_ref_t m;
    g.page[7] = 77;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m), GNTST_okay);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly | GTF_reading);
    uint8_t v = 0;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (uint8_t *)(uintptr_t)m.host_addr + 7,
                                     false, &v), 0);
    ck_assert_uint_eq(v, 77);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly);
    gt_sim_free(f.sim);
}
END_TEST

/* GTF_writing goes with the last writable pin, GTF_reading with the last. */
START_TEST(busy_bits_follow_pins)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t ro, rw1, rw2;

    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &ro), GNTST_okay);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &rw1), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &rw2), GNTST_okay);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 3);
    gt_unmap_ok(f.sim, f.b, &rw1);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    gt_unmap_ok(f.sim, f.b, &rw2);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);
    gt_unmap_ok(f.sim, f.b, &ro);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/* One row per map failure: how the entry is set up, the op, the status. */
enum setup { S_NONE, S_TRANSFER, S_SUBPAGE, S_BADFRAME, S_WRONG_DOMID, S_PINNED_OTHER };

struct map_row {
    const char *what;
    enum setup setup;
    uint32_t flags;
    domid_t dom;          /* 0: the granter */
    grant_ref_t ref;      /* 0: the granted ref */
    int16_t status;
};

static const struct map_row map_rows[] = {
    { "no host or device flag", S_NONE, GNTMAP_readonly, 0, 0, GNTST_bad_gntref },
    { "DOMID_SELF is refused", S_NONE, RW, DOMID_SELF, 0, GNTST_bad_domain },
    { "no such domain", S_NONE, RW, GT_NODOM, 0, GNTST_bad_domain },
    { "reserved domid", S_NONE, RW, DOMID_IO, 0, GNTST_bad_domain },
    { "ref past the table", S_NONE, RW, 0, 512, GNTST_bad_gntref },
    { "huge ref", S_NONE, RW, 0, 0xffffffffu, GNTST_bad_gntref },
    { "never granted", S_NONE, RW, 0, 300, GNTST_general_error },
    { "accept_transfer type", S_TRANSFER, RW, 0, 0, GNTST_general_error },
    { "sub-page entry", S_SUBPAGE, RW, 0, 0, GNTST_general_error },
    { "frame not guest RAM", S_BADFRAME, RW, 0, 0, GNTST_bad_page },
    { "granted to another domain", S_WRONG_DOMID, RW, 0, 0, GNTST_general_error },
    { "pinned by another domain", S_PINNED_OTHER, RO, 0, 0, GNTST_general_error },
    { "contains_pte", S_NONE, RW | GNTMAP_contains_pte, 0, 0, GNTST_general_error },
};

START_TEST(map_failures)
{
    for (size_t r = 0; r < sizeof(map_rows) / sizeof(map_rows[0]); r++) {
        const struct map_row *row = &map_rows[r];
        struct gt_fix f = gt_fix_new(GT_MODE);
        struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
        grant_entry_v1_t *e = &g.ents[g.ref];
        gnttab_map_grant_ref_t other = { 0 };
        switch (row->setup) {
        case S_NONE:
            break;
        case S_TRANSFER:
            e->flags = GTF_accept_transfer;
            break;
        case S_SUBPAGE:
            e->flags = GTF_permit_access | GTF_sub_page;
            break;
        case S_BADFRAME:
            e->frame = 0x7fffffff;
            break;
        case S_WRONG_DOMID:
            e->domid = f.c;
            break;
        case S_PINNED_OTHER:
            /* c maps it, then the granter rewrites the grantee under it. */
            e->domid = f.c;
            ck_assert_int_eq(gt_map(f.sim, f.c, f.a, g.ref, RO, &other), GNTST_okay);
            e->domid = f.b;
            break;
        }
        uint16_t before = gt_flags(&g);
        unsigned int pins = gt_pins(f.sim, f.a);
        gnttab_map_grant_ref_t m;
        int16_t st = gt_map(f.sim, f.b, row->dom ? row->dom : f.a,
                            row->ref ? row->ref : (grant_ref_t)g.ref, row->flags, &m);
        ck_assert_msg(st == row->status, "%s (%s): status %d, want %d", row->what,
                      GT_MODE_NAME(GT_MODE), st, row->status);
        ck_assert_msg(gt_flags(&g) == before, "%s: flags %#x -> %#x", row->what, before,
                      gt_flags(&g));
        ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
        ck_assert_uint_eq(gt_pins(f.sim, f.a), pins);
        if (row->setup == S_PINNED_OTHER)
            gt_unmap_ok(f.sim, f.c, &other);
        gt_sim_free(f.sim);
    }
}
END_TEST

/* A grant that changes under the pin is caught by the cmpxchg: a revoked
 * entry can no longer be mapped. */
START_TEST(map_after_revoke)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, NULL), GNTST_general_error);
    ck_assert_int_eq(gt_flags(&g), 0);
    gt_sim_free(f.sim);
}
END_TEST

START_TEST(end_access_while_mapped)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m), GNTST_okay);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), -EBUSY);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    ck_assert_int_eq(gt_flags(&g), 0);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * The same ref mapped many times: one handle each. Xen 4.17 checks only
 * the counter a map increments (GNTPIN_incr2oflow_mask(pin_incr)): 128
 * read-only maps fill the host-read counter, so a 129th fails, while a
 * writable map and a copy into the ref (host-write) still succeed. A
 * failed map leaves the guest's handle as it was (Xen's failure paths set
 * only status) and puts the handle it took at the tail of the free list,
 * where freed handles go too (put_maptrack_handle): the last reused.
 */
START_TEST(many_maps_one_ref)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    static gnttab_map_grant_ref_t m[130];
    for (int i = 0; i < 128; i++) {
        ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m[i]), GNTST_okay);
        /* A fresh domain's handles come in order from 0. */
        ck_assert_uint_eq(m[i].handle, i);
    }
    gnttab_map_grant_ref_t over = { .flags = RO, .ref = (grant_ref_t)g.ref, .dom = f.a,
                                    .handle = 0x12345678, .dev_bus_addr = 0xabcdef };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, &over, 1), 0);
    ck_assert_int_eq(over.status, GNTST_general_error);
    ck_assert_uint_eq(over.handle, 0x12345678);
    ck_assert_uint_eq(over.dev_bus_addr, 0xabcdef);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 128);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);

    /* Handle 128 went to the tail: the writable map gets 129. */
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m[128]), GNTST_okay);
    ck_assert_uint_eq(m[128].handle, 129);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    struct gt_page mine = gt_own_page(f.sim, f.b);
    gnttab_copy_t cp = {
        .source = { .u.gmfn = mine.pfn, .domid = DOMID_SELF },
        .dest = { .u.ref = (grant_ref_t)g.ref, .domid = f.a },
        .len = 8, .flags = GNTCOPY_dest_gref, .status = 99,
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, &cp, 1), 0);
    ck_assert_int_eq(cp.status, GNTST_okay);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 129);

    /* A freed handle is reused last: the next map gets 130, not 40. */
    gt_unmap_ok(f.sim, f.b, &m[40]);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &m[40]), GNTST_okay);
    ck_assert_uint_eq(m[40].handle, 130);
    for (int i = 0; i < 129; i++)
        gt_unmap_ok(f.sim, f.b, &m[i]);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * Unmap's checks in unmap_common's order. Xen 4.17 looks at dev_bus_addr
 * only for a mapping with GNTMAP_device_map (elsewhere a non-zero one is
 * ignored); a PV host_addr that is not the mapping's is general_error
 * (replace_grant_pv_mapping), and a failed unmap tears nothing down, not
 * even the device kind.
 */
struct unmap_row {
    const char *what;
    bool device;               /* map host and device kinds, else host only */
    long handle;               /* -1: the mapping's; -2: one past it */
    bool other_domain;         /* c unmaps b's handle */
    int host;                  /* 0: none, 1: the mapping's, 2: a page off */
    int dev;                   /* 0: none, 1: the mapping's, 2: a page off */
    int16_t status;
    unsigned int maptrack;     /* b's handles afterwards */
    uint16_t flags;            /* the entry's afterwards */
};

#define UR_BUSY (GTF_permit_access | GTF_reading | GTF_writing)
static const struct unmap_row unmap_rows[] = {
    { "no such handle", false, 0xffffffffl, false, 1, 0, GNTST_bad_handle, 1, UR_BUSY },
    { "handle past the maptrack", false, 100000, false, 1, 0, GNTST_bad_handle, 1, UR_BUSY },
    { "a free handle", false, -2, false, 1, 0, GNTST_bad_handle, 1, UR_BUSY },
    { "another domain's handle numbers are its own", false, -1, true, 1, 0,
      GNTST_bad_handle, 1, UR_BUSY },
    { "host map: a wrong dev_bus_addr is ignored", false, -1, false, 0, 2, GNTST_okay, 1,
      UR_BUSY },
    { "host map: wrong dev_bus_addr ignored, host kind goes", false, -1, false, 1, 2,
      GNTST_okay, 0, GTF_permit_access },
    { "wrong host_addr", false, -1, false, 2, 0, GNTST_general_error, 1, UR_BUSY },
    { "nothing named: nothing unmapped, okay", false, -1, false, 0, 0, GNTST_okay, 1, UR_BUSY },
    { "device map: wrong dev_bus_addr", true, -1, false, 1, 2, GNTST_bad_dev_addr, 1,
      UR_BUSY },
    { "device map: wrong host_addr keeps the device kind too", true, -1, false, 2, 1,
      GNTST_general_error, 1, UR_BUSY },
    { "device map: both go", true, -1, false, 1, 1, GNTST_okay, 0, GTF_permit_access },
};

START_TEST(unmap_failures)
{
    for (size_t r = 0; r < sizeof(unmap_rows) / sizeof(unmap_rows[0]); r++) {
        const struct unmap_row *row = &unmap_rows[r];
        struct gt_fix f = gt_fix_new(GT_MODE);
        struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
        gnttab_map_grant_ref_t m;
        uint32_t flags = RW | (row->device ? GNTMAP_device_map : 0);
        ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, flags, &m), GNTST_okay);
        grant_handle_t h = row->handle == -1 ? m.handle
                         : row->handle == -2 ? m.handle + 1 : (grant_handle_t)row->handle;
        uint64_t host = row->host == 1 ? m.host_addr : row->host == 2 ? m.host_addr + 4096 : 0;
        uint64_t dev = row->dev == 1 ? m.dev_bus_addr : row->dev == 2 ? m.dev_bus_addr + 4096
                                                                         : 0;
        int16_t st = gt_unmap(f.sim, row->other_domain ? f.c : f.b, h, host, dev);
        ck_assert_msg(st == row->status, "%s (%s): status %d, want %d", row->what,
                      GT_MODE_NAME(GT_MODE), st, row->status);
        ck_assert_msg(gt_maptrack(f.sim, f.b) == row->maptrack, "%s: %u handles", row->what,
                      gt_maptrack(f.sim, f.b));
        ck_assert_msg(gt_flags(&g) == row->flags, "%s: flags %#x", row->what, gt_flags(&g));
        if (row->maptrack)
            ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, m.host_addr,
                                      row->device ? m.dev_bus_addr : 0),
                             GNTST_okay);
        ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, m.host_addr, 0), GNTST_bad_handle);
        gt_sim_free(f.sim);
    }
}
END_TEST

/* Host and device kinds are pinned and torn down separately. */
START_TEST(device_and_host_kinds)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;

    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, GNTMAP_device_map, &m), GNTST_okay);
    ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)g.pfn << 12);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, 0, m.dev_bus_addr), GNTST_okay);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);

    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref,
                            GNTMAP_device_map | GNTMAP_host_map | GNTMAP_readonly, &m),
                     GNTST_okay);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 2);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, m.host_addr, 0), GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 1);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, 0, m.dev_bus_addr), GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * max_maptrack_frames = 1 on a 1-vCPU domain: 255 handles, not 256, as
 * Xen's _get_maptrack_handle always keeps one entry on the free list;
 * then GNTST_no_space, which Xen checks before the ref (but after the
 * domain). A freed handle makes room again.
 */
START_TEST(maptrack_exhaustion)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, GT_MODE);
    struct xensim_domain_config cfg = {
        .name = "small", .gnttab_mode = GT_MODE, .max_maptrack_frames = 1,
    };
    domid_t b = th_domain_cfg(sim, &cfg);
    /* Three refs, so that no pin counter gets near its limit of 128. */
    struct gt_grant g = gt_grant(sim, a, b, true);
    struct gt_grant g1 = gt_grant(sim, a, b, true), g2 = gt_grant(sim, a, b, true);
    grant_ref_t refs[3] = { (grant_ref_t)g.ref, (grant_ref_t)g1.ref, (grant_ref_t)g2.ref };
    static gnttab_map_grant_ref_t m[255];
    for (int i = 0; i < 255; i++) {
        ck_assert_int_eq(gt_map(sim, b, a, refs[i % 3], RO, &m[i]), GNTST_okay);
        ck_assert_uint_eq(m[i].handle, i);
    }
    ck_assert_uint_eq(gt_maptrack(sim, b), 255);
    ck_assert_int_eq(gt_map(sim, b, a, g.ref, RO, NULL), GNTST_no_space);
    ck_assert_int_eq(gt_map(sim, b, a, 100000, RO, NULL), GNTST_no_space);
    ck_assert_int_eq(gt_map(sim, b, GT_NODOM, g.ref, RO, NULL), GNTST_bad_domain);
    /* Freed 3 goes behind 255, the entry kept: the next map takes 255. */
    gt_unmap_ok(sim, b, &m[3]);
    ck_assert_int_eq(gt_map(sim, b, a, g.ref, RO, &m[3]), GNTST_okay);
    ck_assert_uint_eq(m[3].handle, 255);
    ck_assert_int_eq(gt_map(sim, b, a, g.ref, RO, NULL), GNTST_no_space);
    for (int i = 0; i < 255; i++)
        gt_unmap_ok(sim, b, &m[i]);
    gt_sim_free(sim);
}
END_TEST

/* Per-vCPU free lists (Xen's steal_maptrack_handle): with one frame, a
 * vCPU without a list of its own first takes an entry from another as
 * its tail, then one more to map with; every list keeps its last entry,
 * so two vCPUs get 254 handles from one frame. */
struct steal_run { domid_t a; grant_ref_t refs[3]; gnttab_map_grant_ref_t m[256]; int n; };

static void steal_fn(void *p)
{
    struct steal_run *r = p;
    for (; r->n < 256; r->n++) {
        gnttab_map_grant_ref_t *m = &r->m[r->n];
        *m = (gnttab_map_grant_ref_t){ .flags = RO, .ref = r->refs[r->n % 3], .dom = r->a };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, m, 1), 0);
        if (m->status != GNTST_okay) {
            ck_assert_int_eq(m->status, GNTST_no_space);
            break;
        }
    }
}

static void steal_unmap_fn(void *p)
{
    struct steal_run *r = p;
    for (int i = 0; i < r->n; i++) {
        gnttab_unmap_grant_ref_t u = { .host_addr = r->m[i].host_addr, .handle = r->m[i].handle };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
        ck_assert_int_eq(u.status, GNTST_okay);
    }
}

START_TEST(maptrack_steal)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, GT_MODE);
    struct xensim_domain_config cfg = {
        .name = "smp", .nr_vcpus = 2, .gnttab_mode = GT_MODE, .max_maptrack_frames = 1,
    };
    domid_t b = th_domain_cfg(sim, &cfg);
    struct gt_grant g[3];
    struct steal_run *v0 = calloc(1, sizeof(*v0)), *v1 = calloc(1, sizeof(*v1));
    for (int i = 0; i < 3; i++) {
        g[i] = gt_grant(sim, a, b, true);
        v0->refs[i] = v1->refs[i] = (grant_ref_t)g[i].ref;
    }
    v0->a = v1->a = a;
    /* vCPU 0 grows the frame: handle 0, its list 1..255. */
    gnttab_map_grant_ref_t first;
    ck_assert_int_eq(gt_map(sim, b, a, g[0].ref, RO, &first), GNTST_okay);
    ck_assert_uint_eq(first.handle, 0);
    /* vCPU 1: 1 becomes its tail, 2 its first handle, then it takes the
     * rest of vCPU 0's list but the last. */
    v1->n = 0;
    th_call(sim, b, 1, steal_fn, v1);
    ck_assert_uint_eq(v1->m[0].handle, 2);
    ck_assert_int_eq(v1->n, 253);
    ck_assert_uint_eq(gt_maptrack(sim, b), 254);
    th_call(sim, b, 1, steal_unmap_fn, v1);
    gt_unmap_ok(sim, b, &first);
    free(v0);
    free(v1);
    gt_sim_free(sim);
}
END_TEST

/* Statuses are per element; the hypercall itself returns 0. */
START_TEST(map_batch)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g[4];
    for (int i = 0; i < 4; i++)
        g[i] = gt_grant(f.sim, f.a, f.b, i & 1);
    gnttab_map_grant_ref_t ops[40];
    memset(ops, 0, sizeof(ops));
    for (int i = 0; i < 40; i++) {
        ops[i].dom = f.a;
        ops[i].ref = (grant_ref_t)g[i % 4].ref;
        ops[i].flags = RO;
    }
    ops[5].dom = GT_NODOM;
    ops[17].ref = 511;
    ops[33].flags = 0;
    ops[34].flags = RW;   /* g[2] is writable: fine */
    ops[35].flags = RW;   /* g[3] is read-only: refused */
    for (int i = 0; i < 4; i++)
        g[i].page[0] = (uint8_t)(0x40 + i);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, ops, 40), 0);
    unsigned int ok = 0;
    for (int i = 0; i < 40; i++) {
        int16_t want = i == 5 ? GNTST_bad_domain : i == 17 ? GNTST_general_error
                     : i == 33 ? GNTST_bad_gntref : i == 35 ? GNTST_general_error
                     : GNTST_okay;
        ck_assert_msg(ops[i].status == want, "op %d: %d want %d", i, ops[i].status, want);
        if (want != GNTST_okay)
            continue;
        ok++;
        /* Each address shows its own grant's page (neighbouring frames are
         * mapped as runs in strict mode). */
        ck_assert_uint_eq(*(volatile uint8_t *)(uintptr_t)ops[i].host_addr, 0x40 + i % 4);
        ck_assert_uint_eq(ops[i].dev_bus_addr, (uint64_t)g[i % 4].pfn << 12);
    }
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), ok);
    gnttab_unmap_grant_ref_t un[40];
    for (int i = 0; i < 40; i++)
        un[i] = (gnttab_unmap_grant_ref_t){
            .host_addr = ops[i].status == GNTST_okay ? ops[i].host_addr : 1,
            .handle = ops[i].status == GNTST_okay ? ops[i].handle : 0xfffffff0u,
        };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_grant_ref, un, 40), 0);
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(un[i].status,
                         ops[i].status == GNTST_okay ? GNTST_okay : GNTST_bad_handle);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(gt_flags(&g[i]), GTF_permit_access | ((i & 1) ? GTF_readonly : 0));
    gt_sim_free(f.sim);
}
END_TEST

/* The builder's reserved refs: 1 (xenstore) and 0 (console) for dom0. */
START_TEST(reserved_refs)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, 0, f.a, GNTTAB_RESERVED_XENSTORE, RW, &m), GNTST_okay);
    ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)ia.store_pfn << 12);
    gt_unmap_ok(f.sim, 0, &m);
    ck_assert_int_eq(gt_map(f.sim, 0, f.a, GNTTAB_RESERVED_CONSOLE, RW, &m), GNTST_okay);
    ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)ia.console_pfn << 12);
    gt_unmap_ok(f.sim, 0, &m);
    /* Granted to dom0, not to b. */
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, GNTTAB_RESERVED_XENSTORE, RW, NULL),
                     GNTST_general_error);
    gt_sim_free(f.sim);
}
END_TEST

START_TEST(setup_and_query)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    gnttab_query_size_t q = { .dom = DOMID_SELF, .status = 99 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_int_eq(q.status, GNTST_okay);
    ck_assert_uint_eq(q.nr_frames, 1);
    ck_assert_uint_eq(q.max_nr_frames, 64);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 2), -EINVAL);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 0), -EINVAL);

    xen_pfn_t frames[65];
    memset(frames, 0xff, sizeof(frames));
    gnttab_setup_table_t s = { .dom = DOMID_SELF, .nr_frames = 4, .status = 99 };
    set_xen_guest_handle(s.frame_list, frames);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    for (int i = 0; i < 4; i++)
        ck_assert_uint_eq(frames[i], ia.nr_pages + 1 + i);
    ck_assert_uint_eq(frames[4], (xen_pfn_t)~0ul);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_uint_eq(q.nr_frames, 4);

    /* It never shrinks; it grows to the max and no further. */
    s.nr_frames = 1;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    s.nr_frames = 65;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_general_error);
    s.nr_frames = 64;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    ck_assert_uint_eq(frames[63], ia.nr_pages + 64);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_uint_eq(q.nr_frames, 64);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 2), -EINVAL);

    /* Refs in the new frames are mappable. */
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    g.ents[64 * 512 - 1] = g.ents[g.ref];
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, 64 * 512 - 1, RW, &m), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, 64 * 512, RW, NULL), GNTST_bad_gntref);
    gt_unmap_ok(f.sim, f.b, &m);
    /* The copied entry is the test's own: revoke it. */
    g.ents[64 * 512 - 1].flags = 0;
    gt_sim_free(f.sim);
}
END_TEST

/* XSM_TARGET: only a privileged domain may name another domain. */
START_TEST(table_ops_domains)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    xen_pfn_t frames[2];
    gnttab_setup_table_t s = { .nr_frames = 2 };
    set_xen_guest_handle(s.frame_list, frames);
    gnttab_query_size_t q = { 0 };

    s.dom = f.a;
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_permission_denied);
    q.dom = f.a;
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_int_eq(q.status, GNTST_permission_denied);

    s.dom = GT_NODOM;
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_bad_domain);
    q.dom = DOMID_IO;
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_int_eq(q.status, GNTST_bad_domain);

    s.dom = f.a;
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    q.dom = f.a;
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_int_eq(q.status, GNTST_okay);
    ck_assert_uint_eq(q.nr_frames, 2);
    /* Own id, spelled out, is fine for anyone. */
    q.dom = f.b;
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_int_eq(q.status, GNTST_okay);

    /* A frame list the hypervisor cannot write: bad_virt_addr, the loop
     * goes on. One in Xen's own address range fails guest_handle_okay
     * first: -EFAULT, nothing written. */
    s.dom = DOMID_SELF;
    set_xen_guest_handle(s.frame_list, (xen_pfn_t *)16);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_bad_virt_addr);
    s.status = 99;
    set_xen_guest_handle(s.frame_list, (xen_pfn_t *)(uintptr_t)0xffff800000002000ull);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_setup_table, &s, 1), -EFAULT);
    ck_assert_int_eq(s.status, 99);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * Versions (the v2 suite has the switch itself): asking for the version
 * the table has is a no-op; anything but 1 or 2 is -EINVAL; the current
 * version is written back each time; count is not looked at.
 * get_version: -ESRCH for no domain, -EPERM for another's without
 * privilege.
 */
START_TEST(versions)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    gnttab_set_version_t sv = { .version = 1 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, &sv, 1), 0);
    ck_assert_uint_eq(sv.version, 1);
    sv.version = 3;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, &sv, 1), -EINVAL);
    ck_assert_uint_eq(sv.version, 1);
    sv.version = 0;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, &sv, 1), -EINVAL);
    ck_assert_uint_eq(sv.version, 1);
    /* Neither version op looks at count. */
    sv.version = 1;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, &sv, 7), 0);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, NULL, 1), -EFAULT);

    gnttab_get_version_t gv = { .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_version, &gv, 1), 0);
    ck_assert_uint_eq(gv.version, 1);
    gv = (gnttab_get_version_t){ .dom = f.a };
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_get_version, &gv, 1), 0);
    ck_assert_uint_eq(gv.version, 1);
    gv = (gnttab_get_version_t){ .dom = f.a };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_get_version, &gv, 1), -EPERM);
    gv = (gnttab_get_version_t){ .dom = GT_NODOM };
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_get_version, &gv, 1), -ESRCH);
    gv = (gnttab_get_version_t){ .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_version, &gv, 0), 0);
    ck_assert_uint_eq(gv.version, 1);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_version, NULL, 1), -EFAULT);
    gt_sim_free(f.sim);
}
END_TEST

/* A v1 table has no status frames. */
START_TEST(status_frames)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    uint64_t frames[2];
    gnttab_get_status_frames_t op = { .nr_frames = 0, .dom = DOMID_SELF, .status = 99 };
    set_xen_guest_handle(op.frame_list, frames);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_okay);
    op.nr_frames = 1;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_general_error);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &op, 2), -EINVAL);
    op.dom = GT_NODOM;
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_get_status_frames, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_bad_domain);
    op.dom = f.b;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_permission_denied);
    op = (gnttab_get_status_frames_t){ .nr_frames = 0, .dom = f.b };
    ck_assert_int_eq(gt_op(f.sim, 0, GNTTABOP_get_status_frames, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_okay);
    gt_sim_free(f.sim);
}
END_TEST

/* swap_grant_ref on one's own table: bounds, then the no-op, then pins. */
START_TEST(swap_refs)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g1 = gt_grant(f.sim, f.a, f.b, false);
    struct gt_grant g2 = gt_grant(f.sim, f.a, f.c, true);
    grant_entry_v1_t e1 = g1.ents[g1.ref], e2 = g1.ents[g2.ref];
    gnttab_swap_grant_ref_t ops[5] = {
        { .ref_a = (grant_ref_t)g1.ref, .ref_b = (grant_ref_t)g2.ref },
        { .ref_a = 512, .ref_b = (grant_ref_t)g1.ref },
        { .ref_a = (grant_ref_t)g1.ref, .ref_b = 0xffffffffu },
        { .ref_a = (grant_ref_t)g1.ref, .ref_b = (grant_ref_t)g1.ref },
        { .ref_a = 100, .ref_b = 300 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, ops, 5), 0);
    ck_assert_int_eq(ops[0].status, GNTST_okay);
    ck_assert_int_eq(ops[1].status, GNTST_bad_gntref);
    ck_assert_int_eq(ops[2].status, GNTST_bad_gntref);
    ck_assert_int_eq(ops[3].status, GNTST_okay);
    ck_assert_int_eq(ops[4].status, GNTST_okay);
    ck_assert_int_eq(memcmp(&g1.ents[g1.ref], &e2, sizeof(e2)), 0);
    ck_assert_int_eq(memcmp(&g1.ents[g2.ref], &e1, sizeof(e1)), 0);

    /* Now ref g2.ref grants b: map it, and it cannot move. */
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, (grant_ref_t)g2.ref, GNTMAP_host_map, &m),
                     GNTST_okay);
    ops[0].status = 99;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, ops, 1), 0);
    ck_assert_int_eq(ops[0].status, GNTST_eagain);
    ops[3] = (gnttab_swap_grant_ref_t){ .ref_a = (grant_ref_t)g2.ref, .ref_b = (grant_ref_t)g2.ref };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, &ops[3], 1), 0);
    ck_assert_int_eq(ops[3].status, GNTST_okay);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, NULL, 1), -EFAULT);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, NULL, 0), 0);
    gt_sim_free(f.sim);
}
END_TEST

START_TEST(unknown_and_unsupported)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    uint8_t buf[64] = { 0 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_dump_table, buf, 1), -ENOSYS);
    ck_assert_int_eq(gt_op(f.sim, f.a, 13, buf, 1), -ENOSYS);
    ck_assert_int_eq(gt_op(f.sim, f.a, 4095, buf, 1), -ENOSYS);
    /* A zero-length flush is done at once; with a continuation argument
     * it is one Xen never made (-EILSEQ). */
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_cache_flush, buf, 1), 0);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_cache_flush | (1u << 12), buf, 1), -EILSEQ);
    /* Continuation bits belong to cache_flush only. */
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_map_grant_ref | (1u << 12), buf, 1), -EINVAL);
    ck_assert_int_eq(gt_op(f.sim, f.a, 0xffffffffu, buf, 1), -EINVAL);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * GNTTABOP_unmap_and_replace as Xen 4.17 does it for a PV guest
 * (replace_grant_pv_mapping): an unmap of the host kind (dev_bus_addr is
 * 0) after which host_addr maps what new_addr maps. new_addr 0 is a plain
 * host unmap; an address with no page of the caller's RAM behind it is
 * general_error, as is a host_addr that is not the mapping's; only the
 * status is written back.
 */
static int16_t gt_replace(struct xensim *sim, domid_t who, grant_handle_t h, uint64_t host_addr,
                          uint64_t new_addr)
{
    gnttab_unmap_and_replace_t op = { .host_addr = host_addr, .new_addr = new_addr, .handle = h,
                                      .status = 99 };
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_unmap_and_replace, &op, 1), 0);
    return op.status;
}

START_TEST(unmap_and_replace)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m, other;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &other), GNTST_okay);

    ck_assert_int_eq(gt_replace(f.sim, f.b, 0xffffffffu, m.host_addr, 0), GNTST_bad_handle);
    ck_assert_int_eq(gt_replace(f.sim, f.c, m.handle, m.host_addr, 0), GNTST_bad_handle);
    /* Another grant's address, and one past the caller's RAM (its
     * shared_info): no page of its own to put there. */
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, m.host_addr, other.host_addr),
                     GNTST_general_error);
    struct gt_page mine = gt_own_page(f.sim, f.b);
    struct xensim_domain_info ib = gt_info(f.sim, f.b);
    uint64_t past_ram = (uint64_t)(uintptr_t)(mine.va - mine.pfn * 4096 + ib.nr_pages * 4096);
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, m.host_addr, past_ram),
                     GNTST_general_error);
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, m.host_addr + 4096, 0), GNTST_general_error);
    /* No host address: nothing to replace or unmap. */
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, 0, other.host_addr), GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 2);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 2);
    uint8_t v = 0x3c;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, (void *)(uintptr_t)m.host_addr, true, &v), 0);
    ck_assert_uint_eq(g.page[0], 0x3c);

    /* new_addr 0: the host unmap. */
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, m.host_addr, 0), GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_int_eq(gt_replace(f.sim, f.b, m.handle, m.host_addr, 0), GNTST_bad_handle);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_reading | GTF_writing);

    /* A page of its own (any address in it): the grant goes, and in strict
     * mode the slot now shows that page, writable. Fast mode has no slot:
     * the address still shows the granter's page, as after any fast-mode
     * unmap. */
    mine.va[5] = 0x77;
    g.page[5] = 0x11;
    ck_assert_int_eq(gt_replace(f.sim, f.b, other.handle, other.host_addr,
                                (uint64_t)(uintptr_t)(mine.va + 123)),
                     GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    uint8_t *slot = (uint8_t *)(uintptr_t)other.host_addr;
    ck_assert_int_eq(gt_guest_access(f.sim, f.b, slot + 5, false, &v), 0);
    ck_assert_uint_eq(v, GT_MODE == XENSIM_GNTTAB_STRICT ? 0x77 : 0x11);
    if (GT_MODE == XENSIM_GNTTAB_STRICT) {
        v = 0x99;
        ck_assert_int_eq(gt_guest_access(f.sim, f.b, slot + 6, true, &v), 0);
        ck_assert_uint_eq(mine.va[6], 0x99);
    }
    /* Xen would also unmap new_addr; xensim cannot (the hypervisor
     * reaches guest RAM through it), so it stays mapped. */
    ck_assert_uint_eq(mine.va[5], 0x77);

    /* A device-only mapping has no host mapping to replace: okay, kept. A
     * host and device mapping loses its host kind only. */
    gnttab_map_grant_ref_t dev, both;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, GNTMAP_device_map, &dev), GNTST_okay);
    ck_assert_int_eq(gt_replace(f.sim, f.b, dev.handle, other.host_addr, other.host_addr),
                     GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, GNTMAP_device_map | RW, &both), GNTST_okay);
    ck_assert_int_eq(gt_replace(f.sim, f.b, both.handle, both.host_addr,
                                (uint64_t)(uintptr_t)mine.va),
                     GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 2);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 2);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, both.handle, both.host_addr, 0), GNTST_okay);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, both.handle, 0, both.dev_bus_addr), GNTST_okay);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, dev.handle, 0, dev.dev_bus_addr), GNTST_okay);

    /* A batch: each element its status; only the status is written. */
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &other), GNTST_okay);
    gnttab_unmap_and_replace_t ops[3] = {
        { .host_addr = other.host_addr, .new_addr = 4096, .handle = other.handle, .status = 99 },
        { .host_addr = 0, .handle = 12345, .status = 99 },
        { .host_addr = other.host_addr, .handle = other.handle, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_and_replace, ops, 3), 0);
    ck_assert_int_eq(ops[0].status, GNTST_general_error);
    ck_assert_int_eq(ops[1].status, GNTST_bad_handle);
    ck_assert_int_eq(ops[2].status, GNTST_okay);
    ck_assert_uint_eq(ops[2].handle, other.handle);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_and_replace, NULL, 1), -EFAULT);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_and_replace, NULL, 0), 0);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, g.ref), 0);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * GNTTABOP_cache_flush, which Xen 4.17 handles on x86 as well: offset,
 * length and op bits first (-EINVAL), a zero-length flush done at once,
 * then the frame: the caller's own, or one it has mapped (-EINVAL
 * otherwise). There is no status field: the batch stops at the first
 * error. The grantee has 4 pages, so the granter's frame is not one of
 * its own.
 */
static long gt_flush(struct xensim *sim, domid_t who, unsigned int cmd, uint64_t addr,
                     uint16_t offset, uint16_t length, uint32_t op)
{
    gnttab_cache_flush_t fl = { .a.dev_bus_addr = addr, .offset = offset, .length = length,
                                .op = op };
    return gt_op(sim, who, cmd, &fl, 1);
}

/* A grant of a page whose frame number is at least min. */
struct high_grant { domid_t to; xen_pfn_t min; struct gt_grant g; };

static void high_grant_fn(void *p)
{
    struct high_grant *h = p;
    xen_pfn_t low[64];
    int nr_low = 0;
    for (int i = 0; i < 64 && h->g.pfn < h->min; i++) {
        ck_assert_int_eq(xensim_guest_page_alloc(&h->g.pfn), 0);
        if (h->g.pfn < h->min)
            low[nr_low++] = h->g.pfn;
    }
    while (nr_low)
        xensim_guest_page_free(low[--nr_low]);
    h->g.page = xensim_guest_pfn_to_virt(h->g.pfn);
    h->g.ref = xensim_gnttab_grant_access(h->to, h->g.pfn, false);
    h->g.ents = xensim_gnttab_entries(&h->g.nr_ents);
}

START_TEST(cache_flush)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, GT_MODE);
    struct xensim_domain_config small = { .name = "small", .nr_pages = 4, .gnttab_mode = GT_MODE };
    domid_t b = th_domain_cfg(sim, &small);
    struct high_grant h = { .to = b, .min = 4 };
    th_call(sim, a, 0, high_grant_fn, &h);
    struct gt_grant g = h.g;
    gt_own(a, g.ref, g.pfn);
    ck_assert_uint_ge(g.pfn, 4);
    ck_assert_int_ge(g.ref, GNTTAB_NR_RESERVED_ENTRIES);
    const unsigned int F = GNTTABOP_cache_flush;
    const uint32_t CLEAN = GNTTAB_CACHE_CLEAN, INVAL = GNTTAB_CACHE_INVAL;
    uint64_t ga = (uint64_t)g.pfn << 12;

    ck_assert_int_eq(gt_flush(sim, b, F, 0, 4096, 0, CLEAN), -EINVAL);
    ck_assert_int_eq(gt_flush(sim, b, F, 0, 0, 4097, CLEAN), -EINVAL);
    ck_assert_int_eq(gt_flush(sim, b, F, 0, 4000, 97, CLEAN), -EINVAL);
    ck_assert_int_eq(gt_flush(sim, b, F, 0, 0, 1, 4), -EINVAL);
    /* The op-bit check comes first, so this never reaches Xen's
     * "currently unimplemented" -EOPNOTSUPP. */
    ck_assert_int_eq(gt_flush(sim, b, F, 0, 0, 1, GNTTAB_CACHE_SOURCE_GREF | CLEAN), -EINVAL);
    ck_assert_int_eq(gt_flush(sim, b, F, ga, 0, 0, CLEAN), 0);
    ck_assert_int_eq(gt_flush(sim, b, F, ga, 0, 16, 0), 0);

    /* Its own frames: clean, or clean and invalidate; x86 cannot
     * invalidate alone (invalidate_dcache_va_range: -EOPNOTSUPP). */
    ck_assert_int_eq(gt_flush(sim, b, F, 0, 0, 4096, CLEAN), 0);
    ck_assert_int_eq(gt_flush(sim, b, F, 3ull << 12, 100, 200, INVAL), -EOPNOTSUPP);
    ck_assert_int_eq(gt_flush(sim, b, F, 3ull << 12, 0, 1, CLEAN | INVAL), 0);
    /* Someone else's frame: only while mapped. */
    ck_assert_int_eq(gt_flush(sim, b, F, ga, 0, 64, CLEAN), -EINVAL);
    ck_assert_int_eq(gt_flush(sim, b, F, 1ull << 40, 0, 64, CLEAN), -EINVAL);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(sim, b, a, g.ref, RW, &m), GNTST_okay);
    ck_assert_uint_eq(m.dev_bus_addr, ga);
    ck_assert_int_eq(gt_flush(sim, b, F, ga, 0, 64, CLEAN), 0);
    ck_assert_int_eq(gt_flush(sim, b, F, ga + 4095, 0, 64, INVAL), -EOPNOTSUPP);
    ck_assert_int_eq(gt_flush(sim, b, F, ga + 4095, 0, 64, INVAL | CLEAN), 0);
    /* A continuation resumes the search of the granter's refs there: a
     * ref below it is not found. */
    ck_assert_uint_lt(g.ref, 4096);
    ck_assert_int_eq(gt_flush(sim, b, F | (1u << 12), ga, 0, 64, CLEAN), -EINVAL);
    /* The granter flushes its own frame. */
    ck_assert_int_eq(gt_flush(sim, a, F, ga, 0, 64, CLEAN), 0);

    /* A batch stops at its first error; the elements before it were done. */
    gnttab_cache_flush_t fl[3] = {
        { .a.dev_bus_addr = ga, .length = 1, .op = CLEAN },
        { .a.dev_bus_addr = 1ull << 40, .length = 1, .op = CLEAN },
        { .a.dev_bus_addr = ga, .offset = 4096, .length = 1, .op = CLEAN },
    };
    ck_assert_int_eq(gt_op(sim, b, F, fl, 3), -EINVAL);
    ck_assert_int_eq(gt_op(sim, b, F, fl, 1), 0);
    ck_assert_int_eq(gt_op(sim, b, F, NULL, 1), -EFAULT);
    ck_assert_int_eq(gt_op(sim, b, F, NULL, 0), 0);

    gt_unmap_ok(sim, b, &m);
    ck_assert_int_eq(gt_flush(sim, b, F, ga, 0, 64, CLEAN), -EINVAL);
    ck_assert_int_eq(gt_end_access(sim, a, g.ref), 0);
    gt_sim_free(sim);
}
END_TEST

/* Bad buffers and counts: Xen's errno, never a crash. */
START_TEST(bad_buffers)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    /*
     * A batch Xen cannot read, as Xen 4.17's native do_grant_table_op
     * answers it: every command that reads its batch says -EFAULT
     * (transfer too: it is on by default for PV, opt_grant_transfer);
     * dump_table has not been dispatched for years (-ENOSYS). A negative
     * count is -EINVAL before anything.
     */
    static const long unreadable[] = {
        [GNTTABOP_map_grant_ref] = -EFAULT,      [GNTTABOP_unmap_grant_ref] = -EFAULT,
        [GNTTABOP_setup_table] = -EFAULT,        [GNTTABOP_dump_table] = -ENOSYS,
        [GNTTABOP_transfer] = -EFAULT,           [GNTTABOP_copy] = -EFAULT,
        [GNTTABOP_query_size] = -EFAULT,         [GNTTABOP_unmap_and_replace] = -EFAULT,
        [GNTTABOP_set_version] = -EFAULT,        [GNTTABOP_get_status_frames] = -EFAULT,
        [GNTTABOP_get_version] = -EFAULT,        [GNTTABOP_swap_grant_ref] = -EFAULT,
        [GNTTABOP_cache_flush] = -EFAULT,
    };
    for (unsigned int cmd = 0; cmd < sizeof(unreadable) / sizeof(unreadable[0]); cmd++) {
        long rc = gt_op(f.sim, f.b, cmd, NULL, 1);
        ck_assert_msg(rc == unreadable[cmd], "cmd %u NULL: %s, expected %s", cmd,
                      xensim_strerror((int)rc), xensim_strerror((int)unreadable[cmd]));
        rc = gt_op(f.sim, f.b, cmd, (void *)(uintptr_t)0xdead0000ul, 1);
        ck_assert_msg(rc == unreadable[cmd], "cmd %u garbage: %s, expected %s", cmd,
                      xensim_strerror((int)rc), xensim_strerror((int)unreadable[cmd]));
        rc = gt_op(f.sim, f.b, cmd, (void *)(uintptr_t)0x7, 0x80000000u);
        ck_assert_msg(rc == -EINVAL, "cmd %u huge count: %s", cmd, xensim_strerror((int)rc));
    }
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, NULL, 0), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_grant_ref, NULL, 0), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, NULL, 0), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, NULL, 0xffffffffu), -EINVAL);

    /* A batch that runs into an unmapped page: the elements before it are
     * done and reported, then -EFAULT. */
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, true);
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(two, MAP_FAILED);
    ck_assert_int_eq(mprotect(two + pg, pg, PROT_NONE), 0);
    gnttab_map_grant_ref_t *ops = (gnttab_map_grant_ref_t *)(two + pg) - 3;
    for (int i = 0; i < 3; i++)
        ops[i] = (gnttab_map_grant_ref_t){ .flags = RO, .ref = (grant_ref_t)g.ref, .dom = f.a };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, ops, 1000), -EFAULT);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(ops[i].status, GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 3);
    gnttab_unmap_grant_ref_t *un = (gnttab_unmap_grant_ref_t *)(two + pg) - 3;
    grant_handle_t h[3] = { ops[0].handle, ops[1].handle, ops[2].handle };
    uint64_t addr[3] = { ops[0].host_addr, ops[1].host_addr, ops[2].host_addr };
    for (int i = 0; i < 3; i++)
        un[i] = (gnttab_unmap_grant_ref_t){ .host_addr = addr[i], .handle = h[i] };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_grant_ref, un, 0x7fffffffu), -EFAULT);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(un[i].status, GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);

    /* A batch the hypervisor can read but not write back: -EFAULT, and
     * the mapping stays, as in Xen (map_grant_ref is done, then the copy
     * back fails; nothing is undone): its handle, pin and GTF_reading.
     * The guest's view is its own unchanged buffer. A device mapping, so
     * that the test can unmap it knowing only the frame; handles 0-2 went
     * to the tail of the free list above, so it is 3. */
    ops = (gnttab_map_grant_ref_t *)two;
    ops[0] = (gnttab_map_grant_ref_t){ .flags = GNTMAP_device_map | GNTMAP_readonly,
                                       .ref = (grant_ref_t)g.ref, .dom = f.a, .handle = 77 };
    ops[1] = ops[0];
    ck_assert_int_eq(mprotect(two, pg, PROT_READ), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, ops, 2), -EFAULT);
    ck_assert_uint_eq(ops[0].handle, 77);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 1);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly | GTF_reading);
    ck_assert_int_eq(mprotect(two, pg, PROT_READ | PROT_WRITE), 0);
    /* The one after it was never attempted: its handle is the next. */
    gnttab_map_grant_ref_t next;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &next), GNTST_okay);
    ck_assert_uint_eq(next.handle, 4);
    gt_unmap_ok(f.sim, f.b, &next);
    ck_assert_int_eq(gt_unmap(f.sim, f.b, 3, 0, (uint64_t)g.pfn << 12), GNTST_okay);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access | GTF_readonly);

    /* Unmap and copy write back only the status: a read-only batch is
     * -EFAULT with the first element done and the rest not attempted. */
    gnttab_map_grant_ref_t two_maps[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &two_maps[i]), GNTST_okay);
    un = (gnttab_unmap_grant_ref_t *)two;
    for (int i = 0; i < 2; i++)
        un[i] = (gnttab_unmap_grant_ref_t){ .host_addr = two_maps[i].host_addr,
                                            .handle = two_maps[i].handle, .status = 55 };
    ck_assert_int_eq(mprotect(two, pg, PROT_READ), 0);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_grant_ref, un, 2), -EFAULT);
    ck_assert_int_eq(un[0].status, 55);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 1);
    ck_assert_int_eq(mprotect(two, pg, PROT_READ | PROT_WRITE), 0);
    gt_unmap_ok(f.sim, f.b, &two_maps[1]);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
    munmap(two, 2 * pg);
    gt_sim_free(f.sim);
}
END_TEST

static Suite *gnttab_suite(void)
{
    Suite *s = suite_create("gnttab");
    TCase *tc = tcase_create("ops");
    tcase_add_loop_test(tc, map_rw_then_unmap, 0, 2);
    tcase_add_loop_test(tc, map_readonly, 0, 2);
    tcase_add_loop_test(tc, busy_bits_follow_pins, 0, 2);
    tcase_add_loop_test(tc, map_failures, 0, 2);
    tcase_add_loop_test(tc, map_after_revoke, 0, 2);
    tcase_add_loop_test(tc, end_access_while_mapped, 0, 2);
    tcase_add_loop_test(tc, many_maps_one_ref, 0, 2);
    tcase_add_loop_test(tc, unmap_failures, 0, 2);
    tcase_add_loop_test(tc, device_and_host_kinds, 0, 2);
    tcase_add_loop_test(tc, maptrack_exhaustion, 0, 2);
    tcase_add_loop_test(tc, maptrack_steal, 0, 2);
    tcase_add_loop_test(tc, map_batch, 0, 2);
    tcase_add_loop_test(tc, reserved_refs, 0, 2);
    tcase_add_loop_test(tc, setup_and_query, 0, 2);
    tcase_add_loop_test(tc, table_ops_domains, 0, 2);
    tcase_add_loop_test(tc, versions, 0, 2);
    tcase_add_loop_test(tc, status_frames, 0, 2);
    tcase_add_loop_test(tc, swap_refs, 0, 2);
    tcase_add_loop_test(tc, unknown_and_unsupported, 0, 2);
    tcase_add_loop_test(tc, unmap_and_replace, 0, 2);
    tcase_add_loop_test(tc, cache_flush, 0, 2);
    tcase_add_loop_test(tc, bad_buffers, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(gnttab_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
