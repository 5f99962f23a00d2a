/*
 * GNTTABOP_map_grant_ref, GNTTABOP_unmap_grant_ref and
 * GNTTABOP_unmap_and_replace: the per-element checks in Xen's order,
 * batches with a status per element, and the teardown of a dying mapper's
 * mappings. Relies on the maptrack, the pins
 * and the mapper's strict/fast ops (gnttab.h), and on sim.h's guest copies.
 *
 * A batch is done in phases: every element's checks and pins, then the
 * host mappings, runs of neighbouring slots and frames in one call (as Xen
 * flushes the TLB once per batch), then publication in the maptrack.
 * Creating the host mapping is Xen's last step anyway, so the statuses
 * are those of a one-by-one loop. Unmaps likewise remove a run of
 * neighbouring slots at once.
 *
 * Xen copies each element back right after doing it and stops at the
 * first copy that faults, the elements after it never attempted. A batch
 * here first finds that element (guest_fields_writable) and does the
 * elements up to it only; should the write back still fault (the guest
 * changed its protection meanwhile), the maps after the faulting one are
 * undone and their handles given back as if never taken.
 */
#include "gnttab.h"
#include "tracepoint.h"

/* Batches are copied in and out this many elements at a time: one guest
 * copy per element would cost more than a fast-mode map itself. */
#define GNTTAB_BATCH 32

/* One map between its pin and its publication. */
struct map_pending {
    grant_handle_t h;
    struct domain *rd;
    xen_pfn_t frame;
    uint32_t pins;
    void *addr;
};

/* One unmap (or unmap_and_replace) between its claim and its teardown:
 * Xen's struct gnttab_unmap_common. */
struct unmap_pending {
    uint64_t host_addr, dev_bus_addr, new_addr;
    grant_handle_t h;
    bool replace;
    int16_t status;
    uint16_t flags, done, left;
    xen_pfn_t new_pfn;        /* the caller's page new_addr lies in */
    struct gnttab_maptrack *m;    /* h's entry, once claimed */
};

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

/* Steps 1-9 and the contains_pte part of 10: a handle and a pin. Sets
 * op->status, and on failure nothing else: Xen's failure paths leave the
 * guest's handle, dev_bus_addr and host_addr as it gave them. On failure
 * may leave a dying granter in *put. */
static void map_prepare(struct domain *ld, gnttab_map_grant_ref_t *op,
                        struct map_pending *p, struct domain **put)
{
    uint16_t kinds = op->flags & (GNTMAP_host_map | GNTMAP_device_map);
    bool ro = op->flags & GNTMAP_readonly;

    *put = NULL;
    /* Xen really answers bad flags with bad_gntref. */
    if (!kinds) {
        op->status = GNTST_bad_gntref;
        return;
    }
    /* The granter is named by its real id; DOMID_SELF is not accepted.
     * XSM's default hook lets any domain map any grant made to it. */
    struct domain *rd = gnttab_domain_by_id(ld, op->dom, false);
    if (!rd) {
        op->status = GNTST_bad_domain;
        return;
    }
    grant_handle_t h = gnttab_maptrack_get(ld->gt);
    if (h == GNTTAB_NO_HANDLE) {
        op->status = GNTST_no_space;
        return;
    }
    uint32_t pins = pins_of(kinds, ro);
    bool dying = false;
    int16_t rc = gnttab_pin(rd, op->ref, ld->domid, pins, ro, &p->frame, &dying);
    /* A hosted simulator cannot write a guest's page tables. */
    if (rc == GNTST_okay && (kinds & GNTMAP_host_map) && (op->flags & GNTMAP_contains_pte)) {
        dying = gnttab_unpin(rd, op->ref, pins);
        rc = GNTST_general_error;
    }
    if (rc != GNTST_okay) {
        gnttab_maptrack_put(ld->gt, h);
        *put = dying ? rd : NULL;
        op->status = rc;
        return;
    }
    p->h = h;
    p->rd = rd;
    p->pins = pins;
    p->addr = NULL;
    op->status = GNTST_okay;
}

/* Step 10 for a batch: host mappings, a run of neighbouring elements on
 * consecutive frames of one granter in as few calls as the mapping ops
 * can. A failed call fails each of its elements with GNTST_general_error
 * (and undoes its pin). */
static void map_hosts(struct domain *ld, gnttab_map_grant_ref_t *ops,
                      struct map_pending *p, struct domain **puts, unsigned int n)
{
    const struct gnttab_map_ops *mo = ld->gt->ops;
    grant_handle_t h[GNTTAB_BATCH];

    for (unsigned int k = 0; k < n;) {
        if (ops[k].status != GNTST_okay || !(ops[k].flags & GNTMAP_host_map)) {
            k++;
            continue;
        }
        bool ro = ops[k].flags & GNTMAP_readonly;
        unsigned int run = 1;
        h[0] = p[k].h;
        while (k + run < n && ops[k + run].status == GNTST_okay &&
               (ops[k + run].flags & GNTMAP_host_map) &&
               (bool)(ops[k + run].flags & GNTMAP_readonly) == ro &&
               p[k + run].rd == p[k].rd && p[k + run].frame == p[k].frame + run) {
            h[run] = p[k + run].h;
            run++;
        }
        void *base = NULL;
        unsigned int done = mo->map(ld, h, run, p[k].rd, p[k].frame, ro, &base);
        if (done) {
            for (unsigned int j = 0; j < done; j++)
                p[k + j].addr = (uint8_t *)base + (size_t)j * XEN_PAGE_SIZE;
            k += done;
            continue;
        }
        for (unsigned int j = k; j < k + run; j++) {
            bool dying = gnttab_unpin(p[j].rd, ops[j].ref, p[j].pins);
            puts[j] = dying ? p[j].rd : NULL;
            gnttab_maptrack_put(ld->gt, p[j].h);
            ops[j].status = GNTST_general_error;
        }
        k += run;
    }
}

/* Fills the maptrack entry and makes it visible. A dying mapper's release
 * sets mt_closed, then takes every entry; we publish, then look at
 * mt_closed (both seq_cst): either the release sees this mapping, or we
 * see the release and take it back ourselves (an exchange, so that only
 * one of us tears it down). */
static void map_publish(struct domain *ld, gnttab_map_grant_ref_t *op,
                        struct map_pending *p, struct domain **put)
{
    struct grant_table *lgt = ld->gt;
    struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, p->h);
    bool ro = op->flags & GNTMAP_readonly;
    uint16_t kinds = op->flags & (GNTMAP_host_map | GNTMAP_device_map);

    m->rd = p->rd;
    m->rdomid = p->rd->domid;
    m->ref = op->ref;
    m->readonly = ro;
    m->addr = p->addr;
    m->frame = p->frame;
    atomic_store(&m->flags, kinds | (ro ? GNTMAP_readonly : 0));
    if (atomic_load(&lgt->mt_closed)) {
        uint16_t flags = atomic_exchange(&m->flags, 0);
        if (flags) {
            if (p->addr)
                lgt->ops->unmap(ld, &p->addr, 1);
            *put = gnttab_unpin(p->rd, op->ref, p->pins) ? p->rd : NULL;
            gnttab_maptrack_put(lgt, p->h);
        }
        op->status = GNTST_general_error;
        return;
    }
    op->handle = p->h;
    op->dev_bus_addr = (uint64_t)p->frame << XEN_PAGE_SHIFT;
    /* An xensim extension: Xen leaves host_addr as the guest chose it,
     * but a hosted simulator chooses the address itself (guest.h). */
    if (p->addr)
        op->host_addr = (uint64_t)(uintptr_t)p->addr;
}

/* The MAP point: an event per element, once its status is final. */
static void trace_maps(struct domain *ld, const gnttab_map_grant_ref_t *ops, unsigned int n)
{
    for (unsigned int k = 0; k < n; k++) {
        const gnttab_map_grant_ref_t *op = &ops[k];
        struct xensim_trace_event ev;
        trace_event_init(&ev, XENSIM_TRACE_MAP, ld->sim, ld->domid, trace_current_vcpu(ld));
        ev.remote_dom = op->dom;
        ev.ref = op->ref;
        ev.handle = op->handle;
        ev.rc = op->status;
        ev.u.map.flags = op->flags;
        if (op->status == GNTST_okay) {
            ev.frame = op->dev_bus_addr >> XEN_PAGE_SHIFT;
            if (op->flags & GNTMAP_host_map)
                ev.u.map.host_addr = op->host_addr;
        }
        trace_emit(ld->sim, &ev);
    }
}

/* The UNMAP point, while each claimed entry still names its grant. */
static void trace_unmaps(struct domain *ld, const struct unmap_pending *u, unsigned int n)
{
    for (unsigned int k = 0; k < n; k++) {
        struct xensim_trace_event ev;
        trace_event_init(&ev, XENSIM_TRACE_UNMAP, ld->sim, ld->domid, trace_current_vcpu(ld));
        ev.handle = u[k].h;
        ev.rc = u[k].status;
        ev.u.map.host_addr = u[k].host_addr;
        if (u[k].done) {
            const struct gnttab_maptrack *m = gnttab_maptrack_entry(ld->gt, u[k].h);
            ev.remote_dom = m->rdomid;
            ev.ref = m->ref;
            ev.frame = m->frame;
            ev.u.map.flags = u[k].done;
        }
        trace_emit(ld->sim, &ev);
    }
}

void gnttab_map_many(struct domain *ld, gnttab_map_grant_ref_t *ops, unsigned int n,
                     struct domain **puts)
{
    struct map_pending p[GNTTAB_BATCH];

    assert(n <= GNTTAB_BATCH);
    for (unsigned int k = 0; k < n; k++)
        map_prepare(ld, &ops[k], &p[k], &puts[k]);
    map_hosts(ld, ops, p, puts, n);
    for (unsigned int k = 0; k < n; k++)
        if (ops[k].status == GNTST_okay)
            map_publish(ld, &ops[k], &p[k], &puts[k]);
    if (trace_on(ld->sim))
        trace_maps(ld, ops, n);
}

/* The caller's RAM page a replacement address lies in, or ~0: Xen finds
 * no L1 entry for anything else. */
static xen_pfn_t ram_pfn_of(struct domain *ld, uint64_t addr)
{
    uintptr_t base = (uintptr_t)ld->mem, a = (uintptr_t)addr;
    if (a < base || a - base >= ld->nr_pages * XEN_PAGE_SIZE)
        return ~(xen_pfn_t)0;
    return (xen_pfn_t)((a - base) >> XEN_PAGE_SHIFT);
}

/*
 * Xen's unmap_common: checks one unmap and claims the kinds it removes
 * (u->done, 0 if none) with a compare-exchange of the entry's flags: of
 * two racing unmaps of one handle, the second finds them gone. The device
 * address is looked at only for a device mapping; a host address that is
 * not the mapping's is general_error (PV's replace_grant_host_mapping),
 * as is a replacement address that is not the caller's RAM.
 */
static void unmap_claim(struct domain *ld, struct unmap_pending *u)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(ld->gt, u->h);

    u->flags = u->done = u->left = 0;
    if (!m) {
        u->status = GNTST_bad_handle;
        return;
    }
    uint16_t flags = atomic_load(&m->flags), done, left;
    do {
        bool host = u->host_addr && (flags & GNTMAP_host_map);
        bool dev = u->dev_bus_addr && (flags & GNTMAP_device_map);
        if (!flags)
            u->status = GNTST_bad_handle;
        else if (dev && u->dev_bus_addr != (uint64_t)m->frame << XEN_PAGE_SHIFT)
            u->status = GNTST_bad_dev_addr;
        else if (host && u->replace && u->new_addr &&
                 (u->new_pfn = ram_pfn_of(ld, u->new_addr)) == ~(xen_pfn_t)0)
            u->status = GNTST_general_error;
        else if (host && u->host_addr != (uint64_t)(uintptr_t)m->addr)
            u->status = GNTST_general_error;
        else
            u->status = GNTST_okay;
        if (u->status != GNTST_okay)
            return;
        /* Only the kinds whose address is given go. */
        done = (host ? GNTMAP_host_map : 0) | (dev ? GNTMAP_device_map : 0);
        left = flags & ~done;
        if (!(left & (GNTMAP_host_map | GNTMAP_device_map)))
            left = 0;
    } while (done && !atomic_compare_exchange_weak(&m->flags, &flags, left));
    u->flags = flags;
    u->done = done;
    u->left = left;
    u->m = m;
}

/* Drops the pins of a claimed unmap; gives the handle back when nothing is
 * left (unget: as if never taken). Returns the granter to put, if this
 * was its last pin while dying. */
static struct domain *unmap_unpin(struct domain *ld, const struct unmap_pending *u, bool unget)
{
    struct gnttab_maptrack *m = u->m;
    struct domain *rd = m->rd;
    bool put = gnttab_unpin(rd, m->ref, pins_of(u->done, u->flags & GNTMAP_readonly));
    if (!u->left) {
        if (unget)
            gnttab_maptrack_unget(ld->gt, u->h);
        else
            gnttab_maptrack_put(ld->gt, u->h);
    }
    return put ? rd : NULL;
}

/* Claims, host teardowns (the batch's in one call, a replacement on its
 * own), then pins and handles in element order, as Xen's
 * unmap_common_complete runs after the batch's TLB flush. */
static void unmap_pending_many(struct domain *ld, struct unmap_pending *u, unsigned int n,
                               struct domain **puts)
{
    struct grant_table *lgt = ld->gt;
    const struct gnttab_map_ops *mo = lgt->ops;
    void *addr[GNTTAB_BATCH];
    unsigned int nr = 0;

    assert(n <= GNTTAB_BATCH);
    for (unsigned int k = 0; k < n; k++) {
        unmap_claim(ld, &u[k]);
        if (!(u[k].done & GNTMAP_host_map))
            continue;
        /* The address is the mapping's own: unmap_claim checked it. */
        void *a = u[k].m->addr;
        if (u[k].replace && u[k].new_addr)
            mo->replace(ld, a, u[k].new_pfn);
        else
            addr[nr++] = a;
    }
    if (nr)
        mo->unmap(ld, addr, nr);
    if (trace_on(ld->sim))
        trace_unmaps(ld, u, n);
    for (unsigned int k = 0; k < n; k++)
        puts[k] = u[k].done ? unmap_unpin(ld, &u[k], false) : NULL;
}

void gnttab_unmap_many(struct domain *ld, gnttab_unmap_grant_ref_t *ops, unsigned int n,
                       struct domain **puts)
{
    struct unmap_pending u[GNTTAB_BATCH];

    assert(n <= GNTTAB_BATCH);
    for (unsigned int k = 0; k < n; k++)
        u[k] = (struct unmap_pending){ .host_addr = ops[k].host_addr,
                                       .dev_bus_addr = ops[k].dev_bus_addr,
                                       .h = ops[k].handle };
    unmap_pending_many(ld, u, n, puts);
    for (unsigned int k = 0; k < n; k++)
        ops[k].status = u[k].status;
}

/* Unmaps every kind of handle h (a mapping the guest could not be told
 * about, or one of a dying mapper). Returns a granter to put or NULL. */
static struct domain *unmap_all_kinds(struct domain *ld, grant_handle_t h, bool unget)
{
    struct gnttab_maptrack *m = gnttab_maptrack_entry(ld->gt, h);
    uint16_t flags = atomic_exchange(&m->flags, 0);
    if (!flags)
        return NULL;
    struct unmap_pending u = { .h = h, .flags = flags, .done = flags, .left = 0, .m = m };
    if (flags & GNTMAP_host_map)
        ld->gt->ops->unmap(ld, &m->addr, 1);
    return unmap_unpin(ld, &u, unget);
}

/* The status fields of elements [i, i+n) of a batch whose elements are
 * size bytes; returns how many were written. */
static unsigned int status_out(void *uop, const void *src, size_t size, size_t off,
                               unsigned int i, unsigned int n)
{
    return copy_fields_to_guest((char *)uop + (size_t)i * size + off, (const char *)src + off,
                                size, sizeof(int16_t), n);
}

unsigned int gnttab_batch_todo(void *uop, size_t size, size_t off, size_t len, unsigned int i,
                               unsigned int n)
{
    /* The first element is done whatever: it is the one that faults. */
    if (n <= 1)
        return n;
    unsigned int ok = guest_fields_writable((char *)uop + (size_t)i * size, size, off, len, n);
    return ok < n ? ok + 1 : n;
}

long gnttab_map_batch(struct domain *ld, void *uop, unsigned int count)
{
    gnttab_map_grant_ref_t ops[GNTTAB_BATCH];
    struct domain *puts[GNTTAB_BATCH];

    for (unsigned int i = 0; i < count; i += GNTTAB_BATCH) {
        unsigned int n = count - i < GNTTAB_BATCH ? count - i : GNTTAB_BATCH;
        unsigned int got = copy_from_guest_elems(ops, uop, sizeof(ops[0]), i, n);
        /* Element k whose write-back faults is still done, as in Xen;
         * those after it are not. */
        unsigned int todo = gnttab_batch_todo(uop, sizeof(ops[0]), 0, sizeof(ops[0]), i, got);
        rcu_read_lock();
        gnttab_map_many(ld, ops, todo, puts);
        rcu_read_unlock();
        put_all(puts, todo);
        unsigned int told = copy_to_guest_elems(uop, ops, sizeof(ops[0]), i, todo);
        if (told < todo) {
            /* Kept up to the element that faulted; the others undone, last
             * first, so that their handles go back where they came from. */
            for (unsigned int k = todo; k-- > told + 1;) {
                if (ops[k].status != GNTST_okay)
                    continue;
                struct domain *rd = unmap_all_kinds(ld, ops[k].handle, true);
                put_all(&rd, 1);
            }
            return -EFAULT;
        }
        if (todo < n)
            return -EFAULT;
    }
    return 0;
}

/* Only the status is written back, as Xen's __copy_field_to_guest. */
long gnttab_unmap_batch(struct domain *ld, void *uop, unsigned int count)
{
    const size_t off = offsetof(gnttab_unmap_grant_ref_t, status);
    gnttab_unmap_grant_ref_t ops[GNTTAB_BATCH];
    struct domain *puts[GNTTAB_BATCH];

    for (unsigned int i = 0; i < count; i += GNTTAB_BATCH) {
        unsigned int n = count - i < GNTTAB_BATCH ? count - i : GNTTAB_BATCH;
        unsigned int got = copy_from_guest_elems(ops, uop, sizeof(ops[0]), i, n);
        unsigned int todo = gnttab_batch_todo(uop, sizeof(ops[0]), off, sizeof(int16_t), i, got);
        gnttab_unmap_many(ld, ops, todo, puts);
        put_all(puts, todo);
        if (status_out(uop, ops, sizeof(ops[0]), off, i, todo) < todo || todo < n)
            return -EFAULT;
    }
    return 0;
}

/*
 * GNTTABOP_unmap_and_replace for a PV guest (replace_grant_pv_mapping):
 * an unmap of the host kind only (dev_bus_addr is 0), in which host_addr,
 * instead of mapping nothing, then maps what new_addr maps: here the
 * caller's own RAM page, in strict mode a real MAP_SHARED of it over the
 * slot. new_addr 0 is a plain host unmap; an address outside the caller's
 * RAM (a grant slot included) is general_error. Xen also zaps new_addr's
 * own PTE; xensim cannot, since the hypervisor reaches guest RAM through
 * the same mapping, so new_addr stays mapped (a recorded deviation; Linux
 * passed a scratch address it did not touch again). In fast mode there is
 * no slot to replace: host_addr keeps showing the granter's page, as after
 * any fast-mode unmap. Only the status is written back.
 */
long gnttab_unmap_and_replace_batch(struct domain *ld, void *uop, unsigned int count)
{
    const size_t off = offsetof(gnttab_unmap_and_replace_t, status);
    gnttab_unmap_and_replace_t ops[GNTTAB_BATCH];
    struct unmap_pending u[GNTTAB_BATCH];
    struct domain *puts[GNTTAB_BATCH];

    for (unsigned int i = 0; i < count; i += GNTTAB_BATCH) {
        unsigned int n = count - i < GNTTAB_BATCH ? count - i : GNTTAB_BATCH;
        unsigned int got = copy_from_guest_elems(ops, uop, sizeof(ops[0]), i, n);
        unsigned int todo = gnttab_batch_todo(uop, sizeof(ops[0]), off, sizeof(int16_t), i, got);
        for (unsigned int k = 0; k < todo; k++)
            u[k] = (struct unmap_pending){ .host_addr = ops[k].host_addr,
                                           .new_addr = ops[k].new_addr, .h = ops[k].handle,
                                           .replace = true };
        unmap_pending_many(ld, u, todo, puts);
        put_all(puts, todo);
        for (unsigned int k = 0; k < todo; k++)
            ops[k].status = u[k].status;
        if (status_out(uop, ops, sizeof(ops[0]), off, i, todo) < todo || todo < n)
            return -EFAULT;
    }
    return 0;
}

/* Whether ld holds a mapping of frame made from a ref at or above from
 * (Xen's grant_map_exists(), which scans the granter's active entries
 * from the continuation's ref). */
bool gnttab_maps_frame(struct domain *ld, xen_pfn_t frame, grant_ref_t from)
{
    struct grant_table *lgt = ld->gt;
    unsigned int limit = gnttab_maptrack_limit(lgt);
    for (grant_handle_t h = 0; h < limit; h++) {
        struct gnttab_maptrack *m = gnttab_maptrack_entry(lgt, h);
        if (atomic_load(&m->flags) && m->frame == frame && m->ref >= from)
            return true;
    }
    return false;
}

void gnttab_release_all(struct domain *ld)
{
    struct grant_table *lgt = ld->gt;

    /* Under mt_lock for gnttab_maptrack_get; seq_cst for map_publish. */
    xensim_mutex_lock(&lgt->mt_lock);
    atomic_store(&lgt->mt_closed, true);
    xensim_mutex_unlock(&lgt->mt_lock);

    unsigned int limit = gnttab_maptrack_limit(lgt);
    for (grant_handle_t h = 0; h < limit; h++) {
        struct domain *rd = unmap_all_kinds(ld, h, false);
        /* A dying domain that mapped its own grants is put by whoever is
         * destroying it, once it is done with it. */
        if (rd != ld)
            put_all(&rd, 1);
    }
}
