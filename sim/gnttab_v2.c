/*
 * Grant table v2's layout (Xen's shared_entry_v2 and status_entry):
 * 16-byte entries the guest alone writes, except for the transfer bits,
 * and a separate array of status words where Xen keeps GTF_reading and
 * GTF_writing. A pin sets its status bits, then a full barrier, then
 * re-reads the entry (no compare-exchange and no retry limit), which the
 * guest's revoke mirrors: clear the flags, a barrier, read the status.
 * One of the two gnttab_version_ops; relies on gnttab.h, runs under
 * gt->lock.
 */
#include "gnttab.h"

/* Xen keeps a window's start in 15 bits (act->start). */
#define V2_START_MASK 0x7fffu

static grant_entry_v2_t *v2_entry(const struct grant_table *gt, grant_ref_t ref)
{
    return (grant_entry_v2_t *)gt->shared + ref;
}

static grant_status_t *v2_status(const struct grant_table *gt, grant_ref_t ref)
{
    return gt->status + ref;
}

/* Whether a first pin may use an entry of these flags: permit_access
 * (without GTF_sub_page for a map) or, for a copy, transitive. */
static bool v2_type_ok(uint16_t flags, bool map)
{
    uint16_t mask = GTF_type_mask | (map ? GTF_sub_page : 0);
    return (flags & mask) == GTF_permit_access ||
           (!map && (flags & mask) == GTF_transitive);
}

static int16_t v2_set_status(struct grant_table *gt, grant_ref_t ref, domid_t ldomid,
                             bool pinned, bool readonly, bool map)
{
    grant_entry_header_t *h = &v2_entry(gt, ref)->hdr;
    grant_status_t *st = v2_status(gt, ref);
    uint16_t flags = __atomic_load_n(&h->flags, __ATOMIC_ACQUIRE);
    domid_t domid = __atomic_load_n(&h->domid, __ATOMIC_RELAXED);

    if (!pinned && (!v2_type_ok(flags, map) || domid != ldomid))
        return GNTST_general_error;
    if (!readonly && (flags & GTF_readonly))
        return GNTST_general_error;
    __atomic_fetch_or(st, (grant_status_t)(readonly ? GTF_reading : GTF_reading | GTF_writing),
                      __ATOMIC_RELAXED);
    /* The guest must see the status before we look at the entry again:
     * either it sees our bits, or we see its revoke. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    flags = __atomic_load_n(&h->flags, __ATOMIC_RELAXED);
    domid = __atomic_load_n(&h->domid, __ATOMIC_RELAXED);
    if (!pinned) {
        if (!v2_type_ok(flags, map) || domid != ldomid || (!readonly && (flags & GTF_readonly))) {
            __atomic_fetch_and(st, (grant_status_t)~(GTF_reading | GTF_writing),
                               __ATOMIC_RELEASE);
            return GNTST_general_error;
        }
    } else if (flags & GTF_readonly) {
        /* Xen clears only GTF_writing here, whatever this pin asked for. */
        __atomic_fetch_and(st, (grant_status_t)~GTF_writing, __ATOMIC_RELEASE);
        return GNTST_general_error;
    }
    return GNTST_okay;
}

static void v2_clear_status(struct grant_table *gt, grant_ref_t ref, uint16_t bits)
{
    __atomic_fetch_and(v2_status(gt, ref), (grant_status_t)~bits, __ATOMIC_RELEASE);
}

static void v2_read(const struct grant_table *gt, grant_ref_t ref, struct gnttab_entry *e)
{
    const grant_entry_v2_t *s = v2_entry(gt, ref);
    uint16_t flags = READ_ONCE(s->hdr.flags);

    *e = (struct gnttab_entry){ .flags = flags, .domid = READ_ONCE(s->hdr.domid) };
    if ((flags & GTF_type_mask) == GTF_transitive) {
        e->trans_domid = READ_ONCE(s->transitive.trans_domid);
        e->trans_gref = READ_ONCE(s->transitive.gref);
    } else if (flags & GTF_sub_page) {
        /* Not checked here: a window past the page just fails the copy's
         * bounds checks later, as in Xen. */
        e->frame = READ_ONCE(s->sub_page.frame);
        e->start = READ_ONCE(s->sub_page.page_off) & V2_START_MASK;
        e->length = READ_ONCE(s->sub_page.length);
    } else {
        e->frame = READ_ONCE(s->full_page.frame);
        e->length = XEN_PAGE_SIZE;
    }
}

static xen_pfn_t v2_frame(const struct grant_table *gt, grant_ref_t ref)
{
    return READ_ONCE(v2_entry(gt, ref)->full_page.frame);
}

static uint16_t v2_flags(const struct grant_table *gt, grant_ref_t ref)
{
    return (uint16_t)(__atomic_load_n(&v2_entry(gt, ref)->hdr.flags, __ATOMIC_RELAXED) |
                      __atomic_load_n(v2_status(gt, ref), __ATOMIC_RELAXED));
}

GNTTAB_NO_COVERAGE
static unsigned int v2_count_in_use(const struct grant_table *gt, grant_ref_t from,
                                    grant_ref_t to)
{
    const grant_entry_v2_t *e = v2_entry(gt, 0);
    const grant_status_t *st = v2_status(gt, 0);
    unsigned int n = 0;

    for (grant_ref_t ref = from; ref < to; ref++)
        n += (__atomic_load_n(&e[ref].hdr.flags, __ATOMIC_RELAXED) |
              __atomic_load_n(&st[ref], __ATOMIC_RELAXED)) != 0;
    return n;
}

static void v2_swap(struct grant_table *gt, grant_ref_t a, grant_ref_t b)
{
    grant_entry_v2_t tmp = *v2_entry(gt, a);
    *v2_entry(gt, a) = *v2_entry(gt, b);
    *v2_entry(gt, b) = tmp;
    grant_status_t st = *v2_status(gt, a);
    *v2_status(gt, a) = *v2_status(gt, b);
    *v2_status(gt, b) = st;
}

static void v2_transfer_done(struct grant_table *gt, grant_ref_t ref, xen_pfn_t frame)
{
    grant_entry_v2_t *e = v2_entry(gt, ref);
    __atomic_store_n(&e->full_page.frame, (uint64_t)frame, __ATOMIC_RELAXED);
    __atomic_fetch_or(&e->hdr.flags, (uint16_t)GTF_transfer_completed, __ATOMIC_RELEASE);
}

const struct gnttab_version_ops gnttab_v2_ops = {
    .version = 2,
    .per_frame = GNTTAB_V2_PER_FRAME,
    .entry_size = sizeof(grant_entry_v2_t),
    .set_status = v2_set_status,
    .clear_status = v2_clear_status,
    .read = v2_read,
    .frame = v2_frame,
    .flags = v2_flags,
    .count_in_use = v2_count_in_use,
    .swap = v2_swap,
    .transfer_done = v2_transfer_done,
};
