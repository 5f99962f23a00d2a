/*
 * libxenforeignmemory.so.1 for processes of a simulated domain: the
 * handle is a PRIVCMD connection of the hypervisor socket, and a map is
 * FOREIGN_MAP (<xensim/hvsock.h>): the simulator says which frames the
 * domain has and hands over its memory, and the frames are mapped here
 * MAP_SHARED, so the process and the domain really share them (QEMU maps
 * console 0's ring this way). Unmap is munmap, as with privcmd: the
 * mapping is the process's own. The whole 4.17 API at its symbol versions
 * (libxenforeignmemory.map); resources answer as a kernel without
 * IOCTL_PRIVCMD_MMAP_RESOURCE does. Relies on hv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenforeignmemory.h>
#include "hv.h"
#include "util.h"

struct xenforeignmemory_handle {
    struct hv_privcmd p;
};

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    (void)logger;
    (void)open_flags;
    return hv_privcmd_new(sizeof(xenforeignmemory_handle));
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    hv_privcmd_free(fmem ? &fmem->p : NULL);
    return 0;
}

/* One FOREIGN_MAP and the mapping of what it gave; err[] gets each page's
 * answer. NULL with errno when the whole request failed. */
static void *foreign_map(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                         int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    if (!pages || pages > XENSIM_HV_MAX_PAGES) {
        errno = pages ? E2BIG : EINVAL;
        return NULL;
    }
    if (!hv_restriction_allows(&fmem->p.restricted, dom)) {
        errno = EPERM;
        return NULL;
    }
    size_t rlen = sizeof(struct xensim_hv_fmap) + pages * sizeof(uint64_t);
    size_t plen = sizeof(struct xensim_hv_map_rep) + pages * sizeof(struct xensim_hv_page);
    struct xensim_hv_fmap *req = malloc(rlen);
    struct xensim_hv_map_rep *rep = malloc(plen);
    int fd = -1;
    unsigned int nfds = 0;
    void *base = NULL;

    if (!req || !rep)
        goto out;
    *req = (struct xensim_hv_fmap){
        .op = XENSIM_HV_OP_FOREIGN_MAP, .domid = dom, .count = (uint32_t)pages,
        .flags = (prot & PROT_WRITE) ? 0 : XENSIM_HV_MAP_READONLY,
    };
    for (size_t i = 0; i < pages; i++)
        req->frames[i] = arr[i];
    ssize_t n = hv_call(&fmem->p.c, req, rlen, rep, plen, &fd, 1, &nfds);
    if (n < 0)
        goto out;
    if ((size_t)n < sizeof(*rep) || (rep->rc >= 0 && ((size_t)n != plen || nfds != 1))) {
        errno = EPROTO;
        goto out;
    }
    if (rep->rc < 0) {
        errno = -rep->rc;
        goto out;
    }
    base = hv_map_pages_at(addr, flags, rep->pages, (unsigned int)pages, &fd, 1, prot);
    if (base)
        for (size_t i = 0; i < pages; i++)
            err[i] = rep->pages[i].status;
out:
    if (nfds)
        close(fd);
    free(req);
    free(rep);
    return base;
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                            int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    /* Without err[], any page that failed fails the call with its errno
     * and nothing stays mapped, as the real library does. */
    int *own = err ? NULL : calloc(pages ? pages : 1, sizeof(int));

    if (!err && !own)
        return NULL;
    void *base = foreign_map(fmem, dom, addr, prot, flags, pages, arr, err ? err : own);
    for (size_t i = 0; base && own && i < pages; i++) {
        if (own[i]) {
            munmap(base, pages * XEN_PAGE_SIZE);
            errno = -own[i];
            base = NULL;
        }
    }
    free(own);
    return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    (void)fmem;
    return munmap(addr, pages * XEN_PAGE_SIZE);
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    return hv_restriction_set(&fmem->p.restricted, domid);
}

/* Xen's resources (grant table frames, ioreq pages) are not offered over
 * the hypervisor socket: the library's answer for a kernel that lacks the
 * ioctl. */
xenforeignmemory_resource_handle *xenforeignmemory_map_resource(
    xenforeignmemory_handle *fmem, domid_t domid, unsigned int type, unsigned int id,
    unsigned long frame, unsigned long nr_frames, void **paddr, int prot, int flags)
{
    (void)fmem, (void)domid, (void)type, (void)id, (void)frame, (void)nr_frames, (void)paddr,
        (void)prot, (void)flags;
    errno = EOPNOTSUPP;
    return NULL;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    (void)fmem;
    /* No resource is ever mapped, so only NULL can come back. */
    if (fres) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
                                   unsigned int type, unsigned int id, size_t *size)
{
    (void)fmem, (void)domid, (void)type, (void)id, (void)size;
    errno = EOPNOTSUPP;
    return -1;
}
