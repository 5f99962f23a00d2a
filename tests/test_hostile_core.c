/*
 * What a hostile guest found in the core, kept as regression tests:
 * misaligned and kernel-half argument pointers for every hypercall (the
 * right answer in every build, never a sanitizer abort), and vCPUs that
 * loop in guest code without hypercalls, which destroy must still stop.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include "gnttab_helpers.h"
#include "evtchn_helpers.h"
#include <xen/callback.h>

/* One hypercall of any kind, as guest code. */
enum hc_kind { HC_GNTTAB, HC_EVTCHN, HC_SCHED, HC_CALLBACK };

struct hc {
    enum hc_kind kind;
    int cmd;
    void *arg;
    unsigned int count;
    long rc;
};

static void hc_fn(void *p)
{
    struct hc *h = p;
    switch (h->kind) {
    case HC_GNTTAB:
        h->rc = HYPERVISOR_grant_table_op((unsigned int)h->cmd, h->arg, h->count);
        break;
    case HC_EVTCHN:
        h->rc = HYPERVISOR_event_channel_op(h->cmd, h->arg);
        break;
    case HC_SCHED:
        h->rc = HYPERVISOR_sched_op(h->cmd, h->arg);
        break;
    case HC_CALLBACK:
        h->rc = HYPERVISOR_callback_op(h->cmd, h->arg);
        break;
    }
}

static long hc(struct xensim *sim, domid_t who, enum hc_kind kind, int cmd, void *arg,
               unsigned int count)
{
    struct hc h = { .kind = kind, .cmd = cmd, .arg = arg, .count = count, .rc = -9999 };
    th_call(sim, who, 0, hc_fn, &h);
    return h.rc;
}

/*
 * A guest may pass any byte address; Xen copies arguments in and out
 * byte-wise, so a misaligned struct is as good as an aligned one. Each
 * buffer holds one argument at a misaligned offset.
 */
struct mis {
    unsigned char bytes[1024] __attribute__((aligned(16)));
    unsigned int off;
};

static void *mis_put(struct mis *m, unsigned int off, const void *arg, size_t n)
{
    ck_assert_uint_le(off + n, sizeof(m->bytes));
    m->off = off;
    memcpy(m->bytes + off, arg, n);
    return m->bytes + off;
}

static void mis_get(const struct mis *m, void *arg, size_t n)
{
    memcpy(arg, m->bytes + m->off, n);
}

#define MIS_OFF ((unsigned int)_i)   /* 1..7: every misalignment of a word */

/* The small table ops, v1 and v2: the same answers as an aligned call
 * would get, every output in its misaligned place. */
START_TEST(gnttab_table_ops_misaligned)
{
    struct gt_fix f = gt_fix_new(XENSIM_GNTTAB_STRICT);
    static struct mis a, b;

    /* setup_table, with a misaligned frame list too. */
    xen_pfn_t want = 0;
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = 1, .status = 99 };
    set_xen_guest_handle(st.frame_list, &want);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, &st, 1), 0);
    ck_assert_int_eq(st.status, GNTST_okay);
    xen_pfn_t zero = 0, got;
    st.status = 99;
    set_xen_guest_handle(st.frame_list, (xen_pfn_t *)mis_put(&b, MIS_OFF, &zero, sizeof(zero)));
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_setup_table, mis_put(&a, MIS_OFF, &st, sizeof(st)), 1), 0);
    mis_get(&a, &st, sizeof(st));
    mis_get(&b, &got, sizeof(got));
    ck_assert_int_eq(st.status, GNTST_okay);
    ck_assert_uint_eq(got, want);

    gnttab_query_size_t qs = { .dom = DOMID_SELF, .status = 99 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_query_size, mis_put(&a, MIS_OFF, &qs, sizeof(qs)), 1), 0);
    mis_get(&a, &qs, sizeof(qs));
    ck_assert_int_eq(qs.status, GNTST_okay);
    ck_assert_uint_eq(qs.nr_frames, 1);
    ck_assert_uint_eq(qs.max_nr_frames, 64);

    gnttab_get_version_t gv = { .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_version, mis_put(&a, MIS_OFF, &gv, sizeof(gv)), 1), 0);
    mis_get(&a, &gv, sizeof(gv));
    ck_assert_uint_eq(gv.version, 1);

    /* A v1 table has no status frames. */
    gnttab_get_status_frames_t gs = { .nr_frames = 0, .dom = DOMID_SELF, .status = 99 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, mis_put(&a, MIS_OFF, &gs, sizeof(gs)), 1), 0);
    mis_get(&a, &gs, sizeof(gs));
    ck_assert_int_eq(gs.status, GNTST_okay);
    gs = (gnttab_get_status_frames_t){ .nr_frames = 1, .dom = DOMID_SELF, .status = 99 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, mis_put(&a, MIS_OFF, &gs, sizeof(gs)), 1), 0);
    mis_get(&a, &gs, sizeof(gs));
    ck_assert_int_eq(gs.status, GNTST_general_error);

    /* To v2 and its status frame, through misaligned structs and list;
     * the frame is the one an aligned call names. */
    gnttab_set_version_t sv = { .version = 2 };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, mis_put(&a, MIS_OFF, &sv, sizeof(sv)), 1), 0);
    mis_get(&a, &sv, sizeof(sv));
    ck_assert_uint_eq(sv.version, 2);
    gv = (gnttab_get_version_t){ .dom = DOMID_SELF };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_version, mis_put(&a, MIS_OFF, &gv, sizeof(gv)), 1), 0);
    mis_get(&a, &gv, sizeof(gv));
    ck_assert_uint_eq(gv.version, 2);
    uint64_t status_want = 0, status_got, zero64 = 0;
    gs = (gnttab_get_status_frames_t){ .nr_frames = 1, .dom = DOMID_SELF, .status = 99 };
    set_xen_guest_handle(gs.frame_list, &status_want);
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, &gs, 1), 0);
    ck_assert_int_eq(gs.status, GNTST_okay);
    gs.status = 99;
    set_xen_guest_handle(gs.frame_list, (uint64_t *)mis_put(&b, MIS_OFF, &zero64, sizeof(zero64)));
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_get_status_frames, mis_put(&a, MIS_OFF, &gs, sizeof(gs)), 1), 0);
    mis_get(&a, &gs, sizeof(gs));
    mis_get(&b, &status_got, sizeof(status_got));
    ck_assert_int_eq(gs.status, GNTST_okay);
    ck_assert_uint_eq(status_got, status_want);
    sv.version = 1;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_set_version, mis_put(&a, MIS_OFF, &sv, sizeof(sv)), 1), 0);
    mis_get(&a, &sv, sizeof(sv));
    ck_assert_uint_eq(sv.version, 1);

    /* A batch of two swaps: each status lands in its own misaligned slot. */
    gnttab_swap_grant_ref_t sw[2] = {
        { .ref_a = 8, .ref_b = 9, .status = 99 },
        { .ref_a = 8, .ref_b = 1u << 30, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_swap_grant_ref, mis_put(&a, MIS_OFF, sw, sizeof(sw)), 2), 0);
    mis_get(&a, sw, sizeof(sw));
    ck_assert_int_eq(sw[0].status, GNTST_okay);
    ck_assert_int_eq(sw[1].status, GNTST_bad_gntref);

    /* Two cache flushes: both are read (the second's offset is bad). */
    gnttab_cache_flush_t cf[2] = { { .length = 0 }, { .offset = 5000, .length = 1 } };
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_cache_flush, mis_put(&a, MIS_OFF, cf, sizeof(cf)), 2), -EINVAL);
    cf[1].offset = 0;
    cf[1].length = 0;
    ck_assert_int_eq(gt_op(f.sim, f.a, GNTTABOP_cache_flush, mis_put(&a, MIS_OFF, cf, sizeof(cf)), 2), 0);
    gt_sim_free(f.sim);
}
END_TEST

/* Map, copy, unmap and replace, and transfer batches, in v1 and v2
 * tables at every offset (0 the aligned control): statuses, handles and
 * host addresses are written back into their slots and the work is done. */
#define BATCH_OFF ((unsigned int)(_i % 8))
#define BATCH_VERSION ((unsigned int)(1 + _i / 8))

static void page_fn(void *p)
{
    struct gt_page *pg = p;
    ck_assert_int_eq(xensim_guest_page_alloc(&pg->pfn), 0);
    pg->va = xensim_guest_pfn_to_virt(pg->pfn);
}

START_TEST(gnttab_batches_misaligned)
{
    struct gt_fix f = gt_fix_new_v(XENSIM_GNTTAB_STRICT, BATCH_VERSION);
    static struct mis a;
    struct gt_grant g = gt_grant(f.sim, f.a, f.b, false);
    memset(g.page, 0x5a, 4096);

    gnttab_map_grant_ref_t mp[2] = {
        { .flags = GNTMAP_host_map, .ref = (grant_ref_t)g.ref, .dom = f.a, .status = 99 },
        { .flags = GNTMAP_host_map, .ref = (grant_ref_t)g.ref, .dom = GT_NODOM, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_map_grant_ref, mis_put(&a, BATCH_OFF, mp, sizeof(mp)), 2), 0);
    mis_get(&a, mp, sizeof(mp));
    ck_assert_int_eq(mp[0].status, GNTST_okay);
    ck_assert_int_eq(mp[1].status, GNTST_bad_domain);
    ck_assert_uint_eq(*(uint8_t *)(uintptr_t)mp[0].host_addr, 0x5a);

    /* Copy one of b's own pages into the granted page. */
    struct gt_page mine = gt_own_page(f.sim, f.b);
    memset(mine.va, 0xc3, 4096);
    gnttab_copy_t cp[2] = {
        { .source = { .u.gmfn = mine.pfn, .domid = DOMID_SELF },
          .dest = { .u.ref = (grant_ref_t)g.ref, .domid = f.a, .offset = 16 },
          .len = 100, .flags = GNTCOPY_dest_gref, .status = 99 },
        { .source = { .u.gmfn = mine.pfn, .domid = DOMID_SELF },
          .dest = { .u.ref = (grant_ref_t)g.ref, .domid = f.a, .offset = 4000 },
          .len = 100, .flags = GNTCOPY_dest_gref, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_copy, mis_put(&a, BATCH_OFF, cp, sizeof(cp)), 2), 0);
    mis_get(&a, cp, sizeof(cp));
    ck_assert_int_eq(cp[0].status, GNTST_okay);
    ck_assert_int_eq(cp[1].status, GNTST_bad_copy_arg);
    ck_assert_uint_eq(g.page[15], 0x5a);
    ck_assert_uint_eq(g.page[16], 0xc3);
    ck_assert_uint_eq(g.page[115], 0xc3);
    ck_assert_uint_eq(g.page[116], 0x5a);

    /* A second mapping goes with unmap_and_replace, the first with unmap;
     * a bad handle beside each says its status went to its own slot. */
    gnttab_map_grant_ref_t m2;
    ck_assert_int_eq(gt_map(f.sim, f.b, f.a, g.ref, GNTMAP_host_map, &m2), GNTST_okay);
    gnttab_unmap_and_replace_t ur[2] = {
        { .host_addr = 0, .handle = 12345, .status = 99 },
        { .host_addr = m2.host_addr, .handle = m2.handle, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_and_replace, mis_put(&a, BATCH_OFF, ur, sizeof(ur)), 2), 0);
    mis_get(&a, ur, sizeof(ur));
    ck_assert_int_eq(ur[0].status, GNTST_bad_handle);
    ck_assert_int_eq(ur[1].status, GNTST_okay);
    gnttab_unmap_grant_ref_t um[2] = {
        { .host_addr = mp[0].host_addr, .handle = mp[0].handle, .status = 99 },
        { .host_addr = mp[0].host_addr, .handle = 12345, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_unmap_grant_ref, mis_put(&a, BATCH_OFF, um, sizeof(um)), 2), 0);
    mis_get(&a, um, sizeof(um));
    ck_assert_int_eq(um[0].status, GNTST_okay);
    ck_assert_int_eq(um[1].status, GNTST_bad_handle);
    ck_assert_uint_eq(gt_maptrack(f.sim, f.b), 0);

    /* Transfers that fail in two ways, each status in its slot: to no
     * domain (the page is lost: zeroed and back in b's allocator) and of a
     * frame that is not b's RAM (kept). */
    struct gt_page lost = { 0 };
    th_call(f.sim, f.b, 0, page_fn, &lost);
    ck_assert_ptr_nonnull(lost.va);
    struct xensim_domain_info ib = gt_info(f.sim, f.b);
    gnttab_transfer_t xf[2] = {
        { .mfn = lost.pfn, .domid = GT_NODOM, .ref = 100, .status = 99 },
        { .mfn = ib.nr_pages, .domid = f.a, .ref = 100, .status = 99 },
    };
    ck_assert_int_eq(gt_op(f.sim, f.b, GNTTABOP_transfer, mis_put(&a, BATCH_OFF, xf, sizeof(xf)), 2), 0);
    mis_get(&a, xf, sizeof(xf));
    ck_assert_int_eq(xf[0].status, GNTST_bad_domain);
    ck_assert_int_eq(xf[1].status, GNTST_bad_page);
    gt_sim_free(f.sim);
}
END_TEST

/* Every event channel op and the sched and callback ops that take a
 * struct: the same answers through misaligned structs. */
START_TEST(evtchn_sched_misaligned)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "a", false, XENSIM_GNTTAB_STRICT);
    static struct mis m, n;

    evtchn_alloc_unbound_t au = { .dom = DOMID_SELF, .remote_dom = 0 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_alloc_unbound, mis_put(&m, MIS_OFF, &au, sizeof(au)), 0), 0);
    mis_get(&m, &au, sizeof(au));
    ck_assert_uint_gt(au.port, 0);
    evtchn_status_t st = { .dom = DOMID_SELF, .port = au.port };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_status, mis_put(&m, MIS_OFF, &st, sizeof(st)), 0), 0);
    mis_get(&m, &st, sizeof(st));
    ck_assert_uint_eq(st.status, EVTCHNSTAT_unbound);
    ck_assert_uint_eq(st.u.unbound.dom, 0);

    evtchn_bind_ipi_t ipi = { .vcpu = 0 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_bind_ipi, mis_put(&m, MIS_OFF, &ipi, sizeof(ipi)), 0), 0);
    mis_get(&m, &ipi, sizeof(ipi));
    ck_assert_uint_gt(ipi.port, 0);
    evtchn_bind_vcpu_t bv = { .port = au.port, .vcpu = 0 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_bind_vcpu, mis_put(&m, MIS_OFF, &bv, sizeof(bv)), 0), 0);
    evtchn_send_t sd = { .port = ipi.port };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_send, mis_put(&m, MIS_OFF, &sd, sizeof(sd)), 0), 0);
    evtchn_unmask_t un = { .port = ipi.port };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_unmask, mis_put(&m, MIS_OFF, &un, sizeof(un)), 0), 0);

    /* The IPI is pending: a poll on it, with a misaligned port list in a
     * misaligned struct, returns at once. */
    evtchn_port_t port = ipi.port;
    struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
    set_xen_guest_handle(sp.ports, (evtchn_port_t *)mis_put(&n, MIS_OFF, &port, sizeof(port)));
    ck_assert_int_eq(hc(sim, a, HC_SCHED, SCHEDOP_poll, mis_put(&m, MIS_OFF, &sp, sizeof(sp)), 0), 0);

    evtchn_close_t cl = { .port = ipi.port };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_close, mis_put(&m, MIS_OFF, &cl, sizeof(cl)), 0), 0);
    cl.port = au.port;
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_close, mis_put(&m, MIS_OFF, &cl, sizeof(cl)), 0), 0);
    evtchn_bind_virq_t bvq = { .virq = VIRQ_TIMER, .vcpu = 0 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_bind_virq, mis_put(&m, MIS_OFF, &bvq, sizeof(bvq)), 0), 0);
    mis_get(&m, &bvq, sizeof(bvq));
    ck_assert_uint_gt(bvq.port, 0);
    evtchn_reset_t rs = { .dom = DOMID_SELF };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_reset, mis_put(&m, MIS_OFF, &rs, sizeof(rs)), 0), 0);
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, a, &info), 0);
    ck_assert_uint_eq(info.ports_in_use, 0);   /* the builder's two as well */

    evtchn_bind_interdomain_t bi = { .remote_dom = a, .remote_port = 0 };
    ck_assert_int_eq(hc(sim, 0, HC_EVTCHN, EVTCHNOP_bind_interdomain, mis_put(&m, MIS_OFF, &bi, sizeof(bi)), 0), -EINVAL);

    struct sched_remote_shutdown rsd = { .domain_id = EV_NODOM, .reason = SHUTDOWN_poweroff };
    ck_assert_int_eq(hc(sim, 0, HC_SCHED, SCHEDOP_remote_shutdown, mis_put(&m, MIS_OFF, &rsd, sizeof(rsd)), 0), -ESRCH);
    struct callback_register cb = { .type = CALLBACKTYPE_nmi };
    ck_assert_int_eq(hc(sim, a, HC_CALLBACK, CALLBACKOP_register, mis_put(&m, MIS_OFF, &cb, sizeof(cb)), 0), 0);
    struct callback_unregister cu = { .type = CALLBACKTYPE_event };
    ck_assert_int_eq(hc(sim, a, HC_CALLBACK, CALLBACKOP_unregister, mis_put(&m, MIS_OFF, &cu, sizeof(cu)), 0), -EINVAL);
    th_sim_free_checked(sim);
}
END_TEST

/* The FIFO ops: the switch, its link_bits answer in its misaligned slot,
 * an event array page and a priority, each through a misaligned struct. */
START_TEST(fifo_misaligned)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "a", false, XENSIM_GNTTAB_STRICT);
    static struct mis m;
    struct gt_page cb = { 0 }, arr = { 0 };
    th_call(sim, a, 0, page_fn, &cb);
    th_call(sim, a, 0, page_fn, &arr);
    ck_assert_ptr_nonnull(cb.va);
    ck_assert_ptr_nonnull(arr.va);

    evtchn_init_control_t ic = { .control_gfn = cb.pfn, .offset = 0, .vcpu = 0,
                                 .link_bits = 0xa5 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_init_control, mis_put(&m, MIS_OFF, &ic, sizeof(ic)), 0), 0);
    mis_get(&m, &ic, sizeof(ic));
    ck_assert_uint_eq(ic.link_bits, EVTCHN_FIFO_LINK_BITS);
    evtchn_expand_array_t ea = { .array_gfn = arr.pfn };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_expand_array, mis_put(&m, MIS_OFF, &ea, sizeof(ea)), 0), 0);

    evtchn_alloc_unbound_t au = { .dom = DOMID_SELF, .remote_dom = 0 };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_alloc_unbound, mis_put(&m, MIS_OFF, &au, sizeof(au)), 0), 0);
    mis_get(&m, &au, sizeof(au));
    evtchn_set_priority_t sp = { .port = au.port, .priority = EVTCHN_FIFO_PRIORITY_MIN };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_set_priority, mis_put(&m, MIS_OFF, &sp, sizeof(sp)), 0), 0);
    sp.priority = EVTCHN_FIFO_PRIORITY_MIN + 1;
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_set_priority, mis_put(&m, MIS_OFF, &sp, sizeof(sp)), 0), -EINVAL);
    evtchn_close_t cl = { .port = au.port };
    ck_assert_int_eq(hc(sim, a, HC_EVTCHN, EVTCHNOP_close, mis_put(&m, MIS_OFF, &cl, sizeof(cl)), 0), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * Pointers no guest can own: the kernel half, the top of the address
 * space where an argument array would wrap, and a mapped page nobody may
 * touch (the copy faults). Every op answers -EFAULT (or the status Xen
 * gives a bad frame list) in every build, ThreadSanitizer's included, and
 * the guest lives on.
 */
static const uintptr_t bad_ptrs[] = {
    0xffff800000000000ull, 0xffffffffffff0000ull, UINTPTR_MAX - 15, 0,
};

static void *bad_ptr(int i)
{
    if (bad_ptrs[i])
        return (void *)bad_ptrs[i];
    void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return p;
}

#define BAD_PTR bad

struct bad_row { enum hc_kind kind; int cmd; unsigned int count; };

static const struct bad_row bad_rows[] = {
    { HC_GNTTAB, GNTTABOP_map_grant_ref, 2 },
    { HC_GNTTAB, GNTTABOP_unmap_grant_ref, 2 },
    { HC_GNTTAB, GNTTABOP_setup_table, 1 },
    { HC_GNTTAB, GNTTABOP_copy, 2 },
    { HC_GNTTAB, GNTTABOP_query_size, 1 },
    { HC_GNTTAB, GNTTABOP_set_version, 1 },
    { HC_GNTTAB, GNTTABOP_get_status_frames, 1 },
    { HC_GNTTAB, GNTTABOP_get_version, 1 },
    { HC_GNTTAB, GNTTABOP_swap_grant_ref, 2 },
    { HC_GNTTAB, GNTTABOP_transfer, 2 },
    { HC_GNTTAB, GNTTABOP_unmap_and_replace, 2 },
    { HC_GNTTAB, GNTTABOP_cache_flush, 2 },
    { HC_EVTCHN, EVTCHNOP_alloc_unbound, 0 },
    { HC_EVTCHN, EVTCHNOP_bind_interdomain, 0 },
    { HC_EVTCHN, EVTCHNOP_bind_virq, 0 },
    { HC_EVTCHN, EVTCHNOP_close, 0 },
    { HC_EVTCHN, EVTCHNOP_send, 0 },
    { HC_EVTCHN, EVTCHNOP_status, 0 },
    { HC_EVTCHN, EVTCHNOP_bind_ipi, 0 },
    { HC_EVTCHN, EVTCHNOP_bind_vcpu, 0 },
    { HC_EVTCHN, EVTCHNOP_unmask, 0 },
    { HC_EVTCHN, EVTCHNOP_reset, 0 },
    { HC_EVTCHN, EVTCHNOP_init_control, 0 },
    { HC_EVTCHN, EVTCHNOP_expand_array, 0 },
    { HC_EVTCHN, EVTCHNOP_set_priority, 0 },
    { HC_SCHED, SCHEDOP_shutdown, 0 },
    { HC_SCHED, SCHEDOP_poll, 0 },
    { HC_SCHED, SCHEDOP_remote_shutdown, 0 },
    { HC_CALLBACK, CALLBACKOP_register, 0 },
    { HC_CALLBACK, CALLBACKOP_unregister, 0 },
};

START_TEST(bad_pointers_fault)
{
    struct xensim *sim = th_sim_new();
    domid_t a = th_domain(sim, "a", true, XENSIM_GNTTAB_STRICT);
    void *bad = bad_ptr(_i);
    for (size_t r = 0; r < sizeof(bad_rows) / sizeof(bad_rows[0]); r++) {
        const struct bad_row *row = &bad_rows[r];
        ck_assert_msg(hc(sim, a, row->kind, row->cmd, BAD_PTR, row->count) == -EFAULT,
                      "row %zu (kind %d cmd %d) at %p", r, row->kind, row->cmd, BAD_PTR);
    }
    /* Valid op structs naming bad arrays: the frame lists, each given
     * bad_virt_addr for a frame it cannot take, unless Xen's own range
     * makes the handle bad at once (-EFAULT, nothing written). */
    uintptr_t ba = (uintptr_t)BAD_PTR;
    bool xen_range = ba >= HYPERVISOR_VIRT_START && ba < HYPERVISOR_VIRT_END;
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = 2, .status = 99 };
    set_xen_guest_handle(st.frame_list, (xen_pfn_t *)BAD_PTR);
    ck_assert_int_eq(hc(sim, a, HC_GNTTAB, GNTTABOP_setup_table, &st, 1), xen_range ? -EFAULT : 0);
    ck_assert_int_eq(st.status, xen_range ? 99 : GNTST_bad_virt_addr);
    gnttab_set_version_t sv = { .version = 2 };
    ck_assert_int_eq(hc(sim, a, HC_GNTTAB, GNTTABOP_set_version, &sv, 1), 0);
    gnttab_get_status_frames_t gs = { .nr_frames = 1, .dom = DOMID_SELF, .status = 99 };
    set_xen_guest_handle(gs.frame_list, (uint64_t *)BAD_PTR);
    ck_assert_int_eq(hc(sim, a, HC_GNTTAB, GNTTABOP_get_status_frames, &gs, 1),
                     xen_range ? -EFAULT : 0);
    ck_assert_int_eq(gs.status, xen_range ? 99 : GNTST_bad_virt_addr);
    struct sched_poll sp = { .nr_ports = 2 };
    set_xen_guest_handle(sp.ports, (evtchn_port_t *)BAD_PTR);
    ck_assert_int_eq(hc(sim, a, HC_SCHED, SCHEDOP_poll, &sp, 0), -EFAULT);

    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(sim, a, &info), 0);
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    ck_assert_uint_eq(th_ports_in_use(sim, a), 0);
    th_sim_free_checked(sim);
}
END_TEST

/*
 * vCPUs that loop in guest code without hypercalls. Xen deschedules them
 * on destroy; here destroy must stop them too, from wherever the loop
 * is, without unwinding one that is inside the simulator, inside libc or
 * inside the narrator (host code with its own lock), and every entry
 * point that destroys must do it: xensim_domain_destroy, xensim_destroy,
 * and destroy after xensim_domain_shutdown.
 */
enum loop_kind {
    LOOP_SPIN,          /* pure computation */
    LOOP_LIBC,          /* malloc/free and rand(), which hold libc locks */
    LOOP_NARRATE,       /* the narrator, under its own lock */
    LOOP_HELPERS,       /* guest.h helpers under sim locks */
    LOOP_UPCALL,        /* spinning in the event upcall */
    LOOP_HYPERCALL,     /* the control: SCHEDOP_yield, a boundary each time */
    LOOP_KINDS
};
enum stop_how { STOP_DESTROY, STOP_SIM_DESTROY, STOP_SHUTDOWN_DESTROY, STOP_HOWS };

#define LOOP_VCPUS 2
static atomic_uint spinning;              /* vCPUs that reached their loop */
static void *kept[LOOP_VCPUS];            /* reachable if unwound after malloc */
static pthread_mutex_t narr_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long narr_lines;

static void narrator(const char *line, void *arg)
{
    (void)line;
    (void)arg;
    pthread_mutex_lock(&narr_lock);
    narr_lines++;
    pthread_mutex_unlock(&narr_lock);
}

static void spin_forever(void)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
}

static void upcall_spin(evtchn_port_t port, void *arg)
{
    (void)port;
    (void)arg;
    atomic_fetch_add(&spinning, 1);
    spin_forever();
}

static void loop_entry(void *arg)
{
    enum loop_kind kind = (enum loop_kind)(uintptr_t)arg;
    unsigned int me = xensim_guest_vcpu_id();
    if (kind == LOOP_UPCALL) {
        long port = xensim_evtchn_bind_ipi(me);
        ck_assert_int_gt(port, 0);
        ck_assert_int_eq(xensim_irq_bind((evtchn_port_t)port, upcall_spin, NULL), 0);
        xensim_evtchn_send((evtchn_port_t)port);
        ck_abort_msg("returned from the upcall");
    }
    atomic_fetch_add(&spinning, 1);
    for (unsigned long n = 0;; n++) {
        switch (kind) {
        case LOOP_LIBC: {
            char buf[32];
            /* posix_memalign stores the block before it returns, so it is
             * never only in a register when the loop is stopped. */
            if (!posix_memalign(&kept[me], 16, 64))
                free(kept[me]);
            kept[me] = NULL;
            snprintf(buf, sizeof(buf), "%d", rand());
            break;
        }
        case LOOP_NARRATE:
            xensim_narrate("spin %lu", n);
            break;
        case LOOP_HELPERS: {
            long ref = xensim_gnttab_alloc_ref();
            if (ref >= 0)
                xensim_gnttab_free_ref((grant_ref_t)ref);
            xen_pfn_t pfn;
            if (!xensim_guest_page_alloc(&pfn))
                xensim_guest_page_free(pfn);
            break;
        }
        case LOOP_HYPERCALL:
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
            break;
        default:
            spin_forever();
        }
    }
}

static domid_t looping_domain(struct xensim *sim, enum loop_kind kind)
{
    atomic_store(&spinning, 0);
    struct xensim_domain_config cfg = {
        .name = "looper", .nr_vcpus = LOOP_VCPUS, .entry = loop_entry,
        .entry_arg = (void *)(uintptr_t)kind,
    };
    domid_t d = th_domain_cfg(sim, &cfg);
    while (atomic_load(&spinning) < LOOP_VCPUS)
        sched_yield();
    return d;
}

/* Nothing the stopped vCPUs were in the middle of is left held. */
static void process_still_healthy(void)
{
    ck_assert_int_eq(pthread_mutex_trylock(&narr_lock), 0);
    pthread_mutex_unlock(&narr_lock);
    (void)rand();
    free(malloc(100));
    struct xensim *sim = th_sim_new();
    domid_t d = th_domain(sim, "after", false, XENSIM_GNTTAB_STRICT);
    ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
    th_sim_free_checked(sim);
}

START_TEST(looping_guest_is_stopped)
{
    enum loop_kind kind = (enum loop_kind)(_i / STOP_HOWS);
    enum stop_how how = (enum stop_how)(_i % STOP_HOWS);
    struct xensim *sim = th_sim_new();
    xensim_set_narrator(sim, narrator, NULL, XENSIM_NARRATE_GUEST);
    domid_t d = looping_domain(sim, kind);
    switch (how) {
    case STOP_DESTROY:
        ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
        break;
    case STOP_SIM_DESTROY:
        break;
    case STOP_SHUTDOWN_DESTROY:
        ck_assert_int_eq(xensim_domain_shutdown(sim, d, SHUTDOWN_reboot), 0);
        ck_assert_int_eq(xensim_domain_wait_shutdown(sim, d), SHUTDOWN_reboot);
        ck_assert_int_eq(xensim_domain_destroy(sim, d), 0);
        break;
    default:
        ck_abort();
    }
    /* The looper still holds what its loop was using (the IPI it spins
     * on, a page between alloc and free) until xensim_destroy takes the
     * domain: the leak check is for what outlives it. */
    if (how == STOP_SIM_DESTROY)
        xensim_destroy(sim);
    else
        th_sim_free_checked(sim);
    process_still_healthy();
}
END_TEST

/* A toolstack call that never returns is guest code like any other: the
 * caller gets -ESHUTDOWN once the domain is destroyed. */
struct stuck_call { struct xensim *sim; domid_t d; int rc; };

static void call_spin(void *arg)
{
    (void)arg;
    atomic_fetch_add(&spinning, 1);
    spin_forever();
}

static void *stuck_caller(void *p)
{
    struct stuck_call *s = p;
    s->rc = xensim_domain_call(s->sim, s->d, 0, call_spin, NULL);
    return NULL;
}

START_TEST(looping_call_is_stopped)
{
    struct xensim *sim = th_sim_new();
    struct stuck_call s = { .sim = sim, .d = th_domain(sim, "idle", false, XENSIM_GNTTAB_STRICT),
                            .rc = -9999 };
    pthread_t t;
    atomic_store(&spinning, 0);
    ck_assert_int_eq(pthread_create(&t, NULL, stuck_caller, &s), 0);
    while (atomic_load(&spinning) < 1)
        sched_yield();
    ck_assert_int_eq(xensim_domain_destroy(sim, s.d), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(s.rc, -ESHUTDOWN);
    th_sim_free_checked(sim);
    process_still_healthy();
}
END_TEST

static Suite *hostile_core_suite(void)
{
    Suite *s = suite_create("hostile_core");
    TCase *tc = tcase_create("misaligned");
    tcase_add_loop_test(tc, gnttab_table_ops_misaligned, 1, 8);
    tcase_add_loop_test(tc, gnttab_batches_misaligned, 0, 16);
    tcase_add_loop_test(tc, evtchn_sched_misaligned, 1, 8);
    tcase_add_loop_test(tc, fifo_misaligned, 1, 8);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad_pointers");
    tcase_add_loop_test(tc, bad_pointers_fault, 0, (int)(sizeof(bad_ptrs) / sizeof(bad_ptrs[0])));
    suite_add_tcase(s, tc);
    tc = tcase_create("looping_guest");
    tcase_add_loop_test(tc, looping_guest_is_stopped, 0, LOOP_KINDS * STOP_HOWS);
    tcase_add_test(tc, looping_call_is_stopped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hostile_core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
