/*
 * GNTTABOP_copy: copies between two frames, each named by a grant
 * (domid, ref) or, for the caller's own memory only, by frame number.
 * Grants are pinned for the length of the copy (gnttab_acquire, which
 * also follows a v2 transitive grant), and a copy stays inside each
 * grant's window (a v2 sub-page grant's bytes). Relies on the pins
 * (gnttab_pin.c) and sim.h's guest copies.
 *
 * Xen keeps a buffer claimed from one element to the next while the
 * domain and ref (or frame) stay the same; here each element claims its
 * own. The difference cannot be seen from outside the hypercall: the same
 * checks pass, and the pins and status bits are the same once it returns.
 */
#include "gnttab.h"
#include "tracepoint.h"

#define GNTTAB_COPY_BATCH 16

/* One side of a copy once claimed. */
struct copy_side {
    struct domain *d;
    uint8_t *page;
    uint16_t start, length;   /* the window (a frame: the whole page) */
    struct gnttab_claim claim;
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

/* Xen's gnttab_copy_claim_buf. Transitive grants are allowed, as with
 * Xen's default gnttab=transitive. */
static int16_t side_claim(struct domain *ld, const struct gnttab_copy_ptr *p,
                          bool is_gref, bool write, struct copy_side *s)
{
    if (is_gref) {
        int16_t rc = gnttab_acquire(s->d, p->u.ref, ld->domid, !write, true, &s->claim);
        if (rc != GNTST_okay)
            return rc;
        s->page = s->claim.page;
        s->start = s->claim.start;
        s->length = s->claim.length;
        return GNTST_okay;
    }
    if (p->u.gmfn >= s->d->nr_pages)
        return GNTST_bad_page;
    s->page = domain_pfn_to_virt(s->d, p->u.gmfn);
    s->start = 0;
    s->length = XEN_PAGE_SIZE;
    return GNTST_okay;
}

/* Xen's gnttab_copy_buf checks: the page first, then each window. */
static int16_t check_bounds(const gnttab_copy_t *op, const struct copy_side *src,
                            const struct copy_side *dst)
{
    unsigned int so = op->source.offset, d_o = op->dest.offset, len = op->len;

    if (so + len > XEN_PAGE_SIZE || d_o + len > XEN_PAGE_SIZE)
        return GNTST_bad_copy_arg;
    if (so < src->start || so + len > (unsigned int)src->start + src->length)
        return GNTST_general_error;
    if (d_o < dst->start || d_o + len > (unsigned int)dst->start + dst->length)
        return GNTST_general_error;
    return GNTST_okay;
}

/* Xen's order: both domains, then both grants, then the bounds. A
 * zero-length copy runs every check too. */
static int16_t copy_one(struct domain *ld, const gnttab_copy_t *op, struct domain *puts[4])
{
    struct copy_side src = { 0 }, dst = { 0 };
    bool src_gref = op->flags & GNTCOPY_source_gref;
    bool dst_gref = op->flags & GNTCOPY_dest_gref;
    int16_t rc;

    rc = side_domain(ld, &op->source, src_gref, &src);
    if (rc == GNTST_okay)
        rc = side_domain(ld, &op->dest, dst_gref, &dst);
    if (rc == GNTST_okay)
        rc = side_claim(ld, &op->source, src_gref, false, &src);
    if (rc == GNTST_okay)
        rc = side_claim(ld, &op->dest, dst_gref, true, &dst);
    if (rc == GNTST_okay)
        rc = check_bounds(op, &src, &dst);
    /* Source and destination may be the same page. */
    if (rc == GNTST_okay && op->len)
        memmove(dst.page + op->dest.offset, src.page + op->source.offset, op->len);
    gnttab_release(&src.claim);
    gnttab_release(&dst.claim);
    puts[0] = src.claim.puts[0];
    puts[1] = src.claim.puts[1];
    puts[2] = dst.claim.puts[0];
    puts[3] = dst.claim.puts[1];
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

/* Only the status is written back. As in Xen, an element whose status
 * cannot be written ends the batch with -EFAULT and those after it are
 * not done (guest_fields_writable finds it first). */
long gnttab_copy_batch(struct domain *ld, void *uop, unsigned int count)
{
    const size_t off = offsetof(gnttab_copy_t, status);
    gnttab_copy_t ops[GNTTAB_COPY_BATCH];
    struct domain *puts[GNTTAB_COPY_BATCH][4];

    for (unsigned int i = 0; i < count; i += GNTTAB_COPY_BATCH) {
        unsigned int n = count - i < GNTTAB_COPY_BATCH ? count - i : GNTTAB_COPY_BATCH;
        unsigned int got = copy_from_guest_elems(ops, uop, sizeof(ops[0]), i, n);
        unsigned int todo = gnttab_batch_todo(uop, sizeof(ops[0]), off, sizeof(int16_t), i, got);
        rcu_read_lock();
        for (unsigned int k = 0; k < todo; k++)
            ops[k].status = copy_one(ld, &ops[k], puts[k]);
        if (trace_on(ld->sim))
            trace_copies(ld, ops, got);
        rcu_read_unlock();
        for (unsigned int k = 0; k < todo; k++)
            for (int j = 0; j < 4; j++)
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
