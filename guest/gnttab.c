/*
 * The granter's side of v1 grants as a PV kernel has it (guest.h): the
 * table's frames set up through GNTTABOP_setup_table, a ref allocator from
 * GNTTAB_NR_RESERVED_ENTRIES up, and grant/revoke with Linux's barriers.
 * Owns the per-domain struct guest_gnttab, kept in a guest data key, under
 * its irq-save lock: no upcall or call runs on this vCPU while it is held,
 * so the hypercalls made under it cannot re-enter the allocator. Relies on
 * guest.h only.
 */
#include <errno.h>
#include <stdlib.h>
#include <xensim/guest.h>
#include "util.h"

#define ENTRIES_PER_FRAME (XEN_PAGE_SIZE / sizeof(grant_entry_v1_t))

struct guest_gnttab {
    struct xensim_irqlock lock;
    grant_entry_v1_t *entries;          /* frame 0; the frames follow it */
    unsigned int frames;                /* set up through setup_table */
    unsigned int max_frames;            /* from query_size */
    uint32_t *free;                     /* free-ref stack */
    unsigned int nr_free, cap;
};

static void guest_gnttab_destroy(void *p)
{
    struct guest_gnttab *g = p;

    xensim_irqlock_destroy(&g->lock);
    free(g->free);
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

/* Asks for a table of at least nr frames, as a PV kernel does at boot and
 * when it runs out of refs; the new refs become allocatable. The frames
 * must be consecutive pages of this domain, as xensim lays them out: the
 * entries are one array. */
static int setup_frames_locked(struct guest_gnttab *g, unsigned int nr)
{
    xen_pfn_t *frames = calloc(nr, sizeof(*frames));
    if (!frames)
        return -ENOMEM;
    gnttab_setup_table_t st = { .dom = DOMID_SELF, .nr_frames = nr };
    set_xen_guest_handle(st.frame_list, frames);
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &st, 1);
    if (!rc && st.status != GNTST_okay)
        rc = -ENOSPC;
    for (unsigned int i = 1; !rc && i < nr; i++)
        if (frames[i] != frames[0] + i)
            rc = -EINVAL;
    grant_entry_v1_t *e = rc ? NULL : xensim_guest_pfn_to_virt(frames[0]);
    free(frames);
    if (rc)
        return (int)rc;
    if (!e)
        return -EINVAL;
    grant_ref_t lo = g->frames * ENTRIES_PER_FRAME;
    if (lo < GNTTAB_NR_RESERVED_ENTRIES)
        lo = GNTTAB_NR_RESERVED_ENTRIES;
    rc = push_refs_locked(g, lo, nr * ENTRIES_PER_FRAME);
    if (rc)
        return (int)rc;
    g->entries = e;
    g->frames = nr;
    return 0;
}

/* The first use maps the table as it is (at least one frame). */
static int ensure_setup_locked(struct guest_gnttab *g)
{
    if (g->frames)
        return 0;
    gnttab_query_size_t q = { .dom = DOMID_SELF };
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1);
    if (rc)
        return (int)rc;
    if (q.status != GNTST_okay)
        return -EINVAL;
    g->max_frames = q.max_nr_frames;
    return setup_frames_locked(g, q.nr_frames ? q.nr_frames : 1);
}

grant_entry_v1_t *xensim_gnttab_entries(unsigned int *nr_entries)
{
    struct guest_gnttab *g = self();
    grant_entry_v1_t *e = NULL;
    unsigned int n = 0;

    if (g) {
        bool was = xensim_irqlock_lock(&g->lock);
        if (ensure_setup_locked(g) == 0) {
            e = g->entries;
            n = g->frames * ENTRIES_PER_FRAME;
        }
        xensim_irqlock_unlock(&g->lock, was);
    }
    if (nr_entries)
        *nr_entries = n;
    return e;
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
    if (ref >= GNTTAB_NR_RESERVED_ENTRIES && ref < g->frames * ENTRIES_PER_FRAME)
        push_refs_locked(g, ref, ref + 1);
    xensim_irqlock_unlock(&g->lock, was);
}

/* The entry of ref, setting the table up if this is its first use. */
static grant_entry_v1_t *entry(grant_ref_t ref)
{
    struct guest_gnttab *g = self();
    grant_entry_v1_t *e = NULL;

    if (!g)
        return NULL;
    bool was = xensim_irqlock_lock(&g->lock);
    if (ensure_setup_locked(g) == 0 && ref < g->frames * ENTRIES_PER_FRAME)
        e = &g->entries[ref];
    xensim_irqlock_unlock(&g->lock, was);
    return e;
}

void xensim_gnttab_grant_access_ref(grant_ref_t ref, domid_t domid,
                                    xen_pfn_t frame, bool readonly)
{
    grant_entry_v1_t *e = entry(ref);
    if (!e)
        return;
    e->domid = domid;
    e->frame = (uint32_t)frame;
    /* wmb(): the grantee (Xen) must see domid and frame before the flags
     * that make the entry live. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->flags, GTF_permit_access | (readonly ? GTF_readonly : 0),
                     __ATOMIC_RELAXED);
}

long xensim_gnttab_grant_access(domid_t domid, xen_pfn_t frame, bool readonly)
{
    long ref = xensim_gnttab_alloc_ref();
    if (ref >= 0)
        xensim_gnttab_grant_access_ref((grant_ref_t)ref, domid, frame, readonly);
    return ref;
}

/* Linux's v1 revoke: the cmpxchg to 0 races safely with Xen's pin
 * cmpxchg on the same word (spec 2.4): either we see the busy bits, or the
 * pin sees a type of 0 and fails. */
int xensim_gnttab_end_access(grant_ref_t ref)
{
    if (!xensim_guest_vcpu_info())
        return -EPERM;
    grant_entry_v1_t *e = entry(ref);
    if (!e)
        return -EINVAL;
    uint16_t flags = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    do {
        if (flags & (GTF_reading | GTF_writing))
            return -EBUSY;
    } while (!__atomic_compare_exchange_n(&e->flags, &flags, 0, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return 0;
}
