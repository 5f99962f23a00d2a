/*
 * libxengnttab.so.1 for processes of a simulated domain, both halves:
 * xengnttab_* (gntdev: map others' grants) and xengntshr_* (gntalloc:
 * grant own pages). The simulator pins or grants and hands over the
 * memory's descriptor; the pages are mapped here with MAP_SHARED, side
 * by side, so the process and the other domain really share them. The
 * whole 4.17 API at its symbol versions (libxengnttab.map).
 *
 * The simulator cannot see munmap: a range unmapped by hand (as
 * libxenvchan does with its data rings) keeps its pin or grant until
 * xengnttab_unmap/xengntshr_unshare or the handle's close. Linux keeps a
 * mapping pinned until munmap even after close; here the pin goes at
 * close and the pages stay mapped in the process. Relies on hv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xengnttab.h>
#include "hv.h"
#include "util.h"

struct map_rec {
    void *addr;
    uint32_t count;
    uint32_t id;
    struct map_rec *next;
};

/* One type for both halves, as Xen's headers have it. */
struct xengntdev_handle {
    struct hv_conn c;
    pthread_mutex_t lock;           /* recs */
    struct map_rec *recs;
};

static struct xengntdev_handle *dev_open(uint32_t kind)
{
    struct xensim_hv_hello_rep rep;
    struct xengntdev_handle *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    if (hv_open(&h->c, kind, true, &rep, NULL)) {
        int err = errno;
        free(h);
        errno = err;
        return NULL;
    }
    XENSIM_CHECK(pthread_mutex_init(&h->lock, NULL));
    return h;
}

static int dev_close(struct xengntdev_handle *h)
{
    if (!h)
        return 0;
    hv_close(&h->c);
    while (h->recs) {
        struct map_rec *r = h->recs;
        h->recs = r->next;
        free(r);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
    return 0;
}

static void rec_add(struct xengntdev_handle *h, void *addr, uint32_t count, uint32_t id)
{
    struct map_rec *r = malloc(sizeof(*r));
    if (!r)
        return;                     /* its pin then goes at close */
    *r = (struct map_rec){ .addr = addr, .count = count, .id = id };
    xensim_mutex_lock(&h->lock);
    r->next = h->recs;
    h->recs = r;
    xensim_mutex_unlock(&h->lock);
}

/* Takes the record of a mapping at addr; *count_ok says whether count
 * matched (it is not taken then). */
static struct map_rec *rec_take(struct xengntdev_handle *h, void *addr, uint32_t count,
                                bool *count_ok)
{
    struct map_rec *r = NULL;
    xensim_mutex_lock(&h->lock);
    for (struct map_rec **pp = &h->recs; *pp; pp = &(*pp)->next) {
        if ((*pp)->addr != addr)
            continue;
        *count_ok = (*pp)->count == count;
        if (*count_ok) {
            r = *pp;
            *pp = r->next;
        }
        break;
    }
    xensim_mutex_unlock(&h->lock);
    return r;
}

/* The MAP request; *status gets the first failed page's GNTST_*. */
static void *grant_map(struct xengntdev_handle *h, uint32_t count, const uint32_t *domids,
                       unsigned int domid_stride, const uint32_t *refs, int prot,
                       uint32_t notify_offset, uint32_t notify_port, int16_t *status)
{
    if (status)
        *status = GNTST_general_error;
    if (!count || count > XENSIM_HV_MAX_PAGES) {
        errno = EINVAL;
        return NULL;
    }
    size_t rlen = sizeof(struct xensim_hv_map) + count * sizeof(struct xensim_hv_gref);
    size_t plen = sizeof(struct xensim_hv_map_rep) + count * sizeof(struct xensim_hv_page);
    struct xensim_hv_map *req = malloc(rlen);
    struct xensim_hv_map_rep *rep = malloc(plen);
    int fds[64];
    unsigned int nfds = 0;
    void *addr = NULL;

    if (!req || !rep)
        goto out;
    *req = (struct xensim_hv_map){
        .op = XENSIM_HV_OP_MAP, .count = count,
        .flags = (prot & PROT_WRITE) ? 0 : XENSIM_HV_MAP_READONLY,
        /* As libxengnttab asks gntdev: a byte only inside the mapping. */
        .notify_offset = notify_offset < count * XEN_PAGE_SIZE ? notify_offset : XENSIM_HV_NONE,
        .notify_port = notify_port,
    };
    for (uint32_t i = 0; i < count; i++)
        req->refs[i] = (struct xensim_hv_gref){ .domid = domids[i * domid_stride],
                                                .ref = refs[i] };
    ssize_t n = hv_call(&h->c, req, rlen, rep, plen, fds, 64, &nfds);
    if (n < 0)
        goto out;
    if ((size_t)n < sizeof(*rep) || (rep->rc >= 0 && (size_t)n != plen)) {
        errno = EPROTO;
        goto out;
    }
    if (rep->rc < 0) {
        if (status && (size_t)n == plen)
            for (uint32_t i = 0; i < count; i++)
                if (rep->pages[i].status != GNTST_okay) {
                    *status = rep->pages[i].status;
                    break;
                }
        errno = -rep->rc;
        goto out;
    }
    addr = hv_map_pages(rep->pages, count, fds, nfds, prot);
    if (!addr) {
        int err = errno;
        hv_simple(&h->c, XENSIM_HV_OP_UNMAP, (uint32_t)rep->rc, 0);
        errno = err;
        goto out;
    }
    rec_add(h, addr, count, (uint32_t)rep->rc);
    if (status)
        *status = GNTST_okay;
out:
    for (unsigned int i = 0; i < nfds; i++)
        close(fds[i]);
    free(req);
    free(rep);
    return addr;
}

xengnttab_handle *xengnttab_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger;
    (void)open_flags;
    return dev_open(XENSIM_HV_GNTDEV);
}

int xengnttab_close(xengnttab_handle *xgt)
{
    return dev_close(xgt);
}

int xengnttab_fd(xengnttab_handle *xgt)
{
    return xgt->c.fd;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot)
{
    return grant_map(xgt, 1, &domid, 0, &ref, prot, XENSIM_HV_NONE, XENSIM_HV_NONE, NULL);
}

void *xengnttab_map_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t *domids,
                               uint32_t *refs, int prot)
{
    return grant_map(xgt, count, domids, 1, refs, prot, XENSIM_HV_NONE, XENSIM_HV_NONE, NULL);
}

void *xengnttab_map_domain_grant_refs(xengnttab_handle *xgt, uint32_t count, uint32_t domid,
                                      uint32_t *refs, int prot)
{
    return grant_map(xgt, count, &domid, 0, refs, prot, XENSIM_HV_NONE, XENSIM_HV_NONE, NULL);
}

void *xengnttab_map_grant_ref_notify(xengnttab_handle *xgt, uint32_t domid, uint32_t ref,
                                     int prot, uint32_t notify_offset,
                                     evtchn_port_t notify_port)
{
    return grant_map(xgt, 1, &domid, 0, &ref, prot, notify_offset, notify_port, NULL);
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count)
{
    bool count_ok = false;
    struct map_rec *r = start_address ? rec_take(xgt, start_address, count, &count_ok) : NULL;

    if (!r) {
        errno = EINVAL;
        return -1;
    }
    if (munmap(start_address, (size_t)count * XEN_PAGE_SIZE)) {
        int err = errno;
        rec_add(xgt, r->addr, r->count, r->id);
        free(r);
        errno = err;
        return -1;
    }
    int rc = hv_simple(&xgt->c, XENSIM_HV_OP_UNMAP, r->id, 0);
    free(r);
    return rc < 0 ? -1 : 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants)
{
    return hv_simple(&xgt->c, XENSIM_HV_OP_SET_MAX_GRANTS, nr_grants, 0) < 0 ? -1 : 0;
}

/* One side of a copy: a local buffer, or a granted page mapped for it. */
static uint8_t *copy_side(xengnttab_handle *xgt, const union xengnttab_copy_ptr *p, bool gref,
                          bool write, void **map, int16_t *status)
{
    *map = NULL;
    if (!gref)
        return p->virt;
    uint32_t domid = p->foreign.domid, ref = p->foreign.ref;
    *map = grant_map(xgt, 1, &domid, 0, &ref, write ? PROT_READ | PROT_WRITE : PROT_READ,
                     XENSIM_HV_NONE, XENSIM_HV_NONE, status);
    return *map ? (uint8_t *)*map + p->foreign.offset : NULL;
}

/* GNTTABOP_copy as gntdev's ioctl does it, each segment with its own
 * status; a segment that crosses its page fails the whole call. With
 * XENSIM_GNTTAB_NO_COPY set in the environment, every call fails as on a
 * kernel without IOCTL_GNTDEV_GRANT_COPY (ENOTTY), so that a program's
 * fallback (QEMU maps and copies itself) can be tested. */
int xengnttab_grant_copy(xengnttab_handle *xgt, uint32_t count,
                         xengnttab_grant_copy_segment_t *segs)
{
    const char *no_copy = getenv("XENSIM_GNTTAB_NO_COPY");
    if (no_copy && *no_copy && strcmp(no_copy, "0")) {
        errno = ENOTTY;
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        const xengnttab_grant_copy_segment_t *s = &segs[i];
        if (((s->flags & GNTCOPY_source_gref) &&
             s->source.foreign.offset + s->len > XEN_PAGE_SIZE) ||
            ((s->flags & GNTCOPY_dest_gref) && s->dest.foreign.offset + s->len > XEN_PAGE_SIZE)) {
            errno = EINVAL;
            return -1;
        }
    }
    for (uint32_t i = 0; i < count; i++) {
        xengnttab_grant_copy_segment_t *s = &segs[i];
        void *smap, *dmap = NULL;
        int16_t st = GNTST_okay;
        uint8_t *src = copy_side(xgt, &s->source, s->flags & GNTCOPY_source_gref, false, &smap,
                                 &st);
        uint8_t *dst = src ? copy_side(xgt, &s->dest, s->flags & GNTCOPY_dest_gref, true, &dmap,
                                       &st)
                           : NULL;
        if (src && dst)
            memmove(dst, src, s->len);
        s->status = src && dst ? GNTST_okay : st;
        if (smap)
            xengnttab_unmap(xgt, smap, 1);
        if (dmap)
            xengnttab_unmap(xgt, dmap, 1);
    }
    return 0;
}

/* dma-buf export and import: what a kernel without
 * CONFIG_XEN_GNTDEV_DMABUF answers (the ioctl is unknown). */
int xengnttab_dmabuf_exp_from_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t flags,
                                   uint32_t count, const uint32_t *refs, uint32_t *fd)
{
    (void)xgt, (void)domid, (void)flags, (void)count, (void)refs, (void)fd;
    errno = ENOTTY;
    return -1;
}

int xengnttab_dmabuf_exp_wait_released(xengnttab_handle *xgt, uint32_t fd,
                                       uint32_t wait_to_ms)
{
    (void)xgt, (void)fd, (void)wait_to_ms;
    errno = ENOTTY;
    return -1;
}

int xengnttab_dmabuf_imp_to_refs(xengnttab_handle *xgt, uint32_t domid, uint32_t fd,
                                 uint32_t count, uint32_t *refs)
{
    (void)xgt, (void)domid, (void)fd, (void)count, (void)refs;
    errno = ENOTTY;
    return -1;
}

int xengnttab_dmabuf_imp_release(xengnttab_handle *xgt, uint32_t fd)
{
    (void)xgt, (void)fd;
    errno = ENOTTY;
    return -1;
}

xengntshr_handle *xengntshr_open(struct xentoollog_logger *logger, unsigned open_flags)
{
    (void)logger;
    (void)open_flags;
    return dev_open(XENSIM_HV_GNTALLOC);
}

int xengntshr_close(xengntshr_handle *xgs)
{
    return dev_close(xgs);
}

int xengntshr_fd(xengntshr_handle *xgs)
{
    return xgs->c.fd;
}

static void *share(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
                   int writable, uint32_t notify_offset, uint32_t notify_port)
{
    if (count <= 0 || (unsigned int)count > XENSIM_HV_MAX_PAGES) {
        errno = EINVAL;
        return NULL;
    }
    struct xensim_hv_share req = {
        .op = XENSIM_HV_OP_SHARE, .domid = domid, .count = (uint32_t)count,
        .flags = writable ? XENSIM_HV_SHARE_WRITABLE : 0,
        .notify_offset = notify_offset < (uint32_t)count * XEN_PAGE_SIZE ? notify_offset
                                                                         : XENSIM_HV_NONE,
        .notify_port = notify_port,
    };
    size_t plen = sizeof(struct xensim_hv_share_rep) + count * sizeof(struct xensim_hv_spage);
    struct xensim_hv_share_rep *rep = malloc(plen);
    struct xensim_hv_page *pages = malloc(count * sizeof(*pages));
    int fd = -1;
    unsigned int nfds = 0;
    void *addr = NULL;

    if (!rep || !pages)
        goto out;
    ssize_t n = hv_call(&xgs->c, &req, sizeof(req), rep, plen, &fd, 1, &nfds);
    if (n < 0)
        goto out;
    if ((size_t)n < sizeof(*rep) || (rep->rc >= 0 && ((size_t)n != plen || nfds != 1))) {
        errno = EPROTO;
        if (rep->rc > 0)
            hv_simple(&xgs->c, XENSIM_HV_OP_UNSHARE, (uint32_t)rep->rc, 0);
        goto out;
    }
    if (rep->rc < 0) {
        errno = -rep->rc;
        goto out;
    }
    for (int i = 0; i < count; i++)
        pages[i] = (struct xensim_hv_page){ .offset = rep->pages[i].offset };
    /* gntalloc maps its pages read-write, whatever the grant says. */
    addr = hv_map_pages(pages, (unsigned int)count, &fd, 1, PROT_READ | PROT_WRITE);
    if (!addr) {
        int err = errno;
        hv_simple(&xgs->c, XENSIM_HV_OP_UNSHARE, (uint32_t)rep->rc, 0);
        errno = err;
        goto out;
    }
    for (int i = 0; i < count; i++)
        refs[i] = rep->pages[i].ref;
    rec_add(xgs, addr, (uint32_t)count, (uint32_t)rep->rc);
out:
    if (nfds)
        close(fd);
    free(rep);
    free(pages);
    return addr;
}

void *xengntshr_share_pages(xengntshr_handle *xgs, uint32_t domid, int count, uint32_t *refs,
                            int writable)
{
    return share(xgs, domid, count, refs, writable, XENSIM_HV_NONE, XENSIM_HV_NONE);
}

void *xengntshr_share_page_notify(xengntshr_handle *xgs, uint32_t domid, uint32_t *ref,
                                  int writable, uint32_t notify_offset,
                                  evtchn_port_t notify_port)
{
    return share(xgs, domid, 1, ref, writable, notify_offset, notify_port);
}

/* gntalloc's unshare is munmap; the grants end (or wait for the peer)
 * once the whole share is gone. */
int xengntshr_unshare(xengntshr_handle *xgs, void *start_address, uint32_t count)
{
    bool count_ok = false;
    struct map_rec *r = rec_take(xgs, start_address, count, &count_ok);
    int rc = munmap(start_address, (size_t)count * XEN_PAGE_SIZE);
    if (r) {
        int err = errno;
        hv_simple(&xgs->c, XENSIM_HV_OP_UNSHARE, r->id, 0);
        free(r);
        errno = err;
    }
    return rc;
}
