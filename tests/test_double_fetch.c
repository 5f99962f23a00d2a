/*
 * The double-fetch checker (issue 11; xensim_config.check_double_fetch):
 * blkback, named ring and all, serves reads and writes through a strict
 * grant mapping of its ring with every access trapped, and reads no slot
 * byte twice in an upcall; the same blkback with its injected second
 * read of each request's operation (inject_double_fetch) is caught, slot
 * and byte named; so is blkfront's injected second read of a response's
 * id, on its own ring page. A fast mapping (the granter's page) is not
 * watched from the back end,
 * and without the check nothing is. Data stays right throughout: the
 * traps change no result.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/blkif.h>
#include <xensim/guest.h>
#include "blk_fixture.h"

#define DISK (1u << 20)
#define IOS 24

struct run {
    struct blk_fix f;
    uint8_t w[4096], r[4096];
    int rc;
};

static void io_fn(void *p)
{
    struct run *r = p;
    xen_pfn_t pfn;
    r->rc = xensim_guest_page_alloc(&pfn);
    if (r->rc)
        return;
    uint8_t *page = xensim_guest_pfn_to_virt(pfn);
    for (unsigned int i = 0; i < IOS && !r->rc; i++) {
        memcpy(page, r->w, sizeof(r->w));
        page[0] = (uint8_t)i;
        r->rc = xensim_blkfront_write(r->f.fe, 8 * i, page, 8);
        memset(page, 0, 4096);
        if (!r->rc)
            r->rc = xensim_blkfront_read(r->f.fe, 8 * i, page, 8);
        if (!r->rc && (page[0] != (uint8_t)i || memcmp(page + 1, r->w + 1, 4095)))
            r->rc = -EILSEQ;
    }
    xensim_guest_page_free(pfn);
}

/* IOS writes and reads back through blkback in a driver domain mapping
 * with mode; returns the checker's count. */
static uint64_t run_io(bool check, bool inject, enum xensim_gnttab_mode mode,
                       struct xensim_double_fetch *last, bool inject_front)
{
    struct run *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    struct xensim_config sc = { .quiet = true, .check_double_fetch = check };
    r->f.sim = xensim_create(&sc);
    ck_assert_ptr_nonnull(r->f.sim);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true };
    ck_assert_int_eq(xensim_domain_create(r->f.sim, &d0), 0);
    ck_assert_int_eq(xensim_domain_unpause(r->f.sim, 0), 0);
    r->f.back = blk_guest(r->f.sim, "blkdd", 1024, 1, mode);
    r->f.front = blk_guest(r->f.sim, "domU", 1024, 1, XENSIM_GNTTAB_FAST);
    r->f.bcfg = (struct xensim_blkback_config){ .mem_bytes = DISK, .inject_double_fetch = inject };
    r->f.bytes = DISK;
    r->f.fcfg = (struct xensim_blkfront_config){ .max_queues = 1,
                                                 .inject_double_fetch = inject_front };
    for (unsigned int i = 0; i < sizeof(r->w); i++)
        r->w[i] = (uint8_t)(i * 13 + 5);
    blk_connect(&r->f);
    th_call(r->f.sim, r->f.front, 0, io_fn, r);
    ck_assert_int_eq(r->rc, 0);
    uint64_t n = xensim_double_fetches(r->f.sim, last);
    blk_teardown(&r->f);
    free(r);
    return n;
}

START_TEST(honest_blkback_fetches_once)
{
    ck_assert_uint_eq(run_io(true, false, XENSIM_GNTTAB_STRICT, NULL, false), 0);
}
END_TEST

START_TEST(second_read_is_caught)
{
    struct xensim_double_fetch last = { 0 };
    uint64_t n = run_io(true, true, XENSIM_GNTTAB_STRICT, &last, false);
    /* One a request: a write and a read per round. */
    ck_assert_uint_eq(n, 2 * IOS);
    ck_assert_msg(strstr(last.ring, "vbd of dom") && strstr(last.ring, "blkback's end"),
                  "ring %s", last.ring);
    ck_assert_uint_eq(last.domid, 1);
    ck_assert_uint_eq(last.vcpu, 0);
    ck_assert_uint_lt(last.slot, 32);
    /* operation is the first byte of a request. */
    ck_assert_uint_eq(last.offset, 0);
}
END_TEST

START_TEST(only_strict_mappings_are_watched)
{
    ck_assert_uint_eq(run_io(true, true, XENSIM_GNTTAB_FAST, NULL, false), 0);
    ck_assert_uint_eq(run_io(false, true, XENSIM_GNTTAB_STRICT, NULL, false), 0);
    ck_assert_uint_eq(run_io(false, false, XENSIM_GNTTAB_STRICT, NULL, true), 0);
}
END_TEST

/* A front end's ring is a page of its own RAM: watched whatever the
 * back end's mapping, and blkfront's injected second read of each
 * response's id is caught there. */
START_TEST(front_second_read_is_caught)
{
    struct xensim_double_fetch last = { 0 };
    /* A strict back end: a fast one would touch the same page from its
     * own thread, and the checker sees one thread per ring. */
    uint64_t n = run_io(true, false, XENSIM_GNTTAB_STRICT, &last, true);
    ck_assert_uint_eq(n, 2 * IOS);
    ck_assert_msg(strstr(last.ring, "vbd queue 0 to dom1 (blkfront's end)"), "ring %s", last.ring);
    ck_assert_uint_eq(last.domid, 2);
    ck_assert_uint_lt(last.slot, 32);
    /* id is at the start of a response. */
    ck_assert_uint_eq(last.offset, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("double_fetch");
    TCase *t = tcase_create("double_fetch");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, honest_blkback_fetches_once);
    tcase_add_test(t, second_read_is_caught);
    tcase_add_test(t, only_strict_mappings_are_watched);
    tcase_add_test(t, front_second_read_is_caught);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
