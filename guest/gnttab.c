/*
 * The granter's side of grant tables as a PV kernel has it (guest.h): the
 * table's frames set up through GNTTABOP_setup_table (and, in v2, its
 * status frames through GNTTABOP_get_status_frames), a ref allocator from
 * GNTTAB_NR_RESERVED_ENTRIES up, the version switch, and grant/revoke with
 * Linux's barriers through the version's entry writers (gnttab_ops.h; v1's
 * are here, v2's in gnttab_v2.c).
 * Owns d->guest_* (under d->guest_lock); calls do_grant_table_op directly,
 * not the hypercall, so no upcall can run while guest_lock is held.
 */
#include "gnttab.h"
#include "gnttab_ops.h"

static struct domain *self(void)
{
    return current_vcpu ? current_vcpu->d : NULL;
}

static void *entries_of(struct domain *d)
{
    return domain_pfn_to_virt(d, d->nr_pages + 1);
}

static void v1_grant(void *entries, grant_ref_t ref, domid_t domid, uint64_t frame,
                     bool readonly)
{
    grant_entry_v1_t *e = (grant_entry_v1_t *)entries + ref;
    e->domid = domid;
    e->frame = (uint32_t)frame;
    /* wmb(): the grantee (Xen) must see domid and frame before the flags
     * that make the entry live. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->flags, GTF_permit_access | (readonly ? GTF_readonly : 0),
                     __ATOMIC_RELAXED);
}

/* Linux's v1 revoke: the cmpxchg to 0 races safely with Xen's pin
 * cmpxchg on the same word (spec 2.4): either we see the busy bits, or the
 * pin sees a type of 0 and fails. */
static int v1_end(void *entries, const grant_status_t *status, grant_ref_t ref)
{
    grant_entry_v1_t *e = (grant_entry_v1_t *)entries + ref;
    (void)status;
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing))
            return -EBUSY;
    } while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return 0;
}

const struct guest_gnttab_ops guest_gnttab_v1_ops = {
    .version = 1,
    .per_frame = XEN_PAGE_SIZE / sizeof(grant_entry_v1_t),
    .grant = v1_grant,
    .end = v1_end,
};

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

/* In v2, maps the status frames of nr shared frames (they must be
 * consecutive pages of this domain, as xensim lays them out). */
static int map_status_locked(struct domain *d, unsigned int nr)
{
    unsigned int n = (nr * guest_gnttab_v2_ops.per_frame +
                      XEN_PAGE_SIZE / sizeof(grant_status_t) - 1) /
                     (XEN_PAGE_SIZE / sizeof(grant_status_t));
    uint64_t *frames = calloc(n, sizeof(*frames));
    if (!frames)
        return -ENOMEM;
    gnttab_get_status_frames_t gs = { .nr_frames = n, .dom = DOMID_SELF };
    set_xen_guest_handle(gs.frame_list, frames);
    long rc = do_grant_table_op(d, GNTTABOP_get_status_frames, &gs, 1);
    if (!rc && gs.status != GNTST_okay)
        rc = -EINVAL;
    for (unsigned int i = 1; !rc && i < n; i++)
        if (frames[i] != frames[0] + i)
            rc = -EINVAL;
    grant_status_t *st = rc ? NULL : domain_pfn_to_virt(d, frames[0]);
    free(frames);
    if (rc)
        return (int)rc;
    if (!st)
        return -EINVAL;
    d->guest_gt_status = st;
    return 0;
}

/* Asks for a table of at least nr frames, as a PV kernel does at boot and
 * when it runs out of refs; the new refs become allocatable. */
static int setup_frames_locked(struct domain *d, unsigned int nr)
{
    const struct guest_gnttab_ops *o = d->guest_gt_ops;
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
    if (o->version == 2 && (rc = map_status_locked(d, nr)))
        return (int)rc;
    unsigned int old = d->guest_gt_frames;
    grant_ref_t lo = old * o->per_frame;
    if (lo < GNTTAB_NR_RESERVED_ENTRIES)
        lo = GNTTAB_NR_RESERVED_ENTRIES;
    rc = push_refs_locked(d, lo, nr * o->per_frame);
    if (rc)
        return (int)rc;
    d->guest_gt_frames = nr;
    return 0;
}

/* The version the table has now, as the kernel finds it at first use
 * (GNTTABOP_get_version: a kernel may have switched before). */
static const struct guest_gnttab_ops *ops_of_table(struct domain *d)
{
    gnttab_get_version_t gv = { .dom = DOMID_SELF };
    if (do_grant_table_op(d, GNTTABOP_get_version, &gv, 1) == 0 && gv.version == 2)
        return &guest_gnttab_v2_ops;
    return &guest_gnttab_v1_ops;
}

static int ensure_setup_locked(struct domain *d)
{
    if (d->guest_gt_frames)
        return 0;
    d->guest_gt_ops = ops_of_table(d);
    unsigned int cur = atomic_load(&d->gt->nr_frames);
    return setup_frames_locked(d, cur ? cur : 1);
}

/* The entry array, or NULL if the table is not set up or has the other
 * layout. */
static void *entries_locked(struct domain *d, unsigned int version, unsigned int *nr)
{
    *nr = 0;
    if (ensure_setup_locked(d) != 0 || d->guest_gt_ops->version != version)
        return NULL;
    *nr = d->guest_gt_frames * d->guest_gt_ops->per_frame;
    return entries_of(d);
}

grant_entry_v1_t *xensim_gnttab_entries(unsigned int *nr_entries)
{
    struct domain *d = self();
    void *e = NULL;
    unsigned int n = 0;

    if (d) {
        xensim_mutex_lock(&d->guest_lock);
        e = entries_locked(d, 1, &n);
        xensim_mutex_unlock(&d->guest_lock);
    }
    if (nr_entries)
        *nr_entries = n;
    return e;
}

grant_entry_v2_t *xensim_gnttab_entries_v2(unsigned int *nr_entries)
{
    struct domain *d = self();
    void *e = NULL;
    unsigned int n = 0;

    if (d) {
        xensim_mutex_lock(&d->guest_lock);
        e = entries_locked(d, 2, &n);
        xensim_mutex_unlock(&d->guest_lock);
    }
    if (nr_entries)
        *nr_entries = n;
    return e;
}

grant_status_t *xensim_gnttab_status(unsigned int *nr_entries)
{
    struct domain *d = self();
    grant_status_t *st = NULL;
    unsigned int n = 0;

    if (d) {
        xensim_mutex_lock(&d->guest_lock);
        if (entries_locked(d, 2, &n))
            st = d->guest_gt_status;
        xensim_mutex_unlock(&d->guest_lock);
    }
    if (nr_entries)
        *nr_entries = st ? n : 0;
    return st;
}

unsigned int xensim_gnttab_version(void)
{
    struct domain *d = self();
    unsigned int v = 0;

    if (d) {
        xensim_mutex_lock(&d->guest_lock);
        if (ensure_setup_locked(d) == 0)
            v = d->guest_gt_ops->version;
        xensim_mutex_unlock(&d->guest_lock);
    }
    return v;
}

/*
 * A kernel switches at boot, before it grants anything (Linux's
 * gnttab_request_version): Xen wipes every entry but the reserved ones,
 * so a switch with refs handed out would silently revoke them, and the
 * allocator refuses it (-EBUSY) before asking Xen. Then GNTTABOP_set_version
 * and, on success, the refs and writers of the new layout.
 */
long xensim_gnttab_set_version(unsigned int version)
{
    struct domain *d = self();
    if (!d)
        return -EPERM;
    xensim_mutex_lock(&d->guest_lock);
    long rc = ensure_setup_locked(d);
    const struct guest_gnttab_ops *o = d->guest_gt_ops;
    if (rc == 0 && version != o->version) {
        unsigned int total = d->guest_gt_frames * o->per_frame - GNTTAB_NR_RESERVED_ENTRIES;
        if (d->guest_ref_nr < total)
            rc = -EBUSY;
    }
    if (rc == 0) {
        gnttab_set_version_t sv = { .version = version };
        rc = do_grant_table_op(d, GNTTABOP_set_version, &sv, 1);
        if (rc == 0 && sv.version != o->version) {
            d->guest_gt_ops = sv.version == 2 ? &guest_gnttab_v2_ops : &guest_gnttab_v1_ops;
            d->guest_gt_status = NULL;
            unsigned int frames = d->guest_gt_frames;
            d->guest_gt_frames = 0;
            d->guest_ref_nr = 0;
            rc = setup_frames_locked(d, frames);
        }
    }
    xensim_mutex_unlock(&d->guest_lock);
    return rc;
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
    if (d->guest_gt_ops && ref >= GNTTAB_NR_RESERVED_ENTRIES &&
        ref < d->guest_gt_frames * d->guest_gt_ops->per_frame)
        push_refs_locked(d, ref, ref + 1);
    xensim_mutex_unlock(&d->guest_lock);
}

/* The layout and the entries, if ref is one of the table's. */
struct ref_view {
    const struct guest_gnttab_ops *ops;
    void *entries;
    grant_status_t *status;
};

static bool view_of(struct domain *d, grant_ref_t ref, struct ref_view *v)
{
    bool ok = false;
    if (!d)
        return false;
    xensim_mutex_lock(&d->guest_lock);
    /* Any ref of the table's frames, whoever grew it. */
    if (ensure_setup_locked(d) == 0 &&
        ref < atomic_load(&d->gt->nr_frames) * d->guest_gt_ops->per_frame) {
        *v = (struct ref_view){ d->guest_gt_ops, entries_of(d), d->guest_gt_status };
        ok = true;
    }
    xensim_mutex_unlock(&d->guest_lock);
    return ok;
}

void xensim_gnttab_grant_access_ref(grant_ref_t ref, domid_t domid,
                                    xen_pfn_t frame, bool readonly)
{
    struct ref_view v;
    if (view_of(self(), ref, &v))
        v.ops->grant(v.entries, ref, domid, frame, readonly);
}

long xensim_gnttab_grant_access(domid_t domid, xen_pfn_t frame, bool readonly)
{
    long ref = xensim_gnttab_alloc_ref();
    if (ref >= 0)
        xensim_gnttab_grant_access_ref((grant_ref_t)ref, domid, frame, readonly);
    return ref;
}

int xensim_gnttab_grant_subpage_ref(grant_ref_t ref, domid_t domid, xen_pfn_t frame,
                                    uint16_t offset, uint16_t length, bool readonly)
{
    struct domain *d = self();
    struct ref_view v;
    if (!d)
        return -EPERM;
    if (!view_of(d, ref, &v))
        return -EINVAL;
    if (v.ops->version != 2)
        return -ENOSYS;
    guest_gnttab_v2_grant_subpage((grant_entry_v2_t *)v.entries + ref, domid, frame, offset,
                                  length, readonly);
    return 0;
}

int xensim_gnttab_grant_transitive_ref(grant_ref_t ref, domid_t domid, domid_t trans_domid,
                                       grant_ref_t trans_gref)
{
    struct domain *d = self();
    struct ref_view v;
    if (!d)
        return -EPERM;
    if (!view_of(d, ref, &v))
        return -EINVAL;
    if (v.ops->version != 2)
        return -ENOSYS;
    guest_gnttab_v2_grant_transitive((grant_entry_v2_t *)v.entries + ref, domid, trans_domid,
                                     trans_gref);
    return 0;
}

int xensim_gnttab_end_access(grant_ref_t ref)
{
    struct domain *d = self();
    struct ref_view v;
    if (!d)
        return -EPERM;
    if (!view_of(d, ref, &v))
        return -EINVAL;
    return v.ops->end(v.entries, v.status, ref);
}
