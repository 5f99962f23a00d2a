/*
 * The granter's side of grant tables as a PV kernel has it (guest.h): the
 * table's frames set up through GNTTABOP_setup_table (and, in v2, its
 * status frames through GNTTABOP_get_status_frames), a ref allocator from
 * GNTTAB_NR_RESERVED_ENTRIES up, the version switch, and grant/revoke with
 * Linux's barriers through the version's entry writers (gnttab_ops.h; v1's
 * are here, v2's in gnttab_v2.c).
 * Owns the per-domain struct guest_gnttab, kept in a guest data key, under
 * its irq-save lock: no upcall or call runs on this vCPU while it is held,
 * so the hypercalls made under it cannot re-enter the allocator. Relies on
 * guest.h only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include "util.h"
#include "gnttab_ops.h"

struct guest_gnttab {
    struct xensim_irqlock lock;
    const struct guest_gnttab_ops *ops; /* the layout it writes (v1/v2) */
    void *entries;                      /* frame 0; the frames follow it */
    grant_status_t *status;             /* v2: the status frames, likewise */
    unsigned int frames;                /* set up through setup_table */
    unsigned int max_frames;            /* from query_size */
    uint32_t *free;                     /* free-ref stack */
    unsigned int nr_free, cap;
    /* The frame lists the setup hypercalls fill. Kept here, not on the
     * heap of one call: a domain destroyed mid-setup is stopped at that
     * hypercall's exit, and what only its stack pointed at would leak;
     * this dies with the domain (guest_gnttab_destroy). */
    uint64_t *scratch;
    unsigned int scratch_cap;
};

/* setup_table fills xen_pfn_t, get_status_frames uint64_t: one buffer. */
_Static_assert(sizeof(xen_pfn_t) == sizeof(uint64_t), "frame lists share the scratch");

static void guest_gnttab_destroy(void *p)
{
    struct guest_gnttab *g = p;

    xensim_irqlock_destroy(&g->lock);
    free(g->free);
    free(g->scratch);
    free(g);
}

static struct xensim_guest_key gnttab_key = { .destroy = guest_gnttab_destroy };

/* This domain's allocator, NULL off a vCPU or without memory. */
static struct guest_gnttab *self(void)
{
    if (!xensim_guest_vcpu_info())
        return NULL;
    struct guest_gnttab *g = xensim_guest_data(&gnttab_key);
    if (g)
        return g;
    struct guest_gnttab *mine = calloc(1, sizeof(*mine));
    if (!mine)
        return NULL;
    xensim_irqlock_init(&mine->lock);
    g = xensim_guest_data_init(&gnttab_key, mine);
    if (g != mine)
        guest_gnttab_destroy(mine);
    return g;
}

static void v1_grant(void *entries, grant_ref_t ref, domid_t domid, uint64_t frame,
                     bool readonly)
{
    grant_entry_v1_t *e = (grant_entry_v1_t *)entries + ref;
    /* The entry is shared with Xen, which may be reading it now (a guest
     * may rewrite a live entry): every field is written atomically. The
     * flags make it live, so they go last, with release order: Linux's
     * wmb() between frame and flags, in a form TSan can see. */
    __atomic_store_n(&e->domid, domid, __ATOMIC_RELAXED);
    __atomic_store_n(&e->frame, (uint32_t)frame, __ATOMIC_RELAXED);
    __atomic_store_n(&e->flags, GTF_permit_access | (readonly ? GTF_readonly : 0),
                     __ATOMIC_RELEASE);
}

/* Linux's v1 revoke: the cmpxchg to 0 races safely with Xen's pin
 * cmpxchg on the same word: either we see the busy bits, or the pin sees
 * a type of 0 and fails. */
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
static int push_refs_locked(struct guest_gnttab *g, grant_ref_t lo, grant_ref_t hi)
{
    if (hi <= lo)
        return 0;
    unsigned int need = g->nr_free + (hi - lo);
    if (need > g->cap) {
        unsigned int cap = g->cap ? g->cap : 64;
        while (cap < need)
            cap *= 2;
        uint32_t *p = realloc(g->free, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        g->free = p;
        g->cap = cap;
    }
    for (grant_ref_t r = hi; r-- > lo;)
        g->free[g->nr_free++] = r;
    return 0;
}

/* The first of n frames that must be consecutive pages of this domain, as
 * xensim lays them out (the entries are then one array), as an address;
 * NULL if they are not. */
static void *consecutive(const uint64_t *frames, unsigned int n)
{
    for (unsigned int i = 1; i < n; i++)
        if (frames[i] != frames[0] + i)
            return NULL;
    return n ? xensim_guest_pfn_to_virt((xen_pfn_t)frames[0]) : NULL;
}

/* A zeroed frame list of n entries, owned by g; lock held. */
static uint64_t *scratch_locked(struct guest_gnttab *g, unsigned int n)
{
    if (n > g->scratch_cap) {
        uint64_t *p = realloc(g->scratch, n * sizeof(*p));
        if (!p)
            return NULL;
        g->scratch = p;
        g->scratch_cap = n;
    }
    memset(g->scratch, 0, n * sizeof(*g->scratch));
    return g->scratch;
}

/* In v2, maps the status frames of nr shared frames. */
static int map_status_locked(struct guest_gnttab *g, unsigned int nr)
{
    unsigned int per = XEN_PAGE_SIZE / sizeof(grant_status_t);
    unsigned int n = (nr * guest_gnttab_v2_ops.per_frame + per - 1) / per;
    uint64_t *frames = scratch_locked(g, n);
    if (!frames)
        return -ENOMEM;
    gnttab_get_status_frames_t gs = { .nr_frames = n, .dom = DOMID_SELF };
    set_xen_guest_handle(gs.frame_list, frames);
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_get_status_frames, &gs, 1);
    if (!rc && gs.status != GNTST_okay)
        rc = -EINVAL;
    grant_status_t *st = rc ? NULL : consecutive(frames, n);
    if (rc)
        return (int)rc;
    if (!st)
        return -EINVAL;
    g->status = st;
    return 0;
}

/* Asks for a table of at least nr frames, as a PV kernel does at boot and
 * when it runs out of refs; the new refs become allocatable. */
static int setup_frames_locked(struct guest_gnttab *g, unsigned int nr)
{
    const struct guest_gnttab_ops *o = g->ops;
    uint64_t *frames = scratch_locked(g, nr);
    long rc = frames ? 0 : -ENOMEM;
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = nr };
    if (!rc) {
        set_xen_guest_handle(st.frame_list, (xen_pfn_t *)frames);
        rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1);
    }
    if (!rc && st.status != GNTST_okay)
        rc = -ENOSPC;
    void *e = rc ? NULL : consecutive(frames, nr);
    if (rc)
        return (int)rc;
    if (!e)
        return -EINVAL;
    if (o->version == 2 && (rc = map_status_locked(g, nr)))
        return (int)rc;
    grant_ref_t lo = g->frames * o->per_frame;
    if (lo < GNTTAB_NR_RESERVED_ENTRIES)
        lo = GNTTAB_NR_RESERVED_ENTRIES;
    rc = push_refs_locked(g, lo, nr * o->per_frame);
    if (rc)
        return (int)rc;
    g->entries = e;
    g->frames = nr;
    return 0;
}

/* The version the table has now, as the kernel finds it at first use
 * (GNTTABOP_get_version: a kernel may have switched before). */
static const struct guest_gnttab_ops *ops_of_table(void)
{
    gnttab_get_version_t gv = { .dom = DOMID_SELF };
    if (HYPERVISOR_grant_table_op(GNTTABOP_get_version, &gv, 1) == 0 && gv.version == 2)
        return &guest_gnttab_v2_ops;
    return &guest_gnttab_v1_ops;
}

/* The table's size as Xen has it: nr_frames set up, and the limit. */
static int query_size(unsigned int *nr, unsigned int *max)
{
    gnttab_query_size_t q = { .dom = DOMID_SELF };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    if (rc)
        return (int)rc;
    if (q.status != GNTST_okay)
        return -EINVAL;
    *nr = q.nr_frames;
    *max = q.max_nr_frames;
    return 0;
}

/* The first use maps the table as it is (at least one frame), after
 * switching it to v2 if this kernel asks for v2 (as Linux's
 * gnttab_request_version does at boot, before anything is granted); a
 * Xen that refuses (max_grant_version=1) leaves it at v1. */
static int ensure_setup_locked(struct guest_gnttab *g)
{
    unsigned int nr = 0;

    if (g->frames)
        return 0;
    g->ops = ops_of_table();
    if (g->ops->version != 2 && xensim_guest_grant_version() == 2) {
        gnttab_set_version_t sv = { .version = 2 };
        if (HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1) == 0 && sv.version == 2)
            g->ops = &guest_gnttab_v2_ops;
    }
    int rc = query_size(&nr, &g->max_frames);
    return rc ? rc : setup_frames_locked(g, nr ? nr : 1);
}

/* ref is one of the table's frames, whoever grew it (a kernel may grow
 * the table through the raw hypercall too): maps what it grew. */
static bool ref_in_table_locked(struct guest_gnttab *g, grant_ref_t ref)
{
    unsigned int nr = 0;

    if (ensure_setup_locked(g) != 0)
        return false;
    if (ref < g->frames * g->ops->per_frame)
        return true;
    return query_size(&nr, &g->max_frames) == 0 && nr > g->frames &&
           setup_frames_locked(g, nr) == 0 && ref < g->frames * g->ops->per_frame;
}

/* The entry array, or NULL if the table is not set up or has the other
 * layout. */
static void *entries_of_version(unsigned int version, unsigned int *nr, grant_status_t **status)
{
    struct guest_gnttab *g = self();
    void *e = NULL;

    *nr = 0;
    if (!g)
        return NULL;
    bool was = xensim_irqlock_lock(&g->lock);
    if (ensure_setup_locked(g) == 0 && g->ops->version == version) {
        e = g->entries;
        *nr = g->frames * g->ops->per_frame;
        if (status)
            *status = g->status;
    }
    xensim_irqlock_unlock(&g->lock, was);
    return e;
}

grant_entry_v1_t *xensim_gnttab_entries(unsigned int *nr_entries)
{
    unsigned int n;
    void *e = entries_of_version(1, &n, NULL);
    if (nr_entries)
        *nr_entries = n;
    return e;
}

grant_entry_v2_t *xensim_gnttab_entries_v2(unsigned int *nr_entries)
{
    unsigned int n;
    void *e = entries_of_version(2, &n, NULL);
    if (nr_entries)
        *nr_entries = n;
    return e;
}

grant_status_t *xensim_gnttab_status(unsigned int *nr_entries)
{
    unsigned int n;
    grant_status_t *st = NULL;
    if (!entries_of_version(2, &n, &st))
        st = NULL;
    if (nr_entries)
        *nr_entries = st ? n : 0;
    return st;
}

unsigned int xensim_gnttab_version(void)
{
    struct guest_gnttab *g = self();
    unsigned int v = 0;

    if (g) {
        bool was = xensim_irqlock_lock(&g->lock);
        if (ensure_setup_locked(g) == 0)
            v = g->ops->version;
        xensim_irqlock_unlock(&g->lock, was);
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
    struct guest_gnttab *g = self();
    if (!g)
        return xensim_guest_vcpu_info() ? -ENOMEM : -EPERM;
    bool was = xensim_irqlock_lock(&g->lock);
    long rc = ensure_setup_locked(g);
    const struct guest_gnttab_ops *o = g->ops;
    if (rc == 0 && version != o->version &&
        g->nr_free < g->frames * o->per_frame - GNTTAB_NR_RESERVED_ENTRIES)
        rc = -EBUSY;
    if (rc == 0) {
        gnttab_set_version_t sv = { .version = version };
        rc = HYPERVISOR_grant_table_op(GNTTABOP_set_version, &sv, 1);
        if (rc == 0 && sv.version != o->version) {
            g->ops = sv.version == 2 ? &guest_gnttab_v2_ops : &guest_gnttab_v1_ops;
            g->status = NULL;
            unsigned int frames = g->frames;
            g->frames = 0;
            g->nr_free = 0;
            rc = setup_frames_locked(g, frames);
        }
    }
    xensim_irqlock_unlock(&g->lock, was);
    return rc;
}

long xensim_gnttab_alloc_ref(void)
{
    struct guest_gnttab *g = self();
    if (!g)
        return xensim_guest_vcpu_info() ? -ENOMEM : -EPERM;
    bool was = xensim_irqlock_lock(&g->lock);
    long rc = ensure_setup_locked(g);
    if (rc == 0 && g->nr_free == 0) {
        if (g->frames >= g->max_frames)
            rc = -ENOSPC;
        else
            rc = setup_frames_locked(g, g->frames + 1);
    }
    if (rc == 0)
        rc = g->free[--g->nr_free];
    xensim_irqlock_unlock(&g->lock, was);
    return rc;
}

void xensim_gnttab_free_ref(grant_ref_t ref)
{
    struct guest_gnttab *g = self();
    if (!g)
        return;
    bool was = xensim_irqlock_lock(&g->lock);
    if (g->ops && ref >= GNTTAB_NR_RESERVED_ENTRIES && ref < g->frames * g->ops->per_frame)
        push_refs_locked(g, ref, ref + 1);
    xensim_irqlock_unlock(&g->lock, was);
}

/* The layout and the entries, if ref is one of the table's. */
struct ref_view {
    const struct guest_gnttab_ops *ops;
    void *entries;
    grant_status_t *status;
};

static int view_of(grant_ref_t ref, struct ref_view *v)
{
    struct guest_gnttab *g = self();
    if (!g)
        return xensim_guest_vcpu_info() ? -ENOMEM : -EPERM;
    bool was = xensim_irqlock_lock(&g->lock);
    bool ok = ref_in_table_locked(g, ref);
    if (ok)
        *v = (struct ref_view){ g->ops, g->entries, g->status };
    xensim_irqlock_unlock(&g->lock, was);
    return ok ? 0 : -EINVAL;
}

void xensim_gnttab_grant_access_ref(grant_ref_t ref, domid_t domid,
                                    xen_pfn_t frame, bool readonly)
{
    struct ref_view v;
    if (view_of(ref, &v) == 0)
        v.ops->grant(v.entries, ref, domid, frame, readonly);
}

long xensim_gnttab_grant_access(domid_t domid, xen_pfn_t frame, bool readonly)
{
    long ref = xensim_gnttab_alloc_ref();
    if (ref >= 0)
        xensim_gnttab_grant_access_ref((grant_ref_t)ref, domid, frame, readonly);
    return ref;
}

/* A v2 entry of the table, or the error: only v2 has the other kinds. */
static int v2_entry(grant_ref_t ref, grant_entry_v2_t **e)
{
    struct ref_view v;
    int rc = view_of(ref, &v);
    if (rc)
        return rc;
    if (v.ops->version != 2)
        return -ENOSYS;
    *e = (grant_entry_v2_t *)v.entries + ref;
    return 0;
}

int xensim_gnttab_grant_subpage_ref(grant_ref_t ref, domid_t domid, xen_pfn_t frame,
                                    uint16_t offset, uint16_t length, bool readonly)
{
    grant_entry_v2_t *e;
    int rc = v2_entry(ref, &e);
    if (!rc)
        guest_gnttab_v2_grant_subpage(e, domid, frame, offset, length, readonly);
    return rc;
}

int xensim_gnttab_grant_transitive_ref(grant_ref_t ref, domid_t domid, domid_t trans_domid,
                                       grant_ref_t trans_gref)
{
    grant_entry_v2_t *e;
    int rc = v2_entry(ref, &e);
    if (!rc)
        guest_gnttab_v2_grant_transitive(e, domid, trans_domid, trans_gref);
    return rc;
}

int xensim_gnttab_end_access(grant_ref_t ref)
{
    struct ref_view v;
    int rc = view_of(ref, &v);
    return rc ? rc : v.ops->end(v.entries, v.status, ref);
}
