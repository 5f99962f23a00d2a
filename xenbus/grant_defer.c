/*
 * Ending a grant the peer may still map, as Linux's
 * gnttab_end_foreign_access does: the ref and its page are only reused
 * once the revoke succeeds. Until then they wait on the domain's deferred
 * list (a guest data key), retried whenever this domain ends another grant
 * or grants a ring, on the xenbus client's events and by
 * xensim_xenbus_deferred_retry(). Relies on <xensim/guest.h> only.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include "util.h"

struct defer_entry {
    struct defer_entry *next;
    grant_ref_t ref;
    xen_pfn_t pfn;                /* XENSIM_INVALID_PFN: no page to free with it */
};

/* lock guards the list; nr mirrors its length so that the common case
 * (nothing deferred) is one load. */
struct defer_dom {
    struct xensim_irqlock lock;
    struct defer_entry *head;
    _Atomic unsigned int nr;
};

/* The domain is dead: its pages went with it, only host memory is left. */
static void defer_free(void *p)
{
    struct defer_dom *d = p;

    while (d->head) {
        struct defer_entry *e = d->head;

        d->head = e->next;
        free(e);
    }
    free(d);
}

static struct xensim_guest_key defer_key = { .destroy = defer_free };

static struct defer_dom *defer_dom(bool create)
{
    struct defer_dom *d = xensim_guest_data(&defer_key), *won;

    if (d || !create)
        return d;
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    xensim_irqlock_init(&d->lock);
    won = xensim_guest_data_init(&defer_key, d);
    if (won != d) {
        xensim_irqlock_destroy(&d->lock);
        free(d);
    }
    return won;
}

/* Revokes ref; if the peer let go, frees it and its page. */
static bool try_end(grant_ref_t ref, xen_pfn_t pfn)
{
    if (xensim_gnttab_end_access(ref))
        return false;
    xensim_gnttab_free_ref(ref);
    if (pfn != XENSIM_INVALID_PFN)
        xensim_guest_page_free(pfn);
    return true;
}

/* The lock is held. */
static void retry_locked(struct defer_dom *d)
{
    for (struct defer_entry **pp = &d->head, *e; (e = *pp);) {
        if (try_end(e->ref, e->pfn)) {
            *pp = e->next;
            free(e);
            atomic_fetch_sub(&d->nr, 1);
        } else {
            pp = &e->next;
        }
    }
}

unsigned int xensim_xenbus_deferred_retry(void)
{
    struct defer_dom *d = defer_dom(false);
    unsigned int left;

    if (!d || !atomic_load(&d->nr))
        return 0;
    bool masked = xensim_irqlock_lock(&d->lock);
    retry_locked(d);
    left = atomic_load(&d->nr);
    xensim_irqlock_unlock(&d->lock, masked);
    return left;
}

int xensim_xenbus_end_access(grant_ref_t ref, xen_pfn_t pfn)
{
    struct defer_dom *d;
    struct defer_entry *e;

    if (!xensim_guest_start_info())
        return -EPERM;
    xensim_xenbus_deferred_retry();
    if (try_end(ref, pfn))
        return 0;
    e = malloc(sizeof(*e));
    d = e ? defer_dom(true) : NULL;
    if (!d) {
        /* A page leaked is better than a page reused under the peer. */
        fprintf(stderr, "xenbus: dom%u: no memory to defer grant %u: leaked\n",
                xensim_guest_domid(), ref);
        free(e);
        return -ENOMEM;
    }
    e->ref = ref;
    e->pfn = pfn;
    bool masked = xensim_irqlock_lock(&d->lock);
    e->next = d->head;
    d->head = e;
    atomic_fetch_add(&d->nr, 1);
    xensim_irqlock_unlock(&d->lock, masked);
    return -EBUSY;
}
