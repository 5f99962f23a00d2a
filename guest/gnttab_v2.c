/*
 * The granter's side of grant table v2 as a PV kernel has it (Linux's
 * gnttab_v2 ops are the model, not the source): entries are written
 * fields first, a write barrier, the flags last; Xen keeps GTF_reading
 * and GTF_writing in the separate status frames, so a revoke clears the
 * flags, makes a full barrier, then reads the status. Owns nothing;
 * relies on the public headers only.
 */
#include <errno.h>
#include <xensim/guest.h>
#include "gnttab_ops.h"
#include "util.h"

static grant_entry_v2_t *v2_entry(void *entries, grant_ref_t ref)
{
    return (grant_entry_v2_t *)entries + ref;
}

/* The flags make the entry live, so they go last: Xen must see the rest
 * first. */
static void set_flags(grant_entry_v2_t *e, uint16_t flags)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
    __atomic_store_n(&e->hdr.flags, flags, __ATOMIC_RELAXED);
}

static void v2_grant(void *entries, grant_ref_t ref, domid_t domid, uint64_t frame,
                     bool readonly)
{
    grant_entry_v2_t *e = v2_entry(entries, ref);
    e->full_page.hdr.domid = domid;
    e->full_page.frame = frame;
    set_flags(e, GTF_permit_access | (readonly ? GTF_readonly : 0));
}

void guest_gnttab_v2_grant_subpage(grant_entry_v2_t *e, domid_t domid, uint64_t frame,
                                   uint16_t off, uint16_t len, bool readonly)
{
    e->sub_page.hdr.domid = domid;
    e->sub_page.frame = frame;
    e->sub_page.page_off = off;
    e->sub_page.length = len;
    set_flags(e, GTF_permit_access | GTF_sub_page | (readonly ? GTF_readonly : 0));
}

void guest_gnttab_v2_grant_transitive(grant_entry_v2_t *e, domid_t domid,
                                      domid_t trans_domid, grant_ref_t trans_gref)
{
    e->transitive.hdr.domid = domid;
    e->transitive.trans_domid = trans_domid;
    e->transitive.gref = trans_gref;
    set_flags(e, GTF_transitive);
}

/*
 * The entry goes dead at once, so no new map or copy can start (Xen's pin
 * sets its status bits, a full barrier, then re-reads the flags: either it
 * sees them cleared, or we see its bits). A ref that is still busy must
 * be revoked again later before it is reused.
 */
static int v2_end(void *entries, const grant_status_t *status, grant_ref_t ref)
{
    grant_entry_v2_t *e = v2_entry(entries, ref);
    __atomic_store_n(&e->hdr.flags, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&status[ref], __ATOMIC_ACQUIRE) & (GTF_reading | GTF_writing))
        return -EBUSY;
    return 0;
}

const struct guest_gnttab_ops guest_gnttab_v2_ops = {
    .version = 2,
    .per_frame = XEN_PAGE_SIZE / sizeof(grant_entry_v2_t),
    .grant = v2_grant,
    .end = v2_end,
};
