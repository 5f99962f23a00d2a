/*
 * GNTTABOP_transfer for PV domains, as Xen 4.17 x86 does it (on by
 * default: opt_grant_transfer): the caller gives one of its pages to a
 * domain that offered a GTF_accept_transfer entry. Relies on gnttab.h, the
 * page allocator of domain_memory.c and the version ops.
 *
 * Pages cannot move between memfds, so the steal is a copy: the page's
 * contents go to a bounce buffer, the caller's page is zeroed and given
 * back to its allocator (where Xen takes it off the caller's list), and on
 * success a free page of the receiver gets the contents (where Xen
 * assigns the page to it; its tot_pages grows by one in both). As in Xen,
 * every failure after the steal leaves the page lost.
 */
#include "gnttab.h"

/* Xen's gnttab_prepare_for_transfer gives up after this many attempts at
 * the (flags, domid) compare-exchange ("retries++ == 4"). */
#define TRANSFER_ATTEMPTS 5

typedef uint32_t __attribute__((may_alias)) hdr_word_t;
union hdr_word {
    uint32_t raw;
    grant_entry_header_t h;
};

/* Xen's steal_page: the page must be the caller's RAM, in its allocator's
 * hands, and have no other reference, which in xensim means no pin of
 * any of its grants holds it. Under gt->lock, so that no pin starts while
 * the page goes; its contents are kept in buf. */
static int16_t steal(struct domain *d, xen_pfn_t pfn, uint8_t *buf)
{
    int16_t rc = GNTST_okay;

    if (pfn >= d->nr_pages)
        return GNTST_bad_page;
    xensim_mutex_lock(&d->gt->lock);
    xensim_mutex_lock(&d->page_lock);
    uint64_t bit = 1ull << (pfn % 64);
    if (!(d->page_used[pfn / 64] & bit) || gnttab_frame_pinned_locked(d, pfn)) {
        rc = GNTST_bad_page;
    } else {
        uint8_t *page = domain_pfn_to_virt(d, pfn);
        memcpy(buf, page, XEN_PAGE_SIZE);
        memset(page, 0, XEN_PAGE_SIZE);
        d->page_used[pfn / 64] &= ~bit;
        d->pages_in_use--;
    }
    xensim_mutex_unlock(&d->page_lock);
    xensim_mutex_unlock(&d->gt->lock);
    return rc;
}

/* Commits e's entry ref to a transfer from d: exactly GTF_accept_transfer
 * and granted to d, then GTF_transfer_committed, all in one compare-
 * exchange. A ref out of range is general_error here, not bad_gntref. */
static bool prepare(struct domain *e, grant_ref_t ref, domid_t from)
{
    struct grant_table *gt = e->gt;
    bool ok = false;

    xensim_mutex_lock(&gt->lock);
    if (ref < gnttab_nr_entries(gt)) {
        const struct gnttab_version_ops *vo = gnttab_vops(gt);
        hdr_word_t *w = (hdr_word_t *)((uint8_t *)gt->shared + (size_t)ref * vo->entry_size);
        union hdr_word cur, want;
        cur.raw = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        for (unsigned int attempt = 1; attempt <= TRANSFER_ATTEMPTS; attempt++) {
            if (cur.h.flags != GTF_accept_transfer || cur.h.domid != from)
                break;
            want = cur;
            want.h.flags |= GTF_transfer_committed;
            if (__atomic_compare_exchange_n(w, &cur.raw, want.raw, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                ok = true;
                break;
            }
        }
    }
    xensim_mutex_unlock(&gt->lock);
    return ok;
}

/* The entry gets its new frame, then GTF_transfer_completed. */
static void complete(struct domain *e, grant_ref_t ref, xen_pfn_t pfn)
{
    struct grant_table *gt = e->gt;
    xensim_mutex_lock(&gt->lock);
    gnttab_vops(gt)->transfer_done(gt, ref, pfn);
    xensim_mutex_unlock(&gt->lock);
}

/* One element, in Xen's order. */
static int16_t transfer_one(struct domain *d, const gnttab_transfer_t *op, uint8_t *buf)
{
    int16_t rc = steal(d, op->mfn, buf);
    if (rc != GNTST_okay)
        return rc;
    /* From here on the caller has lost the page whatever happens. */
    rcu_read_lock();
    struct domain *e = gnttab_domain_by_id(d, op->domid, false);
    if (!e) {
        rc = GNTST_bad_domain;
        goto out;
    }
    /* XSM's default hook allows any transfer. The address-width check
     * cannot fire: xensim's frames fit any target. A dying target, or one
     * with no room (Xen: tot_pages at max_pages), takes nothing. */
    xen_pfn_t pfn = atomic_load(&e->is_dying) ? ~(xen_pfn_t)0 : domain_page_alloc(e);
    if (pfn == ~(xen_pfn_t)0) {
        rc = GNTST_general_error;
        goto out;
    }
    if (!prepare(e, op->ref, d->domid)) {
        domain_page_free(e, pfn);
        rc = GNTST_general_error;
        goto out;
    }
    memcpy(domain_pfn_to_virt(e, pfn), buf, XEN_PAGE_SIZE);
    complete(e, op->ref, pfn);
out:
    rcu_read_unlock();
    return rc;
}

/* Only the status is written back; a fault reading or writing an element
 * ends the batch with -EFAULT, the elements before it done. */
long gnttab_transfer_batch(struct domain *d, void *uop, unsigned int count)
{
    gnttab_transfer_t *g = uop;
    uint8_t *buf = NULL;
    long rc = 0;

    for (unsigned int i = 0; i < count; i++) {
        gnttab_transfer_t op;
        if (copy_from_guest(&op, &g[i], sizeof(op))) {
            rc = -EFAULT;
            break;
        }
        if (!buf && !(buf = malloc(XEN_PAGE_SIZE)))
            op.status = GNTST_general_error;
        else
            op.status = transfer_one(d, &op, buf);
        if (copy_to_guest(&g[i].status, &op.status, sizeof(op.status))) {
            rc = -EFAULT;
            break;
        }
    }
    free(buf);
    return rc;
}
