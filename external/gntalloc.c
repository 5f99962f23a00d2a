/*
 * /dev/xen/gntalloc for a process of the domain: SHARE takes fresh pages
 * of the domain's own memory and grants them, through its kernel's own
 * allocators (guest code run on its vCPU 0 with xensim_domain_call, as
 * Linux's gntalloc uses the kernel's grant API), so that the domain's
 * in-process code and its processes never hand out the same ref. UNSHARE
 * and the connection's end run the unmap notification (byte, then event)
 * and end each grant; a grant the peer still maps stays as it is, with
 * its page, until the peer lets go (Linux's deferred end), retried from
 * the domain's loop.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <xensim/guest.h>
#include <xensim/hostdev.h>
#include "ext.h"

struct share_page {
    grant_ref_t ref;
    xen_pfn_t pfn;
    bool ended;
};

struct ext_share {
    uint32_t id;
    domid_t to;
    bool writable;
    uint32_t count, left;           /* pages, pages not yet ended */
    uint32_t notify_offset;
    struct ext_port_ref *port;
    struct ext_share *next;
    struct share_page pages[];
};

struct ext_gntalloc {
    struct ext_dom *d;
    struct ext_share *shares;
    uint32_t next_id;
};

/* Guest code on the domain's vCPU 0: the pages, then the grants. */
struct share_call {
    struct ext_share *s;
    int rc;
};

static void end_pages_fn(void *arg)
{
    struct share_call *sc = arg;
    struct ext_share *s = sc->s;

    for (uint32_t i = 0; i < s->count; i++) {
        struct share_page *p = &s->pages[i];
        if (p->ended)
            continue;
        if (p->ref && xensim_gnttab_end_access(p->ref))
            continue;               /* still mapped: later */
        if (p->ref)
            xensim_gnttab_free_ref(p->ref);
        if (p->pfn != XENSIM_INVALID_PFN)
            xensim_guest_page_free(p->pfn);
        p->ended = true;
        s->left--;
    }
}

static void share_fn(void *arg)
{
    struct share_call *sc = arg;
    struct ext_share *s = sc->s;

    sc->rc = 0;
    for (uint32_t i = 0; i < s->count; i++) {
        struct share_page *p = &s->pages[i];
        if (xensim_guest_page_alloc(&p->pfn)) {
            sc->rc = -ENOMEM;
            break;
        }
        long ref = xensim_gnttab_grant_access(s->to, p->pfn, !s->writable);
        if (ref < 0) {
            sc->rc = (int)ref;
            break;
        }
        p->ref = (grant_ref_t)ref;
    }
    if (sc->rc)
        end_pages_fn(sc);
}

static int gntalloc_open(struct ext_conn *c, int *fd)
{
    struct ext_gntalloc *a = calloc(1, sizeof(*a));

    (void)fd;
    if (!a)
        return -ENOMEM;
    a->d = c->d;
    c->priv = a;
    return 0;
}

/* Ends what it can now; false when pages are left (the domain gone, or a
 * peer still mapping them). */
static bool share_end(struct ext_dom *d, struct ext_share *s)
{
    struct share_call sc = { .s = s };
    if (xensim_domain_call(d->srv->sim, d->domid, 0, end_pages_fn, &sc))
        return false;
    return !s->left;
}

static void share_release(struct ext_dom *d, struct ext_share *s)
{
    if (s->notify_offset != XENSIM_HV_NONE) {
        const struct share_page *p = &s->pages[s->notify_offset / XEN_PAGE_SIZE];
        ext_clear_byte(d->srv->sim, d->domid,
                       ((uint64_t)p->pfn << XEN_PAGE_SHIFT) + s->notify_offset % XEN_PAGE_SIZE);
    }
    ext_port_put(s->port, true);
    s->port = NULL;
    d->nr_shares--;
    if (share_end(d, s)) {
        free(s);
        return;
    }
    s->next = d->deferred;
    d->deferred = s;
}

static int32_t gntalloc_share(struct ext_gntalloc *a, const struct xensim_hv_share *r,
                              struct xensim_hv_share_rep *out, int *fds, unsigned int *nfds)
{
    struct ext_dom *d = a->d;

    if (!r->count || r->count > XENSIM_HV_MAX_PAGES)
        return -E2BIG;
    if ((r->flags & ~XENSIM_HV_SHARE_WRITABLE) || r->domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    if (r->notify_offset != XENSIM_HV_NONE && r->notify_offset >= r->count * XEN_PAGE_SIZE)
        return -EINVAL;
    struct ext_share *s = calloc(1, sizeof(*s) + r->count * sizeof(s->pages[0]));
    if (!s)
        return -ENOMEM;
    s->to = (domid_t)r->domid;
    s->writable = r->flags & XENSIM_HV_SHARE_WRITABLE;
    s->count = s->left = r->count;
    s->notify_offset = r->notify_offset;
    for (uint32_t i = 0; i < s->count; i++)
        s->pages[i].pfn = XENSIM_INVALID_PFN;
    if (r->notify_port != XENSIM_HV_NONE && !(s->port = ext_port_get(d, r->notify_port))) {
        free(s);
        return -EINVAL;
    }
    struct share_call sc = { .s = s };
    int rc = xensim_domain_call(d->srv->sim, d->domid, 0, share_fn, &sc);
    int fd = -1;
    if (!rc)
        rc = sc.rc;
    if (!rc && (fd = xensim_domain_memory_fd(d->srv->sim, d->domid, false)) < 0)
        rc = fd;
    if (rc) {
        ext_port_put(s->port, false);
        if (share_end(d, s) || s->left == s->count)
            free(s);
        else
            s->next = d->deferred, d->deferred = s;
        return rc;
    }
    fds[(*nfds)++] = fd;
    for (uint32_t i = 0; i < s->count; i++)
        out->pages[i] = (struct xensim_hv_spage){
            .ref = s->pages[i].ref, .offset = (uint64_t)s->pages[i].pfn << XEN_PAGE_SHIFT,
        };
    out->count = s->count;
    s->id = a->next_id = (a->next_id % 0x7fffffffu) + 1;
    s->next = a->shares;
    a->shares = s;
    d->nr_shares++;
    return (int32_t)s->id;
}

static int gntalloc_request(struct ext_conn *c, const void *msg, size_t len, void *rep,
                            size_t *rep_len, int *fds, unsigned int *nfds)
{
    struct ext_gntalloc *a = c->priv;
    const struct xensim_hv_req *r = msg;

    if (r->op == XENSIM_HV_OP_SHARE) {
        struct xensim_hv_share_rep *out = rep;
        if (len != sizeof(struct xensim_hv_share))
            return -1;
        *out = (struct xensim_hv_share_rep){ 0 };
        out->rc = gntalloc_share(a, msg, out, fds, nfds);
        *rep_len = sizeof(*out) + out->count * sizeof(out->pages[0]);
        return 0;
    }
    if (r->op != XENSIM_HV_OP_UNSHARE || len != sizeof(*r))
        return -1;
    struct xensim_hv_rep *out = rep;
    *out = (struct xensim_hv_rep){ .rc = -EINVAL };
    *rep_len = sizeof(*out);
    for (struct ext_share **pp = &a->shares; *pp; pp = &(*pp)->next) {
        if ((*pp)->id != r->a)
            continue;
        struct ext_share *s = *pp;
        *pp = s->next;
        share_release(a->d, s);
        out->rc = 0;
        break;
    }
    return 0;
}

static void gntalloc_close(struct ext_conn *c)
{
    struct ext_gntalloc *a = c->priv;

    while (a->shares) {
        struct ext_share *s = a->shares;
        a->shares = s->next;
        share_release(a->d, s);
    }
    free(a);
}

const struct ext_kind_ops ext_gntalloc_ops = {
    .name = "gntalloc",
    .open = gntalloc_open,
    .request = gntalloc_request,
    .close = gntalloc_close,
};

void ext_gntalloc_retry(struct ext_dom *d)
{
    for (struct ext_share **pp = &d->deferred; *pp;) {
        struct ext_share *s = *pp;
        if (share_end(d, s)) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void ext_gntalloc_drop_deferred(struct ext_dom *d)
{
    /* One last try: the domain may still run (a server stopping). */
    ext_gntalloc_retry(d);
    while (d->deferred) {
        struct ext_share *s = d->deferred;
        d->deferred = s->next;
        free(s);
    }
}

unsigned int ext_gntalloc_deferred(struct ext_dom *d)
{
    unsigned int n = 0;
    for (struct ext_share *s = d->deferred; s; s = s->next)
        n++;
    return n;
}
