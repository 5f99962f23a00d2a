/*
 * Pins on a granter's entries: the active entries, the GTF_reading /
 * GTF_writing protocol on the guest's shared entry, and the foreign_maps
 * count that keeps a dying granter's pages alive. Everything here runs
 * under the granter's gt->lock; relies on gnttab.h and domain_put_foreign.
 */
#include "gnttab.h"

/*
 * Xen gives up on an entry whose (flags, domid) word keeps changing under
 * its cmpxchg: a guest rewriting its own entry in a loop must not keep the
 * hypervisor spinning for ever, so after this many retries the pin fails
 * with GNTST_general_error (the spec's "at most 5 retries").
 */
#define GNTTAB_PIN_RETRIES 5

/* The 32-bit word Xen compare-exchanges: flags and domid together, so that
 * the grantee check and the busy bits are one atomic step. */
union gnttab_word {
    uint32_t raw;
    struct {
        uint16_t flags;
        domid_t domid;
    } f;
};
typedef uint32_t __attribute__((may_alias)) gnttab_word_t;
typedef uint16_t __attribute__((may_alias)) gnttab_flags_t;

_Static_assert(offsetof(grant_entry_v1_t, flags) == 0 &&
               offsetof(grant_entry_v1_t, domid) == 2,
               "(flags, domid) must form one aligned 32-bit word");

unsigned int gnttab_nr_entries(struct grant_table *gt)
{
    return atomic_load_explicit(&gt->nr_frames, memory_order_acquire) *
           GNTTAB_ENTRIES_PER_FRAME;
}

static struct gnttab_active *active_entry(struct grant_table *gt, grant_ref_t ref)
{
    return &gt->active[ref / GNTTAB_ENTRIES_PER_FRAME][ref % GNTTAB_ENTRIES_PER_FRAME];
}

int gnttab_grow_locked(struct grant_table *gt, unsigned int nr)
{
    unsigned int cur = atomic_load_explicit(&gt->nr_frames, memory_order_relaxed);

    assert(nr <= gt->max_frames);
    for (unsigned int i = cur; i < nr; i++) {
        gt->active[i] = calloc(GNTTAB_ENTRIES_PER_FRAME, sizeof(struct gnttab_active));
        if (!gt->active[i]) {
            atomic_store_explicit(&gt->nr_frames, i, memory_order_release);
            return -ENOMEM;
        }
    }
    if (nr > cur)
        atomic_store_explicit(&gt->nr_frames, nr, memory_order_release);
    return 0;
}

/* Sets GTF_reading (and GTF_writing for a writable pin) if the entry grants
 * ldomid access of the right kind. A map refuses sub-page entries; a copy
 * does not look at that bit (it has no meaning in v1). */
static int16_t set_busy_bits(grant_entry_v1_t *e, domid_t ldomid, bool readonly, bool map)
{
    gnttab_word_t *word = (gnttab_word_t *)e;
    uint16_t mask = GTF_type_mask | (map ? GTF_sub_page : 0);
    union gnttab_word cur, want;

    cur.raw = __atomic_load_n(word, __ATOMIC_ACQUIRE);
    for (unsigned int retries = 0;; retries++) {
        if ((cur.f.flags & mask) != GTF_permit_access || cur.f.domid != ldomid)
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
        if (retries == GNTTAB_PIN_RETRIES)
            return GNTST_general_error;
    }
}

static void clear_flags(grant_entry_v1_t *e, uint16_t bits)
{
    __atomic_fetch_and((gnttab_flags_t *)&e->flags, (uint16_t)~bits, __ATOMIC_RELEASE);
}

/* One foreign_maps unit per pin counter bumped: a map with host and device
 * kinds holds two, and a partial unmap gives back one. */
static unsigned int pin_units(uint32_t pins)
{
    return (unsigned int)__builtin_popcount(pins);
}

/* Whether every counter of have is at least the one of take. */
static inline bool pins_cover(uint32_t have, uint32_t take)
{
    for (unsigned int s = 0; s < 32; s += 8)
        if (((have >> s) & 0xff) < ((take >> s) & 0xff))
            return false;
    return true;
}

int16_t gnttab_pin(struct domain *rd, grant_ref_t ref, domid_t ldomid,
                   uint32_t pin_inc, bool readonly, bool map, xen_pfn_t *frame,
                   bool *put)
{
    struct grant_table *gt = rd->gt;
    int16_t rc = GNTST_okay;

    xensim_mutex_lock(&gt->lock);
    if (ref >= gnttab_nr_entries(gt)) {
        rc = GNTST_bad_gntref;
        goto out;
    }
    /* A dying granter's pages are on their way out: nothing new may pin
     * them (spec 2.9), only existing mappings keep them alive. */
    if (atomic_load(&rd->is_dying)) {
        rc = GNTST_general_error;
        goto out;
    }
    struct gnttab_active *act = active_entry(gt, ref);
    if (act->pin && (act->domid != ldomid || (act->pin & GNTTAB_PIN_OVERFLOW(pin_inc)))) {
        rc = GNTST_general_error;
        goto out;
    }
    grant_entry_v1_t *e = &gt->shared[ref];
    bool first = act->pin == 0;
    bool first_wr = !readonly && !(act->pin & GNTTAB_PIN_WR_MASK);
    if (first || first_wr) {
        rc = set_busy_bits(e, ldomid, readonly, map);
        if (rc != GNTST_okay)
            goto out;
    }
    if (first) {
        xen_pfn_t f = __atomic_load_n(&e->frame, __ATOMIC_RELAXED);
        /* Only guest RAM can be granted: not shared_info, not the grant
         * frames themselves, nothing past the end. */
        if (f >= rd->nr_pages) {
            if (first_wr)
                clear_flags(e, GTF_writing);
            clear_flags(e, GTF_reading);
            rc = GNTST_bad_page;
            goto out;
        }
        act->domid = ldomid;
        act->frame = f;
    }
    /* A dying granter gains no pin. foreign_maps holds one reference of
     * the domain's own until its destroy is done, so whoever takes it to
     * zero is alone in finalizing it (see domain_put_foreign). */
    atomic_fetch_add(&rd->foreign_maps, pin_units(pin_inc));
    if (atomic_load(&rd->is_dying)) {
        *put = atomic_fetch_sub(&rd->foreign_maps, pin_units(pin_inc)) == pin_units(pin_inc);
        if (first_wr)
            clear_flags(e, GTF_writing);
        if (first)
            clear_flags(e, GTF_reading);
        rc = GNTST_general_error;
        goto out;
    }
    act->pin += pin_inc;
    *frame = act->frame;
out:
    xensim_mutex_unlock(&gt->lock);
    return rc;
}

bool gnttab_unpin(struct domain *rd, grant_ref_t ref, uint32_t pin_dec)
{
    struct grant_table *gt = rd->gt;
    bool put = false;

    xensim_mutex_lock(&gt->lock);
    struct gnttab_active *act = active_entry(gt, ref);
    grant_entry_v1_t *e = &gt->shared[ref];
    assert(pins_cover(act->pin, pin_dec));
    act->pin -= pin_dec;
    if ((pin_dec & GNTTAB_PIN_WR_MASK) && !(act->pin & GNTTAB_PIN_WR_MASK))
        clear_flags(e, GTF_writing);
    if (act->pin == 0)
        clear_flags(e, GTF_reading);
    unsigned int left = atomic_fetch_sub(&rd->foreign_maps, pin_units(pin_dec)) -
                        pin_units(pin_dec);
    put = left == 0;
    xensim_mutex_unlock(&gt->lock);
    return put;
}

/* GNTTABOP_swap_grant_ref on d's own table: Xen's order is both bounds,
 * then the no-op case, then the pins (a pinned entry cannot move). */
int16_t gnttab_swap_refs(struct domain *d, grant_ref_t a, grant_ref_t b)
{
    struct grant_table *gt = d->gt;
    int16_t rc = GNTST_okay;

    xensim_mutex_lock(&gt->lock);
    unsigned int nr = gnttab_nr_entries(gt);
    if (a >= nr || b >= nr)
        rc = GNTST_bad_gntref;
    else if (a != b && (active_entry(gt, a)->pin || active_entry(gt, b)->pin))
        rc = GNTST_eagain;
    else if (a != b) {
        grant_entry_v1_t tmp = gt->shared[a];
        gt->shared[a] = gt->shared[b];
        gt->shared[b] = tmp;
    }
    xensim_mutex_unlock(&gt->lock);
    return rc;
}
