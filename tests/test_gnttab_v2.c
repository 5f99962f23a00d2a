/*
 * Grant table v2 conformance, as Xen 4.17 x86 answers it: set_version
 * and its reserved entries, get_status_frames, setup_table's 256 entries
 * per frame, map/unmap/copy reading v2 entries (full-page, sub-page,
 * transitive) with GTF_reading/GTF_writing in the status frames, swap,
 * the granter's helpers in v2, and a stress of concurrent maps and
 * revokes. Each row names the rule of xen/common/grant_table.c it holds.
 * Every case runs in both mapping modes.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>
#include "gnttab_helpers.h"

static const uint32_t RW = GNTMAP_host_map;
static const uint32_t RO = GNTMAP_host_map | GNTMAP_readonly;
#define RDWR (GTF_reading | GTF_writing)

/* GNTTABOP_set_version as guest code, the version written back in *out. */
static long set_version(struct xensim *sim, domid_t who, uint32_t version, uint32_t *out)
{
    gnttab_set_version_t sv = { .version = version };
    long rc = gt_op(sim, who, GNTTABOP_set_version, &sv, 1);
    if (out)
        *out = sv.version;
    return rc;
}

static uint32_t get_version(struct xensim *sim, domid_t who, domid_t dom)
{
    gnttab_get_version_t gv = { .dom = dom };
    ck_assert_int_eq(gt_op(sim, who, GNTTABOP_get_version, &gv, 1), 0);
    return gv.version;
}

/* A domain's raw table, as its kernel maps it: entries at the first
 * grant frame, status words at the first status frame. */
struct raw {
    grant_entry_v1_t *v1;
    grant_entry_v2_t *v2;
    grant_status_t *st;
    xen_pfn_t status_pfn;
};

struct raw_call { struct raw r; unsigned int nr_status; };

static void raw_fn(void *p)
{
    struct raw_call *c = p;
    xen_pfn_t frame = 0;
    gnttab_setup_table_t s = { .dom = DOMID_SELF, .nr_frames = 1 };
    set_xen_guest_handle(s.frame_list, &frame);
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    c->r.v1 = xensim_guest_pfn_to_virt(frame);
    c->r.v2 = xensim_guest_pfn_to_virt(frame);
    uint64_t sf = 0;
    gnttab_get_status_frames_t g = { .nr_frames = c->nr_status, .dom = DOMID_SELF };
    set_xen_guest_handle(g.frame_list, &sf);
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_get_status_frames, &g, 1), 0);
    if (c->nr_status && g.status == GNTST_okay) {
        c->r.status_pfn = sf;
        c->r.st = xensim_guest_pfn_to_virt(sf);
    }
}

static struct raw raw_table(struct xensim *sim, domid_t who)
{
    struct raw_call c = { .nr_status = get_version(sim, who, DOMID_SELF) == 2 };
    th_call(sim, who, 0, raw_fn, &c);
    return c.r;
}

/* Writes a v2 entry the way a guest does: fields, barrier, flags last. */
static void put_v2(grant_entry_v2_t *e, uint16_t flags, domid_t domid, uint64_t frame)
{
    e->full_page.hdr.domid = domid;
    e->full_page.frame = frame;
    __atomic_store_n(&e->hdr.flags, flags, __ATOMIC_RELEASE);
}

static void put_sub(grant_entry_v2_t *e, uint16_t flags, domid_t domid, uint64_t frame,
                    uint16_t off, uint16_t len)
{
    e->sub_page.hdr.domid = domid;
    e->sub_page.frame = frame;
    e->sub_page.page_off = off;
    e->sub_page.length = len;
    __atomic_store_n(&e->hdr.flags, flags | GTF_sub_page, __ATOMIC_RELEASE);
}

static void put_trans(grant_entry_v2_t *e, domid_t domid, domid_t trans_domid, grant_ref_t gref)
{
    e->transitive.hdr.domid = domid;
    e->transitive.trans_domid = trans_domid;
    e->transitive.gref = gref;
    __atomic_store_n(&e->hdr.flags, GTF_transitive, __ATOMIC_RELEASE);
}

/* Refs the rows write by hand: past the helpers' allocations. */
#define R1 200
#define R2 201
#define R3 202

/*
 * set_version (gnttab_set_version), in its order: copy in, version not 1
 * or 2 (-EINVAL), 2 on a domain limited to v1 (-ENOSYS), the same
 * version (nothing done), any entry at 8 or above pinned by anyone
 * (-EBUSY; the reserved 0-7 may be), then for v2 to v1 a reserved entry v1
 * cannot hold (-ERANGE). The version is written back whatever the
 * outcome, and a fault writing it is the answer.
 */
enum sv_setup {
    SV_NONE, SV_PEER_MAPS_9, SV_DOM0_MAPS_1, SV_TRANS_RESERVED, SV_HIGH_RESERVED,
    SV_TRANSFER_RESERVED, SV_MAX_V1,
};

struct sv_row {
    const char *rule;
    unsigned int from;        /* the table's version before */
    enum sv_setup setup;
    uint32_t version;
    long rc;
    uint32_t out;             /* written back */
    uint32_t after;           /* get_version afterwards */
};

static const struct sv_row sv_rows[] = {
    { "x86 offers v2 (GNTTAB_MAX_VERSION 2)", 1, SV_NONE, 2, 0, 2, 2 },
    { "back to v1", 2, SV_NONE, 1, 0, 1, 1 },
    { "same version: nothing done", 2, SV_NONE, 2, 0, 2, 2 },
    { "version 3: -EINVAL", 2, SV_NONE, 3, -EINVAL, 2, 2 },
    { "version 0: -EINVAL", 1, SV_NONE, 0, -EINVAL, 1, 1 },
    { "max_grant_version 1: -ENOSYS, as before set_version", 1, SV_MAX_V1, 2, -ENOSYS, 1, 1 },
    { "max_grant_version 1 still takes 1", 1, SV_MAX_V1, 1, 0, 1, 1 },
    { "ref 9 mapped by a peer: -EBUSY", 1, SV_PEER_MAPS_9, 2, -EBUSY, 1, 1 },
    { "ref 9 mapped by a peer, from v2: -EBUSY", 2, SV_PEER_MAPS_9, 1, -EBUSY, 2, 2 },
    { "reserved ref 1 mapped by dom0: allowed", 1, SV_DOM0_MAPS_1, 2, 0, 2, 2 },
    { "reserved ref 1 mapped, from v2: allowed", 2, SV_DOM0_MAPS_1, 1, 0, 1, 1 },
    { "transitive reserved entry: -ERANGE", 2, SV_TRANS_RESERVED, 1, -ERANGE, 2, 2 },
    { "reserved frame above 32 bits: -ERANGE", 2, SV_HIGH_RESERVED, 1, -ERANGE, 2, 2 },
    { "reserved accept_transfer: zeroed, not refused", 2, SV_TRANSFER_RESERVED, 1, 0, 1, 1 },
};

START_TEST(set_version_rows)
{
    for (size_t r = 0; r < sizeof(sv_rows) / sizeof(sv_rows[0]); r++) {
        const struct sv_row *row = &sv_rows[r];
        struct xensim *sim = th_sim_new();
        struct xensim_domain_config cfg = {
            .name = "granter", .gnttab_mode = GT_MODE,
            .max_grant_version = row->setup == SV_MAX_V1 ? 1 : 0,
        };
        domid_t a = th_domain_cfg(sim, &cfg);
        domid_t b = th_domain(sim, "grantee", false, GT_MODE);
        if (row->from == 2)
            ck_assert_int_eq(set_version(sim, a, 2, NULL), 0);
        struct raw t = raw_table(sim, a);
        struct gt_page pg = gt_own_page(sim, a);
        gnttab_map_grant_ref_t m = { 0 };
        switch (row->setup) {
        case SV_PEER_MAPS_9:
            if (row->from == 1)
                t.v1[9] = (grant_entry_v1_t){ GTF_permit_access, b, (uint32_t)pg.pfn };
            else
                put_v2(&t.v2[9], GTF_permit_access, b, pg.pfn);
            ck_assert_int_eq(gt_map(sim, b, a, 9, RO, &m), GNTST_okay);
            break;
        case SV_DOM0_MAPS_1:
            ck_assert_int_eq(gt_map(sim, 0, a, GNTTAB_RESERVED_XENSTORE, RW, &m), GNTST_okay);
            break;
        case SV_TRANS_RESERVED:
            put_trans(&t.v2[5], b, 0, 8);
            break;
        case SV_HIGH_RESERVED:
            put_v2(&t.v2[6], GTF_permit_access, b, 1ull << 32);
            break;
        case SV_TRANSFER_RESERVED:
            put_v2(&t.v2[7], GTF_accept_transfer, b, pg.pfn);
            break;
        default:
            break;
        }
        uint32_t out = 99;
        long rc = set_version(sim, a, row->version, &out);
        ck_assert_msg(rc == row->rc, "%s (%s): %s, want %s", row->rule, GT_MODE_NAME(GT_MODE),
                      xensim_strerror((int)rc), xensim_strerror((int)row->rc));
        ck_assert_msg(out == row->out, "%s: wrote back %u", row->rule, out);
        ck_assert_uint_eq(get_version(sim, a, DOMID_SELF), row->after);
        t = raw_table(sim, a);
        switch (row->setup) {
        case SV_PEER_MAPS_9:
            gt_unmap_ok(sim, b, &m);
            if (row->after == 1)
                t.v1[9].flags = 0;
            else
                t.v2[9].hdr.flags = 0;
            break;
        case SV_DOM0_MAPS_1:
            /* The pin's bits moved to where the new version keeps them. */
            if (row->after == 2) {
                ck_assert_uint_eq(t.v2[1].hdr.flags, GTF_permit_access);
                ck_assert_uint_eq(t.st[1], RDWR);
            } else {
                ck_assert_uint_eq(t.v1[1].flags, GTF_permit_access | RDWR);
            }
            gt_unmap_ok(sim, 0, &m);
            if (row->after == 2)
                ck_assert_uint_eq(t.st[1], 0);
            else
                ck_assert_uint_eq(t.v1[1].flags, GTF_permit_access);
            break;
        case SV_TRANS_RESERVED:
            t.v2[5].hdr.flags = 0;
            break;
        case SV_HIGH_RESERVED:
            t.v2[6].hdr.flags = 0;
            break;
        case SV_TRANSFER_RESERVED:
            ck_assert_uint_eq(t.v1[7].flags, 0);
            ck_assert_uint_eq(t.v1[7].frame, 0);
            break;
        default:
            break;
        }
        gt_sim_free(sim);
    }
}
END_TEST

/* The reserved entries 0-7 survive a switch each way (v1 verbatim; from v2
 * permit_access ones with their GTF_sub_page, the status bits merged into
 * the flags); every other entry is wiped, as is every v2 status word. */
START_TEST(reserved_entries_carried)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    struct raw t = raw_table(f.sim, f.a);
    grant_entry_v1_t store = t.v1[GNTTAB_RESERVED_XENSTORE];
    grant_entry_v1_t console = t.v1[GNTTAB_RESERVED_CONSOLE];
    ck_assert_uint_eq(store.frame, ia.store_pfn);
    t.v1[4] = (grant_entry_v1_t){ GTF_accept_transfer, f.b, 3 };   /* v1: kept as is */
    t.v1[8] = (grant_entry_v1_t){ GTF_permit_access, f.b, 3 };
    t.v1[300] = (grant_entry_v1_t){ GTF_permit_access, f.b, 3 };

    ck_assert_int_eq(set_version(f.sim, f.a, 2, NULL), 0);
    t = raw_table(f.sim, f.a);
    ck_assert_ptr_nonnull(t.st);
    ck_assert_uint_eq(t.v2[1].hdr.flags, GTF_permit_access);
    ck_assert_uint_eq(t.v2[1].hdr.domid, 0);
    ck_assert_uint_eq(t.v2[1].full_page.frame, ia.store_pfn);
    ck_assert_uint_eq(t.v2[0].full_page.frame, ia.console_pfn);
    ck_assert_uint_eq(t.v2[4].hdr.flags, GTF_accept_transfer);
    ck_assert_uint_eq(t.v2[8].hdr.flags, 0);
    ck_assert_uint_eq(t.v2[150].hdr.flags, 0);
    /* dom0's services still map refs 0 and 1 in v2. */
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, 0, f.a, GNTTAB_RESERVED_XENSTORE, RW, &m), GNTST_okay);
    ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)ia.store_pfn << 12);
    ck_assert_uint_eq(t.st[1], RDWR);
    gt_unmap_ok(f.sim, 0, &m);
    /* A sub-page reserved entry keeps its flag going back; others go. */
    put_sub(&t.v2[3], GTF_permit_access | GTF_readonly, f.b, 5, 16, 32);
    t.v2[4].hdr.flags = 0;
    put_v2(&t.v2[9], GTF_permit_access, f.b, 5);
    t.st[9] = GTF_reading;    /* a stale status word is wiped too */

    ck_assert_int_eq(set_version(f.sim, f.a, 1, NULL), 0);
    t = raw_table(f.sim, f.a);
    ck_assert_ptr_null(t.st);
    ck_assert_int_eq(memcmp(&t.v1[GNTTAB_RESERVED_XENSTORE], &store, sizeof(store)), 0);
    ck_assert_int_eq(memcmp(&t.v1[GNTTAB_RESERVED_CONSOLE], &console, sizeof(console)), 0);
    ck_assert_uint_eq(t.v1[3].flags, GTF_permit_access | GTF_readonly | GTF_sub_page);
    ck_assert_uint_eq(t.v1[3].frame, 5);
    ck_assert_uint_eq(t.v1[8].flags, 0);
    ck_assert_uint_eq(t.v1[9].flags, 0);
    t.v1[3].flags = 0;
    ck_assert_int_eq(set_version(f.sim, f.a, 2, NULL), 0);
    t = raw_table(f.sim, f.a);
    ck_assert_uint_eq(t.st[9], 0);
    ck_assert_int_eq(set_version(f.sim, f.a, 1, NULL), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* The written-back version: a fault writing it is -EFAULT even though
 * the switch was done; one reading it is -EFAULT before anything. Xen's
 * unpopulate_status_frames would answer -EBUSY while the guest still maps
 * a status frame; xensim cannot see a guest's mappings of its own memory,
 * so a guest that reads its status frame can still switch back (a
 * recorded simulator limit). */
START_TEST(set_version_faults)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, NULL, 1), -EFAULT);
    long pg = sysconf(_SC_PAGESIZE);
    gnttab_set_version_t *sv = mmap(NULL, pg, PROT_READ | PROT_WRITE,
                                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(sv, MAP_FAILED);
    sv->version = 2;
    ck_assert_int_eq(mprotect(sv, pg, PROT_READ), 0);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, sv, 1), -EFAULT);
    ck_assert_uint_eq(get_version(f.sim, f.a, DOMID_SELF), 2);
    munmap(sv, pg);
    struct raw t = raw_table(f.sim, f.a);
    ck_assert_uint_eq(t.st[0], 0);
    ck_assert_int_eq(set_version(f.sim, f.a, 1, NULL), 0);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * get_status_frames (gnttab_get_status_frames), in its order: count not
 * 1 (-EINVAL), copy in (-EFAULT), guest_handle_okay (-EFAULT: a list in
 * Xen's own address range), the domain (bad_domain), XSM_TARGET
 * (permission_denied), more frames than the table has (general_error; a
 * v1 table has none), then each frame (a list it cannot write:
 * bad_virt_addr). It grows nothing.
 */
enum gs_list { GS_OK, GS_XEN_RANGE, GS_UNMAPPED };

struct gs_row {
    const char *rule;
    unsigned int version;
    int who;                  /* 0: the granter, 1: an unprivileged other, 2: dom0 */
    int dom;                  /* 0: DOMID_SELF, 1: the granter, 2: no such domain */
    uint32_t nr;
    unsigned int count;
    enum gs_list list;
    long rc;
    int16_t status;
};

static const struct gs_row gs_rows[] = {
    { "v1: no status frames, 0 is fine", 1, 0, 0, 0, 1, GS_OK, 0, GNTST_okay },
    { "v1: any frame is general_error", 1, 0, 0, 1, 1, GS_OK, 0, GNTST_general_error },
    { "v2, one shared frame: one status frame", 2, 0, 0, 1, 1, GS_OK, 0, GNTST_okay },
    { "v2: more than it has is general_error", 2, 0, 0, 2, 1, GS_OK, 0, GNTST_general_error },
    { "count 2: -EINVAL", 2, 0, 0, 1, 2, GS_OK, -EINVAL, 0 },
    { "count 0: -EINVAL", 2, 0, 0, 1, 0, GS_OK, -EINVAL, 0 },
    { "a list in Xen's range: -EFAULT", 2, 0, 0, 1, 1, GS_XEN_RANGE, -EFAULT, 0 },
    { "a list it cannot write: bad_virt_addr", 2, 0, 0, 1, 1, GS_UNMAPPED, 0,
      GNTST_bad_virt_addr },
    { "no such domain", 2, 2, 2, 1, 1, GS_OK, 0, GNTST_bad_domain },
    { "another's table, unprivileged", 2, 1, 1, 1, 1, GS_OK, 0, GNTST_permission_denied },
    { "another's table, from dom0", 2, 2, 1, 1, 1, GS_OK, 0, GNTST_okay },
    { "own id spelled out", 2, 0, 1, 1, 1, GS_OK, 0, GNTST_okay },
};

START_TEST(get_status_frames_rows)
{
    for (size_t r = 0; r < sizeof(gs_rows) / sizeof(gs_rows[0]); r++) {
        const struct gs_row *row = &gs_rows[r];
        struct gt_fix f = gt_fix_new_v(GT_MODE, row->version);
        struct xensim_domain_info ia = gt_info(f.sim, f.a);
        uint64_t frames[2] = { 7, 7 };
        gnttab_get_status_frames_t op = {
            .nr_frames = row->nr, .status = 99,
            .dom = row->dom == 0 ? DOMID_SELF : row->dom == 1 ? f.a : GT_NODOM,
        };
        set_xen_guest_handle(op.frame_list, row->list == GS_OK ? frames
                                            : row->list == GS_XEN_RANGE
                                                ? (uint64_t *)(uintptr_t)0xffff800000001000ull
                                                : (uint64_t *)(uintptr_t)16);
        domid_t who = row->who == 0 ? f.a : row->who == 1 ? f.b : 0;
        long rc = gt_op(f.sim, who, GNTTABOP_get_status_frames, &op, row->count);
        ck_assert_msg(rc == row->rc, "%s (%s): %s", row->rule, GT_MODE_NAME(GT_MODE),
                      xensim_strerror((int)rc));
        if (rc == 0)
            ck_assert_msg(op.status == row->status, "%s: status %d", row->rule, op.status);
        if (rc == 0 && op.status == GNTST_okay && row->nr)
            /* After the 64 possible grant frames (sim.h's layout). */
            ck_assert_uint_eq(frames[0], ia.nr_pages + 1 + 64);
        if (rc == 0 && op.status != GNTST_okay && row->list == GS_OK)
            ck_assert_uint_eq(frames[0], 7);
        gt_sim_free(f.sim);
    }
}
END_TEST

/*
 * Sizes in v2: 256 entries of 16 bytes per shared frame (SHGNT_PER_PAGE_V2),
 * 2048 status words per status frame, so one status frame serves eight
 * shared frames; setup_table grows the status frames with the shared
 * ones and lists the shared frames only; query_size reports shared
 * frames. Only v1's 512 per frame would make ref 256 valid.
 */
START_TEST(v2_table_sizes)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    ck_assert_ptr_nonnull(g.ents2);
    ck_assert_uint_eq(g.nr_ents, 256);
    struct raw t = raw_table(f.sim, f.a);
    put_v2(&t.v2[255], GTF_permit_access, f.b, g.pfn);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, 255, RO, &m), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, 256, RO, NULL), GNTST_bad_gntref);
    ck_assert_uint_eq(t.st[255], GTF_reading);
    gt_unmap_ok(f.sim, f.b, &m);
    t.v2[255].hdr.flags = 0;

    xen_pfn_t frames[9];
    gnttab_setup_table_t s = { .dom = DOMID_SELF, .nr_frames = 9, .status = 99 };
    set_xen_guest_handle(s.frame_list, frames);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &s, 1), 0);
    ck_assert_int_eq(s.status, GNTST_okay);
    struct xensim_domain_info ia = gt_info(f.sim, f.a);
    for (int i = 0; i < 9; i++)
        ck_assert_uint_eq(frames[i], ia.nr_pages + 1 + i);
    gnttab_query_size_t q = { .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, &q, 1), 0);
    ck_assert_uint_eq(q.nr_frames, 9);
    uint64_t sf[3];
    gnttab_get_status_frames_t gs = { .nr_frames = 2, .dom = DOMID_SELF };
    set_xen_guest_handle(gs.frame_list, sf);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &gs, 1), 0);
    ck_assert_int_eq(gs.status, GNTST_okay);
    ck_assert_uint_eq(sf[1], sf[0] + 1);
    gs.nr_frames = 3;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &gs, 1), 0);
    ck_assert_int_eq(gs.status, GNTST_general_error);
    /* The last ref of frame 9, its status word on status frame 1. */
    grant_ref_t last = 9 * 256 - 1;
    put_v2(&t.v2[last], GTF_permit_access, f.b, g.pfn);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, last, RW, &m), GNTST_okay);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, last + 1, RW, NULL), GNTST_bad_gntref);
    ck_assert_uint_eq(t.st[last], RDWR);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_uint_eq(t.st[last], 0);
    t.v2[last].hdr.flags = 0;
    gt_sim_free(f.sim);
}
END_TEST

/*
 * Map in v2 (map_grant_ref, _set_status_v2 with mapflag): on a first pin
 * the type must be permit_access without GTF_sub_page (so sub-page and
 * transitive entries cannot be mapped) and granted to the mapper; a
 * writable map of a read-only grant fails; the status word gets
 * GTF_reading (and GTF_writing), a barrier, the entry is read again; the
 * frame is full_page.frame, 64 bits wide, and must be RAM (bad_page, the
 * status bits cleared). Xen never writes hdr.flags in v2.
 */
enum mv_setup { MV_FULL, MV_RO, MV_SUB, MV_TRANS, MV_TRANSFER, MV_OTHER_DOM, MV_HIGH_FRAME,
                MV_INVALID };

struct mv_row {
    const char *rule;
    enum mv_setup setup;
    uint32_t flags;
    int16_t status;
    uint16_t st;              /* the status word while mapped */
};

static const struct mv_row mv_rows[] = {
    { "full page, writable", MV_FULL, RW, GNTST_okay, RDWR },
    { "full page, read-only map", MV_FULL, RO, GNTST_okay, GTF_reading },
    { "device map counts as a pin too", MV_FULL, GNTMAP_device_map, GNTST_okay, RDWR },
    { "read-only grant, read-only map", MV_RO, RO, GNTST_okay, GTF_reading },
    { "read-only grant, writable map", MV_RO, RW, GNTST_general_error, 0 },
    { "sub-page entry: copy only", MV_SUB, RO, GNTST_general_error, 0 },
    { "transitive entry: copy only", MV_TRANS, RO, GNTST_general_error, 0 },
    { "accept_transfer type", MV_TRANSFER, RO, GNTST_general_error, 0 },
    { "granted to another domain", MV_OTHER_DOM, RO, GNTST_general_error, 0 },
    { "frame past RAM (64-bit field)", MV_HIGH_FRAME, RO, GNTST_bad_page, 0 },
    { "revoked (flags 0)", MV_INVALID, RO, GNTST_general_error, 0 },
};

START_TEST(map_rows)
{
    for (size_t r = 0; r < sizeof(mv_rows) / sizeof(mv_rows[0]); r++) {
        const struct mv_row *row = &mv_rows[r];
        struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
        struct raw t = raw_table(f.sim, f.a);
        struct gt_page pg = gt_own_page(f.sim, f.a);
        grant_entry_v2_t *e = &t.v2[R1];
        switch (row->setup) {
        case MV_FULL: put_v2(e, GTF_permit_access, f.b, pg.pfn); break;
        case MV_RO: put_v2(e, GTF_permit_access | GTF_readonly, f.b, pg.pfn); break;
        case MV_SUB: put_sub(e, GTF_permit_access, f.b, pg.pfn, 0, 4096); break;
        case MV_TRANS: put_trans(e, f.b, f.c, 9); break;
        case MV_TRANSFER: put_v2(e, GTF_accept_transfer, f.b, pg.pfn); break;
        case MV_OTHER_DOM: put_v2(e, GTF_permit_access, f.c, pg.pfn); break;
        case MV_HIGH_FRAME: put_v2(e, GTF_permit_access, f.b, pg.pfn | (1ull << 33)); break;
        case MV_INVALID: put_v2(e, 0, f.b, pg.pfn); break;
        }
        uint16_t hdr = e->hdr.flags;
        gnttab_map_grant_ref_t m;
        int16_t st = gt_map(f.sim, f.b, f.a, R1, row->flags, &m);
        ck_assert_msg(st == row->status, "%s (%s): %d, want %d", row->rule,
                      GT_MODE_NAME(GT_MODE), st, row->status);
        ck_assert_msg(t.st[R1] == row->st, "%s: status word %#x", row->rule, t.st[R1]);
        ck_assert_uint_eq(e->hdr.flags, hdr);
        if (st == GNTST_okay) {
            ck_assert_uint_eq(m.dev_bus_addr, (uint64_t)pg.pfn << 12);
            ck_assert_uint_eq(gt_pins(f.sim, f.a), 1);
            ck_assert_int_eq(gt_unmap(f.sim, f.b, m.handle, m.host_addr,
                                      row->flags & GNTMAP_device_map ? m.dev_bus_addr : 0),
                             GNTST_okay);
        }
        ck_assert_uint_eq(t.st[R1], 0);
        ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
        ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);
        e->hdr.flags = 0;
        gt_sim_free(f.sim);
    }
}
END_TEST

/* reduce_status_for_pin in v2: GTF_writing goes with the last writable
 * pin, GTF_reading with the last; the bits are in the status word and
 * hdr.flags never changes. */
START_TEST(status_follows_pins)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t ro, rw;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &ro), GNTST_okay);
    ck_assert_uint_eq(g.status[g.ref], GTF_reading);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &rw), GNTST_okay);
    ck_assert_uint_eq(g.status[g.ref], RDWR);
    ck_assert_uint_eq(g.ents2[g.ref].hdr.flags, GTF_permit_access);
    gt_unmap_ok(f.sim, f.b, &rw);
    ck_assert_uint_eq(g.status[g.ref], GTF_reading);
    gt_unmap_ok(f.sim, f.b, &ro);
    ck_assert_uint_eq(g.status[g.ref], 0);
    /* The status frames are guest pages at the frames get_status_frames
     * gave: the same words through the kernel's own pfn mapping. */
    struct raw t = raw_table(f.sim, f.a);
    ck_assert_ptr_eq(t.st, g.status);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RO, &ro), GNTST_okay);
    struct xensim_grant_info rows[16];
    int n = xensim_grant_list(f.sim, f.a, rows, 16);
    bool seen = false;
    for (int i = 0; i < n; i++)
        if (rows[i].ref == g.ref) {
            seen = true;
            ck_assert_uint_eq(rows[i].flags, GTF_permit_access | GTF_reading);
            ck_assert_uint_eq(rows[i].frame, g.pfn);
            ck_assert_uint_eq(rows[i].read_pins, 1);
        }
    ck_assert(seen);
    gt_unmap_ok(f.sim, f.b, &ro);
    gt_sim_free(f.sim);
}
END_TEST

/*
 * Copy in v2 (gnttab_copy_one, acquire_grant_for_copy): each side's
 * grant has a window, the whole page or a sub-page grant's [page_off,
 * page_off + length) with page_off kept in 15 bits and nothing checked
 * when pinned; gnttab_copy_buf then refuses offset + len past the page
 * (bad_copy_arg) before the window (general_error). A zero-length copy
 * runs every check. Transitive grants (copy only, gnttab=transitive by
 * default) forward to a grant made to the intermediate domain, which
 * cannot be transitive itself: chains are one level, a self reference, a
 * loop and a missing domain are general_error, and the inner grant's
 * errors come through unchanged.
 */
enum cv_setup {
    CV_FULL, CV_SUB, CV_SUB_RO, CV_SUB_HIGH_OFF, CV_SUB_PAST_PAGE, CV_TRANS, CV_TRANS_SUB,
    CV_TRANS_SELF, CV_TRANS_NODOM, CV_TRANS_CHAIN, CV_TRANS_LOOP, CV_TRANS_TO_COPIER,
    CV_TRANS_INNER_NOT_MINE, CV_TRANS_INNER_BADREF, CV_TRANS_INNER_BADPAGE, CV_TRANS_INNER_RO,
    CV_V1_TRANS,
};

struct cv_row {
    const char *rule;
    enum cv_setup setup;
    bool to_grant;            /* the grant is the destination, else the source */
    uint16_t off, len;
    int16_t status;
};

static const struct cv_row cv_rows[] = {
    { "full page, source", CV_FULL, false, 0, 4096, GNTST_okay },
    { "full page, destination", CV_FULL, true, 100, 200, GNTST_okay },
    { "sub-page: inside the window", CV_SUB, false, 64, 32, GNTST_okay },
    { "sub-page: the whole window", CV_SUB, false, 32, 64, GNTST_okay },
    { "sub-page: starts before it", CV_SUB, false, 31, 8, GNTST_general_error },
    { "sub-page: ends after it", CV_SUB, false, 90, 7, GNTST_general_error },
    { "sub-page: past the page first (bad_copy_arg)", CV_SUB, false, 4090, 8,
      GNTST_bad_copy_arg },
    { "sub-page: zero length outside the window", CV_SUB, false, 0, 0, GNTST_general_error },
    { "sub-page: zero length at its start", CV_SUB, false, 32, 0, GNTST_okay },
    { "sub-page destination", CV_SUB, true, 40, 8, GNTST_okay },
    { "read-only sub-page as destination", CV_SUB_RO, true, 40, 8, GNTST_general_error },
    { "page_off kept in 15 bits (0x8020 is 32)", CV_SUB_HIGH_OFF, false, 32, 8, GNTST_okay },
    { "a window past the page is not checked when pinned", CV_SUB_PAST_PAGE, false, 4000, 96,
      GNTST_okay },
    { "...but a copy past the page is bad_copy_arg", CV_SUB_PAST_PAGE, false, 4000, 97,
      GNTST_bad_copy_arg },
    { "transitive: A's page through B's grant", CV_TRANS, false, 0, 4096, GNTST_okay },
    { "transitive destination", CV_TRANS, true, 8, 8, GNTST_okay },
    { "transitive: the inner sub-page window", CV_TRANS_SUB, false, 64, 32, GNTST_okay },
    { "transitive: outside the inner window", CV_TRANS_SUB, false, 0, 8,
      GNTST_general_error },
    { "transitive: self-referential", CV_TRANS_SELF, false, 0, 8, GNTST_general_error },
    { "transitive: no such domain", CV_TRANS_NODOM, false, 0, 8, GNTST_general_error },
    { "transitive: two levels", CV_TRANS_CHAIN, false, 0, 8, GNTST_general_error },
    { "transitive: a loop A->B->A", CV_TRANS_LOOP, false, 0, 8, GNTST_general_error },
    { "transitive: back to the copier is allowed", CV_TRANS_TO_COPIER, false, 0, 8,
      GNTST_okay },
    { "transitive: inner not granted to the intermediate", CV_TRANS_INNER_NOT_MINE, false, 0,
      8, GNTST_general_error },
    { "transitive: inner ref out of range", CV_TRANS_INNER_BADREF, false, 0, 8,
      GNTST_bad_gntref },
    { "transitive: inner frame not RAM", CV_TRANS_INNER_BADPAGE, false, 0, 8, GNTST_bad_page },
    { "transitive: writing through a read-only inner grant", CV_TRANS_INNER_RO, true, 0, 8,
      GNTST_general_error },
    { "v1 has no transitive grants", CV_V1_TRANS, false, 0, 8, GNTST_general_error },
};

START_TEST(copy_rows)
{
    for (size_t r = 0; r < sizeof(cv_rows) / sizeof(cv_rows[0]); r++) {
        const struct cv_row *row = &cv_rows[r];
        /* c copies, through b's grant (R1); a is the page's owner for
         * transitive rows. */
        struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
        if (row->setup == CV_V1_TRANS)
            ck_assert_int_eq(gt_set_version(f.sim, f.b, 1), 0);
        struct raw ta = raw_table(f.sim, f.a), tb = raw_table(f.sim, f.b),
                   tc = raw_table(f.sim, f.c);
        struct gt_page pa = gt_own_page(f.sim, f.a), pb = gt_own_page(f.sim, f.b);
        struct gt_page pc = gt_own_page(f.sim, f.c);
        struct gt_page *owner = &pb;
        grant_entry_v2_t *e = &tb.v2[R1];
        switch (row->setup) {
        case CV_FULL: put_v2(e, GTF_permit_access, f.c, pb.pfn); break;
        case CV_SUB: put_sub(e, GTF_permit_access, f.c, pb.pfn, 32, 64); break;
        case CV_SUB_RO: put_sub(e, GTF_permit_access | GTF_readonly, f.c, pb.pfn, 32, 64); break;
        case CV_SUB_HIGH_OFF: put_sub(e, GTF_permit_access, f.c, pb.pfn, 0x8020, 64); break;
        case CV_SUB_PAST_PAGE: put_sub(e, GTF_permit_access, f.c, pb.pfn, 4000, 200); break;
        case CV_TRANS:
        case CV_TRANS_INNER_RO:
            put_v2(&ta.v2[R2], GTF_permit_access |
                   (row->setup == CV_TRANS_INNER_RO ? GTF_readonly : 0), f.b, pa.pfn);
            put_trans(e, f.c, f.a, R2);
            owner = &pa;
            break;
        case CV_TRANS_SUB:
            put_sub(&ta.v2[R2], GTF_permit_access, f.b, pa.pfn, 64, 32);
            put_trans(e, f.c, f.a, R2);
            owner = &pa;
            break;
        case CV_TRANS_SELF: put_trans(e, f.c, f.b, R2); break;
        case CV_TRANS_NODOM: put_trans(e, f.c, GT_NODOM, R2); break;
        case CV_TRANS_CHAIN:
            put_v2(&tc.v2[R3], GTF_permit_access, f.a, pc.pfn);
            put_trans(&ta.v2[R2], f.b, f.c, R3);
            put_trans(e, f.c, f.a, R2);
            break;
        case CV_TRANS_LOOP:
            put_trans(&ta.v2[R2], f.b, f.b, R1);
            put_trans(e, f.c, f.a, R2);
            break;
        case CV_TRANS_TO_COPIER:
            put_v2(&tc.v2[R3], GTF_permit_access, f.b, pc.pfn);
            put_trans(e, f.c, f.c, R3);
            owner = &pc;
            break;
        case CV_TRANS_INNER_NOT_MINE:
            put_v2(&ta.v2[R2], GTF_permit_access, f.c, pa.pfn);
            put_trans(e, f.c, f.a, R2);
            break;
        case CV_TRANS_INNER_BADREF: put_trans(e, f.c, f.a, 100000); break;
        case CV_TRANS_INNER_BADPAGE:
            put_v2(&ta.v2[R2], GTF_permit_access, f.b, 1ull << 30);
            put_trans(e, f.c, f.a, R2);
            break;
        case CV_V1_TRANS:
            tb.v1[R1] = (grant_entry_v1_t){ GTF_transitive, f.c, (uint32_t)pb.pfn };
            break;
        }
        struct gt_page mine = gt_own_page(f.sim, f.c);
        for (int i = 0; i < 4096; i++) {
            owner->va[i] = (uint8_t)(i * 3 + 1);
            mine.va[i] = (uint8_t)(i * 5 + 2);
        }
        uint8_t before_owner[4096], before_mine[4096];
        memcpy(before_owner, owner->va, 4096);
        memcpy(before_mine, mine.va, 4096);
        struct gnttab_copy_ptr grant = { .u.ref = R1, .domid = f.b, .offset = row->off };
        struct gnttab_copy_ptr frame = { .u.gmfn = mine.pfn, .domid = DOMID_SELF,
                                         .offset = row->off };
        gnttab_copy_t op = {
            .source = row->to_grant ? frame : grant, .dest = row->to_grant ? grant : frame,
            .len = row->len, .status = 99,
            .flags = row->to_grant ? GNTCOPY_dest_gref : GNTCOPY_source_gref,
        };
        ck_assert_int_eq(gt_op(f.sim, f.c, GNTTABOP_copy, &op, 1), 0);
        ck_assert_msg(op.status == row->status, "%s (%s): %d, want %d", row->rule,
                      GT_MODE_NAME(GT_MODE), op.status, row->status);
        const uint8_t *want_src = row->to_grant ? before_mine : before_owner;
        const uint8_t *dst = row->to_grant ? owner->va : mine.va;
        if (op.status == GNTST_okay)
            ck_assert_msg(memcmp(dst + row->off, want_src + row->off, row->len) == 0,
                          "%s: data", row->rule);
        else
            ck_assert(memcmp(dst, row->to_grant ? before_owner : before_mine, 4096) == 0);
        /* Nothing stays pinned or busy, on either hop. */
        ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
        ck_assert_uint_eq(gt_pins(f.sim, f.b), 0);
        ck_assert_uint_eq(gt_pins(f.sim, f.c), 0);
        if (row->setup != CV_V1_TRANS) {
            ck_assert_uint_eq(tb.st[R1], 0);
            ck_assert_uint_eq(ta.st[R2], 0);
            tb.v2[R1].hdr.flags = 0;
        } else {
            tb.v1[R1].flags = 0;
        }
        ta.v2[R2].hdr.flags = 0;
        tc.v2[R3].hdr.flags = 0;
        (void)pc;
        gt_sim_free(f.sim);
    }
}
END_TEST

/* A transitive grant pins both hops while a copy holds it, and a map of
 * it is refused even while a map of the inner grant by the intermediate
 * is fine: the transitive pin counts as a sub-page one (is_sub_page). */
START_TEST(transitive_pins_both_hops)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct raw ta = raw_table(f.sim, f.a), tb = raw_table(f.sim, f.b);
    struct gt_page pa = gt_own_page(f.sim, f.a);
    put_v2(&ta.v2[R2], GTF_permit_access, f.b, pa.pfn);
    put_trans(&tb.v2[R1], f.c, f.a, R2);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.c, f.b, R1, RO, &m), GNTST_general_error);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, R2, RO, &m), GNTST_okay);
    /* b's own map of the inner grant does not stop c's copy through it:
     * the inner pin is for b, whose grant it is. */
    struct gt_page mine = gt_own_page(f.sim, f.c);
    pa.va[0] = 0x42;
    gnttab_copy_t op = {
        .source = { .u.ref = R1, .domid = f.b }, .dest = { .u.gmfn = mine.pfn, .domid = DOMID_SELF },
        .len = 1, .flags = GNTCOPY_source_gref, .status = 99,
    };
    ck_assert_int_eq(gt_op(f.sim, f.c, GNTTABOP_copy, &op, 1), 0);
    ck_assert_int_eq(op.status, GNTST_okay);
    ck_assert_uint_eq(mine.va[0], 0x42);
    ck_assert_uint_eq(ta.st[R2], GTF_reading);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_uint_eq(ta.st[R2], 0);
    ck_assert_uint_eq(tb.st[R1], 0);
    ta.v2[R2].hdr.flags = 0;
    tb.v2[R1].hdr.flags = 0;
    gt_sim_free(f.sim);
}
END_TEST

/* The ops that do not read entries work the same on a v2 grant:
 * cache_flush finds the mapped frame (grant_map_exists; the -EINVAL of an
 * unmapped one is in test_gnttab's cache_flush, with a grantee too small
 * to own that frame number itself); unmap_and_replace drops the pin and
 * its status bits. */
START_TEST(other_ops_on_v2)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, RW, &m), GNTST_okay);
    gnttab_cache_flush_t fl = { .a.dev_bus_addr = m.dev_bus_addr, .length = 64,
                                .op = GNTTAB_CACHE_CLEAN };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_cache_flush, &fl, 1), 0);
    struct gt_page mine = gt_own_page(f.sim, f.b);
    gnttab_unmap_and_replace_t r = { .host_addr = m.host_addr,
                                     .new_addr = (uint64_t)(uintptr_t)mine.va,
                                     .handle = m.handle, .status = 99 };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_and_replace, &r, 1), 0);
    ck_assert_int_eq(r.status, GNTST_okay);
    ck_assert_uint_eq(g.status[g.ref], 0);
    ck_assert_uint_eq(gt_pins(f.sim, f.a), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* swap_grant_ref in v2 swaps the 16-byte entries (and the status words);
 * bounds first (256 per frame), then the no-op, then the pins (eagain). */
START_TEST(swap_rows)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct raw t = raw_table(f.sim, f.a);
    struct gt_page pg = gt_own_page(f.sim, f.a);
    put_sub(&t.v2[R1], GTF_permit_access, f.b, pg.pfn, 16, 32);
    put_v2(&t.v2[R2], GTF_permit_access | GTF_readonly, f.c, pg.pfn);
    grant_entry_v2_t e1 = t.v2[R1], e2 = t.v2[R2];
    gnttab_swap_grant_ref_t ops[4] = {
        { .ref_a = R1, .ref_b = R2, .status = 99 },
        { .ref_a = R1, .ref_b = 256, .status = 99 },
        { .ref_a = 256, .ref_b = R1, .status = 99 },
        { .ref_a = R1, .ref_b = R1, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, ops, 4), 0);
    ck_assert_int_eq(ops[0].status, GNTST_okay);
    ck_assert_int_eq(ops[1].status, GNTST_bad_gntref);
    ck_assert_int_eq(ops[2].status, GNTST_bad_gntref);
    ck_assert_int_eq(ops[3].status, GNTST_okay);
    ck_assert_int_eq(memcmp(&t.v2[R1], &e2, sizeof(e2)), 0);
    ck_assert_int_eq(memcmp(&t.v2[R2], &e1, sizeof(e1)), 0);
    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.c, f.a, R1, RO, &m), GNTST_okay);
    ops[0].status = 99;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, ops, 1), 0);
    ck_assert_int_eq(ops[0].status, GNTST_eagain);
    ck_assert_uint_eq(t.st[R1], GTF_reading);
    ck_assert_uint_eq(t.st[R2], 0);
    gt_unmap_ok(f.sim, f.c, &m);
    t.v2[R1].hdr.flags = 0;
    t.v2[R2].hdr.flags = 0;
    gt_sim_free(f.sim);
}
END_TEST

/*
 * The granter's helpers in v2: they follow the table's version (found
 * with get_version at first use, or set with xensim_gnttab_set_version);
 * grant writes a full_page entry, fields before flags; revoke clears the
 * flags, a full barrier, then reads the status word (Linux's v2 ops), so
 * a busy grant is already dead to new maps; refs come 256 to a frame.
 */
struct helper_run {
    domid_t to;
    xen_pfn_t pfn;
    long ref, sub_ref, trans_ref;
    int sub_rc, trans_rc, v1_sub_rc, v1_trans_rc;
    void *v1, *v2, *st;
    unsigned int nr_v2, version;
    long busy_switch;
};

static void helper_fn(void *p)
{
    struct helper_run *h = p;
    h->v1_sub_rc = xensim_gnttab_grant_subpage_ref(20, h->to, 1, 0, 8, false);
    h->v1_trans_rc = xensim_gnttab_grant_transitive_ref(20, h->to, 0, 8);
    h->busy_switch = 99;
    long held = xensim_gnttab_alloc_ref();
    h->busy_switch = xensim_gnttab_set_version(2);
    xensim_gnttab_free_ref((grant_ref_t)held);
    ck_assert_int_eq(xensim_gnttab_set_version(2), 0);
    h->version = xensim_gnttab_version();
    h->v1 = xensim_gnttab_entries(NULL);
    h->v2 = xensim_gnttab_entries_v2(&h->nr_v2);
    h->st = xensim_gnttab_status(NULL);
    ck_assert_int_eq(xensim_guest_page_alloc(&h->pfn), 0);
    h->ref = xensim_gnttab_grant_access(h->to, h->pfn, true);
    h->sub_ref = xensim_gnttab_alloc_ref();
    h->sub_rc = xensim_gnttab_grant_subpage_ref((grant_ref_t)h->sub_ref, h->to, h->pfn, 100, 50,
                                                true);
    h->trans_ref = xensim_gnttab_alloc_ref();
    h->trans_rc = xensim_gnttab_grant_transitive_ref((grant_ref_t)h->trans_ref, h->to, 0, 1);
}

static void helper_end_fn(void *p)
{
    struct helper_run *h = p;
    ck_assert_int_eq(xensim_gnttab_end_access((grant_ref_t)h->sub_ref), 0);
    ck_assert_int_eq(xensim_gnttab_end_access((grant_ref_t)h->trans_ref), 0);
    xensim_gnttab_free_ref((grant_ref_t)h->sub_ref);
    xensim_gnttab_free_ref((grant_ref_t)h->trans_ref);
}

START_TEST(granter_helpers_v2)
{
    struct gt_fix f = gt_fix_new(GT_MODE);
    struct helper_run h = { .to = f.b };
    th_call(f.sim, f.a, 0, helper_fn, &h);
    gt_own(f.a, h.ref, h.pfn);
    ck_assert_int_eq(h.v1_sub_rc, -ENOSYS);
    ck_assert_int_eq(h.v1_trans_rc, -ENOSYS);
    ck_assert_int_eq(h.busy_switch, -EBUSY);
    ck_assert_uint_eq(h.version, 2);
    ck_assert_ptr_null(h.v1);
    ck_assert_ptr_nonnull(h.v2);
    ck_assert_ptr_nonnull(h.st);
    ck_assert_uint_eq(h.nr_v2, 256);
    ck_assert_int_eq(h.sub_rc, 0);
    ck_assert_int_eq(h.trans_rc, 0);
    grant_entry_v2_t *e = h.v2;
    grant_status_t *st = h.st;
    ck_assert_uint_eq(e[h.ref].hdr.flags, GTF_permit_access | GTF_readonly);
    ck_assert_uint_eq(e[h.ref].hdr.domid, f.b);
    ck_assert_uint_eq(e[h.ref].full_page.frame, h.pfn);
    ck_assert_uint_eq(e[h.sub_ref].hdr.flags, GTF_permit_access | GTF_readonly | GTF_sub_page);
    ck_assert_uint_eq(e[h.sub_ref].sub_page.page_off, 100);
    ck_assert_uint_eq(e[h.sub_ref].sub_page.length, 50);
    ck_assert_uint_eq(e[h.trans_ref].hdr.flags, GTF_transitive);
    ck_assert_uint_eq(e[h.trans_ref].transitive.trans_domid, 0);
    ck_assert_uint_eq(e[h.trans_ref].transitive.gref, 1);

    gnttab_map_grant_ref_t m;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, h.ref, RO, &m), GNTST_okay);
    ck_assert_uint_eq(st[h.ref], GTF_reading);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, h.ref), -EBUSY);
    /* The flags are gone at once. While b still holds a pin, Xen does
     * not look at the entry again (map_grant_ref reads it only for a
     * first, or first writable, pin, and then only for GTF_readonly), so
     * b can still map it, even writably; once the pins go, nobody can. */
    ck_assert_uint_eq(e[h.ref].hdr.flags, 0);
    gnttab_map_grant_ref_t again;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, h.ref, RW, &again), GNTST_okay);
    ck_assert_uint_eq(st[h.ref], RDWR);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, h.ref), -EBUSY);
    gt_unmap_ok(f.sim, f.b, &again);
    gt_unmap_ok(f.sim, f.b, &m);
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, h.ref, RO, NULL), GNTST_general_error);
    ck_assert_uint_eq(st[h.ref], 0);
    ck_assert_int_eq(gt_end_access(f.sim, f.a, h.ref), 0);
    th_call(f.sim, f.a, 0, helper_end_fn, &h);
    gt_sim_free(f.sim);
}
END_TEST

/* The allocator hands out 256 refs a frame in v2: two frames, 8 reserved,
 * 504 refs, then -ENOSPC. A kernel whose table was switched before it
 * first used the helpers finds the version itself (get_version). */
struct alloc2 { long refs[600]; int n; unsigned int version; };

static void alloc2_fn(void *p)
{
    struct alloc2 *r = p;
    gnttab_set_version_t sv = { .version = 2 };
    ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1), 0);
    r->version = xensim_gnttab_version();
    for (r->n = 0; r->n < 600; r->n++) {
        r->refs[r->n] = xensim_gnttab_alloc_ref();
        if (r->refs[r->n] < 0)
            break;
    }
    for (int i = 0; i < r->n; i++)
        xensim_gnttab_free_ref((grant_ref_t)r->refs[i]);
    ck_assert_int_eq(xensim_gnttab_set_version(1), 0);
}

START_TEST(allocator_v2)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config cfg = { .name = "two-frames", .gnttab_mode = GT_MODE,
                                        .max_grant_frames = 2 };
    domid_t a = th_domain_cfg(sim, &cfg);
    struct alloc2 *r = calloc(1, sizeof(*r));
    th_call(sim, a, 0, alloc2_fn, r);
    ck_assert_uint_eq(r->version, 2);
    ck_assert_int_eq(r->n, 504);
    ck_assert_int_eq(r->refs[504], -ENOSPC);
    for (int i = 0; i < 504; i++)
        ck_assert_int_eq(r->refs[i], 8 + i);
    free(r);
    gt_sim_free(sim);
}
END_TEST

/* kernel_grant_version = 2: the kernel switches its table to v2 at its
 * first use of grants, before granting anything (Linux's
 * gnttab_request_version), and a ref it hands out is a v2 entry. A Xen
 * that refuses v2 (max_grant_version = 1: -EINVAL from set_version)
 * leaves the kernel on v1. A version above 2 is refused at build. */
struct boot_v2 { unsigned int version; long ref; };

static void boot_v2_fn(void *p)
{
    struct boot_v2 *r = p;
    r->ref = xensim_gnttab_alloc_ref();
    r->version = xensim_gnttab_version();
    if (r->ref > 0)
        xensim_gnttab_free_ref((grant_ref_t)r->ref);
}

START_TEST(kernel_asks_v2_at_boot)
{
    struct xensim *sim = th_sim_new();
    struct xensim_domain_config v2 = { .name = "asks-v2", .gnttab_mode = GT_MODE,
                                       .kernel_grant_version = 2 };
    struct xensim_domain_config v1only = { .name = "v1-only", .gnttab_mode = GT_MODE,
                                           .kernel_grant_version = 2, .max_grant_version = 1 };
    struct xensim_domain_config plain = { .name = "plain", .gnttab_mode = GT_MODE };
    struct xensim_domain_config bad = { .name = "v3", .kernel_grant_version = 3 };
    domid_t a = th_domain_cfg(sim, &v2), b = th_domain_cfg(sim, &v1only);
    domid_t c = th_domain_cfg(sim, &plain);
    ck_assert_int_eq(xensim_domain_create(sim, &bad), -EINVAL);
    /* Built, not yet used: every table starts at v1. */
    ck_assert_uint_eq(get_version(sim, 0, a), 1);
    struct boot_v2 r = { 0 };
    th_call(sim, a, 0, boot_v2_fn, &r);
    ck_assert_int_ge(r.ref, GNTTAB_NR_RESERVED_ENTRIES);
    ck_assert_uint_eq(r.version, 2);
    ck_assert_uint_eq(get_version(sim, 0, a), 2);
    memset(&r, 0, sizeof(r));
    th_call(sim, b, 0, boot_v2_fn, &r);
    ck_assert_int_ge(r.ref, GNTTAB_NR_RESERVED_ENTRIES);
    ck_assert_uint_eq(r.version, 1);
    ck_assert_uint_eq(get_version(sim, 0, b), 1);
    /* Unless the test run asks every kernel for v2, a plain one keeps v1. */
    const char *gv = getenv("XENSIM_TEST_GRANT_VERSION");
    unsigned int want = gv && !strcmp(gv, "2") ? 2 : 1;
    memset(&r, 0, sizeof(r));
    th_call(sim, c, 0, boot_v2_fn, &r);
    ck_assert_uint_eq(r.version, want);
    ck_assert_uint_eq(get_version(sim, 0, c), want);
    gt_sim_free(sim);
}
END_TEST

/* What a person sees: dump_grants names the version and v2's entries. */
START_TEST(dump_names_version)
{
    struct gt_fix f = gt_fix_new_v(GT_MODE, 2);
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_ge(xensim_dump_grants(f.sim, f.a, out), 1);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "grant table v2, 1 frame(s) of 64, 256 entries"));
    free(buf);
    (void)g;
    gt_sim_free(f.sim);
}
END_TEST

/*
 * Stress: several mappers on two vCPUs of one domain map, copy and unmap a
 * v2 grant while the granter revokes and re-grants it. The v2 protocol
 * (status bits, a full barrier, the flags read again; the guest clears
 * the flags, a full barrier, reads the status) means that once a revoke
 * has returned 0 no map or copy succeeds until the next grant, and
 * nothing is left pinned or busy.
 */
struct storm2 {
    struct xensim *sim;
    domid_t a, b;
    grant_ref_t ref;
    xen_pfn_t pfn;
    _Atomic unsigned int epoch;       /* odd: revoked */
    _Atomic int after_revoke;
    _Atomic int okays;
    _Atomic bool stop;
};

/* A mapping held makes the revoke wait (it sees the status bits), so
 * whoever holds one must see the grant's epoch even: an odd one means a
 * revoke returned 0 while, or before, this map took its pin. */
static void storm2_mapper(void *p)
{
    struct storm2 *s = p;
    xen_pfn_t mine;
    ck_assert_int_eq(xensim_guest_page_alloc(&mine), 0);
    while (!atomic_load(&s->stop)) {
        unsigned int before = atomic_load(&s->epoch);
        gnttab_map_grant_ref_t m[4];
        for (int i = 0; i < 4; i++)
            m[i] = (gnttab_map_grant_ref_t){ .flags = i & 1 ? RO : RW, .ref = s->ref,
                                             .dom = s->a };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, m, 4), 0);
        gnttab_copy_t c = {
            .source = { .u.ref = s->ref, .domid = s->a },
            .dest = { .u.gmfn = mine, .domid = DOMID_SELF }, .len = 64,
            .flags = GNTCOPY_source_gref,
        };
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_copy, &c, 1), 0);
        ck_assert(c.status == GNTST_okay || c.status == GNTST_general_error);
        unsigned int held = atomic_load(&s->epoch);
        if (c.status == GNTST_okay && (before & 1) && held == before)
            atomic_fetch_add(&s->after_revoke, 1);
        gnttab_unmap_grant_ref_t u[4];
        unsigned int n = 0;
        for (int i = 0; i < 4; i++) {
            if (m[i].status != GNTST_okay) {
                ck_assert_int_eq(m[i].status, GNTST_general_error);
                continue;
            }
            if (held & 1)
                atomic_fetch_add(&s->after_revoke, 1);
            atomic_fetch_add(&s->okays, 1);
            u[n++] = (gnttab_unmap_grant_ref_t){ .host_addr = m[i].host_addr,
                                                 .handle = m[i].handle };
        }
        ck_assert_int_eq(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, u, n), 0);
        for (unsigned int i = 0; i < n; i++)
            ck_assert_int_eq(u[i].status, GNTST_okay);
        /* Two vCPUs whose maps overlap keep a revoked grant pinned (Xen
         * does not look at a pinned entry again): leave the revoker a
         * moment with no pin. */
        sched_yield();
    }
    xensim_guest_page_free(mine);
}

struct storm2_thread { struct storm2 *s; unsigned int vcpu; };

static void *storm2_thread(void *p)
{
    struct storm2_thread *t = p;
    th_call(t->s->sim, t->s->b, t->vcpu, storm2_mapper, t->s);
    return NULL;
}

static void storm2_revoker(void *p)
{
    struct storm2 *s = p;
    for (int i = 0; i < 400; i++) {
        /* Even before the grant is live, odd once a revoke has returned 0:
         * a mapper that saw the same odd epoch before and after saw no
         * grant at all. */
        atomic_fetch_add(&s->epoch, 1);
        xensim_gnttab_grant_access_ref(s->ref, s->b, s->pfn, false);
        /* The first grant stays until some map took it: on a loaded
         * machine (a sanitizer build) the mappers may otherwise never
         * run while one is live, and the test would show nothing. */
        for (int k = 0; k < 20 || (i == 0 && !atomic_load(&s->okays)); k++)
            sched_yield();
        while (xensim_gnttab_end_access(s->ref) == -EBUSY)
            sched_yield();
        atomic_fetch_add(&s->epoch, 1);
        for (int k = 0; k < 20; k++)
            sched_yield();
    }
}

START_TEST(stress_maps_and_revokes)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "granter", false, GT_MODE);
    struct xensim_domain_config cfg = { .name = "smp", .nr_vcpus = 2, .gnttab_mode = GT_MODE };
    domid_t b = th_domain_cfg(sim, &cfg);
    ck_assert_int_eq(gt_set_version(sim, a, 2), 0);
    ck_assert_int_eq(gt_set_version(sim, b, 2), 0);
    struct gt_grant g = gt_grant(sim, a, b, false);
    ck_assert_int_eq(gt_end_access(sim, a, g.ref), 0);
    struct storm2 s = { .sim = sim, .a = a, .b = b, .ref = (grant_ref_t)g.ref, .pfn = g.pfn,
                        .epoch = 1 };
    struct storm2_thread t[2] = { { &s, 0 }, { &s, 1 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, storm2_thread, &t[i]), 0);
    th_call(sim, a, 0, storm2_revoker, &s);
    atomic_store(&s.stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&s.after_revoke), 0);
    ck_assert_int_gt(atomic_load(&s.okays), 0);
    ck_assert_uint_eq(gt_maptrack(sim, b), 0);
    ck_assert_uint_eq(gt_pins(sim, a), 0);
    ck_assert_uint_eq(g.status[g.ref], 0);
    ck_assert_uint_eq(g.ents2[g.ref].hdr.flags, 0);
    /* The helpers' teardown ends it again: already free. */
    gt_sim_free(sim);
}
END_TEST

static Suite *v2_suite(void)
{
    Suite *s = suite_create("gnttab_v2");
    TCase *tc = tcase_create("versions");
    tcase_add_loop_test(tc, set_version_rows, 0, 2);
    tcase_add_loop_test(tc, reserved_entries_carried, 0, 2);
    tcase_add_loop_test(tc, set_version_faults, 0, 2);
    tcase_add_loop_test(tc, get_status_frames_rows, 0, 2);
    tcase_add_loop_test(tc, v2_table_sizes, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("entries");
    tcase_add_loop_test(tc, map_rows, 0, 2);
    tcase_add_loop_test(tc, status_follows_pins, 0, 2);
    tcase_add_loop_test(tc, copy_rows, 0, 2);
    tcase_add_loop_test(tc, transitive_pins_both_hops, 0, 2);
    tcase_add_loop_test(tc, swap_rows, 0, 2);
    tcase_add_loop_test(tc, other_ops_on_v2, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("granter");
    tcase_add_loop_test(tc, granter_helpers_v2, 0, 2);
    tcase_add_loop_test(tc, allocator_v2, 0, 2);
    tcase_add_loop_test(tc, kernel_asks_v2_at_boot, 0, 2);
    tcase_add_loop_test(tc, dump_names_version, 0, 2);
    suite_add_tcase(s, tc);
    tc = tcase_create("stress");
    tcase_add_loop_test(tc, stress_maps_and_revokes, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(v2_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
