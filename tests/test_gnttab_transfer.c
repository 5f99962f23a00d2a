/*
 * GNTTABOP_transfer for PV domains, as Xen 4.17 x86 does it
 * (gnttab_transfer, on by default: opt_grant_transfer): one row per check
 * in its order, each with what becomes of the page (kept, or lost: zeroed
 * and back in the caller's allocator) and of the receiver's entry, in v1
 * and v2 receivers. Every case runs in both mapping modes.
 */
#include <sys/mman.h>
#include <unistd.h>
#include "gnttab_helpers.h"

#define XFER_REF 100          /* the receiver's accept_transfer entry */
#define GTF_XFER_DONE (GTF_accept_transfer | GTF_transfer_committed | GTF_transfer_completed)

/* A domain's raw table, v1 or v2, as its kernel maps it. */
struct xtable { grant_entry_v1_t *v1; grant_entry_v2_t *v2; };

static void xtable_fn(void *p)
{
    struct xtable *t = p;
    t->v1 = xensim_gnttab_entries(NULL);
    t->v2 = xensim_gnttab_entries_v2(NULL);
}

static struct xtable xtable(struct xensim *sim, domid_t who)
{
    struct xtable t = { 0 };
    th_call(sim, who, 0, xtable_fn, &t);
    ck_assert(t.v1 || t.v2);
    return t;
}

/* Linux's gnttab_grant_foreign_transfer_ref: the slot pfn and the
 * domain allowed to give, then the flags. */
static void offer(struct xtable *t, grant_ref_t ref, uint16_t flags, domid_t from, xen_pfn_t slot)
{
    if (t->v1) {
        t->v1[ref].domid = from;
        t->v1[ref].frame = (uint32_t)slot;
        __atomic_store_n(&t->v1[ref].flags, flags, __ATOMIC_RELEASE);
    } else {
        t->v2[ref].full_page.hdr.domid = from;
        t->v2[ref].full_page.frame = slot;
        __atomic_store_n(&t->v2[ref].hdr.flags, flags, __ATOMIC_RELEASE);
    }
}

static uint16_t xflags(const struct xtable *t, grant_ref_t ref)
{
    return t->v1 ? t->v1[ref].flags : t->v2[ref].hdr.flags;
}

static uint64_t xframe(const struct xtable *t, grant_ref_t ref)
{
    return t->v1 ? t->v1[ref].frame : t->v2[ref].full_page.frame;
}

/* The slot the receiver names: a PV Xen only records it (the M2P). */
#define SLOT 0xdead

struct free_call { xen_pfn_t pfn; };

struct va_call { xen_pfn_t pfn; void *va; };

static void va_fn(void *p)
{
    struct va_call *c = p;
    c->va = xensim_guest_pfn_to_virt(c->pfn);
}

/* Where `who` sees its frame pfn. */
static const uint8_t *pfn_va(struct xensim *sim, domid_t who, xen_pfn_t pfn)
{
    struct va_call c = { .pfn = pfn };
    th_call(sim, who, 0, va_fn, &c);
    return c.va;
}

static void free_fn(void *p)
{
    xensim_guest_page_free(((struct free_call *)p)->pfn);
}

/* The receiver's kernel takes the page and ends the transfer (Linux's
 * gnttab_end_foreign_transfer_ref once completed): the page is its own,
 * the entry is cleared. */
static void receive_done(struct xensim *sim, domid_t who, struct xtable *t, grant_ref_t ref,
                         xen_pfn_t pfn)
{
    struct free_call c = { pfn };
    th_call(sim, who, 0, free_fn, &c);
    if (t->v1)
        t->v1[ref].flags = 0;
    else
        t->v2[ref].hdr.flags = 0;
}

static int16_t transfer1(struct xensim *sim, domid_t who, xen_pfn_t mfn, domid_t to,
                         grant_ref_t ref)
{
    gnttab_transfer_t op = { .mfn = mfn, .domid = to, .ref = ref, .status = 99 };
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_transfer, &op, 1), 0);
    return op.status;
}

enum xsetup {
    XS_OK, XS_NOT_RAM, XS_NOT_ALLOCATED, XS_MAPPED, XS_NODOM, XS_SELF_ID, XS_PERMIT_ACCESS,
    XS_COMMITTED, XS_READONLY_BIT, XS_OTHER_GIVER, XS_REF_RANGE, XS_RECEIVER_FULL, XS_TO_SELF,
};

struct xrow {
    const char *rule;
    enum xsetup setup;
    unsigned int version;     /* the receiver's table */
    int16_t status;
    bool page_kept;           /* else lost: zeroed and free in the caller */
};

static const struct xrow xrows[] = {
    { "v1 receiver: frame = the new page, flags 0xE", XS_OK, 1, GNTST_okay, false },
    { "v2 receiver: full_page.frame, flags 0xE", XS_OK, 2, GNTST_okay, false },
    { "not guest RAM (shared_info): bad_page, kept", XS_NOT_RAM, 1, GNTST_bad_page, true },
    { "not the caller's page: bad_page", XS_NOT_ALLOCATED, 1, GNTST_bad_page, true },
    { "grant-mapped by another: steal_page fails, bad_page, kept", XS_MAPPED, 1,
      GNTST_bad_page, true },
    { "no such receiver: bad_domain, page lost", XS_NODOM, 1, GNTST_bad_domain, false },
    { "DOMID_SELF names no one: bad_domain, page lost", XS_SELF_ID, 1, GNTST_bad_domain, false },
    { "entry is permit_access: general_error, page lost", XS_PERMIT_ACCESS, 1,
      GNTST_general_error, false },
    { "entry already committed (0x6): general_error", XS_COMMITTED, 2, GNTST_general_error,
      false },
    { "any other flag bit: general_error", XS_READONLY_BIT, 1, GNTST_general_error, false },
    { "offered to another domain: general_error", XS_OTHER_GIVER, 2, GNTST_general_error,
      false },
    { "ref past the table: general_error, not bad_gntref", XS_REF_RANGE, 1,
      GNTST_general_error, false },
    { "no room in the receiver: general_error, page lost", XS_RECEIVER_FULL, 1,
      GNTST_general_error, false },
    { "to itself, through its own entry", XS_TO_SELF, 2, GNTST_okay, false },
};

START_TEST(transfer_rows)
{
    for (size_t r = 0; r < sizeof(xrows) / sizeof(xrows[0]); r++) {
        const struct xrow *row = &xrows[r];
        struct xensim *sim = th_sim_new();
        domid_t a = th_domain(sim, "giver", false, GT_MODE);
        struct xensim_domain_config rc = { .name = "receiver", .gnttab_mode = GT_MODE,
                                           .nr_pages = row->setup == XS_RECEIVER_FULL ? 4 : 0 };
        domid_t b = th_domain_cfg(sim, &rc);
        domid_t c = th_domain(sim, "other", false, GT_MODE);
        domid_t to = row->setup == XS_TO_SELF ? a : b;
        if (row->version == 2)
            ck_assert_int_eq(gt_set_version(sim, to, 2), 0);
        struct xtable t = xtable(sim, to);
        struct xensim_domain_info ia = gt_info(sim, a);
        struct gt_page pg = gt_own_page(sim, a);
        for (int i = 0; i < 4096; i++)
            pg.va[i] = (uint8_t)(i * 7 + 3);
        xen_pfn_t mfn = pg.pfn;
        uint16_t flags = GTF_accept_transfer;
        domid_t from = a, target = to;
        grant_ref_t ref = XFER_REF;
        struct gt_grant g = { 0 };
        gnttab_map_grant_ref_t m = { 0 };
        switch (row->setup) {
        case XS_NOT_RAM: mfn = ia.nr_pages; break;
        case XS_NOT_ALLOCATED: mfn = pg.pfn + 1; break;
        case XS_MAPPED:
            /* a grants the page to c, which maps it. */
            g = gt_grant(sim, a, c, false);
            mfn = g.pfn;
            for (int i = 0; i < 4096; i++)
                g.page[i] = (uint8_t)(i * 7 + 3);
            ck_assert_int_eq(gt_map(sim, c, a, g.ref, GNTMAP_host_map, &m), GNTST_okay);
            break;
        case XS_NODOM: target = GT_NODOM; break;
        case XS_SELF_ID: target = DOMID_SELF; break;
        case XS_PERMIT_ACCESS: flags = GTF_permit_access; break;
        case XS_COMMITTED: flags |= GTF_transfer_committed; break;
        case XS_READONLY_BIT: flags |= GTF_readonly; break;
        case XS_OTHER_GIVER: from = c; break;
        case XS_REF_RANGE: ref = 512; break;
        case XS_RECEIVER_FULL:
            /* The builder's three pages and one more: no page left. */
            ck_assert_ptr_nonnull(gt_own_page(sim, b).va);
            break;
        default: break;
        }
        offer(&t, XFER_REF, flags, from, SLOT);
        struct xensim_domain_info before = gt_info(sim, to);
        const uint8_t *page = row->setup == XS_MAPPED ? g.page : mfn == pg.pfn ? pg.va : NULL;
        int16_t st = transfer1(sim, a, mfn, target, ref);
        ck_assert_msg(st == row->status, "%s (%s): %d, want %d", row->rule,
                      GT_MODE_NAME(GT_MODE), st, row->status);
        struct xensim_domain_info after = gt_info(sim, to);
        if (st == GNTST_okay) {
            ck_assert_uint_eq(xflags(&t, XFER_REF), GTF_XFER_DONE);
            /* Xen writes the new frame, not the slot the entry named. */
            xen_pfn_t got = (xen_pfn_t)xframe(&t, XFER_REF);
            ck_assert_uint_ne(got, SLOT);
            const uint8_t *dst = pfn_va(sim, to, got);
            ck_assert_ptr_nonnull(dst);
            for (int i = 0; i < 4096; i++)
                ck_assert_uint_eq(dst[i], (uint8_t)(i * 7 + 3));
            /* The receiver gained a page. */
            if (to != a)
                ck_assert_uint_eq(after.pages_allocated, before.pages_allocated + 1);
            receive_done(sim, to, &t, XFER_REF, got);
        } else {
            ck_assert_msg(xflags(&t, XFER_REF) == flags, "%s: entry %#x", row->rule,
                          xflags(&t, XFER_REF));
            ck_assert_uint_eq(after.pages_allocated, before.pages_allocated);
            receive_done(sim, to, &t, XFER_REF, ~(xen_pfn_t)0);
        }
        struct xensim_domain_info ia2 = gt_info(sim, a);
        if (row->page_kept) {
            if (page)
                for (int i = 0; i < 4096; i++)
                    ck_assert_uint_eq(page[i], (uint8_t)(i * 7 + 3));
            if (to != a)
                ck_assert_uint_eq(ia2.pages_allocated, ia.pages_allocated +
                                  (row->setup == XS_MAPPED ? 2 : 1));
        } else if (to != a) {
            /* Lost: zeroed and back in the giver's allocator. */
            for (int i = 0; i < 4096; i++)
                ck_assert_uint_eq(pg.va[i], 0);
            ck_assert_uint_eq(ia2.pages_allocated, ia.pages_allocated);
        }
        if (row->setup == XS_MAPPED)
            gt_unmap_ok(sim, c, &m);
        gt_sim_free(sim);
    }
}
END_TEST

/* Only the status is written back; an element that cannot be read ends
 * the batch with -EFAULT, those before it done. */
START_TEST(transfer_batch)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "giver", false, GT_MODE);
    domid_t b = th_domain(sim, "receiver", false, GT_MODE);
    struct xtable t = xtable(sim, b);
    struct gt_page p1 = gt_own_page(sim, a), p2 = gt_own_page(sim, a);
    offer(&t, XFER_REF, GTF_accept_transfer, a, 3);
    offer(&t, XFER_REF + 1, GTF_accept_transfer, a, 4);
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *two = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(two, MAP_FAILED);
    ck_assert_int_eq(mprotect(two + pg, pg, PROT_NONE), 0);
    gnttab_transfer_t *ops = (gnttab_transfer_t *)(two + pg) - 2;
    ops[0] = (gnttab_transfer_t){ .mfn = p1.pfn, .domid = b, .ref = XFER_REF, .status = 99 };
    ops[1] = (gnttab_transfer_t){ .mfn = p2.pfn, .domid = b, .ref = XFER_REF + 1, .status = 99 };
    ck_assert_int_eq(gt_op(sim, a, GNTTABOP_transfer, ops, 3), -EFAULT);
    ck_assert_int_eq(ops[0].status, GNTST_okay);
    ck_assert_int_eq(ops[1].status, GNTST_okay);
    ck_assert_uint_eq(ops[0].mfn, p1.pfn);
    ck_assert_uint_eq(xflags(&t, XFER_REF), GTF_XFER_DONE);
    ck_assert_uint_eq(xflags(&t, XFER_REF + 1), GTF_XFER_DONE);
    receive_done(sim, b, &t, XFER_REF, (xen_pfn_t)xframe(&t, XFER_REF));
    receive_done(sim, b, &t, XFER_REF + 1, (xen_pfn_t)xframe(&t, XFER_REF + 1));
    munmap(two, 2 * pg);
    ck_assert_int_eq(gt_op(sim, a, GNTTABOP_transfer, NULL, 1), -EFAULT);
    ck_assert_int_eq(gt_op(sim, a, GNTTABOP_transfer, NULL, 0), 0);
    gt_sim_free(sim);
}
END_TEST

/* A receiver that is being destroyed takes nothing (Xen: e->is_dying):
 * general_error, and the giver's page is lost. */
START_TEST(transfer_to_dying)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "giver", false, GT_MODE);
    domid_t b = th_domain(sim, "receiver", false, GT_MODE);
    struct xtable t = xtable(sim, b);
    offer(&t, XFER_REF, GTF_accept_transfer, a, 3);
    /* a maps one of b's grants, so that b lingers dying after destroy. */
    struct gt_grant g = gt_grant(sim, b, a, true);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(sim, a, b, g.ref, GNTMAP_host_map | GNTMAP_readonly, &m),
                     GNTST_okay);
    ck_assert_int_eq(xensim_domain_destroy(sim, b), 0);
    struct gt_page pg = gt_own_page(sim, a);
    pg.va[0] = 1;
    ck_assert_int_eq(transfer1(sim, a, pg.pfn, b, XFER_REF), GNTST_general_error);
    ck_assert_uint_eq(pg.va[0], 0);
    ck_assert_uint_eq(xflags(&t, XFER_REF), GTF_accept_transfer);
    gt_unmap_ok(sim, a, &m);
    gt_sim_free(sim);
}
END_TEST

static Suite *transfer_suite(void)
{
    Suite *s = suite_create("gnttab_transfer");
    TCase *tc = tcase_create("transfer");
    tcase_add_loop_test(tc, transfer_rows, 0, 2);
    tcase_add_loop_test(tc, transfer_batch, 0, 2);
    tcase_add_loop_test(tc, transfer_to_dying, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(transfer_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
