/*
 * Strict grant mapping: each mapping is a real MAP_SHARED alias of the
 * granter's memfd page in a per-domain PROT_NONE window (slot = handle), so
 * a write through a read-only map, or any access after unmap, faults.
 * Relies on mmap and on the maptrack for describing faults to fault.c.
 */
#include <sys/mman.h>

#include "gnttab.h"

/* Replacing a slot with exactly the window's own mapping lets the kernel
 * merge it back into the window, so unmapped slots cost no extra VMAs
 * (vm.max_map_count is only 65,530). */
#define WINDOW_PROT  PROT_NONE
#define WINDOW_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static uint8_t *window_get(struct grant_table *gt)
{
    uint8_t *w = atomic_load_explicit(&gt->window, memory_order_acquire);
    if (w)
        return w;
    sim_lock(&gt->mt_lock);
    w = atomic_load_explicit(&gt->window, memory_order_relaxed);
    if (!w) {
        size_t len = (size_t)gt->mt_max_frames * GNTTAB_MAPTRACK_PER_FRAME * XEN_PAGE_SIZE;
        void *p = mmap(NULL, len, WINDOW_PROT, WINDOW_FLAGS, -1, 0);
        if (p != MAP_FAILED) {
            w = p;
            gt->window_len = len;
            atomic_store_explicit(&gt->window, w, memory_order_release);
        }
    }
    sim_unlock(&gt->mt_lock);
    return w;
}

static void *strict_map(struct domain *d, grant_handle_t h, struct domain *rd,
                        xen_pfn_t frame, bool readonly)
{
    uint8_t *w = window_get(d->gt);
    if (!w)
        return NULL;
    void *slot = w + (size_t)h * XEN_PAGE_SIZE;
    int prot = readonly ? PROT_READ : PROT_READ | PROT_WRITE;
    void *p = mmap(slot, XEN_PAGE_SIZE, prot, MAP_SHARED | MAP_FIXED, rd->memfd,
                   (off_t)frame << XEN_PAGE_SHIFT);
    return p == MAP_FAILED ? NULL : p;
}

/* Never munmap: the address must keep faulting, and must not be handed to
 * some other mmap of the process while a stale pointer to it may exist. */
static void strict_unmap(struct domain *d, grant_handle_t h, void *addr)
{
    (void)h;
    (void)d;
    if (mmap(addr, XEN_PAGE_SIZE, WINDOW_PROT, WINDOW_FLAGS | MAP_FIXED, -1, 0) == MAP_FAILED)
        sim_die("mmap (grant unmap)", errno);
}

const struct gnttab_map_ops gnttab_map_strict_ops = {
    .name = "strict",
    .map = strict_map,
    .unmap = strict_unmap,
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
