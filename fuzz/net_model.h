/*
 * fuzz_netback's oracle: how the slots a front end put on its TX ring
 * split into frames, which of them a back end must refuse (and how), and
 * the bytes of the ones it may send on, from <xen/io/netif.h> and the
 * grant entries as the front end wrote them. Knows nothing of the
 * simulator.
 */
#ifndef XENSIM_FUZZ_NET_MODEL_H
#define XENSIM_FUZZ_NET_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/netif.h>

#define NETM_PAGE 4096u
#define NETM_MAX_CHAIN 64            /* slots of one frame a back end follows */
#define NETM_MAX_FRAME 65535u

/* The front end's side, as the model sees it. */
struct netm_front {
    domid_t backend;
    const grant_entry_v1_t *gnttab;
    unsigned int nr_entries;
    unsigned long nr_pages;
    /* Pages the model follows and where the harness sees them. */
    unsigned int nr_known;
    const xen_pfn_t *known_pfn;
    uint8_t *const *known_va;
};

enum netm_fate {
    NETM_SEND,                       /* valid: OKAY (or DROPPED: no buffer) */
    NETM_ERROR,                      /* answered NETIF_RSP_ERROR */
    NETM_FATAL,                      /* the back end must disconnect the vif */
};

struct netm_frame {
    enum netm_fate fate;
    const char *why;                 /* for ERROR and FATAL */
    unsigned int nslot;              /* slots it takes (each answered) */
    uint16_t id[NETM_MAX_CHAIN];     /* their ids, in order */
    bool extra[NETM_MAX_CHAIN];      /* an extra-info slot: answered NETIF_RSP_NULL */
    bool unknown;                    /* SEND, but a grant of an unfollowed page */
    size_t len;
    uint8_t bytes[NETM_MAX_FRAME];   /* SEND and !unknown: the frame */
};

/*
 * The frame starting at slots[0], of the n slots the front end has
 * published from there. Fills f and returns the slots it covers (0 and
 * fate FATAL when it runs past the last slot or is too long).
 */
unsigned int netm_tx_frame(const struct netm_front *fe, const netif_tx_request_t *slots,
                           unsigned int n, struct netm_frame *f);

/* Whether a grant ref lets the back end copy into (writable) or out of
 * the front end's page: 1 into a followed page (*idx), 0 no, -1 another. */
int netm_grant(const struct netm_front *fe, grant_ref_t ref, bool writable, unsigned int *idx);

#endif
