/*
 * fuzz_hypercall's knowledge of Xen's hypercall ABI, as a table: one row
 * per operation, saying how to fill its argument from fuzzer bytes and
 * what to remember of its result (a new port, a mapping). A new
 * operation (FIFO event channels, grant table v2) is one more row in
 * hc_table.c; the engine (fuzz_hypercall.c) does not change. Rows draw
 * their values through struct hc_pick, which knows the domains, ports,
 * refs, mappings and pages of the run.
 */
#ifndef XENSIM_FUZZ_HC_TABLE_H
#define XENSIM_FUZZ_HC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/sched.h>
#include "fz.h"

#define HC_MAX_BATCH 40              /* elements of one GNTTABOP call: above Xen's 32 */
#define HC_ARG_BYTES 64              /* the largest element */

enum hc_kind {
    HC_EVTCHN,                       /* HYPERVISOR_event_channel_op(cmd, arg) */
    HC_GNTTAB,                       /* HYPERVISOR_grant_table_op(cmd, arg, count) */
    HC_SCHED,                        /* HYPERVISOR_sched_op(cmd, arg) */
    HC_POKE,                         /* no hypercall: the guest writes its own shared memory */
};

/* The run as a row sees it, and what it draws values from. */
struct hc_pick {
    struct fz_in *in;
    domid_t self;                    /* the calling domain */
    void *ctx;                       /* the engine's */
    domid_t (*domid)(struct hc_pick *p);
    evtchn_port_t (*port)(struct hc_pick *p, domid_t of);
    grant_ref_t (*ref)(struct hc_pick *p, domid_t of);
    /* A mapping of the caller's (handle and addresses), for an unmap. */
    void (*mapping)(struct hc_pick *p, grant_handle_t *h, uint64_t *addr, uint64_t *dev);
    /* A frame of the caller's own: a scratch page, or none at all. */
    xen_pfn_t (*own_frame)(struct hc_pick *p);
    /* A guest buffer for a row that passes one: a real one of size
     * bytes (holding content if given, else fuzzer bytes), or an address
     * nothing is mapped at. Rows never touch what it returns. */
    void *(*buffer)(struct hc_pick *p, const void *content, size_t size);
    /* Results to remember. */
    void (*new_port)(struct hc_pick *p, domid_t of, evtchn_port_t port);
    void (*new_mapping)(struct hc_pick *p, grant_handle_t h, uint64_t addr, uint64_t dev);
    /* A transfer element's outcome: the caller lost frame unless status
     * is GNTST_bad_page (Xen loses the page on every later failure), and
     * on GNTST_okay domain to got a page through its entry ref. */
    void (*gave_page)(struct hc_pick *p, xen_pfn_t frame, domid_t to, grant_ref_t ref,
                      int16_t status);
    /* The caller's grant table and shared_info, for HC_POKE rows. */
    grant_entry_v1_t *(*entries)(struct hc_pick *p, unsigned int *nr);
    void *(*shared_info)(struct hc_pick *p);
    /* One of the caller's scratch pages, the ones own_frame() gives: a
     * FIFO control block or event array page, once the run made one. */
    void *(*scratch_page)(struct hc_pick *p);
};

struct hc_row {
    const char *name;
    enum hc_kind kind;
    unsigned int cmd;
    size_t size;                     /* of one element */
    bool batch;                      /* GNTTABOP: count elements */
    /* Fills element i of arg (size bytes, zeroed). */
    void (*fill)(struct hc_pick *p, void *arg, unsigned int i);
    /* After the call: what to remember of elements [0, n). */
    void (*done)(struct hc_pick *p, const void *arg, unsigned int n, long rc);
};

extern const struct hc_row hc_rows[];
extern const unsigned int hc_nr_rows;

#endif
