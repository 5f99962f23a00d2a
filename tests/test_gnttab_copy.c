/*
 * GNTTABOP_copy in both directions and between two grants, every failure
 * in Xen's order, and the granter helpers of guest.h (ref allocator, table
 * growth, grant and revoke). Every case runs in both mapping modes.
 */
#include "gnttab_helpers.h"

static int16_t copy1(struct xensim *sim, domid_t who, gnttab_copy_t *op)
{
    op->status = 99;
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_copy, op, 1), 0);
    return op->status;
}

static void fill(uint8_t *p, uint8_t seed)
{
    for (int i = 0; i < 4096; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

START_TEST(copy_both_directions)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct gt_page mine = gt_own_page(f.sim, f.b);
    fill(g.page, 1);
    memset(mine.va, 0, 4096);

    /* Granted page to own frame. */
    gnttab_copy_t op = {
        .source = { .u.ref = (grant_ref_t)g.ref, .domid = f.a, .offset = 100 },
        .dest = { .u.gmfn = mine.pfn, .domid = DOMID_SELF, .offset = 10 },
        .len = 1000, .flags = GNTCOPY_source_gref,
    };
    ck_assert_int_eq(copy1(f.sim, f.b, &op), GNTST_okay);
    ck_assert_int_eq(memcmp(mine.va + 10, g.page + 100, 1000), 0);
    ck_assert_uint_eq(mine.va[9], 0);
    ck_assert_uint_eq(mine.va[1010], 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);

    /* Own frame to granted page, whole page. */
    fill(mine.va, 9);
    op = (gnttab_copy_t){
        .source = { .u.gmfn = mine.pfn, .domid = DOMID_SELF },
        .dest = { .u.ref = (grant_ref_t)g.ref, .domid = f.a },
        .len = 4096, .flags = GNTCOPY_dest_gref,
    };
    ck_assert_int_eq(copy1(f.sim, f.b, &op), GNTST_okay);
    ck_assert_int_eq(memcmp(mine.va, g.page, 4096), 0);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* Grant to grant: a's page (read-only grant) into c's page, by b. */
START_TEST(copy_grant_to_grant)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant src = gt_grant(f.sim, f.a, f.b, true);
    struct gt_grant dst = gt_grant(f.sim, f.c, f.b, false);
    fill(src.page, 3);
    gnttab_copy_t op = {
        .source = { .u.ref = (grant_ref_t)src.ref, .domid = f.a, .offset = 0 },
        .dest = { .u.ref = (grant_ref_t)dst.ref, .domid = f.c, .offset = 2048 },
        .len = 2048, .flags = GNTCOPY_source_gref | GNTCOPY_dest_gref,
    };
    ck_assert_int_eq(copy1(f.sim, f.b, &op), GNTST_okay);
    ck_assert_int_eq(memcmp(dst.page + 2048, src.page, 2048), 0);
    ck_assert_int_eq(gt_flags(&src), GTF_permit_access | GTF_readonly);
    ck_assert_int_eq(gt_flags(&dst), GTF_permit_access);

    /* While b also maps the source, the copy leaves that pin alone. */
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, (grant_ref_t)src.ref,
                            GNTMAP_host_map | GNTMAP_readonly, &m), GNTST_okay);
    ck_assert_int_eq(copy1(f.sim, f.b, &op), GNTST_okay);
    ck_assert_int_eq(gt_flags(&src), GTF_permit_access | GTF_readonly | GTF_reading);
    gt_unmap_ok(f.sim, f.b, &m);
    gt_sim_free(f.sim);
}
END_TEST

enum csetup { C_NONE, C_REVOKED, C_SUBPAGE };

struct copy_row {
    const char *what;
    enum csetup setup;
    bool src_gref, dst_gref;
    int src_dom, dst_dom;      /* -1 self, -2 none, 0 granter, 1 b's own id, 2 c */
    long src_ref;              /* -1: the granted ref */
    uint16_t src_off, dst_off, len;
    bool src_ro_grant, dst_ro_grant, bad_gmfn;
    int16_t status;
};

/* A zero-length copy is not done at once: gnttab_copy_one locks the
 * domains, claims both buffers (pins and status bits) and runs
 * gnttab_copy_buf's bounds checks first, so it fails where a copy would. */
static const struct copy_row copy_rows[] = {
    { "len 0", C_NONE, true, false, 0, -1, -1, 0, 0, 0, false, false, false, GNTST_okay },
    { "len 0: the domain is still looked up", C_NONE, true, false, -2, -1, -1, 0, 0, 0, false,
      false, false, GNTST_bad_domain },
    { "len 0: the ref is still checked", C_NONE, true, false, 0, -1, 600, 0, 0, 0, false,
      false, false, GNTST_bad_gntref },
    { "len 0: the grant is still pinned", C_REVOKED, true, false, 0, -1, -1, 0, 0, 0, false,
      false, false, GNTST_general_error },
    { "len 0: the offset is still bounded", C_NONE, true, false, 0, -1, -1, 4097, 0, 0, false,
      false, false, GNTST_bad_copy_arg },
    { "len 0: the frame is still checked", C_NONE, true, false, 0, -1, -1, 0, 0, 0, false,
      false, true, GNTST_bad_page },
    { "gmfn named with own id", C_NONE, true, false, 0, 1, -1, 0, 0, 8, false, false, false,
      GNTST_permission_denied },
    { "gmfn of another domain", C_NONE, false, false, -1, 0, -1, 0, 0, 8, false, false, false,
      GNTST_permission_denied },
    { "no such source domain", C_NONE, true, false, -2, -1, -1, 0, 0, 8, false, false, false,
      GNTST_bad_domain },
    { "bad ref", C_NONE, true, false, 0, -1, 600, 0, 0, 8, false, false, false,
      GNTST_bad_gntref },
    { "dest grant read-only", C_NONE, false, true, -1, 0, -1, 0, 0, 8, false, true, false,
      GNTST_general_error },
    { "granted to someone else", C_NONE, true, false, 2, -1, -1, 0, 0, 8, false, false, false,
      GNTST_general_error },
    { "revoked grant", C_REVOKED, true, false, 0, -1, -1, 0, 0, 8, false, false, false,
      GNTST_general_error },
    { "source crosses the page", C_NONE, true, false, 0, -1, -1, 4000, 0, 200, false, false,
      false, GNTST_bad_copy_arg },
    { "dest crosses the page", C_NONE, true, false, 0, -1, -1, 0, 4095, 2, false, false,
      false, GNTST_bad_copy_arg },
    { "len past a page", C_NONE, true, false, 0, -1, -1, 0, 0, 4097, false, false, false,
      GNTST_bad_copy_arg },
    { "own frame out of range", C_NONE, true, false, 0, -1, -1, 0, 0, 8, false, false, true,
      GNTST_bad_page },
    { "sub-page bit means nothing in v1 copies", C_SUBPAGE, true, false, 0, -1, -1, 0, 0, 8,
      false, false, false, GNTST_okay },
    { "read-only source is fine", C_NONE, true, false, 0, -1, -1, 4088, 0, 8, true, false,
      false, GNTST_okay },
};

START_TEST(copy_failures)
{
    for (size_t r = 0; r < sizeof(copy_rows) / sizeof(copy_rows[0]); r++) {
        const struct copy_row *row = &copy_rows[r];
        struct gt_fix f = gt_fix_new(GT_MODE);
        struct gt_grant ga = gt_grant(f.sim, f.a, f.b, row->src_ro_grant || row->dst_ro_grant);
        struct gt_grant gc = gt_grant(f.sim, f.c, f.b, false);
        struct gt_page mine = gt_own_page(f.sim, f.b);
        if (row->setup == C_REVOKED)
            ck_assert_int_eq(gt_end_access(f.sim, f.a, (grant_ref_t)ga.ref), 0);
        if (row->setup == C_SUBPAGE)
            ga.ents[ga.ref].flags |= GTF_sub_page;
        /* "granted to someone else": c's grant names b, so make it name a. */
        if (row->src_dom == 2)
            gc.ents[gc.ref].domid = f.a;
        domid_t doms[] = { f.a, f.b, f.c };
        struct gnttab_copy_ptr *sides[2];
        gnttab_copy_t op = { .len = row->len };
        sides[0] = &op.source;
        sides[1] = &op.dest;
        bool gref[2] = { row->src_gref, row->dst_gref };
        int dom[2] = { row->src_dom, row->dst_dom };
        for (int s = 0; s < 2; s++) {
            struct gnttab_copy_ptr *p = sides[s];
            p->domid = dom[s] == -1 ? DOMID_SELF : dom[s] == -2 ? GT_NODOM : doms[dom[s]];
            if (gref[s]) {
                op.flags |= s ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
                struct gt_grant *g = dom[s] == 2 ? &gc : &ga;
                p->u.ref = s == 0 && row->src_ref >= 0 ? (grant_ref_t)row->src_ref
                                                       : (grant_ref_t)g->ref;
            } else {
                p->u.gmfn = row->bad_gmfn ? 1u << 30 : mine.pfn;
            }
        }
        op.source.offset = row->src_off;
        op.dest.offset = row->dst_off;
        uint16_t fa = gt_flags(&ga), fc = gt_flags(&gc);
        int16_t st = copy1(f.sim, f.b, &op);
        ck_assert_msg(st == row->status, "%s (%s): status %d, want %d", row->what,
                      GT_MODE_NAME(GT_MODE), st, row->status);
        ck_assert_int_eq(gt_flags(&ga), fa);
        ck_assert_int_eq(gt_flags(&gc), fc);
        ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
        ck_assert_uint_eq(gt_pins(f.sim, f.c), 0);
        gt_sim_free(f.sim);
    }
}
END_TEST

START_TEST(copy_batch_and_bad_input)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    struct gt_page mine = gt_own_page(f.sim, f.b);
    fill(g.page, 5);
    gnttab_copy_t ops[20];
    for (int i = 0; i < 20; i++)
        ops[i] = (gnttab_copy_t){
            .source = { .u.ref = (grant_ref_t)g.ref, .domid = f.a, .offset = (uint16_t)(i * 200) },
            .dest = { .u.gmfn = mine.pfn, .domid = DOMID_SELF, .offset = (uint16_t)(i * 200) },
            .len = 200, .flags = GNTCOPY_source_gref, .status = 99,
        };
    ops[3].source.domid = GT_NODOM;
    ops[19].len = 300;          /* 3800 + 300 > 4096 */
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, ops, 20), 0);
    for (int i = 0; i < 20; i++) {
        int16_t want = i == 3 ? GNTST_bad_domain : i == 19 ? GNTST_bad_copy_arg : GNTST_okay;
        ck_assert_msg(ops[i].status == want, "op %d: %d", i, ops[i].status);
        if (want == GNTST_okay)
            ck_assert_int_eq(memcmp(mine.va + i * 200, g.page + i * 200, 200), 0);
    }
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, ops, 0xfffffff0u), -EINVAL);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, NULL, 1), -EFAULT);
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, (void *)(uintptr_t)0x10, 3), -EFAULT);
    ck_assert_int_eq(gt_flags(&g), GTF_permit_access);
    gt_sim_free(f.sim);
}
END_TEST

/* The ref allocator: 8 upwards, freed refs first, and the table grows
 * through setup_table when a frame's refs are used up. */
struct alloc_run { long refs[1100]; int n; unsigned int nr_ents; long after_free; };

static void alloc_fn(void *p)
{
    struct alloc_run *r = p;
    for (r->n = 0; r->n < 1100; r->n++) {
        r->refs[r->n] = xensim_gnttab_alloc_ref();
        if (r->refs[r->n] < 0)
            break;
    }
    xensim_gnttab_entries(&r->nr_ents);
    if (r->n > 20) {
        xensim_gnttab_free_ref((grant_ref_t)r->refs[20]);
        r->after_free = xensim_gnttab_alloc_ref();
    }
}

START_TEST(ref_allocator)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = {
        .name = "two-frames", .gnttab_mode = GT_MODE, .max_grant_frames = 2,
    };
    domid_t a = th_domain_cfg(sim, &cfg);
    struct alloc_run *r = calloc(1, sizeof(*r));
    th_call(sim, a, 0, alloc_fn, r);
    /* 1024 entries, 8 reserved. */
    ck_assert_int_eq(r->n, 1016);
    ck_assert_int_eq(r->refs[1016], -ENOSPC);
    for (int i = 0; i < 1016; i++)
        ck_assert_int_eq(r->refs[i], 8 + i);
    ck_assert_uint_eq(r->nr_ents, 1024);
    ck_assert_int_eq(r->after_free, 28);
    gnttab_query_size_t q = { .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(sim, a, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_uint_eq(q.nr_frames, 2);
    ck_assert_uint_eq(q.max_nr_frames, 2);
    free(r);
    gt_sim_free(sim);
}
END_TEST

START_TEST(grant_entry_layout)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, true);
    grant_entry_v1_t e = g.ents[g.ref];
    ck_assert_uint_eq(e.flags, GTF_permit_access | GTF_readonly);
    ck_assert_uint_eq(e.domid, f.b);
    ck_assert_uint_eq(e.frame, g.pfn);
    /* The builder's entries. */
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    ck_assert_uint_eq(g.ents[GNTTAB_RESERVED_XENSTORE].flags, GTF_permit_access);
    ck_assert_uint_eq(g.ents[GNTTAB_RESERVED_XENSTORE].domid, 0);
    ck_assert_uint_eq(g.ents[GNTTAB_RESERVED_XENSTORE].frame, ia.store_pfn);
    ck_assert_uint_eq(g.ents[GNTTAB_RESERVED_CONSOLE].frame, ia.console_pfn);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, 70000), -EINVAL);
    gt_sim_free(f.sim);
}
END_TEST

/* Host threads are not vCPUs. */
START_TEST(helpers_need_a_vcpu)
{
    unsigned int n = 5;
    ck_assert_ptr_null(xensim_gnttab_entries(&n));
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(xensim_gnttab_alloc_ref(), -EPERM);
    ck_assert_int_eq(xensim_gnttab_grant_access(0, 1, false), -EPERM);
    ck_assert_int_eq(xensim_gnttab_end_access(8), -EPERM);
    xensim_gnttab_free_ref(8);
    xensim_gnttab_grant_access_ref(8, 0, 1, false);
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_query_size, NULL, 1), -EPERM);
}
END_TEST

static Suite *copy_suite(void)
{
    Suite *s = suite_create("gnttab_copy");
    TCase *tc = tcase_create("copy");
    tcase_add_loop_test(tc, copy_both_directions, 0, 2);
    tcase_add_loop_test(tc, copy_grant_to_grant, 0, 2);
    tcase_add_loop_test(tc, copy_failures, 0, 2);
    tcase_add_loop_test(tc, copy_batch_and_bad_input, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("granter");
    tcase_add_loop_test(tc, ref_allocator, 0, 2);
    tcase_add_loop_test(tc, grant_entry_layout, 0, 2);
    tcase_add_test(tc, helpers_need_a_vcpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(copy_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
