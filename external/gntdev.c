/*
 * /dev/xen/gntdev for a process of the domain: MAP pins each grant for
 * the domain through a hostdev gnttab handle (Xen's checks and its
 * maptrack limit) and hands the process the granters' memory to map
 * itself, read-only descriptors for read-only maps; UNMAP and the
 * connection's end run the unmap notification (byte, then unpin, then
 * event, in Linux's order) and drop the pins. Linux answers any failed
 * page with EINVAL; the reply keeps each page's GNTST_*.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <xensim/hostdev.h>
#include "ext.h"

struct map_page {
    grant_handle_t handle;
    domid_t granter;
    xen_pfn_t frame;
};

struct ext_map {
    uint32_t id;
    uint32_t count;
    uint32_t notify_offset;         /* XENSIM_HV_NONE: none */
    struct ext_port_ref *port;
    struct ext_map *next;
    struct map_page pages[];
};

struct ext_gntdev {
    struct ext_dom *d;
    struct xensim_gnttab_dev *dev;
    struct ext_map *maps;
    uint32_t next_id;
};

static int gntdev_open(struct ext_conn *c, int *fd)
{
    struct ext_gntdev *g = calloc(1, sizeof(*g));

    (void)fd;
    if (!g)
        return -ENOMEM;
    g->d = c->d;
    g->dev = xensim_gnttab_dev_open(c->d->srv->sim, c->d->domid);
    if (!g->dev) {
        int err = -errno;
        free(g);
        return err;
    }
    c->priv = g;
    return 0;
}

static void unpin_all(struct ext_gntdev *g, struct map_page *pages, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        xensim_gnttab_dev_unpin(g->dev, pages[i].handle);
}

static void map_release(struct ext_gntdev *g, struct ext_map *m)
{
    if (m->notify_offset != XENSIM_HV_NONE) {
        const struct map_page *p = &m->pages[m->notify_offset / XEN_PAGE_SIZE];
        ext_clear_byte(g->d->srv->sim, p->granter,
                       ((uint64_t)p->frame << XEN_PAGE_SHIFT) + m->notify_offset % XEN_PAGE_SIZE);
    }
    unpin_all(g, m->pages, m->count);
    ext_port_put(m->port, true);
    g->d->nr_maps--;
    free(m);
}

/* The descriptors of the distinct granters, in order of first use. */
static int map_fds(struct ext_gntdev *g, struct ext_map *m, bool ro,
                   struct xensim_hv_map_rep *out, int *fds, unsigned int *nfds)
{
    domid_t seen[EXT_MAX_FDS];

    for (unsigned int i = 0; i < m->count; i++) {
        unsigned int k;
        for (k = 0; k < *nfds && seen[k] != m->pages[i].granter; k++)
            ;
        if (k == *nfds) {
            if (k == EXT_MAX_FDS)
                return -E2BIG;
            int fd = xensim_domain_memory_fd(g->d->srv->sim, m->pages[i].granter, ro);
            if (fd < 0)
                return fd;
            seen[k] = m->pages[i].granter;
            fds[(*nfds)++] = fd;
        }
        out->pages[i] = (struct xensim_hv_page){
            .status = GNTST_okay, .fd = (uint16_t)k,
            .offset = (uint64_t)m->pages[i].frame << XEN_PAGE_SHIFT,
        };
    }
    return 0;
}

static int32_t gntdev_map(struct ext_gntdev *g, const struct xensim_hv_map *r,
                          struct xensim_hv_map_rep *out, int *fds, unsigned int *nfds)
{
    bool ro = r->flags & XENSIM_HV_MAP_READONLY;

    if (r->flags & ~XENSIM_HV_MAP_READONLY)
        return -EINVAL;
    /* gntdev refuses a notify byte outside the mapping or in a read-only
     * one, and a port no evtchn file of the domain bound. */
    if (r->notify_offset != XENSIM_HV_NONE &&
        (r->notify_offset >= r->count * XEN_PAGE_SIZE || ro))
        return -EINVAL;
    struct ext_map *m = calloc(1, sizeof(*m) + r->count * sizeof(m->pages[0]));
    if (!m)
        return -ENOMEM;
    m->count = r->count;
    m->notify_offset = r->notify_offset;
    if (r->notify_port != XENSIM_HV_NONE && !(m->port = ext_port_get(g->d, r->notify_port))) {
        free(m);
        return -EINVAL;
    }
    unsigned int pinned = 0;
    bool failed = false;
    for (unsigned int i = 0; i < r->count; i++) {
        struct map_page *p = &m->pages[i];
        int16_t st = GNTST_bad_domain;
        if (r->refs[i].domid < DOMID_FIRST_RESERVED) {
            p->granter = (domid_t)r->refs[i].domid;
            st = xensim_gnttab_dev_pin(g->dev, p->granter, r->refs[i].ref, ro,
                                       &p->handle, &p->frame);
        }
        out->pages[i] = (struct xensim_hv_page){ .status = st };
        if (st == GNTST_okay)
            m->pages[pinned++] = *p;
        else
            failed = true;
    }
    int32_t rc = -EINVAL;
    if (!failed)
        rc = map_fds(g, m, ro, out, fds, nfds);
    if (failed || rc) {
        /* All or nothing, as gntdev's mmap. */
        unpin_all(g, m->pages, pinned);
        for (unsigned int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        ext_port_put(m->port, false);
        free(m);
        return rc;
    }
    /* Ids are never 0 and wrap only after 2^31 maps. */
    m->id = g->next_id = (g->next_id % 0x7fffffffu) + 1;
    m->next = g->maps;
    g->maps = m;
    g->d->nr_maps++;
    out->nr_fds = *nfds;
    return (int32_t)m->id;
}

static int gntdev_request(struct ext_conn *c, const void *msg, size_t len, void *rep,
                          size_t *rep_len, int *fds, unsigned int *nfds)
{
    struct ext_gntdev *g = c->priv;
    const struct xensim_hv_req *r = msg;
    struct xensim_hv_rep *out = rep;

    if (r->op == XENSIM_HV_OP_MAP) {
        const struct xensim_hv_map *m = msg;
        struct xensim_hv_map_rep *mo = rep;
        if (len < sizeof(*m) || len != sizeof(*m) + (size_t)m->count * sizeof(m->refs[0]))
            return -1;
        *mo = (struct xensim_hv_map_rep){ .count = m->count };
        if (!m->count || m->count > XENSIM_HV_MAX_PAGES) {
            mo->rc = -E2BIG;
            mo->count = 0;
        } else {
            mo->rc = gntdev_map(g, m, mo, fds, nfds);
        }
        *rep_len = sizeof(*mo) + mo->count * sizeof(mo->pages[0]);
        return 0;
    }
    if (len != sizeof(*r))
        return -1;
    *out = (struct xensim_hv_rep){ .rc = -EINVAL };
    *rep_len = sizeof(*out);
    if (r->op == XENSIM_HV_OP_UNMAP) {
        for (struct ext_map **pp = &g->maps; *pp; pp = &(*pp)->next) {
            if ((*pp)->id != r->a)
                continue;
            struct ext_map *m = *pp;
            *pp = m->next;
            map_release(g, m);
            out->rc = 0;
            break;
        }
        return 0;
    }
    if (r->op == XENSIM_HV_OP_SET_MAX_GRANTS) {
        /* Linux dropped the limit; the maptrack bounds what a domain maps. */
        out->rc = 0;
        return 0;
    }
    return -1;
}

static void gntdev_close(struct ext_conn *c)
{
    struct ext_gntdev *g = c->priv;

    while (g->maps) {
        struct ext_map *m = g->maps;
        g->maps = m->next;
        map_release(g, m);
    }
    xensim_gnttab_dev_close(g->dev);
    free(g);
}

const struct ext_kind_ops ext_gntdev_ops = {
    .name = "gntdev",
    .open = gntdev_open,
    .request = gntdev_request,
    .close = gntdev_close,
};

int ext_clear_byte(struct xensim *sim, domid_t domid, uint64_t off)
{
    int fd = xensim_domain_memory_fd(sim, domid, false);
    if (fd < 0)
        return fd;
    static const char zero;
    int rc = pwrite(fd, &zero, 1, (off_t)off) == 1 ? 0 : -errno;
    close(fd);
    return rc;
}
