/*
 * Grant table v1's layout (Xen's shared_entry_v1): 8-byte entries whose
 * flags hold GTF_reading/GTF_writing too, so a pin sets them with a
 * compare-exchange of the (flags, domid) word. One of the two
 * gnttab_version_ops; relies on gnttab.h, runs under gt->lock.
 */
#include "gnttab.h"

/*
 * Xen gives up on an entry whose (flags, domid) word keeps changing under
 * its cmpxchg: a guest rewriting its own entry in a loop must not keep the
 * hypervisor spinning for ever, so after this many attempts the pin fails
 * with GNTST_general_error (_set_status_v1: "retries++ == 4").
 */
#define V1_PIN_ATTEMPTS 5

/* The 32-bit word Xen compare-exchanges: flags and domid together, so that
 * the grantee check and the busy bits are one atomic step. */
union v1_word {
    uint32_t raw;
    struct {
        uint16_t flags;
        domid_t domid;
    } f;
};
typedef uint32_t __attribute__((may_alias)) v1_word_t;

_Static_assert(offsetof(grant_entry_v1_t, flags) == 0 &&
               offsetof(grant_entry_v1_t, domid) == 2,
               "(flags, domid) must form one aligned 32-bit word");

static grant_entry_v1_t *v1_entry(const struct grant_table *gt, grant_ref_t ref)
{
    return (grant_entry_v1_t *)gt->shared + ref;
}

static int16_t v1_set_status(struct grant_table *gt, grant_ref_t ref, domid_t ldomid,
                             bool pinned, bool readonly, bool map)
{
    v1_word_t *word = (v1_word_t *)v1_entry(gt, ref);
    uint16_t mask = GTF_type_mask | (map ? GTF_sub_page : 0);
    union v1_word cur, want;

    cur.raw = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    for (unsigned int attempt = 1;; attempt++) {
        if (!pinned && ((cur.f.flags & mask) != GTF_permit_access || cur.f.domid != ldomid))
            return GNTST_general_error;
        want = cur;
        want.f.flags |= GTF_reading;
        if (!readonly) {
            if (cur.f.flags & GTF_readonly)
                return GNTST_general_error;
            want.f.flags |= GTF_writing;
        }
        if (__atomic_compare_exchange_n(word, &cur.raw, want.raw, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return GNTST_okay;
        if (attempt == V1_PIN_ATTEMPTS)
            return GNTST_general_error;
    }
}

static void v1_clear_status(struct grant_table *gt, grant_ref_t ref, uint16_t bits)
{
    __atomic_fetch_and(&v1_entry(gt, ref)->flags, (uint16_t)~bits, __ATOMIC_RELEASE);
}

/* v1 has no sub-page grants: GTF_sub_page means nothing to a copy, and
 * every window is the whole page. */
static void v1_read(const struct grant_table *gt, grant_ref_t ref, struct gnttab_entry *e)
{
    const grant_entry_v1_t *s = v1_entry(gt, ref);
    *e = (struct gnttab_entry){
        .flags = READ_ONCE(s->flags),
        .domid = READ_ONCE(s->domid),
        .frame = READ_ONCE(s->frame),
        .start = 0,
        .length = XEN_PAGE_SIZE,
    };
}

static xen_pfn_t v1_frame(const struct grant_table *gt, grant_ref_t ref)
{
    return READ_ONCE(v1_entry(gt, ref)->frame);
}

static uint16_t v1_flags(const struct grant_table *gt, grant_ref_t ref)
{
    return __atomic_load_n(&v1_entry(gt, ref)->flags, __ATOMIC_RELAXED);
}

GNTTAB_NO_COVERAGE
static unsigned int v1_count_in_use(const struct grant_table *gt, grant_ref_t from,
                                    grant_ref_t to)
{
    const grant_entry_v1_t *e = v1_entry(gt, 0);
    unsigned int n = 0;

    for (grant_ref_t ref = from; ref < to; ref++)
        n += __atomic_load_n(&e[ref].flags, __ATOMIC_RELAXED) != 0;
    return n;
}

static void v1_swap(struct grant_table *gt, grant_ref_t a, grant_ref_t b)
{
    grant_entry_v1_t tmp = *v1_entry(gt, a);
    *v1_entry(gt, a) = *v1_entry(gt, b);
    *v1_entry(gt, b) = tmp;
}

/* A PV target's frame field is 32 bits in v1: Xen writes the MFN there
 * (xensim's frames are the target's own pfns, which fit). */
static void v1_transfer_done(struct grant_table *gt, grant_ref_t ref, xen_pfn_t frame)
{
    grant_entry_v1_t *e = v1_entry(gt, ref);
    __atomic_store_n(&e->frame, (uint32_t)frame, __ATOMIC_RELAXED);
    __atomic_fetch_or(&e->flags, (uint16_t)GTF_transfer_completed, __ATOMIC_RELEASE);
}

const struct gnttab_version_ops gnttab_v1_ops = {
    .version = 1,
    .per_frame = GNTTAB_V1_PER_FRAME,
    .entry_size = sizeof(grant_entry_v1_t),
    .set_status = v1_set_status,
    .clear_status = v1_clear_status,
    .read = v1_read,
    .frame = v1_frame,
    .flags = v1_flags,
    .count_in_use = v1_count_in_use,
    .swap = v1_swap,
    .transfer_done = v1_transfer_done,
};
