/*
 * Strict grant mapping: each mapping is a real MAP_SHARED alias of the
 * granter's memfd page in a per-domain PROT_NONE window (slot = handle), so
 * a write through a read-only map, or any access after unmap, faults.
 * Relies on mmap and on the maptrack for describing faults to fault.c.
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
        size_t len = (size_t)gt->mt_max_frames * GNTTAB_MAPTRACK_PER_FRAME * XEN_PAGE_SIZE;
        void *p = mmap(NULL, len, PROT_NONE, WINDOW_FLAGS, -1, 0);
        if (p != MAP_FAILED) {
            w = p;
            gt->window_len = len;
            atomic_store_explicit(&gt->window, w, memory_order_release);
        }
    }
    xensim_mutex_unlock(&gt->mt_lock);
    return w;
}

/* MAP_POPULATE: Xen writes the PTEs at map time, so the mapping is there
 * before the first touch, and a run of pages is populated in one go. */
static void *strict_map(struct domain *d, grant_handle_t first, unsigned int n,
                        struct domain *rd, xen_pfn_t frame, bool readonly)
{
    uint8_t *w = window_get(d->gt);
    if (!w)
        return NULL;
    void *slot = w + (size_t)first * XEN_PAGE_SIZE;
    int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    void *p = mmap(slot, (size_t)n * XEN_PAGE_SIZE, prot,
                   MAP_SHARED | MAP_FIXED | MAP_POPULATE, rd->memfd,
                   (off_t)frame << XEN_PAGE_SHIFT);
    return p == MAP_FAILED ? NULL : p;
}

/* Never munmap: the address must keep faulting, and must not be handed to
 * some other mmap of the process while a stale pointer to it may exist. */
static void strict_unmap(struct domain *d, grant_handle_t first, unsigned int n)
{
    uint8_t *w = atomic_load_explicit(&d->gt->window, memory_order_acquire);
    void *slot = w + (size_t)first * XEN_PAGE_SIZE;
    if (mmap(slot, (size_t)n * XEN_PAGE_SIZE, PROT_NONE, PLACEHOLDER_FLAGS | MAP_FIXED, -1, 0)
        == MAP_FAILED)
        XENSIM_DIE("mmap (grant unmap)", errno);
}

/* unmap_and_replace: the slot shows the caller's own page, writable, as
 * the PTE stolen from new_addr would. It stays until the handle's next
 * map replaces it. */
static void strict_replace(struct domain *d, grant_handle_t h, xen_pfn_t pfn)
{
    uint8_t *w = atomic_load_explicit(&d->gt->window, memory_order_acquire);
    void *slot = w + (size_t)h * XEN_PAGE_SIZE;
    if (mmap(slot, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, d->memfd,
             (off_t)pfn << XEN_PAGE_SHIFT) == MAP_FAILED)
        XENSIM_DIE("mmap (grant replace)", errno);
}

const struct gnttab_map_ops gnttab_map_strict_ops = {
    .name = "strict",
    .map = strict_map,
    .unmap = strict_unmap,
    .replace = strict_replace,
};

/* Called from the SIGSEGV handler: no locks, only atomic loads. */
bool gnttab_describe_fault(struct domain *d, uintptr_t addr, struct xensim_fault *f)
{
    struct grant_table *gt = d ? d->gt : NULL;
    if (!gt)
        return false;
    uint8_t *w = atomic_load_explicit(&gt->window, memory_order_acquire);
    if (!w || addr < (uintptr_t)w || addr - (uintptr_t)w >= gt->window_len)
        return false;
    grant_handle_t h = (grant_handle_t)((addr - (uintptr_t)w) / XEN_PAGE_SIZE);
    struct gnttab_maptrack *m = gnttab_maptrack_entry(gt, h);
    f->mapped = false;
    f->granter = DOMID_INVALID;
    f->ref = 0;
    f->readonly = false;
    if (m) {
        uint16_t flags = atomic_load_explicit(&m->flags, memory_order_acquire);
        f->mapped = flags & GNTMAP_host_map;
        f->granter = m->rdomid;
        f->ref = m->ref;
        f->readonly = m->readonly;
    }
    return true;
}

void gnttab_window_free(struct grant_table *gt)
{
    uint8_t *w = atomic_load(&gt->window);
    if (w)
        munmap(w, gt->window_len);
    atomic_store(&gt->window, NULL);
}
