/*
 * GNTTABOP_map_grant_ref and GNTTABOP_unmap_grant_ref: the per-element
 * checks in Xen's order, batches with a status per element, and the
 * teardown of a dying mapper's mappings. Relies on the maptrack, the pins
 * and the mapper's strict/fast ops (gnttab.h), and on sim.h's guest copies.
 */
#include "gnttab.h"

/* Batches are copied in and out this many elements at a time: one guest
 * copy per element would cost more than a fast-mode map itself. */
#define GNTTAB_BATCH 16

static uint32_t pins_of(uint16_t mapflags, bool readonly)
{
    uint32_t p = 0;
    if (mapflags & GNTMAP_host_map)
        p |= readonly ? GNTTAB_PIN_HOST_RD : GNTTAB_PIN_HOST_WR;
    if (mapflags & GNTMAP_device_map)
        p |= readonly ? GNTTAB_PIN_DEV_RD : GNTTAB_PIN_DEV_WR;
    return p;
}

/* Gives dying granters their last reference back; callers are outside
 * any RCU read-side section and hold no lock, as domain_put_foreign may
 * wait for a grace period or take sim->lock. */
static void put_all(struct domain **rds, unsigned int n)
{
    for (unsigned int k = 0; k < n; k++)
        if (rds[k])
            domain_put_foreign(rds[k]);
}

struct domain *gnttab_map_one(struct domain *ld, gnttab_map_grant_ref_t *op)
{
    struct grant_table *lgt = ld->gt;
    uint16_t kinds = op->flags & (GNTMAP_host_map | GNTMAP_device_map);
    bool ro = op->flags & GNTMAP_readonly;

    op->handle = GNTTAB_NO_HANDLE;
    /* Xen really answers bad flags with bad_gntref. */
    if (!kinds) {
        op->status = GNTST_bad_gntref;
        return NULL;
    }
    /* The granter is named by its real id; DOMID_SELF is not accepted.
     * XSM's default hook lets any domain map any grant made to it. */
    struct domain *rd = gnttab_domain_by_id(ld, op->dom, false);
    if (!rd) {
        op->status = GNTST_bad_domain;
        return NULL;
    }
    grant_handle_t h = gnttab_maptrack_get(lgt);
    if (h == GNTTAB_NO_HANDLE) {
        op->status = GNTST_no_space;
        return NULL;
    }
    uint32_t pins = pins_of(kinds, ro);
    bool put = false;
    xen_pfn_t frame;
    int16_t rc = gnttab_pin(rd, op->ref, ld->domid, pins, ro, true, &frame, &put);
    if (rc != GNTST_okay)
        goto fail_handle;

    void *addr = NULL;
    if (kinds & GNTMAP_host_map) {
        /* A hosted simulator cannot write a guest's page tables. */
        rc = GNTST_general_error;
        if (op->flags & GNTMAP_contains_pte)
            goto fail_pin;
        addr = lgt->ops->map(ld, h, rd, frame, ro);
        if (!addr)
            goto fail_pin;
    }

    struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, h);
    m->rd = rd;
    m->rdomid = rd->domid;
    m->ref = op->ref;
    m->readonly = ro;
    m->addr = addr;
    m->frame = frame;
    /* Published under mt_lock so a concurrent release of a dying mapper
     * either sees this mapping or makes us give it back. */
    sim_lock(&lgt->mt_lock);
    bool closed = lgt->mt_closed;
    if (!closed)
        atomic_store_explicit(&m->flags, kinds | (ro ? GNTMAP_readonly : 0),
                              memory_order_release);
    sim_unlock(&lgt->mt_lock);
    if (closed) {
        rc = GNTST_general_error;
        if (addr)
            lgt->ops->unmap(ld, h, addr);
        goto fail_pin;
    }
    op->handle = h;
    op->dev_bus_addr = (uint64_t)frame << XEN_PAGE_SHIFT;
    if (addr)
        op->host_addr = (uint64_t)(uintptr_t)addr;
    op->status = GNTST_okay;
    return NULL;

fail_pin:
    /* rd was alive when pinned but may have died since: this may have been
     * the pin that kept it. */
    put = gnttab_unpin(rd, op->ref, pins);
fail_handle:
    gnttab_maptrack_put(lgt, h);
    op->status = rc;
    return put ? rd : NULL;
}

/* Removes the kinds in done from handle h, whose flags were claimed (set to
 * left) under mt_lock; gives the handle back when nothing is left.
 * Returns the granter to put, if this was its last pin while dying. */
static struct domain *teardown(struct domain *ld, grant_handle_t h,
                               uint16_t flags, uint16_t done, uint16_t left)
{
    struct grant_table *lgt = ld->gt;
    struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, h);
    struct domain *rd = m->rd;

    if (done & GNTMAP_host_map)
        lgt->ops->unmap(ld, h, m->addr);
    bool put = gnttab_unpin(rd, m->ref, pins_of(done, flags & GNTMAP_readonly));
    if (!left)
        gnttab_maptrack_put(lgt, h);
    return put ? rd : NULL;
}

struct domain *gnttab_unmap_one(struct domain *ld, gnttab_unmap_grant_ref_t *op)
{
    struct grant_table *lgt = ld->gt;
    struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, op->handle);

    if (!m) {
        op->status = GNTST_bad_handle;
        return NULL;
    }
    /* Claimed under mt_lock: of two racing unmaps of one handle, the second
     * finds the kinds already gone. */
    sim_lock(&lgt->mt_lock);
    uint16_t flags = atomic_load_explicit(&m->flags, memory_order_relaxed);
    if (!flags) {
        sim_unlock(&lgt->mt_lock);
        op->status = GNTST_bad_handle;
        return NULL;
    }
    if (op->dev_bus_addr && op->dev_bus_addr != (uint64_t)m->frame << XEN_PAGE_SHIFT) {
        sim_unlock(&lgt->mt_lock);
        op->status = GNTST_bad_dev_addr;
        return NULL;
    }
    if (op->host_addr && (flags & GNTMAP_host_map) &&
        op->host_addr != (uint64_t)(uintptr_t)m->addr) {
        sim_unlock(&lgt->mt_lock);
        op->status = GNTST_general_error;
        return NULL;
    }
    /* Only the kinds whose address is given go. */
    uint16_t done = 0;
    if (op->host_addr && (flags & GNTMAP_host_map))
        done |= GNTMAP_host_map;
    if (op->dev_bus_addr && (flags & GNTMAP_device_map))
        done |= GNTMAP_device_map;
    uint16_t left = flags & ~done;
    if (!(left & (GNTMAP_host_map | GNTMAP_device_map)))
        left = 0;
    atomic_store_explicit(&m->flags, left, memory_order_release);
    sim_unlock(&lgt->mt_lock);

    op->status = GNTST_okay;
    if (!done)
        return NULL;
    return teardown(ld, op->handle, flags, done, left);
}

/* Claims every kind of handle h; 0 if it was not in use. */
static uint16_t claim_all(struct grant_table *lgt, grant_handle_t h)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, h);
    sim_lock(&lgt->mt_lock);
    uint16_t flags = atomic_load_explicit(&m->flags, memory_order_relaxed);
    atomic_store_explicit(&m->flags, 0, memory_order_release);
    sim_unlock(&lgt->mt_lock);
    return flags;
}

/* Copies elements [i, i+n) of a batch in; on a fault, element by element,
 * so that the elements before the bad one are still processed as in Xen.
 * Returns how many were copied. */
static unsigned int copy_in(void *dst, const char *uop, size_t size,
                            unsigned int i, unsigned int n)
{
    if (copy_from_guest(dst, uop + (size_t)i * size, (size_t)n * size) == 0)
        return n;
    unsigned int k = 0;
    while (k < n && copy_from_guest((char *)dst + k * size,
                                    uop + (size_t)(i + k) * size, size) == 0)
        k++;
    return k;
}

/* The reverse; returns how many were written back. */
static unsigned int copy_out(char *uop, const void *src, size_t size,
                             unsigned int i, unsigned int n)
{
    if (copy_to_guest(uop + (size_t)i * size, src, (size_t)n * size) == 0)
        return n;
    unsigned int k = 0;
    while (k < n && copy_to_guest(uop + (size_t)(i + k) * size,
                                  (const char *)src + k * size, size) == 0)
        k++;
    return k;
}

/* Unmaps a mapping the guest could not be told about. */
static struct domain *undo_map(struct domain *ld, grant_handle_t h)
{
    uint16_t flags = claim_all(ld->gt, h);
    return flags ? teardown(ld, h, flags, flags, 0) : NULL;
}

long gnttab_map_batch(struct domain *ld, void *uop, unsigned int count)
{
    gnttab_map_grant_ref_t ops[GNTTAB_BATCH];
    struct domain *puts[GNTTAB_BATCH];

    for (unsigned int i = 0; i < count; i += GNTTAB_BATCH) {
        unsigned int n = count - i < GNTTAB_BATCH ? count - i : GNTTAB_BATCH;
        unsigned int got = copy_in(ops, uop, sizeof(ops[0]), i, n);
        rcu_read_lock();
        for (unsigned int k = 0; k < got; k++)
            puts[k] = gnttab_map_one(ld, &ops[k]);
        rcu_read_unlock();
        put_all(puts, got);
        unsigned int told = copy_out(uop, ops, sizeof(ops[0]), i, got);
        if (told < got) {
            for (unsigned int k = told; k < got; k++) {
                if (ops[k].status != GNTST_okay)
                    continue;
                struct domain *rd = undo_map(ld, ops[k].handle);
                put_all(&rd, 1);
            }
            return -EFAULT;
        }
        if (got < n)
            return -EFAULT;
    }
    return 0;
}

long gnttab_unmap_batch(struct domain *ld, void *uop, unsigned int count)
{
    gnttab_unmap_grant_ref_t ops[GNTTAB_BATCH];
    struct domain *puts[GNTTAB_BATCH];

    for (unsigned int i = 0; i < count; i += GNTTAB_BATCH) {
        unsigned int n = count - i < GNTTAB_BATCH ? count - i : GNTTAB_BATCH;
        unsigned int got = copy_in(ops, uop, sizeof(ops[0]), i, n);
        for (unsigned int k = 0; k < got; k++)
            puts[k] = gnttab_unmap_one(ld, &ops[k]);
        put_all(puts, got);
        if (copy_out(uop, ops, sizeof(ops[0]), i, got) < got || got < n)
            return -EFAULT;
    }
    return 0;
}

void gnttab_release_all(struct domain *ld)
{
    struct grant_table *lgt = ld->gt;

    sim_lock(&lgt->mt_lock);
    lgt->mt_closed = true;
    sim_unlock(&lgt->mt_lock);

    unsigned int limit = gnttab_maptrack_limit(lgt);
    for (grant_handle_t h = 0; h < limit; h++) {
        struct domain *rd = undo_map(ld, h);
        put_all(&rd, 1);
    }
}
