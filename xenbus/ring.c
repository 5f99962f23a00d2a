/*
 * The transport helpers drivers build their rings on, as Linux's
 * xensim_xenbus_grant_ring, xensim_xenbus_map_ring and xensim_xenbus_alloc_evtchn: grant pages
 * to the other end, map what it granted in one hypercall, unmap, and
 * allocate an unbound port. Relies on <xensim/guest.h>.
 */
#include "config.h"

#include <errno.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include "util.h"

#define RING_PAGES_MAX (1u << XENSIM_XENBUS_MAX_RING_ORDER)

int xensim_xenbus_grant_ring(domid_t otherend, void *const *pages, unsigned int nr, grant_ref_t *refs)
{
    /* A later grant operation: a good time to let go of ended ones. */
    xensim_xenbus_deferred_retry();
    for (unsigned int i = 0; i < nr; i++) {
        xen_pfn_t pfn = xensim_guest_virt_to_pfn(pages[i]);
        long ref = pfn == XENSIM_INVALID_PFN ? -EINVAL
                                             : xensim_gnttab_grant_access(otherend, pfn, false);

        if (ref < 0) {
            /* Nobody has seen these refs yet: revoking cannot fail. */
            while (i--) {
                xensim_gnttab_end_access(refs[i]);
                xensim_gnttab_free_ref(refs[i]);
            }
            return (int)ref;
        }
        refs[i] = (grant_ref_t)ref;
    }
    return 0;
}

static int map_errno(long rc, int16_t status)
{
    if (rc)
        return (int)rc;
    return status == GNTST_bad_domain ? -ESRCH : -EINVAL;
}

int xensim_xenbus_map_ring(domid_t otherend, const grant_ref_t *refs, unsigned int nr,
                    grant_handle_t *handles, void **addrs)
{
    gnttab_map_grant_ref_t op[RING_PAGES_MAX];
    unsigned int mapped = 0;
    int err = 0;

    if (nr > RING_PAGES_MAX)
        return -EINVAL;
    for (unsigned int i = 0; i < nr; i++)
        op[i] = (gnttab_map_grant_ref_t){
            .flags = GNTMAP_host_map, .ref = refs[i], .dom = otherend,
        };
    long rc = nr ? HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, op, nr) : 0;
    for (unsigned int i = 0; i < nr; i++) {
        if (rc || op[i].status != GNTST_okay) {
            if (!err)
                err = map_errno(rc, op[i].status);
            continue;
        }
        /* The successes first, so that a failure can undo them. */
        handles[mapped] = op[i].handle;
        addrs[mapped++] = (void *)(uintptr_t)op[i].host_addr;
    }
    if (err) {
        xensim_xenbus_unmap_ring(handles, addrs, mapped);
        return err;
    }
    return 0;
}

int xensim_xenbus_unmap_ring(const grant_handle_t *handles, void *const *addrs, unsigned int nr)
{
    gnttab_unmap_grant_ref_t op[RING_PAGES_MAX];
    int err = 0;

    if (nr > RING_PAGES_MAX)
        return -EINVAL;
    for (unsigned int i = 0; i < nr; i++)
        op[i] = (gnttab_unmap_grant_ref_t){
            .host_addr = (uint64_t)(uintptr_t)addrs[i], .handle = handles[i],
        };
    long rc = nr ? HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, op, nr) : 0;
    for (unsigned int i = 0; i < nr && !err; i++)
        if (rc || op[i].status != GNTST_okay)
            err = rc ? (int)rc : -EINVAL;
    return err;
}

int xensim_xenbus_alloc_evtchn(domid_t otherend, evtchn_port_t *port)
{
    long p = xensim_evtchn_alloc_unbound(otherend);

    if (p < 0)
        return (int)p;
    *port = (evtchn_port_t)p;
    return 0;
}
