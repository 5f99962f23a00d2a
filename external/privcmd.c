/*
 * Domain control for a process of the domain, what libxenctrl and
 * libxenforeignmemory ask of privcmd: the domain list as
 * XEN_DOMCTL_getdomaininfo walks it, a new domain that lives as long as
 * the connection that asked for it (the process is that domain's
 * toolstack and kernel both), both for privileged domains only as Xen's
 * XSM default has it; and another domain's frames by number (a privileged
 * domain's, or one's own), as IOCTL_PRIVCMD_MMAPBATCH_V2 maps them.
 * Relies on the embedding API and server.c's toolstack thread.
 */
#include <errno.h>
#include <string.h>
#include <xensim/hostdev.h>
#include "ext.h"

struct ext_privcmd {
    bool owns;
    domid_t owned;
};

static int privcmd_open(struct ext_conn *c, int *fd)
{
    (void)fd;
    c->priv = calloc(1, sizeof(struct ext_privcmd));
    return c->priv ? 0 : -ENOMEM;
}

static uint32_t info_flags(const struct xensim_domain_info *in)
{
    uint32_t f = in->privileged ? XENSIM_HV_DOM_PRIVILEGED : 0;
    switch (in->state) {
    case XENSIM_DOMAIN_PAUSED:
        return f | XENSIM_HV_DOM_PAUSED;
    case XENSIM_DOMAIN_RUNNING:
        return f | XENSIM_HV_DOM_RUNNING;
    case XENSIM_DOMAIN_SHUTDOWN:
        return f | XENSIM_HV_DOM_SHUTDOWN;
    case XENSIM_DOMAIN_DYING:
        return f | XENSIM_HV_DOM_DYING;
    }
    return f;
}

static int32_t privcmd_info(struct ext_dom *d, uint32_t first, uint32_t max,
                            struct xensim_hv_info_rep *out)
{
    struct xensim_domain_info *all = NULL;
    int n = xensim_domain_list(d->srv->sim, NULL, 0);

    if (!d->privileged)
        return -EPERM;
    if (n > 0 && !(all = calloc((size_t)n, sizeof(*all))))
        return -ENOMEM;
    if (n > 0)
        n = xensim_domain_list(d->srv->sim, all, n);
    uint32_t k = 0;
    if (max > XENSIM_HV_MAX_INFOS)
        max = XENSIM_HV_MAX_INFOS;
    for (int i = 0; i < n && k < max; i++) {
        if (all[i].domid < first)
            continue;
        out->doms[k++] = (struct xensim_hv_dominfo){
            .domid = all[i].domid,
            .flags = info_flags(&all[i]),
            .shutdown_reason = all[i].shutdown_reason,
            .nr_vcpus = all[i].nr_vcpus,
            .nr_pages = all[i].nr_pages,
        };
    }
    free(all);
    /* getdomaininfo finds no domain at or above first: ESRCH. */
    return k || !max ? (int32_t)k : -ESRCH;
}

/* FOREIGN_MAP: which frames the domain has, and its memory to map. Dom0
 * may map any domain's RAM, as Xen's XSM default lets the privileged
 * domain; others only their own. A frame past its RAM fails on its own
 * with -EINVAL, as the batch's err[] reports a page Xen will not map. */
static int32_t privcmd_foreign_map(struct ext_dom *d, const struct xensim_hv_fmap *r,
                                   struct xensim_hv_map_rep *out, int *fds, unsigned int *nfds)
{
    struct xensim_domain_info info;
    int32_t failed = 0;

    if (!r->count || r->count > XENSIM_HV_MAX_PAGES)
        return -E2BIG;
    if (r->flags & ~XENSIM_HV_MAP_READONLY)
        return -EINVAL;
    if (!d->privileged && r->domid != d->domid)
        return -EPERM;
    if (r->domid > UINT16_MAX || xensim_domain_info(d->srv->sim, (domid_t)r->domid, &info))
        return -ESRCH;
    int fd = xensim_domain_memory_fd(d->srv->sim, (domid_t)r->domid,
                                     r->flags & XENSIM_HV_MAP_READONLY);
    if (fd < 0)
        return fd;
    fds[(*nfds)++] = fd;
    out->count = r->count;
    out->nr_fds = 1;
    for (uint32_t i = 0; i < r->count; i++) {
        bool ok = r->frames[i] < info.nr_pages;
        out->pages[i] = (struct xensim_hv_page){
            .status = ok ? 0 : -EINVAL,
            .offset = ok ? r->frames[i] << XEN_PAGE_SHIFT : 0,
        };
        failed += !ok;
    }
    return failed;
}

static int privcmd_request(struct ext_conn *c, const void *msg, size_t len, void *rep,
                           size_t *rep_len, int *fds, unsigned int *nfds)
{
    struct ext_privcmd *p = c->priv;
    const struct xensim_hv_req *r = msg;

    if (r->op == XENSIM_HV_OP_FOREIGN_MAP) {
        const struct xensim_hv_fmap *fm = msg;
        struct xensim_hv_map_rep *out = rep;
        if (len < sizeof(*fm) || (len - sizeof(*fm)) % sizeof(fm->frames[0]) ||
            (len - sizeof(*fm)) / sizeof(fm->frames[0]) != fm->count)
            return -1;
        *out = (struct xensim_hv_map_rep){ 0 };
        out->rc = privcmd_foreign_map(c->d, fm, out, fds, nfds);
        *rep_len = sizeof(*out) + (out->rc >= 0 ? out->count * sizeof(out->pages[0]) : 0);
        return 0;
    }
    if (r->op == XENSIM_HV_OP_DOMAIN_INFO) {
        struct xensim_hv_info_rep *out = rep;
        if (len != sizeof(*r))
            return -1;
        out->pad = 0;
        out->rc = privcmd_info(c->d, r->a, r->b, out);
        *rep_len = sizeof(*out) + (out->rc > 0 ? (size_t)out->rc : 0) * sizeof(out->doms[0]);
        return 0;
    }
    if (r->op == XENSIM_HV_OP_DOMAIN_NEW) {
        const struct xensim_hv_domain_new *nd = msg;
        struct xensim_hv_rep *out = rep;
        if (len != sizeof(*nd) || !memchr(nd->name, '\0', sizeof(nd->name)))
            return -1;
        *out = (struct xensim_hv_rep){ .rc = -EPERM };
        *rep_len = sizeof(*out);
        if (!c->d->privileged)
            return 0;
        if (p->owns) {
            out->rc = -EEXIST;
            return 0;
        }
        out->rc = ext_domain_new(c->d->srv, c->d, nd);
        if (out->rc >= 0) {
            p->owns = true;
            p->owned = (domid_t)out->rc;
        }
        return 0;
    }
    return -1;
}

static void privcmd_close(struct ext_conn *c)
{
    struct ext_privcmd *p = c->priv;

    if (p->owns)
        ext_domain_release(c->d->srv, p->owned);
    free(p);
}

const struct ext_kind_ops ext_privcmd_ops = {
    .name = "privcmd",
    .open = privcmd_open,
    .request = privcmd_request,
    .close = privcmd_close,
};
