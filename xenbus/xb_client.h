/*
 * Private to the guest xenbus client and the driver framework: the
 * per-domain client state (client_dom.c owns it), the transport call
 * (client.c) that the operation files (client_ops.c, client_watch.c) build
 * on, and what the framework takes from them.
 */
#ifndef XENBUS_CLIENT_H
#define XENBUS_CLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/guest.h>
#include <xensim/xenbus.h>
#include "util.h"

/* A received watch event, queued until dispatch. */
struct xb_event {
    struct xb_event *next;
    const char *path, *token;     /* point into body */
    char body[];
};

/*
 * One request in flight. It lives on its caller's stack: it is queued on
 * sendq until all its bytes are in the ring, then on waitq until the reply
 * with its req_id arrives. Both lists belong to the request lock holder.
 */
struct xb_req {
    struct xb_req *next;
    uint32_t total, sent;
    bool done;
    int err;                      /* -EIO when the ring broke under it */
    struct xsd_sockmsg rhdr;      /* the reply's header */
    char *reply;                  /* XENSTORE_PAYLOAD_MAX + 1, caller's */
    char msg[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
};

/*
 * Per-domain client. Lock rules:
 * - lock is the request lock: whoever holds it (owner) alone touches the
 *   ring, sendq, waitq and the input assembly. It is re-entered by its
 *   owner (depth) when an upcall or callback nests a call on that vCPU.
 *   vCPUs never sleep on it in the host: they retry through a hypercall,
 *   so a domain being shut down can still take its vCPUs away.
 * - wlock guards the watch list, the event queue and the dispatcher
 *   fields; it is never held across a hypercall or a callback.
 */
struct xb_dom {
    _Atomic bool irq_bound;        /* the store port has its handler */

    struct xenstore_domain_interface *intf;  /* shared with the daemon */
    evtchn_port_t port;

    pthread_mutex_t lock;
    void *_Atomic owner;
    unsigned int depth;
    uint32_t next_req_id;
    struct xb_req *sendq, *waitq;
    struct xsd_sockmsg in_hdr;
    uint32_t in_have;
    char in_body[XENSTORE_PAYLOAD_MAX + 1];
    _Atomic bool broken;
    _Atomic bool irq_seen;

    pthread_mutex_t wlock;
    struct xensim_xenbus_watch *watches;
    struct xb_event *evq, *evq_tail;
    unsigned int nr_events;
    void *dispatcher;              /* thread running a callback, or NULL */
    struct xensim_xenbus_watch *running;  /* the watch whose callback runs */
    /* The event whose callback runs, owned here rather than by the
     * dispatching frame: a domain dying mid-callback takes its vCPU away
     * (a siglongjmp out of the next hypercall), and xb_free then frees it. */
    struct xb_event *running_ev;
    _Atomic unsigned int nr_tx;
};

/* dom0's own store ring (client_dom.c); call on a dom0 vCPU. The
 * toolstack calls it (toolstack/devices.c). */
int xb_local_init(xen_pfn_t *pfn, evtchn_port_t *port);
/* This domain's client, connecting on first use; NULL with *err set. */
struct xb_dom *xb_get(int *err);
/* An identity for the calling thread. */
void *xb_self(void);
/* The store port's irq handler (client.c). */
void xb_irq(evtchn_port_t port, void *arg);

/* Sends one request and waits for its reply. parts are concatenated into
 * the payload; reply gets the body NUL-terminated (XENSTORE_PAYLOAD_MAX + 1
 * bytes). Returns the body length, or -errno (XS_ERROR mapped). */
struct xb_part {
    const void *p;
    size_t len;
};
int xb_request(struct xb_dom *xb, uint32_t type, xensim_xenbus_transaction_t t,
               const struct xb_part *parts, unsigned int nparts, char *reply);
/* The errno for an xsd_errors name; -EINVAL for names it does not know. */
int xb_errno(const char *name);

/* client_watch.c: called by the ring reader with wlock free. */
void xb_watch_event(struct xb_dom *xb, const char *body, uint32_t len);
/* Runs queued callbacks unless someone is already running them. */
void xb_dispatch(struct xb_dom *xb);
/* Frees every event the client holds, queued or running; xb_free only. */
void xb_events_free(struct xb_dom *xb);
/* Takes the dispatcher role, so no callback of this domain runs until
 * xb_dispatch_release(); false when the caller already has it (it is a
 * callback), and release then does nothing. Framework entry points run so,
 * which makes the framework single-threaded per domain. */
bool xb_dispatch_hold(struct xb_dom *xb);
void xb_dispatch_release(struct xb_dom *xb, bool took);

/* Sleeps this vCPU for about ns, through a hypercall (SCHEDOP_poll). */
void xb_nap(uint64_t ns);
/* The client's part of xensim_xenbus_get_stats() (the framework adds its own). */
void xb_stats(struct xb_dom *xb, struct xensim_xenbus_stats *st);

#endif
