/*
 * GNTTABOP_copy: copies between two frames, each named by a grant
 * (domid, ref) or, for the caller's own memory only, by frame number.
 * Grants are pinned for the length of the copy, as Xen does. Relies on the
 * pins (gnttab_pin.c) and sim.h's guest copies.
 */
#include "gnttab.h"

#define GNTTAB_COPY_BATCH 16

/* One side of a copy once claimed: where its frame is and what to undo. */
struct copy_side {
    struct domain *d;
    uint8_t *page;
    bool pinned;
    grant_ref_t ref;
    uint32_t pin;
    bool put;                 /* a failed pin met a dying granter */
};

/* Only DOMID_SELF may name a frame by number; a grant names any domain. */
static int16_t side_domain(struct domain *ld, const struct gnttab_copy_ptr *p,
                           bool is_gref, struct copy_side *s)
{
    if (!is_gref && p->domid != DOMID_SELF)
        return GNTST_permission_denied;
    s->d = gnttab_domain_by_id(ld, p->domid, true);
    return s->d ? GNTST_okay : GNTST_bad_domain;
}

static int16_t side_claim(struct domain *ld, const struct gnttab_copy_ptr *p,
                          bool is_gref, bool write, struct copy_side *s)
{
    xen_pfn_t frame;

    if (is_gref) {
        uint32_t pin = write ? GNTTAB_PIN_HOST_WR : GNTTAB_PIN_HOST_RD;
        int16_t rc = gnttab_pin(s->d, p->u.ref, ld->domid, pin, !write, false,
                                &frame, &s->put);
        if (rc != GNTST_okay)
            return rc;
        s->pinned = true;
        s->ref = p->u.ref;
        s->pin = pin;
    } else {
        frame = p->u.gmfn;
        if (frame >= s->d->nr_pages)
            return GNTST_bad_page;
    }
    s->page = domain_pfn_to_virt(s->d, frame);
    return GNTST_okay;
}

/* Returns the domain to put if unpinning dropped a dying granter's last. */
static struct domain *side_release(struct copy_side *s)
{
    if (s->pinned) {
        s->pinned = false;
        s->put = gnttab_unpin(s->d, s->ref, s->pin);
    }
    return s->put ? s->d : NULL;
}

/* Xen's order: both domains, then both grants, then the bounds. */
static int16_t copy_one(struct domain *ld, const gnttab_copy_t *op, struct domain *puts[2])
{
    struct copy_side src = { 0 }, dst = { 0 };
    bool src_gref = op->flags & GNTCOPY_source_gref;
    bool dst_gref = op->flags & GNTCOPY_dest_gref;
    int16_t rc;

    puts[0] = puts[1] = NULL;
    rc = side_domain(ld, &op->source, src_gref, &src);
    if (rc == GNTST_okay)
        rc = side_domain(ld, &op->dest, dst_gref, &dst);
    if (rc != GNTST_okay)
        return rc;
    rc = side_claim(ld, &op->source, src_gref, false, &src);
    if (rc == GNTST_okay)
        rc = side_claim(ld, &op->dest, dst_gref, true, &dst);
    if (rc == GNTST_okay &&
        ((unsigned int)op->source.offset + op->len > XEN_PAGE_SIZE ||
         (unsigned int)op->dest.offset + op->len > XEN_PAGE_SIZE))
        rc = GNTST_bad_copy_arg;
    /* A v1 grant always covers its whole page, so there is no sub-page
     * window to check here. Source and destination may be the same page. */
    if (rc == GNTST_okay && op->len)
        memmove(dst.page + op->dest.offset, src.page + op->source.offset, op->len);
    puts[0] = side_release(&src);
    puts[1] = side_release(&dst);
    return rc;
}

/* Only the status is written back. As in Xen, an element whose status
 * cannot be written ends the batch with -EFAULT and those after it are
 * not done: the status fields are written back as they were read first,
 * to find it. */
long gnttab_copy_batch(struct domain *ld, void *uop, unsigned int count)
{
    const size_t off = offsetof(gnttab_copy_t, status);
    gnttab_copy_t ops[GNTTAB_COPY_BATCH];
    struct domain *puts[GNTTAB_COPY_BATCH][2];

    for (unsigned int i = 0; i < count; i += GNTTAB_COPY_BATCH) {
        unsigned int n = count - i < GNTTAB_COPY_BATCH ? count - i : GNTTAB_COPY_BATCH;
        unsigned int got = gnttab_copy_in(ops, uop, sizeof(ops[0]), i, n);
        unsigned int ok = copy_fields_to_guest((char *)uop + (size_t)i * sizeof(ops[0]) + off,
                                               (char *)ops + off, sizeof(ops[0]),
                                               sizeof(int16_t), got);
        unsigned int todo = ok < got ? ok + 1 : got;
        rcu_read_lock();
        for (unsigned int k = 0; k < todo; k++)
            ops[k].status = copy_one(ld, &ops[k], puts[k]);
        rcu_read_unlock();
        for (unsigned int k = 0; k < todo; k++)
            for (int j = 0; j < 2; j++)
                if (puts[k][j])
                    domain_put_foreign(puts[k][j]);
        if (copy_fields_to_guest((char *)uop + (size_t)i * sizeof(ops[0]) + off,
                                 (char *)ops + off, sizeof(ops[0]), sizeof(int16_t),
                                 todo) < todo ||
            todo < n)
            return -EFAULT;
    }
    return 0;
}
