/*
 * Pins on a granter's entries: the active entries, the first-pin checks
 * of map_grant_ref and acquire_grant_for_copy (transitive grants
 * included), the table's growth, and the foreign_maps count that keeps a
 * dying granter's pages alive. Everything here runs under the granter's
 * gt->lock; the entry layout is the table's version ops (gnttab_v1.c,
 * gnttab_v2.c). Relies on gnttab.h and domain_put_foreign.
 */
#include <sched.h>

#include "gnttab.h"

unsigned int gnttab_nr_entries(const struct grant_table *gt)
{
    return atomic_load_explicit(&((struct grant_table *)gt)->nr_frames, memory_order_acquire) *
           gnttab_vops(gt)->per_frame;
}

int gnttab_grow_locked(struct grant_table *gt, unsigned int nr)
{
    unsigned int cur = atomic_load_explicit(&gt->nr_frames, memory_order_relaxed);

    assert(nr <= gt->max_frames);
    for (unsigned int i = cur; i < nr; i++) {
        gt->active[i] = calloc(GNTTAB_ACTIVE_PER_CHUNK, sizeof(struct gnttab_active));
        if (!gt->active[i]) {
            atomic_store_explicit(&gt->nr_frames, i, memory_order_release);
            return -ENOMEM;
        }
    }
    /* The status frames first: a lock-free reader that sees the new
     * nr_frames finds them populated. */
    if (gnttab_vops(gt)->version == 2)
        gnttab_status_populate_locked(gt, nr);
    if (nr > cur)
        atomic_store_explicit(&gt->nr_frames, nr, memory_order_release);
    return 0;
}

/* One foreign_maps unit per pin counter bumped: a map with host and device
 * kinds holds two, and a partial unmap gives back one. (The sum of the
 * counters' bytes: a popcount would be a libgcc call without -mpopcnt.) */
static unsigned int pin_units(uint32_t pins)
{
    return (pins & 0xff) + ((pins >> 8) & 0xff) + ((pins >> 16) & 0xff) + (pins >> 24);
}

/* Whether every counter of have is at least the one of take. */
static inline bool pins_cover(uint32_t have, uint32_t take)
{
    for (unsigned int s = 0; s < 32; s += 8)
        if (((have >> s) & 0xff) < ((take >> s) & 0xff))
            return false;
    return true;
}

/* Xen's reduce_status_for_pin: GTF_reading goes with the last pin,
 * GTF_writing with the last writable one, once a writable pin is dropped
 * or failed. */
static void reduce_status(struct grant_table *gt, const struct gnttab_active *act,
                          grant_ref_t ref, bool readonly)
{
    uint16_t clear = act->pin ? 0 : GTF_reading;
    if (!readonly && !(act->pin & GNTTAB_PIN_WR_MASK))
        clear |= GTF_writing;
    if (clear)
        gnttab_vops(gt)->clear_status(gt, ref, clear);
}

/* Only guest RAM can be granted: not shared_info, not the grant or
 * status frames, nothing past the end (Xen's get_paged_frame). */
static bool frame_is_ram(const struct domain *rd, xen_pfn_t f)
{
    return f < rd->nr_pages;
}

/* Adds the pin, unless rd started dying meanwhile. A dying granter gains
 * no pin: foreign_maps holds one reference of the domain's own until its
 * destroy is done, so whoever takes it to zero is alone in finalizing it
 * (see domain_put_foreign). */
static bool add_pin(struct domain *rd, struct gnttab_active *act, uint32_t inc, bool *put)
{
    atomic_fetch_add(&rd->foreign_maps, pin_units(inc));
    if (atomic_load(&rd->is_dying)) {
        *put = atomic_fetch_sub(&rd->foreign_maps, pin_units(inc)) == pin_units(inc);
        return false;
    }
    act->pin += inc;
    return true;
}

int16_t gnttab_pin(struct domain *rd, grant_ref_t ref, domid_t ldomid,
                   uint32_t pin_inc, bool readonly, xen_pfn_t *frame, bool *put)
{
    struct grant_table *gt = rd->gt;
    int16_t rc = GNTST_okay;

    xensim_mutex_lock(&gt->lock);
    const struct gnttab_version_ops *vo = gnttab_vops(gt);
    if (ref >= atomic_load_explicit(&gt->nr_frames, memory_order_relaxed) * vo->per_frame) {
        rc = GNTST_bad_gntref;
        goto out;
    }
    /* A dying granter's pages are on their way out: nothing new may pin
     * them (spec 2.9), only existing mappings keep them alive. */
    if (atomic_load(&rd->is_dying)) {
        rc = GNTST_general_error;
        goto out;
    }
    struct gnttab_active *act = gnttab_active_entry(gt, ref);
    if (act->pin && (act->domid != ldomid || (act->pin & GNTTAB_PIN_OVERFLOW(pin_inc)) ||
                     act->is_sub_page)) {
        rc = GNTST_general_error;
        goto out;
    }
    bool first = act->pin == 0;
    if (first || (!readonly && !(act->pin & GNTTAB_PIN_WR_MASK))) {
        rc = vo->set_status(gt, ref, ldomid, !first, readonly, true);
        if (rc != GNTST_okay)
            goto out;
    }
    if (first) {
        xen_pfn_t f = vo->frame(gt, ref);
        if (!frame_is_ram(rd, f)) {
            reduce_status(gt, act, ref, readonly);
            rc = GNTST_bad_page;
            goto out;
        }
        *act = (struct gnttab_active){
            .domid = ldomid, .start = 0, .length = XEN_PAGE_SIZE, .frame = f,
            .trans_rd = rd, .trans_gref = ref,
        };
    }
    if (!add_pin(rd, act, pin_inc, put)) {
        reduce_status(gt, act, ref, readonly);
        rc = GNTST_general_error;
        goto out;
    }
    *frame = act->frame;
out:
    xensim_mutex_unlock(&gt->lock);
    return rc;
}

bool gnttab_unpin(struct domain *rd, grant_ref_t ref, uint32_t pin_dec)
{
    struct grant_table *gt = rd->gt;

    xensim_mutex_lock(&gt->lock);
    struct gnttab_active *act = gnttab_active_entry(gt, ref);
    assert(pins_cover(act->pin, pin_dec));
    act->pin -= pin_dec;
    reduce_status(gt, act, ref, !(pin_dec & GNTTAB_PIN_WR_MASK));
    unsigned int left = atomic_fetch_sub(&rd->foreign_maps, pin_units(pin_dec)) -
                        pin_units(pin_dec);
    xensim_mutex_unlock(&gt->lock);
    return left == 0;
}

/*
 * The transitive branch of acquire_grant_for_copy, entered with gt->lock
 * held and the entry's status set; returns with it held. The grant it
 * forwards to must be granted to rd itself and may not be transitive
 * (the recursion allows no transitivity), so chains are one level deep
 * and a loop fails at its second hop. If the entry changed while the lock
 * was dropped, the inner pin is given back and the caller starts over
 * (Xen's ERESTART, which its copy loop turns into a continuation).
 */
#define ACQUIRE_RESTART 1

static int16_t acquire_transitive(struct domain *rd, domid_t ldomid,
                                  bool readonly, bool allow_transitive,
                                  const struct gnttab_entry *e, struct gnttab_active *act,
                                  struct gnttab_claim *inner, struct gnttab_claim *c)
{
    struct grant_table *gt = rd->gt;
    uint32_t old_pin = act->pin;

    if (!allow_transitive || e->trans_domid == rd->domid)
        return GNTST_general_error;
    /* Pointing back at the copier is allowed; DOMID_SELF names no one. */
    struct domain *td = gnttab_domain_by_id(rd, e->trans_domid, false);
    if (!td)
        return GNTST_general_error;
    xensim_mutex_unlock(&gt->lock);
    int16_t rc = gnttab_acquire(td, e->trans_gref, rd->domid, readonly, false, inner);
    xensim_mutex_lock(&gt->lock);
    if (rc != GNTST_okay) {
        if (inner->puts[0])
            c->puts[1] = inner->puts[0];
        return rc;
    }
    xen_pfn_t frame = (xen_pfn_t)(inner->page - td->mem) >> XEN_PAGE_SHIFT;
    if (gnttab_vops(gt)->version != 2 || act->pin != old_pin ||
        (old_pin && (act->domid != ldomid || act->frame != frame ||
                     act->start != inner->start || act->length != inner->length ||
                     act->trans_rd != td || act->trans_gref != e->trans_gref ||
                     !act->is_sub_page))) {
        xensim_mutex_unlock(&gt->lock);
        gnttab_release(inner);
        xensim_mutex_lock(&gt->lock);
        if (inner->puts[0])
            c->puts[1] = inner->puts[0];
        return ACQUIRE_RESTART;
    }
    if (!old_pin)
        /* Always a sub-page pin, whatever the inner grant is: that is
         * what keeps a transitive grant from being mapped. */
        *act = (struct gnttab_active){
            .domid = ldomid, .is_sub_page = true, .start = inner->start,
            .length = inner->length, .frame = frame, .trans_rd = td,
            .trans_gref = e->trans_gref,
        };
    return GNTST_okay;
}

/* One attempt, under gt->lock, in Xen's order. */
static int16_t acquire_once(struct domain *rd, grant_ref_t ref, domid_t ldomid, bool readonly,
                            bool allow_transitive, struct gnttab_claim *c)
{
    struct grant_table *gt = rd->gt;
    uint32_t inc = readonly ? GNTTAB_PIN_HOST_RD : GNTTAB_PIN_HOST_WR;
    struct gnttab_claim inner = { 0 };
    bool have_inner = false, put = false;
    int16_t rc = GNTST_okay;

    if (ref >= gnttab_nr_entries(gt))
        return GNTST_bad_gntref;
    if (atomic_load(&rd->is_dying))
        return GNTST_general_error;
    const struct gnttab_version_ops *vo = gnttab_vops(gt);
    struct gnttab_active *act = gnttab_active_entry(gt, ref);
    if (act->pin && (act->domid != ldomid || (act->pin & GNTTAB_PIN_OVERFLOW(inc))))
        return GNTST_general_error;
    bool first = act->pin == 0;
    struct gnttab_entry e;
    vo->read(gt, ref, &e);
    bool transitive = vo->version == 2 && (e.flags & GTF_type_mask) == GTF_transitive;

    if (first || (!readonly && !(act->pin & GNTTAB_PIN_WR_MASK))) {
        rc = vo->set_status(gt, ref, ldomid, !first, readonly, false);
        if (rc != GNTST_okay)
            return rc;
        /* What the entry says once our status bits are visible. */
        vo->read(gt, ref, &e);
    }
    if (transitive) {
        rc = acquire_transitive(rd, ldomid, readonly, allow_transitive, &e, act, &inner, c);
        if (rc == ACQUIRE_RESTART) {
            reduce_status(gt, act, ref, readonly);
            return ACQUIRE_RESTART;
        }
        have_inner = rc == GNTST_okay;
    } else if (first) {
        if (!frame_is_ram(rd, e.frame))
            rc = GNTST_bad_page;
        else
            *act = (struct gnttab_active){
                .domid = ldomid, .is_sub_page = vo->version == 2 && (e.flags & GTF_sub_page),
                .start = e.start, .length = e.length, .frame = e.frame, .trans_rd = rd,
                .trans_gref = ref,
            };
    }
    if (rc == GNTST_okay && !add_pin(rd, act, inc, &put))
        rc = GNTST_general_error;
    if (rc != GNTST_okay) {
        reduce_status(gt, act, ref, readonly);
        if (put)
            c->puts[0] = rd;
        if (have_inner) {
            xensim_mutex_unlock(&gt->lock);
            gnttab_release(&inner);
            xensim_mutex_lock(&gt->lock);
            if (inner.puts[0])
                c->puts[1] = inner.puts[0];
        }
        return rc;
    }
    c->rd = rd;
    c->ref = ref;
    c->readonly = readonly;
    c->page = domain_pfn_to_virt(act->trans_rd, act->frame);
    c->start = act->start;
    c->length = act->length;
    return GNTST_okay;
}

/* Whether the copier should stop retrying: its domain is going away and
 * will never see the answer (Xen would simply not resume it). */
static bool caller_leaving(void)
{
    struct vcpu *v = current_vcpu;
    return v && (atomic_load(&v->d->is_shutting_down) || atomic_load(&v->d->is_dying));
}

int16_t gnttab_acquire(struct domain *rd, grant_ref_t ref, domid_t ldomid, bool readonly,
                       bool allow_transitive, struct gnttab_claim *c)
{
    int16_t rc;

    *c = (struct gnttab_claim){ 0 };
    xensim_mutex_lock(&rd->gt->lock);
    for (;;) {
        rc = acquire_once(rd, ref, ldomid, readonly, allow_transitive, c);
        if (rc != ACQUIRE_RESTART)
            break;
        if (caller_leaving()) {
            rc = GNTST_general_error;
            break;
        }
        /* Someone else is pinning or changing the entry: let them. */
        xensim_mutex_unlock(&rd->gt->lock);
        sched_yield();
        xensim_mutex_lock(&rd->gt->lock);
    }
    xensim_mutex_unlock(&rd->gt->lock);
    return rc;
}

/* Xen's release_grant_for_copy: the pin, the status bits, and for a
 * transitive grant the pin of the grant it forwards to. */
void gnttab_release(struct gnttab_claim *c)
{
    struct domain *rd = c->rd;
    if (!rd)
        return;
    uint32_t dec = c->readonly ? GNTTAB_PIN_HOST_RD : GNTTAB_PIN_HOST_WR;
    struct grant_table *gt = rd->gt;

    xensim_mutex_lock(&gt->lock);
    struct gnttab_active *act = gnttab_active_entry(gt, c->ref);
    struct domain *td = act->trans_rd;
    grant_ref_t tref = act->trans_gref;
    xensim_mutex_unlock(&gt->lock);
    c->rd = NULL;
    if (gnttab_unpin(rd, c->ref, dec))
        c->puts[0] = rd;
    if (td != rd) {
        struct gnttab_claim inner = { .rd = td, .ref = tref, .readonly = c->readonly };
        gnttab_release(&inner);
        if (inner.puts[0])
            c->puts[1] = inner.puts[0];
    }
}

bool gnttab_frame_pinned_locked(struct domain *d, xen_pfn_t frame)
{
    struct grant_table *gt = d->gt;
    unsigned int nr = gnttab_nr_entries(gt);

    for (grant_ref_t ref = 0; ref < nr; ref++) {
        const struct gnttab_active *act = gnttab_active_entry(gt, ref);
        if (act->pin && act->trans_rd == d && act->frame == frame)
            return true;
    }
    return false;
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
    else if (a != b && (gnttab_active_entry(gt, a)->pin || gnttab_active_entry(gt, b)->pin))
        rc = GNTST_eagain;
    else if (a != b)
        gnttab_vops(gt)->swap(gt, a, b);
    xensim_mutex_unlock(&gt->lock);
    return rc;
}
