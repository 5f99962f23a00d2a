/*
 * GNTTABOP_copy: copies between two frames, each named by a grant
 * (domid, ref) or, for the caller's own memory only, by frame number.
 * Grants are pinned for the length of the copy, as Xen does. Relies on the
 * pins (gnttab_pin.c) and sim.h's guest copies.
 */
#include "gnttab.h"
#include "tracepoint.h"

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

/* The COPY point: an event per element with both sides and its status;
 * the generic ref names the granted side, the source's if it has one. */
static void trace_copies(struct domain *ld, const gnttab_copy_t *ops, unsigned int n)
{
    for (unsigned int k = 0; k < n; k++) {
        const gnttab_copy_t *op = &ops[k];
        bool src_gref = op->flags & GNTCOPY_source_gref;
        bool dst_gref = op->flags & GNTCOPY_dest_gref;
        struct xensim_trace_event ev;
        trace_event_init(&ev, XENSIM_TRACE_COPY, ld->sim, ld->domid, trace_current_vcpu(ld));
        ev.rc = op->status;
        ev.u.copy.src_dom = op->source.domid;
        ev.u.copy.dst_dom = op->dest.domid;
        ev.u.copy.src = src_gref ? op->source.u.ref : op->source.u.gmfn;
        ev.u.copy.dst = dst_gref ? op->dest.u.ref : op->dest.u.gmfn;
        ev.u.copy.src_offset = op->source.offset;
        ev.u.copy.dst_offset = op->dest.offset;
        ev.u.copy.len = op->len;
        ev.u.copy.flags = op->flags;
        if (src_gref || dst_gref) {
            ev.remote_dom = src_gref ? op->source.domid : op->dest.domid;
            ev.ref = src_gref ? op->source.u.ref : op->dest.u.ref;
        }
        trace_emit(ld->sim, &ev);
    }
}

long gnttab_copy_batch(struct domain *ld, void *uop, unsigned int count)
{
    gnttab_copy_t ops[GNTTAB_COPY_BATCH];
    struct domain *puts[GNTTAB_COPY_BATCH][2];
    char *base = uop;

    for (unsigned int i = 0; i < count; i += GNTTAB_COPY_BATCH) {
        unsigned int n = count - i < GNTTAB_COPY_BATCH ? count - i : GNTTAB_COPY_BATCH;
        unsigned int got = copy_from_guest_elems(ops, uop, sizeof(ops[0]), i, n);
        rcu_read_lock();
        for (unsigned int k = 0; k < got; k++)
            ops[k].status = copy_one(ld, &ops[k], puts[k]);
        if (trace_on(ld->sim))
            trace_copies(ld, ops, got);
        rcu_read_unlock();
        for (unsigned int k = 0; k < got; k++)
            for (int j = 0; j < 2; j++)
                if (puts[k][j])
                    domain_put_foreign(puts[k][j]);
        /* Only the status is an output. */
        for (unsigned int k = 0; k < got; k++) {
            gnttab_copy_t *g = (gnttab_copy_t *)(base + (size_t)(i + k) * sizeof(ops[0]));
            if (copy_to_guest(&g->status, &ops[k].status, sizeof(ops[k].status)))
                return -EFAULT;
        }
        if (got < n)
            return -EFAULT;
    }
    return 0;
}
