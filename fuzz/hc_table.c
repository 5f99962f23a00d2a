/*
 * The rows of fuzz_hypercall's ABI table (hc_table.h): event channel,
 * grant table and scheduler operations with Xen's structs, and the pokes
 * a guest makes into its own grant entries, shared_info and the pages it
 * gave for FIFO events. Left out on
 * purpose: SCHEDOP_shutdown and remote_shutdown (they end the domains
 * the run needs), SCHEDOP_block (it would wait for an event nobody
 * sends), set_timer_op (its event comes at a time no input decides) and
 * CALLBACKOP (an upcall address is a host function pointer here).
 */
#include <string.h>
#include "hc_table.h"

/* A status Xen never writes: the element was not reached. */
#define HC_NOT_DONE 1

static uint8_t u8(struct hc_pick *p)
{
    return fz_u8(p->in);
}

static uint32_t small_or_raw(struct hc_pick *p, uint32_t mod)
{
    uint8_t b = u8(p);
    return b >= 0xf0 ? fz_u32(p->in) : b % mod;
}

/* Event channels. */

static void fill_alloc_unbound(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_alloc_unbound *a = arg;
    a->dom = u8(p) & 1 ? DOMID_SELF : p->domid(p);
    a->remote_dom = p->domid(p);
}

static void done_alloc_unbound(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)n;
    const struct evtchn_alloc_unbound *a = arg;
    if (rc == 0)
        p->new_port(p, a->dom == DOMID_SELF ? p->self : a->dom, a->port);
}

static void fill_bind_interdomain(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_bind_interdomain *a = arg;
    a->remote_dom = p->domid(p);
    a->remote_port = p->port(p, a->remote_dom == DOMID_SELF ? p->self : a->remote_dom);
}

static void done_bind_interdomain(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)n;
    const struct evtchn_bind_interdomain *a = arg;
    if (rc == 0)
        p->new_port(p, p->self, a->local_port);
}

static void fill_bind_virq(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_bind_virq *a = arg;
    a->virq = small_or_raw(p, NR_VIRQS + 2);
    a->vcpu = small_or_raw(p, 3);
}

static void done_bind_virq(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)n;
    const struct evtchn_bind_virq *a = arg;
    if (rc == 0)
        p->new_port(p, p->self, a->port);
}

static void fill_bind_ipi(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_bind_ipi *a = arg;
    a->vcpu = small_or_raw(p, 3);
}

static void done_bind_ipi(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)n;
    const struct evtchn_bind_ipi *a = arg;
    if (rc == 0)
        p->new_port(p, p->self, a->port);
}

/* Every op whose argument starts with one port of the caller's. */
static void fill_port(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    *(evtchn_port_t *)arg = p->port(p, p->self);
}

static void fill_status(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_status *a = arg;
    a->dom = p->domid(p);
    a->port = p->port(p, a->dom == DOMID_SELF ? p->self : a->dom);
}

static void fill_bind_vcpu(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_bind_vcpu *a = arg;
    a->port = p->port(p, p->self);
    a->vcpu = small_or_raw(p, 3);
}

static void fill_reset(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_reset *a = arg;
    a->dom = p->domid(p);
}

static void fill_bind_pirq(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_bind_pirq *a = arg;
    a->pirq = small_or_raw(p, 16);
    a->flags = u8(p);
}

static void fill_init_control(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_init_control *a = arg;
    a->control_gfn = p->own_frame(p);
    a->offset = small_or_raw(p, 4096);
    a->vcpu = small_or_raw(p, 3);
}

static void fill_expand_array(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_expand_array *a = arg;
    a->array_gfn = p->own_frame(p);
}

static void fill_set_priority(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct evtchn_set_priority *a = arg;
    a->port = p->port(p, p->self);
    a->priority = small_or_raw(p, 18);
}

/* Grant tables. */

static uint32_t map_flags(struct hc_pick *p)
{
    uint8_t b = u8(p);
    if (b >= 0xf8)
        return fz_u32(p->in);
    return (b & 1 ? GNTMAP_host_map : 0) | (b & 2 ? GNTMAP_device_map : 0) |
           (b & 4 ? GNTMAP_readonly : 0) | (b & 8 ? GNTMAP_application_map : 0) |
           (b & 16 ? GNTMAP_contains_pte : 0) | (!(b & 0x60) ? GNTMAP_host_map : 0);
}

static void fill_map(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_map_grant_ref_t *a = arg;
    a->flags = map_flags(p);
    a->dom = p->domid(p);
    a->ref = p->ref(p, a->dom);
    if (u8(p) >= 0xf0)
        a->host_addr = fz_u64(p->in);
}

static void done_map(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)rc;
    const gnttab_map_grant_ref_t *a = arg;
    for (unsigned int i = 0; i < n; i++)
        if (a[i].status == GNTST_okay)
            p->new_mapping(p, a[i].handle, a[i].host_addr, a[i].dev_bus_addr);
}

static void fill_unmap(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_unmap_grant_ref_t *a = arg;
    p->mapping(p, &a->handle, &a->host_addr, &a->dev_bus_addr);
    uint8_t b = u8(p);
    if (b & 1)
        a->host_addr = 0;
    if (b & 2)
        a->dev_bus_addr = 0;
    if (b & 4)
        a->dev_bus_addr = b & 8 ? fz_u64(p->in) : (uint64_t)p->own_frame(p) << 12;
}

static void fill_setup_table(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_setup_table_t *a = arg;
    a->dom = u8(p) & 1 ? DOMID_SELF : p->domid(p);
    a->nr_frames = small_or_raw(p, 8);
    set_xen_guest_handle(a->frame_list,
                         (xen_pfn_t *)p->buffer(p, NULL, (a->nr_frames < 64 ? a->nr_frames : 64) *
                                                            sizeof(xen_pfn_t)));
}

static void fill_dump_table(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_dump_table_t *a = arg;
    a->dom = p->domid(p);
}

static void fill_transfer(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_transfer_t *a = arg;
    a->mfn = p->own_frame(p);
    a->domid = p->domid(p);
    a->ref = p->ref(p, a->domid);
    a->status = HC_NOT_DONE;
}

/* Elements after a fault keep HC_NOT_DONE: Xen did not reach them. */
static void done_transfer(struct hc_pick *p, const void *arg, unsigned int n, long rc)
{
    (void)rc;
    const gnttab_transfer_t *a = arg;
    for (unsigned int i = 0; i < n; i++)
        if (a[i].status != HC_NOT_DONE)
            p->gave_page(p, a[i].mfn, a[i].domid == DOMID_SELF ? p->self : a[i].domid,
                         a[i].ref, a[i].status);
}

static void copy_side(struct hc_pick *p, struct gnttab_copy_ptr *s, bool gref)
{
    s->domid = gref || u8(p) & 1 ? p->domid(p) : DOMID_SELF;
    if (gref)
        s->u.ref = p->ref(p, s->domid);
    else
        s->u.gmfn = p->own_frame(p);
    s->offset = (uint16_t)small_or_raw(p, 4096);
}

static void fill_copy(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_copy_t *a = arg;
    uint8_t f = u8(p);
    a->flags = f >= 0xf0 ? (uint16_t)fz_u16(p->in)
                         : (f & 1 ? GNTCOPY_source_gref : 0) | (f & 2 ? GNTCOPY_dest_gref : 0);
    copy_side(p, &a->source, a->flags & GNTCOPY_source_gref);
    copy_side(p, &a->dest, a->flags & GNTCOPY_dest_gref);
    a->len = (uint16_t)small_or_raw(p, 4097);
}

static void fill_query_size(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_query_size_t *a = arg;
    a->dom = p->domid(p);
}

static void fill_set_version(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_set_version_t *a = arg;
    a->version = small_or_raw(p, 4);
}

static void fill_get_status_frames(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_get_status_frames_t *a = arg;
    a->dom = p->domid(p);
    a->nr_frames = small_or_raw(p, 4);
    set_xen_guest_handle(a->frame_list,
                         (uint64_t *)p->buffer(p, NULL, (a->nr_frames < 64 ? a->nr_frames : 64) *
                                                           sizeof(uint64_t)));
}

static void fill_get_version(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_get_version_t *a = arg;
    a->dom = p->domid(p);
}

static void fill_swap(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_swap_grant_ref_t *a = arg;
    a->ref_a = p->ref(p, p->self);
    a->ref_b = p->ref(p, p->self);
}

static void fill_cache_flush(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    gnttab_cache_flush_t *a = arg;
    a->op = small_or_raw(p, 8);
    if (a->op & GNTTAB_CACHE_SOURCE_GREF)
        a->a.ref = p->ref(p, p->domid(p));
    else
        a->a.dev_bus_addr = (uint64_t)p->own_frame(p) << 12;
    a->offset = (uint16_t)small_or_raw(p, 4096);
    a->length = (uint16_t)small_or_raw(p, 4097);
}

/* Scheduler. */

static void fill_nothing(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)p;
    (void)arg;
    (void)i;
}

/* The timeout is forced to the past: a poll returns at once whatever its
 * ports, so no input can make it wait on time. */
static void fill_poll(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)i;
    struct sched_poll *a = arg;
    unsigned int n = small_or_raw(p, 5);
    evtchn_port_t ports[8];
    for (unsigned int k = 0; k < n && k < 8; k++)
        ports[k] = p->port(p, p->self);
    set_xen_guest_handle(a->ports, (evtchn_port_t *)p->buffer(p, ports, (n < 8 ? n : 8) *
                                                                            sizeof(ports[0])));
    a->nr_ports = n;
    a->timeout = 1;
}

/* Pokes: what a guest writes into its own shared pages, the hypervisor
 * reading them at any time. */

static void fill_poke_grant(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)arg;
    (void)i;
    unsigned int nr;
    grant_entry_v1_t *e = p->entries(p, &nr);
    grant_ref_t ref = p->ref(p, p->self);
    if (!e || ref >= nr)
        return;
    uint8_t b = u8(p);
    static const uint16_t flags[] = {
        GTF_permit_access, GTF_permit_access | GTF_readonly, 0, GTF_accept_transfer,
        GTF_permit_access | GTF_sub_page, GTF_transitive, GTF_permit_access | GTF_reading,
        GTF_permit_access | GTF_writing,
    };
    e[ref].domid = p->domid(p);
    e[ref].frame = (uint32_t)p->own_frame(p);
    __atomic_store_n(&e[ref].flags, b >= 0xf0 ? fz_u16(p->in) : flags[b % 8], __ATOMIC_RELEASE);
}

/* A byte of the event channel part of shared_info (the vcpu_info of each
 * vCPU, then the pending and mask words), anything at all. */
static void fill_poke_shared(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)arg;
    (void)i;
    uint8_t *si = p->shared_info(p);
    if (!si)
        return;
    unsigned int off = fz_u16(p->in) % 2560;
    si[off] = u8(p);
}

/* A word of a scratch page, which the hypervisor may be using as a FIFO
 * control block (READY bits, head[] per priority) or as an event array
 * page (PENDING, MASKED, LINKED, BUSY and LINK in each word) while the
 * guest rewrites it, as Xen must expect. */
static void fill_poke_scratch(struct hc_pick *p, void *arg, unsigned int i)
{
    (void)arg;
    (void)i;
    uint32_t *w = p->scratch_page(p);
    unsigned int at = fz_u16(p->in) % 1024;
    uint8_t b = u8(p);
    uint32_t v = b < 0x40 ? 1u << (b % 32) : b < 0x80 ? b % 64 : fz_u32(p->in);
    switch (b >> 6) {
    case 0: __atomic_fetch_or(&w[at], v, __ATOMIC_SEQ_CST); break;
    case 1: __atomic_fetch_and(&w[at], ~(1u << (b % 32)), __ATOMIC_SEQ_CST); break;
    default: __atomic_store_n(&w[at], v, __ATOMIC_SEQ_CST); break;
    }
}

#define ROW(k, c, type, b, f, d) { #c, k, c, sizeof(type), b, f, d }

const struct hc_row hc_rows[] = {
    ROW(HC_EVTCHN, EVTCHNOP_alloc_unbound, struct evtchn_alloc_unbound, false,
        fill_alloc_unbound, done_alloc_unbound),
    ROW(HC_EVTCHN, EVTCHNOP_bind_interdomain, struct evtchn_bind_interdomain, false,
        fill_bind_interdomain, done_bind_interdomain),
    ROW(HC_EVTCHN, EVTCHNOP_bind_virq, struct evtchn_bind_virq, false, fill_bind_virq,
        done_bind_virq),
    ROW(HC_EVTCHN, EVTCHNOP_bind_ipi, struct evtchn_bind_ipi, false, fill_bind_ipi,
        done_bind_ipi),
    ROW(HC_EVTCHN, EVTCHNOP_close, struct evtchn_close, false, fill_port, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_send, struct evtchn_send, false, fill_port, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_send, struct evtchn_send, false, fill_port, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_status, struct evtchn_status, false, fill_status, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_bind_vcpu, struct evtchn_bind_vcpu, false, fill_bind_vcpu, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_unmask, struct evtchn_unmask, false, fill_port, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_reset, struct evtchn_reset, false, fill_reset, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_bind_pirq, struct evtchn_bind_pirq, false, fill_bind_pirq, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_init_control, struct evtchn_init_control, false,
        fill_init_control, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_expand_array, struct evtchn_expand_array, false,
        fill_expand_array, NULL),
    ROW(HC_EVTCHN, EVTCHNOP_set_priority, struct evtchn_set_priority, false,
        fill_set_priority, NULL),
    ROW(HC_GNTTAB, GNTTABOP_map_grant_ref, gnttab_map_grant_ref_t, true, fill_map, done_map),
    ROW(HC_GNTTAB, GNTTABOP_map_grant_ref, gnttab_map_grant_ref_t, true, fill_map, done_map),
    ROW(HC_GNTTAB, GNTTABOP_unmap_grant_ref, gnttab_unmap_grant_ref_t, true, fill_unmap, NULL),
    ROW(HC_GNTTAB, GNTTABOP_setup_table, gnttab_setup_table_t, false, fill_setup_table, NULL),
    ROW(HC_GNTTAB, GNTTABOP_dump_table, gnttab_dump_table_t, false, fill_dump_table, NULL),
    ROW(HC_GNTTAB, GNTTABOP_transfer, gnttab_transfer_t, true, fill_transfer,
        done_transfer),
    ROW(HC_GNTTAB, GNTTABOP_copy, gnttab_copy_t, true, fill_copy, NULL),
    ROW(HC_GNTTAB, GNTTABOP_copy, gnttab_copy_t, true, fill_copy, NULL),
    ROW(HC_GNTTAB, GNTTABOP_query_size, gnttab_query_size_t, false, fill_query_size, NULL),
    ROW(HC_GNTTAB, GNTTABOP_set_version, gnttab_set_version_t, false, fill_set_version, NULL),
    ROW(HC_GNTTAB, GNTTABOP_get_status_frames, gnttab_get_status_frames_t, false,
        fill_get_status_frames, NULL),
    ROW(HC_GNTTAB, GNTTABOP_get_version, gnttab_get_version_t, false, fill_get_version, NULL),
    ROW(HC_GNTTAB, GNTTABOP_swap_grant_ref, gnttab_swap_grant_ref_t, true, fill_swap, NULL),
    ROW(HC_GNTTAB, GNTTABOP_cache_flush, gnttab_cache_flush_t, true, fill_cache_flush, NULL),
    ROW(HC_SCHED, SCHEDOP_yield, char, false, fill_nothing, NULL),
    ROW(HC_SCHED, SCHEDOP_poll, struct sched_poll, false, fill_poll, NULL),
    ROW(HC_SCHED, SCHEDOP_shutdown_code, struct sched_shutdown, false, fill_nothing, NULL),
    ROW(HC_SCHED, SCHEDOP_watchdog, struct sched_watchdog, false, fill_nothing, NULL),
    ROW(HC_POKE, 0, char, false, fill_poke_grant, NULL),
    ROW(HC_POKE, 0, char, false, fill_poke_grant, NULL),
    ROW(HC_POKE, 1, char, false, fill_poke_shared, NULL),
    ROW(HC_POKE, 2, char, false, fill_poke_scratch, NULL),
    ROW(HC_POKE, 2, char, false, fill_poke_scratch, NULL),
};

const unsigned int hc_nr_rows = sizeof(hc_rows) / sizeof(hc_rows[0]);

_Static_assert(sizeof(gnttab_map_grant_ref_t) <= HC_ARG_BYTES, "map element too big");
_Static_assert(sizeof(gnttab_copy_t) <= HC_ARG_BYTES, "copy element too big");
_Static_assert(sizeof(struct sched_poll) <= HC_ARG_BYTES, "poll too big");
