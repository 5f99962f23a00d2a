/*
 * Grant tables: each domain's table (its life from build to free), the
 * grant_table_op hypercall and its dispatcher, and the small table ops
 * (setup_table, query_size, swap_grant_ref, cache_flush). Map and unmap live in gnttab_map.c, copy
 * in gnttab_copy.c, transfer in gnttab_transfer.c, the versions and
 * status frames in gnttab_version.c; relies on sim.h.
 */
#include "gnttab.h"

#define GNTTAB_DEFAULT_MAX_FRAMES 64        /* Xen's gnttab_max_frames */
#define GNTTAB_DEFAULT_MAPTRACK_FRAMES 1024 /* Xen's gnttab_max_maptrack_frames */
#define GNTTAB_INITIAL_FRAMES 1             /* INITIAL_NR_GRANT_FRAMES */
/* Command bits above these carry a continuation (cache_flush only). */
#define GNTTAB_CMD_MASK ((1u << 12) - 1)

int gnttab_domain_init(struct domain *d)
{
    struct grant_table *gt = calloc(1, sizeof(*gt));
    if (!gt)
        return -ENOMEM;
    gt->ops = d->gnttab_mode == XENSIM_GNTTAB_FAST ? &gnttab_map_fast_ops
                                                   : &gnttab_map_strict_ops;
    gt->d = d;
    gt->max_frames = d->max_grant_frames ? d->max_grant_frames : GNTTAB_DEFAULT_MAX_FRAMES;
    /* Every table starts at v1, whatever its maximum. */
    atomic_init(&gt->vops, &gnttab_v1_ops);
    gt->max_version = d->max_grant_version ? d->max_grant_version : 2;
    gt->shared_pfn = d->nr_pages + 1;
    gt->shared = domain_pfn_to_virt(d, gt->shared_pfn);
    gt->status_pfn = gt->shared_pfn + gt->max_frames;
    gt->status = domain_pfn_to_virt(d, gt->status_pfn);
    gt->active = calloc(gt->max_frames, sizeof(*gt->active));
    int e = pthread_mutex_init(&gt->lock, NULL);
    if (e)
        XENSIM_DIE("pthread_mutex_init", e);
    d->gt = gt;
    if (!gt->shared || !gt->status || !gt->active ||
        gnttab_grow_locked(gt, GNTTAB_INITIAL_FRAMES) ||
        gnttab_maptrack_init(gt, d->max_maptrack_frames ? d->max_maptrack_frames
                                                        : GNTTAB_DEFAULT_MAPTRACK_FRAMES)) {
        gnttab_domain_free(d);
        return -ENOMEM;
    }
    return 0;
}

/* The builder runs before the guest, so the table is still v1. */
void gnttab_seed_reserved(struct domain *d, grant_ref_t ref, domid_t domid, xen_pfn_t pfn)
{
    grant_entry_v1_t *e = (grant_entry_v1_t *)d->gt->shared + ref;

    assert(ref < GNTTAB_NR_RESERVED_ENTRIES && gnttab_vops(d->gt)->version == 1);
    e->domid = domid;
    e->frame = (uint32_t)pfn;
    /* The flags make the entry live, so they go last, as a guest does. */
    __atomic_store_n(&e->flags, GTF_permit_access, __ATOMIC_RELEASE);
}

void gnttab_domain_free(struct domain *d)
{
    struct grant_table *gt = d->gt;
    if (!gt)
        return;
    gnttab_window_free(gt);
    gnttab_maptrack_free(gt);
    if (gt->active)
        for (unsigned int i = 0; i < gt->max_frames; i++)
            free(gt->active[i]);
    free(gt->active);
    pthread_mutex_destroy(&gt->lock);
    free(gt);
    d->gt = NULL;
}

void gnttab_release_mappings(struct domain *d)
{
    if (d->gt)
        gnttab_release_all(d);
}

unsigned int gnttab_maptrack_in_use(struct domain *d)
{
    return d->gt ? atomic_load_explicit(&d->gt->mt_in_use, memory_order_relaxed) : 0;
}

/* The domain a table op names (DOMID_SELF allowed), if the caller may act
 * on it; otherwise NULL, with the status Xen answers. Caller holds
 * rcu_read_lock. */
static struct domain *table_op_target(struct domain *caller, domid_t dom, int16_t *status)
{
    struct domain *d = gnttab_domain_by_id(caller, dom, true);

    *status = GNTST_okay;
    if (!d)
        *status = GNTST_bad_domain;
    else if (!xsm_target(caller, d))
        *status = GNTST_permission_denied;
    return *status == GNTST_okay ? d : NULL;
}

static long setup_table(struct domain *caller, void *uop, unsigned int count)
{
    gnttab_setup_table_t op;

    if (count != 1)
        return -EINVAL;
    if (copy_from_guest(&op, uop, sizeof(op)))
        return -EFAULT;
    if (!guest_handle_okay(op.frame_list.p, op.nr_frames, sizeof(xen_pfn_t)))
        return -EFAULT;
    rcu_read_lock();
    struct domain *d = table_op_target(caller, op.dom, &op.status);
    if (d) {
        struct grant_table *gt = d->gt;
        sim_mutex_lock(&gt->lock);
        /* Growing in v2 populates the status frames too; the list gets
         * the shared frames only. */
        if (op.nr_frames > gt->max_frames) {
            op.status = GNTST_general_error;
        } else if (gnttab_grow_locked(gt, op.nr_frames)) {
            op.status = GNTST_general_error;
        } else {
            op.status = GNTST_okay;
            /* Like Xen, a frame the list cannot take does not stop the
             * others. */
            for (uint32_t i = 0; i < op.nr_frames; i++) {
                xen_pfn_t pfn = gt->shared_pfn + i;
                if (copy_to_guest(guest_at(op.frame_list.p, (size_t)i * sizeof(pfn)), &pfn,
                                  sizeof(pfn)))
                    op.status = GNTST_bad_virt_addr;
            }
        }
        sim_mutex_unlock(&gt->lock);
    }
    rcu_read_unlock();
    if (copy_to_guest(guest_field(uop, gnttab_setup_table_t, status), &op.status,
                      sizeof(op.status)))
        return -EFAULT;
    return 0;
}

static long query_size(struct domain *caller, void *uop, unsigned int count)
{
    gnttab_query_size_t op;

    if (count != 1)
        return -EINVAL;
    if (copy_from_guest(&op, uop, sizeof(op)))
        return -EFAULT;
    rcu_read_lock();
    struct domain *d = table_op_target(caller, op.dom, &op.status);
    if (d) {
        op.nr_frames = atomic_load(&d->gt->nr_frames);
        op.max_nr_frames = d->gt->max_frames;
    }
    rcu_read_unlock();
    if (copy_to_guest(uop, &op, sizeof(op)))
        return -EFAULT;
    return 0;
}

static long swap_grant_ref(struct domain *d, void *uop, unsigned int count)
{
    for (unsigned int i = 0; i < count; i++) {
        gnttab_swap_grant_ref_t op;
        void *g = guest_at(uop, (size_t)i * sizeof(op));
        if (copy_from_guest(&op, g, sizeof(op)))
            return -EFAULT;
        op.status = gnttab_swap_refs(d, op.ref_a, op.ref_b);
        if (copy_to_guest(guest_field(g, gnttab_swap_grant_ref_t, status), &op.status,
                          sizeof(op.status)))
            return -EFAULT;
    }
    return 0;
}

/*
 * One GNTTABOP_cache_flush element, with Xen 4.17's checks in its order
 * (x86 handles the op too, until 4.21 made it ARM-only). cur_ref is the
 * continuation argument, cmd bits 12 and up: a zero-length element must
 * not carry one, and a foreign frame must be mapped from a ref at or
 * above it. xensim has no global frame numbers: dev_bus_addr names a
 * frame the caller maps (of any granter), else one of its own RAM.
 */
static long cache_flush_one(struct domain *d, const gnttab_cache_flush_t *op, grant_ref_t cur_ref)
{
    /* This also refuses GNTTAB_CACHE_SOURCE_GREF, before Xen's
     * "currently unimplemented" -EOPNOTSUPP for it is reached. */
    if (op->offset >= XEN_PAGE_SIZE || op->length > XEN_PAGE_SIZE ||
        op->offset + op->length > XEN_PAGE_SIZE ||
        (op->op & ~(GNTTAB_CACHE_INVAL | GNTTAB_CACHE_CLEAN)))
        return -EINVAL;
    if (op->length == 0 || op->op == 0)
        return cur_ref ? -EILSEQ : 0;
    /* The machine address of a map (dev_bus_addr) is the granter's frame;
     * the caller's own frames need no grant. */
    xen_pfn_t frame = op->a.dev_bus_addr >> XEN_PAGE_SHIFT;
    if (!gnttab_maps_frame(d, frame, cur_ref) && frame >= d->nr_pages)
        return -EINVAL;
    /* A host's caches are coherent, so a clean has nothing left to do.
     * x86 cannot invalidate without cleaning (invalidate_dcache_va_range
     * is -EOPNOTSUPP there); clean-and-invalidate is a cache flush. */
    if (op->op == GNTTAB_CACHE_INVAL)
        return -EOPNOTSUPP;
    return 0;
}

static long cache_flush(struct domain *d, void *uop, unsigned int count, unsigned int cur_ref)
{
    for (unsigned int i = 0; i < count; i++) {
        gnttab_cache_flush_t op;
        if (copy_from_guest(&op, guest_at(uop, (size_t)i * sizeof(op)), sizeof(op)))
            return -EFAULT;
        long rc = cache_flush_one(d, &op, cur_ref);
        if (rc)
            return rc;
        cur_ref = 0;
    }
    return 0;
}

/* The dispatcher's handlers all take cont, the continuation argument in
 * cmd's upper bits; only cache_flush may be given one. */
#define GNTTAB_BATCH_OP(fn)                                                   \
    static long op_##fn(struct domain *d, void *uop, unsigned int count,       \
                        unsigned int cont)                                    \
    {                                                                         \
        (void)cont;                                                           \
        return fn(d, uop, count);                                             \
    }
GNTTAB_BATCH_OP(gnttab_map_batch)
GNTTAB_BATCH_OP(gnttab_unmap_batch)
GNTTAB_BATCH_OP(setup_table)
GNTTAB_BATCH_OP(gnttab_copy_batch)
GNTTAB_BATCH_OP(query_size)
GNTTAB_BATCH_OP(gnttab_get_status_frames)
GNTTAB_BATCH_OP(gnttab_transfer_batch)
GNTTAB_BATCH_OP(swap_grant_ref)
GNTTAB_BATCH_OP(gnttab_unmap_and_replace_batch)

/* Xen's get_version and set_version take one struct and ignore count. */
static long op_get_version(struct domain *d, void *uop, unsigned int count, unsigned int cont)
{
    (void)count;
    (void)cont;
    return gnttab_get_version(d, uop);
}

static long op_set_version(struct domain *d, void *uop, unsigned int count, unsigned int cont)
{
    (void)count;
    (void)cont;
    return gnttab_set_version(d, uop);
}

typedef long (*gnttab_op_fn)(struct domain *d, void *uop, unsigned int count,
                             unsigned int cont);
static const gnttab_op_fn gnttab_ops[] = {
    [GNTTABOP_map_grant_ref] = op_gnttab_map_batch,
    [GNTTABOP_unmap_grant_ref] = op_gnttab_unmap_batch,
    [GNTTABOP_setup_table] = op_setup_table,
    [GNTTABOP_transfer] = op_gnttab_transfer_batch,
    [GNTTABOP_copy] = op_gnttab_copy_batch,
    [GNTTABOP_query_size] = op_query_size,
    [GNTTABOP_unmap_and_replace] = op_gnttab_unmap_and_replace_batch,
    [GNTTABOP_set_version] = op_set_version,
    [GNTTABOP_get_status_frames] = op_gnttab_get_status_frames,
    [GNTTABOP_get_version] = op_get_version,
    [GNTTABOP_swap_grant_ref] = op_swap_grant_ref,
    [GNTTABOP_cache_flush] = cache_flush,
    /* dump_table (dropped from Xen's dispatcher long ago) and unknown
     * commands are -ENOSYS. */
};

static long do_grant_table_op(struct domain *d, unsigned int cmd, void *uop, unsigned int count)
{
    unsigned int op = cmd & GNTTAB_CMD_MASK;

    if ((int)count < 0)
        return -EINVAL;
    if ((cmd & ~GNTTAB_CMD_MASK) && op != GNTTABOP_cache_flush)
        return -EINVAL;
    if (op >= ARRAY_SIZE(gnttab_ops) || !gnttab_ops[op])
        return -ENOSYS;
    return gnttab_ops[op](d, uop, count, cmd & ~GNTTAB_CMD_MASK);
}

long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    struct vcpu *v = vcpu_hypercall_enter(__HYPERVISOR_grant_table_op, (int)cmd);
    if (!v)
        return -EPERM;
    return vcpu_hypercall_exit(v, __HYPERVISOR_grant_table_op, (int)cmd,
                               do_grant_table_op(v->d, cmd, uop, count));
}
