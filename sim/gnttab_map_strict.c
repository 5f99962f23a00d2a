/*
 * Strict grant mapping: each mapping is a real MAP_SHARED alias of the
 * granter's memfd page in a per-domain PROT_NONE window, so a write through
 * a read-only map, or any access after unmap, faults. Owns the window and
 * its slots; relies on mmap, and on the maptrack for describing faults to
 * fault.c.
 *
 * A slot is a page of the window. Slots are handed out apart from
 * handles (Xen reuses a freed handle last, which would walk a loop of
 * maps and unmaps through ever new slots): the most recently freed slot
 * first, and a freed run so that the next run takes it again in order, so
 * that the same few slots, whole VMAs, are mapped over and over. The
 * window has a slot per possible handle, so a live mapping always finds
 * one.
 */
#include <sys/mman.h>

#include "gnttab.h"

/*
 * The window is one PROT_NONE reservation. An unmapped slot gets a
 * PROT_NONE placeholder whose flags differ from the window's (no
 * MAP_NORESERVE; a PROT_NONE private mapping is not charged either way), so
 * the kernel does not merge it back: the next map of that slot replaces one
 * VMA instead of splitting the window again, which costs a third less.
 * Neighbouring placeholders still merge with each other, so VMAs stay in
 * proportion to live mappings (vm.max_map_count is only 65,530).
 */
#define WINDOW_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
#define PLACEHOLDER_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS)

static uint8_t *window_get(struct grant_table *gt)
{
    uint8_t *w = atomic_load_explicit(&gt->window, memory_order_acquire);
    if (w)
        return w;
    xensim_mutex_lock(&gt->mt_lock);
    w = atomic_load_explicit(&gt->window, memory_order_relaxed);
    if (!w) {
        size_t slots = (size_t)gt->mt_max_frames * GNTTAB_MAPTRACK_PER_FRAME;
        size_t len = slots * XEN_PAGE_SIZE;
        void *p = mmap(NULL, len, PROT_NONE, WINDOW_FLAGS, -1, 0);
        /* Touched only as slots are used. */
        void *sh = p == MAP_FAILED ? MAP_FAILED
                                   : mmap(NULL, slots * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                                          WINDOW_FLAGS, -1, 0);
        if (sh == MAP_FAILED && p != MAP_FAILED)
            munmap(p, len);
        if (sh != MAP_FAILED) {
            w = p;
            gt->window_len = len;
            gt->slot_handle = sh;
            atomic_store_explicit(&gt->window, w, memory_order_release);
        }
    }
    xensim_mutex_unlock(&gt->mt_lock);
    return w;
}

static uint32_t slot_of(struct grant_table *gt, const void *addr)
{
    return (uint32_t)(((const uint8_t *)addr - atomic_load(&gt->window)) / XEN_PAGE_SIZE);
}

/* Up to n consecutive slots, the first in *first: the top of the free
 * stack and the ones that follow it there, else never-used ones. Under
 * mt_lock. */
static unsigned int slots_take_locked(struct grant_table *gt, unsigned int n, uint32_t *first)
{
    uint32_t slots = (uint32_t)(gt->window_len / XEN_PAGE_SIZE);
    unsigned int k = 0;

    if (gt->nr_slot_free) {
        *first = gt->slot_free[--gt->nr_slot_free];
        for (k = 1; k < n && gt->nr_slot_free &&
                    gt->slot_free[gt->nr_slot_free - 1] == *first + k; k++)
            gt->nr_slot_free--;
        return k;
    }
    *first = gt->slot_next;
    k = n < slots - gt->slot_next ? n : slots - gt->slot_next;
    gt->slot_next += k;
    return k;
}

/* Gives slots [first, first + n) back, last first, so that the next take
 * gets them in order again. */
static void slots_put(struct grant_table *gt, uint32_t first, unsigned int n)
{
    xensim_mutex_lock(&gt->mt_lock);
    if (gt->nr_slot_free + n > gt->slot_free_cap) {
        unsigned int cap = gt->slot_free_cap ? gt->slot_free_cap : 64;
        while (cap < gt->nr_slot_free + n)
            cap *= 2;
        uint32_t *p = realloc(gt->slot_free, cap * sizeof(*p));
        if (!p)
            XENSIM_DIE("realloc (grant slots)", ENOMEM);
        gt->slot_free = p;
        gt->slot_free_cap = cap;
    }
    for (unsigned int k = n; k-- > 0;)
        gt->slot_free[gt->nr_slot_free++] = first + k;
    xensim_mutex_unlock(&gt->mt_lock);
}

/* MAP_POPULATE: Xen writes the PTEs at map time, so the mapping is there
 * before the first touch, and a run of pages is populated in one go. */
static unsigned int strict_map(struct domain *d, const grant_handle_t *h, unsigned int n,
                               struct domain *rd, xen_pfn_t frame, bool readonly, void **base)
{
    struct grant_table *gt = d->gt;
    uint8_t *w = window_get(gt);
    uint32_t first;

    if (!w)
        return 0;
    xensim_mutex_lock(&gt->mt_lock);
    unsigned int k = slots_take_locked(gt, n, &first);
    xensim_mutex_unlock(&gt->mt_lock);
    if (!k)
        return 0;
    void *slot = w + (size_t)first * XEN_PAGE_SIZE;
    int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    void *p = mmap(slot, (size_t)k * XEN_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED | MAP_POPULATE,
                   rd->memfd, (off_t)frame << XEN_PAGE_SHIFT);
    if (p == MAP_FAILED) {
        slots_put(gt, first, k);
        return 0;
    }
    for (unsigned int j = 0; j < k; j++)
        atomic_store_explicit(&gt->slot_handle[first + j], h[j] + 1, memory_order_release);
    *base = p;
    return k;
}

/* Never munmap: the address must keep faulting, and must not be handed to
 * some other mmap of the process while a stale pointer to it may exist.
 * Neighbouring slots go in one call. */
static void strict_unmap(struct domain *d, void *const *addr, unsigned int n)
{
    struct grant_table *gt = d->gt;

    for (unsigned int k = 0; k < n;) {
        unsigned int run = 1;
        while (k + run < n && (uint8_t *)addr[k + run] == (uint8_t *)addr[k] + run * XEN_PAGE_SIZE)
            run++;
        if (mmap(addr[k], (size_t)run * XEN_PAGE_SIZE, PROT_NONE, PLACEHOLDER_FLAGS | MAP_FIXED,
                 -1, 0) == MAP_FAILED)
            XENSIM_DIE("mmap (grant unmap)", errno);
        slots_put(gt, slot_of(gt, addr[k]), run);
        k += run;
    }
}

/* unmap_and_replace: the slot shows the caller's own page, writable, as
 * the PTE stolen from new_addr would. The grant no longer holds the slot:
 * a later map may take it over, as a guest could reuse that address. */
static void strict_replace(struct domain *d, void *addr, xen_pfn_t pfn)
{
    struct grant_table *gt = d->gt;
    if (mmap(addr, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, d->memfd,
             (off_t)pfn << XEN_PAGE_SHIFT) == MAP_FAILED)
        XENSIM_DIE("mmap (grant replace)", errno);
    slots_put(gt, slot_of(gt, addr), 1);
}

const struct gnttab_map_ops gnttab_map_strict_ops = {
    .name = "strict",
    .map = strict_map,
    .unmap = strict_unmap,
    .replace = strict_replace,
};

/* Called from the SIGSEGV handler: no locks, only atomic loads. A slot
 * names the handle that last held it; the mapping is still there only if
 * that handle still maps this slot. */
bool gnttab_describe_fault(struct domain *d, uintptr_t addr, struct xensim_fault *f)
{
    struct grant_table *gt = d ? d->gt : NULL;
    if (!gt)
        return false;
    uint8_t *w = atomic_load_explicit(&gt->window, memory_order_acquire);
    if (!w || addr < (uintptr_t)w || addr - (uintptr_t)w >= gt->window_len)
        return false;
    size_t slot = (addr - (uintptr_t)w) / XEN_PAGE_SIZE;
    uint32_t held = atomic_load_explicit(&gt->slot_handle[slot], memory_order_acquire);
    struct gnttab_maptrack *m = held ? gnttab_maptrack_entry(gt, held - 1) : NULL;
    f->mapped = false;
    f->granter = DOMID_INVALID;
    f->ref = 0;
    f->readonly = false;
    if (m) {
        uint16_t flags = atomic_load_explicit(&m->flags, memory_order_acquire);
        f->mapped = (flags & GNTMAP_host_map) &&
                    (uintptr_t)m->addr == (uintptr_t)w + slot * XEN_PAGE_SIZE;
        f->granter = m->rdomid;
        f->ref = m->ref;
        f->readonly = m->readonly;
    }
    return true;
}

void gnttab_window_free(struct grant_table *gt)
{
    uint8_t *w = atomic_load(&gt->window);
    if (w) {
        munmap(w, gt->window_len);
        munmap((void *)gt->slot_handle, gt->window_len / XEN_PAGE_SIZE * sizeof(uint32_t));
    }
    free(gt->slot_free);
    gt->slot_free = NULL;
    atomic_store(&gt->window, NULL);
}
