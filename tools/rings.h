/*
 * The shared rings of a running simulation, found the way a debugger
 * finds them: a domain's XenStore and console rings at its reserved grant
 * refs (or start_info's frames), every device ring from the ring-ref keys
 * its front end wrote under device/<type>/<id>, each ref looked up in the
 * front end's grant table for its frame. A ring kind knows its layout and
 * reads the indices that live in the shared page (a front or back end's
 * private req_cons/rsp_cons are not there; the byte rings keep theirs
 * in the page).
 */
#ifndef XENSIM_TOOLS_RINGS_H
#define XENSIM_TOOLS_RINGS_H

#include <xensim/xensim.h>
#include "jbuf.h"

struct ring_kind;

struct ring {
    char id[96];                 /* "vbd/1/51712", "store/1", "vif/1/0/tx" */
    const struct ring_kind *kind;
    domid_t granter;             /* whose page: the front end */
    domid_t peer;                /* the back end (or the daemon's domain) */
    xen_pfn_t frame;             /* in the granter's memory */
    grant_ref_t ref;
    evtchn_port_t port;          /* the front end's port, 0 if unknown */
};

/* One XenStore node, as the snapshot collected it. */
struct rings_node {
    const char *path, *value;
};

/* The rings of the domains in infos, from the nodes and their grant
 * tables; at most max in rings. Returns how many were found. */
int rings_discover(struct xensim *sim, const struct xensim_domain_info *infos, int ndoms,
                   const struct rings_node *nodes, int nnodes, struct ring *rings, int max);
/* The ring's layout, for people: {"id":..,"kind":..,"size":..,...}. */
void rings_describe(const struct ring *r, struct jbuf *b);
/* "id":{indices}, read from the page now; nothing if it cannot be read.
 * Takes no lock: callable from a trace subscriber. */
void rings_read(struct xensim *sim, const struct ring *r, struct jbuf *b, bool comma);

#endif
