/*
 * The guest kernel's grant entry writers, one ops table per grant table
 * version (guest/gnttab.c picks one when it sets its table up or switches
 * version; guest/gnttab_v2.c has v2's). Private to guest/; relies on the
 * public headers only.
 */
#ifndef XENSIM_GUEST_GNTTAB_OPS_H
#define XENSIM_GUEST_GNTTAB_OPS_H

#include <stdbool.h>
#include <xen/grant_table.h>

struct guest_gnttab_ops {
    unsigned int version;
    unsigned int per_frame;             /* entries per 4 KiB frame */
    /* A full-page permit_access grant: the frame and grantee, a write
     * barrier, then the flags that make it live. */
    void (*grant)(void *entries, grant_ref_t ref, domid_t domid, uint64_t frame,
                  bool readonly);
    /* Revokes: 0, or -EBUSY while Xen has the grant mapped or copying. */
    int (*end)(void *entries, const grant_status_t *status, grant_ref_t ref);
};
extern const struct guest_gnttab_ops guest_gnttab_v1_ops, guest_gnttab_v2_ops;

/* v2's other kinds of grant (copy only): bytes [off, off + len) of a
 * frame, or another domain's grant passed on. */
void guest_gnttab_v2_grant_subpage(grant_entry_v2_t *e, domid_t domid, uint64_t frame,
                                   uint16_t off, uint16_t len, bool readonly);
void guest_gnttab_v2_grant_transitive(grant_entry_v2_t *e, domid_t domid,
                                      domid_t trans_domid, grant_ref_t trans_gref);

#endif
