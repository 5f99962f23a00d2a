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

/* The entry is shared with Xen, which may be reading it now (a guest may
 * rewrite a live entry): every field is written atomically. The flags
 * make it live, so they go last, with release order: Linux's wmb() before
 * them, in a form TSan can see. */
#define V2_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)

static void set_flags(grant_entry_v2_t *e, uint16_t flags)
{
    __atomic_store_n(&e->hdr.flags, flags, __ATOMIC_RELEASE);
}

static void v2_grant(void *entries, grant_ref_t ref, domid_t domid, uint64_t frame,
                     bool readonly)
{
    grant_entry_v2_t *e = v2_entry(entries, ref);
    V2_SET(e->full_page.hdr.domid, domid);
    V2_SET(e->full_page.frame, frame);
    set_flags(e, GTF_permit_access | (readonly ? GTF_readonly : 0));
}

void guest_gnttab_v2_grant_subpage(grant_entry_v2_t *e, domid_t domid, uint64_t frame,
                                   uint16_t off, uint16_t len, bool readonly)
{
    V2_SET(e->sub_page.hdr.domid, domid);
    V2_SET(e->sub_page.frame, frame);
    V2_SET(e->sub_page.page_off, off);
    V2_SET(e->sub_page.length, len);
    set_flags(e, GTF_permit_access | GTF_sub_page | (readonly ? GTF_readonly : 0));
}

void guest_gnttab_v2_grant_transitive(grant_entry_v2_t *e, domid_t domid,
                                      domid_t trans_domid, grant_ref_t trans_gref)
{
    V2_SET(e->transitive.hdr.domid, domid);
    V2_SET(e->transitive.trans_domid, trans_domid);
    V2_SET(e->transitive.gref, trans_gref);
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
