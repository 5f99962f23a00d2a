/*
 * A domain's memory: one memfd (so another process could map it too),
 * mapped once read-write at d->mem, addressed by frame number, plus the
 * small page allocator guest code uses. Owns d->memfd, d->mem, d->page_used,
 * and the layout of the frames behind RAM (sim.h, struct domain).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "sim.h"

int domain_memory_init(struct domain *d, unsigned long nr_pages, unsigned int max_grant_frames)
{
    d->nr_pages = nr_pages;
    d->nr_frames = nr_pages + 1 + max_grant_frames + domain_status_frames(max_grant_frames);
    char name[32];
    snprintf(name, sizeof(name), "xensim-dom%u", d->domid);
    d->memfd = memfd_create(name, MFD_CLOEXEC);
    if (d->memfd < 0)
        return -errno;
    if (ftruncate(d->memfd, (off_t)(d->nr_frames * XEN_PAGE_SIZE)) < 0)
        goto fail;
    d->mem = mmap(NULL, d->nr_frames * XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
                  d->memfd, 0);
    if (d->mem == MAP_FAILED) {
        d->mem = NULL;
        goto fail;
    }
    d->page_used = calloc((nr_pages + 63) / 64, sizeof(uint64_t));
    if (!d->page_used)
        goto fail;
    pthread_mutex_init(&d->page_lock, NULL);
    d->shared_info = d->mem + nr_pages * XEN_PAGE_SIZE;
    return 0;
fail: {
        int err = errno ? -errno : -ENOMEM;
        domain_memory_free(d);
        return err;
    }
}

void domain_memory_free(struct domain *d)
{
    if (d->mem)
        munmap(d->mem, d->nr_frames * XEN_PAGE_SIZE);
    if (d->memfd >= 0)
        close(d->memfd);
    free(d->page_used);
    d->mem = NULL;
    d->memfd = -1;
    d->page_used = NULL;
}

void *domain_pfn_to_virt(struct domain *d, xen_pfn_t pfn)
{
    if (pfn >= d->nr_frames)
        return NULL;
    return d->mem + pfn * XEN_PAGE_SIZE;
}

/* Lowest free page of guest RAM, zeroed; ~0 when none is left. */
xen_pfn_t domain_page_alloc(struct domain *d)
{
    xen_pfn_t pfn = ~(xen_pfn_t)0;
    xensim_mutex_lock(&d->page_lock);
    for (unsigned long w = 0; w < (d->nr_pages + 63) / 64; w++) {
        uint64_t free_bits = ~d->page_used[w];
        if (!free_bits)
            continue;
        unsigned long p = w * 64 + (unsigned long)__builtin_ctzll(free_bits);
        if (p >= d->nr_pages)
            break;
        d->page_used[w] |= 1ull << (p % 64);
        d->pages_in_use++;
        pfn = p;
        break;
    }
    xensim_mutex_unlock(&d->page_lock);
    if (pfn != ~(xen_pfn_t)0)
        memset(domain_pfn_to_virt(d, pfn), 0, XEN_PAGE_SIZE);
    return pfn;
}

void domain_page_free(struct domain *d, xen_pfn_t pfn)
{
    if (pfn >= d->nr_pages)
        return;
    uint64_t bit = 1ull << (pfn % 64);
    xensim_mutex_lock(&d->page_lock);
    /* A guest freeing a page twice must not skew the count. */
    if (d->page_used[pfn / 64] & bit) {
        d->page_used[pfn / 64] &= ~bit;
        d->pages_in_use--;
    }
    xensim_mutex_unlock(&d->page_lock);
}
