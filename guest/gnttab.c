/*
 * The granter's side of v1 grants as a PV kernel has it (guest.h): the
 * table's frames set up through GNTTABOP_setup_table, a ref allocator from
 * GNTTAB_NR_RESERVED_ENTRIES up, and grant/revoke with Linux's barriers.
 * Owns d->guest_* (under d->guest_lock); calls do_grant_table_op directly,
 * not the hypercall, so no upcall can run while guest_lock is held.
 */
#include "gnttab.h"

static struct domain *self(void)
{
    return current_vcpu ? current_vcpu->d : NULL;
}

static grant_entry_v1_t *entries_of(struct domain *d)
{
    return domain_pfn_to_virt(d, d->nr_pages + 1);
}

/* Pushes refs [lo, hi) on the free stack, highest first, so that the
 * lowest free ref comes out first. */
static int push_refs_locked(struct domain *d, grant_ref_t lo, grant_ref_t hi)
{
    if (hi <= lo)
        return 0;
    unsigned int need = d->guest_ref_nr + (hi - lo);
    if (need > d->guest_ref_cap) {
        unsigned int cap = d->guest_ref_cap ? d->guest_ref_cap : 64;
        while (cap < need)
            cap *= 2;
        uint32_t *p = realloc(d->guest_ref_free, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        d->guest_ref_free = p;
        d->guest_ref_cap = cap;
    }
    for (grant_ref_t r = hi; r-- > lo;)
        d->guest_ref_free[d->guest_ref_nr++] = r;
    return 0;
}

/* Asks for a table of at least nr frames, as a PV kernel does at boot and
 * when it runs out of refs; the new refs become allocatable. */
static int setup_frames_locked(struct domain *d, unsigned int nr)
{
    xen_pfn_t *frames = calloc(nr, sizeof(*frames));
    if (!frames)
        return -ENOMEM;
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = nr };
    set_xen_guest_handle(st.frame_list, frames);
    long rc = do_grant_table_op(d, GNTTABOP_setup_table, &st, 1);
    free(frames);
    if (rc)
        return (int)rc;
    if (st.status != GNTST_okay)
        return -ENOSPC;
    unsigned int old = d->guest_gt_frames;
    grant_ref_t lo = old * GNTTAB_ENTRIES_PER_FRAME;
    if (lo < GNTTAB_NR_RESERVED_ENTRIES)
        lo = GNTTAB_NR_RESERVED_ENTRIES;
    rc = push_refs_locked(d, lo, nr * GNTTAB_ENTRIES_PER_FRAME);
    if (rc)
        return (int)rc;
    d->guest_gt_frames = nr;
    return 0;
}

static int ensure_setup_locked(struct domain *d)
{
    if (d->guest_gt_frames)
        return 0;
    unsigned int cur = atomic_load(&d->gt->nr_frames);
    return setup_frames_locked(d, cur ? cur : 1);
}

grant_entry_v1_t *xensim_gnttab_entries(unsigned int *nr_entries)
{
    struct domain *d = self();
    grant_entry_v1_t *e = NULL;
    unsigned int n = 0;

    if (d) {
        xensim_mutex_lock(&d->guest_lock);
        if (ensure_setup_locked(d) == 0) {
            e = entries_of(d);
            n = d->guest_gt_frames * GNTTAB_ENTRIES_PER_FRAME;
        }
        xensim_mutex_unlock(&d->guest_lock);
    }
    if (nr_entries)
        *nr_entries = n;
    return e;
}

long xensim_gnttab_alloc_ref(void)
{
    struct domain *d = self();
    if (!d)
        return -EPERM;
    long rc;
    xensim_mutex_lock(&d->guest_lock);
    rc = ensure_setup_locked(d);
    if (rc == 0 && d->guest_ref_nr == 0) {
        if (d->guest_gt_frames >= d->gt->max_frames)
            rc = -ENOSPC;
        else
            rc = setup_frames_locked(d, d->guest_gt_frames + 1);
    }
    if (rc == 0)
        rc = d->guest_ref_free[--d->guest_ref_nr];
    xensim_mutex_unlock(&d->guest_lock);
    return rc;
}

void xensim_gnttab_free_ref(grant_ref_t ref)
{
    struct domain *d = self();
    if (!d)
        return;
    xensim_mutex_lock(&d->guest_lock);
    if (ref >= GNTTAB_NR_RESERVED_ENTRIES &&
        ref < d->guest_gt_frames * GNTTAB_ENTRIES_PER_FRAME)
        push_refs_locked(d, ref, ref + 1);
    xensim_mutex_unlock(&d->guest_lock);
}

static grant_entry_v1_t *entry(struct domain *d, grant_ref_t ref)
{
    if (!d || ref >= gnttab_nr_entries(d->gt))
        return NULL;
    return &entries_of(d)[ref];
}

void xensim_gnttab_grant_access_ref(grant_ref_t ref, domid_t domid,
                                    xen_pfn_t frame, bool readonly)
{
    grant_entry_v1_t *e = entry(self(), ref);
    if (!e)
        return;
    e->domid = domid;
    e->frame = (uint32_t)frame;
    /* wmb(): the grantee (Xen) must see domid and frame before the flags
     * that make the entry live. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->flags, GTF_permit_access | (readonly ? GTF_readonly : 0),
                     __ATOMIC_RELAXED);
}

long xensim_gnttab_grant_access(domid_t domid, xen_pfn_t frame, bool readonly)
{
    long ref = xensim_gnttab_alloc_ref();
    if (ref >= 0)
        xensim_gnttab_grant_access_ref((grant_ref_t)ref, domid, frame, readonly);
    return ref;
}

/* Linux's v1 revoke: the cmpxchg to 0 races safely with Xen's pin
 * cmpxchg on the same word (spec 2.4): either we see the busy bits, or the
 * pin sees a type of 0 and fails. */
int xensim_gnttab_end_access(grant_ref_t ref)
{
    struct domain *d = self();
    if (!d)
        return -EPERM;
    grant_entry_v1_t *e = entry(d, ref);
    if (!e)
        return -EINVAL;
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing))
            return -EBUSY;
    } while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return 0;
}
