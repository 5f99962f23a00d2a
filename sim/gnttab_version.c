/*
 * Grant table versions, as Xen 4.17 has them on x86: GNTTABOP_set_version
 * (its checks, the -EBUSY rule, the reserved entries 0-7 carried across),
 * get_version, get_status_frames, and the v2 status frames, which are
 * pages of the domain's memfd (sim.h: after the grant frames) that the
 * guest maps by frame number. Relies on gnttab.h and the version ops.
 */
#include "gnttab.h"

static void *status_page(struct grant_table *gt, unsigned int i)
{
    return (uint8_t *)gt->status + (size_t)i * XEN_PAGE_SIZE;
}

/* Xen's gnttab_populate_status_frames: the new ones start cleared. */
void gnttab_status_populate_locked(struct grant_table *gt, unsigned int nr)
{
    unsigned int want = domain_status_frames(nr);
    for (unsigned int i = gt->nr_status_frames; i < want; i++)
        memset(status_page(gt, i), 0, XEN_PAGE_SIZE);
    if (want > gt->nr_status_frames)
        gt->nr_status_frames = want;
}

/*
 * Xen's gnttab_unpopulate_status_frames gives the pages back, and fails
 * with -EBUSY while the guest still maps one. A guest's mappings of its
 * own memfd are invisible to xensim, so here it never fails (a recorded
 * simulator limit); the pages are cleared so that no stale bit survives.
 */
static void status_unpopulate_locked(struct grant_table *gt)
{
    for (unsigned int i = 0; i < gt->nr_status_frames; i++)
        memset(status_page(gt, i), 0, XEN_PAGE_SIZE);
    gt->nr_status_frames = 0;
}

/* A v2 reserved entry a v1 table cannot hold: a transitive one, or a
 * permit_access frame above 32 bits. */
static bool v1_cannot_hold(const grant_entry_v2_t *e)
{
    switch (e->hdr.flags & GTF_type_mask) {
    case GTF_permit_access:
        return e->full_page.frame >> 32;
    case GTF_transitive:
        return true;
    default:
        return false;
    }
}

/* The reserved entries as v1 entries: verbatim from v1; from v2 a
 * permit_access entry (a sub-page one too, its flag kept) with its status
 * bits merged into the flags, anything else cleared. */
static void save_reserved(struct grant_table *gt, grant_entry_v1_t *saved)
{
    if (gnttab_vops(gt)->version == 1) {
        memcpy(saved, gt->shared, GNTTAB_NR_RESERVED_ENTRIES * sizeof(*saved));
        return;
    }
    const grant_entry_v2_t *e = gt->shared;
    for (unsigned int i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; i++) {
        if ((e[i].hdr.flags & GTF_type_mask) != GTF_permit_access) {
            memset(&saved[i], 0, sizeof(saved[i]));
            continue;
        }
        saved[i].flags = e[i].hdr.flags | gt->status[i];
        saved[i].domid = e[i].hdr.domid;
        saved[i].frame = (uint32_t)e[i].full_page.frame;
    }
}

static void restore_reserved(struct grant_table *gt, const grant_entry_v1_t *saved,
                             unsigned int version)
{
    if (version == 1) {
        memcpy(gt->shared, saved, GNTTAB_NR_RESERVED_ENTRIES * sizeof(*saved));
        return;
    }
    grant_entry_v2_t *e = gt->shared;
    for (unsigned int i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; i++) {
        gt->status[i] = saved[i].flags & (GTF_reading | GTF_writing);
        e[i].hdr.flags = saved[i].flags & ~(GTF_reading | GTF_writing);
        e[i].hdr.domid = saved[i].domid;
        e[i].full_page.frame = saved[i].frame;
    }
}

static long switch_locked(struct grant_table *gt, unsigned int version)
{
    const struct gnttab_version_ops *from = gnttab_vops(gt);
    grant_entry_v1_t saved[GNTTAB_NR_RESERVED_ENTRIES];

    if (from->version == version)
        return 0;
    /* This domain's grants must not be in use by anyone, except the
     * reserved ones (the console and xenstore keep theirs mapped). */
    unsigned int nr = gnttab_nr_entries(gt);
    for (grant_ref_t ref = GNTTAB_NR_RESERVED_ENTRIES; ref < nr; ref++)
        if (gnttab_active_entry(gt, ref)->pin)
            return -EBUSY;
    if (from->version == 1) {
        gnttab_status_populate_locked(gt, atomic_load(&gt->nr_frames));
    } else {
        for (unsigned int i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; i++)
            if (v1_cannot_hold((grant_entry_v2_t *)gt->shared + i))
                return -ERANGE;
    }
    save_reserved(gt, saved);
    if (version == 1)
        status_unpopulate_locked(gt);
    /* No crud from the old layout: every shared frame is cleared. */
    memset(gt->shared, 0, (size_t)atomic_load(&gt->nr_frames) * XEN_PAGE_SIZE);
    restore_reserved(gt, saved, version);
    atomic_store_explicit(&gt->vops, version == 1 ? &gnttab_v1_ops : &gnttab_v2_ops,
                          memory_order_release);
    return 0;
}

/* The caller's own table only. The current version is written back
 * whatever the outcome, and a fault doing so is the answer. */
long gnttab_set_version(struct domain *d, void *uop)
{
    struct grant_table *gt = d->gt;
    gnttab_set_version_t op;
    long rc = 0;

    if (copy_from_guest(&op, uop, sizeof(op)))
        return -EFAULT;
    if (op.version != 1 && op.version != 2) {
        rc = -EINVAL;
    } else if (op.version == 2 && gt->max_version == 1) {
        /* As Xen behaved before set_version existed. */
        rc = -ENOSYS;
    } else if (op.version != gnttab_vops(gt)->version) {
        xensim_mutex_lock(&gt->lock);
        rc = switch_locked(gt, op.version);
        xensim_mutex_unlock(&gt->lock);
    }
    op.version = gnttab_vops(gt)->version;
    if (copy_to_guest(uop, &op, sizeof(op)))
        rc = -EFAULT;
    return rc;
}

/* Xen's get_version takes one struct, ignores count, and writes back only
 * the version. */
long gnttab_get_version(struct domain *caller, void *uop)
{
    gnttab_get_version_t op;
    long rc = 0;

    if (copy_from_guest(&op, uop, sizeof(op)))
        return -EFAULT;
    rcu_read_lock();
    struct domain *d = gnttab_domain_by_id(caller, op.dom, true);
    if (!d)
        rc = -ESRCH;
    else if (!xsm_target(caller, d))
        rc = -EPERM;
    else
        op.version = gnttab_vops(d->gt)->version;
    rcu_read_unlock();
    if (rc)
        return rc;
    gnttab_get_version_t *g = uop;
    if (copy_to_guest(&g->version, &op.version, sizeof(op.version)))
        return -EFAULT;
    return 0;
}

/* The frame numbers of the status frames (a v1 table has none, so asking
 * for any fails). It never grows anything; a frame the list cannot take
 * is bad_virt_addr and the others are still written. Only the status is
 * written back. */
long gnttab_get_status_frames(struct domain *caller, void *uop, unsigned int count)
{
    gnttab_get_status_frames_t op;

    if (count != 1)
        return -EINVAL;
    if (copy_from_guest(&op, uop, sizeof(op)))
        return -EFAULT;
    if (!guest_handle_okay(op.frame_list.p, op.nr_frames, sizeof(uint64_t)))
        return -EFAULT;
    rcu_read_lock();
    struct domain *d = gnttab_domain_by_id(caller, op.dom, true);
    if (!d) {
        op.status = GNTST_bad_domain;
    } else if (!xsm_target(caller, d)) {
        op.status = GNTST_permission_denied;
    } else {
        struct grant_table *gt = d->gt;
        xensim_mutex_lock(&gt->lock);
        op.status = GNTST_okay;
        if (op.nr_frames > gt->nr_status_frames) {
            op.status = GNTST_general_error;
        } else {
            for (uint32_t i = 0; i < op.nr_frames; i++) {
                uint64_t pfn = gt->status_pfn + i;
                if (copy_to_guest(op.frame_list.p + i, &pfn, sizeof(pfn)))
                    op.status = GNTST_bad_virt_addr;
            }
        }
        xensim_mutex_unlock(&gt->lock);
    }
    rcu_read_unlock();
    gnttab_get_status_frames_t *g = uop;
    if (copy_to_guest(&g->status, &op.status, sizeof(op.status)))
        return -EFAULT;
    return 0;
}
