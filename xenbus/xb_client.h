/*
 * Private to the guest xenbus client and the driver framework: the
 * per-domain client state (xenbus_client.c owns it) and the request call
 * the operation files (xenbus_client_ops.c, _watch.c) build on.
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

/* A failing mutex call is an impossible host failure: abort loudly. */
#define xb_check(what, call)                                                  \
    do {                                                                      \
        int e_ = (call);                                                      \
        if (e_) {                                                             \
            fprintf(stderr, "xenbus: %s:%d: %s: %s\n", __FILE__, __LINE__,     \
                    what, strerror(e_));                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)
#define xb_lock(m) xb_check("mutex_lock", pthread_mutex_lock(m))
#define xb_unlock(m) xb_check("mutex_unlock", pthread_mutex_unlock(m))

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
    struct xb_dom *reg_next;       /* registry link (xenbus_client.c) */
    const void *key;               /* the domain's start_info */
    unsigned int refs;             /* vCPU threads using it */
    bool irq_bound;                /* the store port has its handler */

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
    struct xenbus_watch *watches;
    struct xb_event *evq, *evq_tail;
    unsigned int nr_events;
    void *dispatcher;              /* thread running a callback, or NULL */
    struct xenbus_watch *running;  /* the watch whose callback runs */
    /* The event whose callback runs, owned here rather than by the
     * dispatching frame: a domain dying mid-callback takes its vCPU away
     * (a siglongjmp out of the next hypercall), and xb_free then frees it. */
    struct xb_event *running_ev;
    _Atomic unsigned int nr_tx;

    /* The framework's per-domain state (xenbus_dev*.c), freed with us. */
    void *framework;
    void (*framework_free)(void *);
    _Atomic unsigned int fw_devices, fw_deferred;
};

/* dom0's own store ring (see xenbus_client.c); on a dom0 vCPU. */
int xb_local_init(xen_pfn_t *pfn, evtchn_port_t *port);
/* This domain's client, connecting on first use; NULL with *err set. */
struct xb_dom *xb_get(int *err);
/* An identity for the calling thread. */
void *xb_self(void);
/* The store port's irq handler (xenbus_client.c). */
void xb_irq(evtchn_port_t port, void *arg);

/* Sends one request and waits for its reply. parts are concatenated into
 * the payload; reply gets the body NUL-terminated (XENSTORE_PAYLOAD_MAX + 1
 * bytes). Returns the body length, or -errno (XS_ERROR mapped). */
struct xb_part {
    const void *p;
    size_t len;
};
int xb_request(struct xb_dom *xb, uint32_t type, xenbus_transaction_t t,
               const struct xb_part *parts, unsigned int nparts, char *reply);
/* The errno for an xsd_errors name; -EINVAL for names it does not know. */
int xb_errno(const char *name);

/* xenbus_client_watch.c: called by the ring reader with wlock free. */
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

/* No xensim_domain_call() runs on this vCPU between hold and release
 * (xenbus_client_guard.c); they run at the next hypercall exit after. */
bool xb_calls_hold(void);
void xb_calls_release(bool took);

/* Sleeps this vCPU for about ns, through a hypercall (SCHEDOP_poll). */
void xb_nap(uint64_t ns);

#endif
