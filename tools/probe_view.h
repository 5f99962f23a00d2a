/*
 * Private to probe.c and snapshot.c: what the snapshot thread found that
 * the subscriber needs on every step (the domains' shared_info layout and
 * the rings), swapped whole under the probe's lock.
 */
#ifndef XENSIM_TOOLS_PROBE_VIEW_H
#define XENSIM_TOOLS_PROBE_VIEW_H

#include "rings.h"

struct probe_dom {
    domid_t domid;
    enum xensim_evtchn_abi abi;
    unsigned int nr_vcpus;
    xen_pfn_t shared_info_frame;
    struct xensim_evtchn_fifo_layout fifo;   /* on FIFO: where its words are */
};

struct probe_view {
    int ndoms, nrings;
    struct probe_dom *doms;
    struct ring *rings;
};

void probe_view_free(struct probe_view *v);
/* "name":[[word,"hex"]..] of the n words (of bits bits) of w not zero. */
void probe_words(struct jbuf *b, const char *name, const void *w, unsigned int bits,
                 unsigned int n);
/* A FIFO domain's "D":{..} state (probe_fifo.c); false if it cannot be read. */
bool probe_read_fifo(struct xensim *sim, const struct probe_dom *d, struct jbuf *b);
/* "evtchn":{...},"rings":{...} of the view, read now. */
void probe_fast_state(struct xensim *sim, const struct probe_view *v, struct jbuf *b);
/* Builds a snapshot note's args of sim and the view it implies. */
int snapshot_build(struct xensim *sim, struct jbuf *b, struct probe_view *out);

#endif
