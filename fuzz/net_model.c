/*
 * fuzz_netback's oracle (net_model.h): a TX frame is its first slot, the
 * extra-info slots its flags announce, then the slots its more_data
 * flags chain; its first slot's size is the frame's. A frame that never
 * ends, or ends past what the back end follows, disconnects the vif; one
 * that is malformed (too short, too many slots, a piece across a page, an
 * extra it does not know or cannot offer) is answered ERROR; the rest are
 * copied out through their grants, any bad one making it ERROR.
 */
#include <string.h>
#include "net_model.h"

#define NETM_ETH_HLEN 14u

int netm_grant(const struct netm_front *fe, grant_ref_t ref, bool writable, unsigned int *idx)
{
    if (ref >= fe->nr_entries)
        return 0;
    const volatile grant_entry_v1_t *e = &fe->gnttab[ref];
    uint16_t flags = e->flags;
    if ((flags & GTF_type_mask) != GTF_permit_access || e->domid != fe->backend)
        return 0;
    if (writable && (flags & GTF_readonly))
        return 0;
    xen_pfn_t frame = e->frame;
    if (frame >= fe->nr_pages)
        return 0;
    for (unsigned int i = 0; i < fe->nr_known; i++)
        if (fe->known_pfn[i] == frame) {
            *idx = i;
            return 1;
        }
    return -1;
}

static void add_slot(struct netm_frame *f, uint16_t id, bool extra)
{
    f->id[f->nslot] = id;
    f->extra[f->nslot++] = extra;
}

static unsigned int fatal(struct netm_frame *f, const char *why)
{
    f->fate = NETM_FATAL;
    f->why = why;
    return 0;
}

static void error(struct netm_frame *f, const char *why)
{
    if (f->fate == NETM_SEND) {
        f->fate = NETM_ERROR;
        f->why = why;
    }
}

unsigned int netm_tx_frame(const struct netm_front *fe, const netif_tx_request_t *slots,
                           unsigned int n, struct netm_frame *f)
{
    netif_tx_request_t req[NETM_MAX_CHAIN];
    unsigned int k = 0, nreq = 0;

    f->fate = NETM_SEND;
    f->why = NULL;
    f->nslot = 0;
    f->unknown = false;
    f->len = 0;
    req[nreq++] = slots[k++];
    add_slot(f, req[0].id, false);
    if (req[0].flags & NETTXF_extra_info) {
        bool more;
        do {
            if (k == n || f->nslot == NETM_MAX_CHAIN)
                return fatal(f, "extra-info slot missing");
            struct netif_extra_info ex;
            memcpy(&ex, &slots[k], sizeof(ex));
            add_slot(f, slots[k].id, true);
            k++;
            /* No GSO is offered, and NONE never is valid. */
            if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE || ex.type >= XEN_NETIF_EXTRA_TYPE_MAX ||
                ex.type == XEN_NETIF_EXTRA_TYPE_GSO)
                error(f, "extra-info type");
            more = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
        } while (more);
    }
    while (req[nreq - 1].flags & NETTXF_more_data) {
        if (k == n)
            return fatal(f, "runs past req_prod");
        if (f->nslot == NETM_MAX_CHAIN)
            return fatal(f, "too many slots");
        req[nreq] = slots[k++];
        add_slot(f, req[nreq].id, false);
        nreq++;
    }
    unsigned int total = req[0].size, rest = 0;
    for (unsigned int i = 1; i < nreq; i++)
        rest += req[i].size;
    if (nreq > XEN_NETIF_NR_SLOTS_MIN)
        error(f, "more slots than XEN_NETIF_NR_SLOTS_MIN");
    if (total < NETM_ETH_HLEN)
        error(f, "shorter than an Ethernet header");
    if (rest >= total)
        error(f, "the first slot's size is not the frame's");
    for (unsigned int i = 0; i < nreq && f->fate == NETM_SEND; i++) {
        unsigned int len = i ? req[i].size : total - rest;
        if ((unsigned int)req[i].offset + len > NETM_PAGE)
            error(f, "a piece crosses its page");
    }
    if (f->fate != NETM_SEND)
        return k;
    for (unsigned int i = 0; i < nreq; i++) {
        unsigned int len = i ? req[i].size : total - rest, idx;
        if (!len)
            continue;          /* nothing to copy: its grant is not looked at */
        int g = netm_grant(fe, req[i].gref, false, &idx);
        if (g == 0) {
            error(f, "a grant the back end cannot copy from");
            return k;
        }
        if (g < 0)
            f->unknown = true;
        else
            memcpy(f->bytes + f->len, fe->known_va[idx] + req[i].offset, len);
        f->len += len;
    }
    return k;
}
