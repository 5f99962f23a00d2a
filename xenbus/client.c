/*
 * The guest xenbus client's transport: the request lock and the store ring
 * (struct xenstore_domain_interface) pumped by whoever holds it, waiting
 * with SCHEDOP_poll on the store port. Relies on <xensim/guest.h> only;
 * the per-domain state is client_dom.c's, the operations client_ops.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "xb_client.h"

#define XB_REQ_TIMEOUT_NS (20ull * 1000000000ull)  /* a daemon that stopped answering */
#define XB_POLL_NS (100ull * 1000000ull)

void xb_nap(uint64_t ns)
{
    struct sched_poll p = { .nr_ports = 0, .timeout = xensim_guest_system_time() + ns };

    HYPERVISOR_sched_op(SCHEDOP_poll, &p);
}

/* Takes the request lock, or re-enters it on the owner's thread. */
static void xb_enter(struct xb_dom *xb)
{
    unsigned int tries = 0;

    if (atomic_load(&xb->owner) == xb_self()) {
        xb->depth++;
        return;
    }
    /* Never sleep in the host here: a hypercall between tries lets the
     * domain's shutdown take this vCPU, and runs what is queued for it. */
    while (pthread_mutex_trylock(&xb->lock)) {
        if (++tries < 64)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        else
            xb_nap(200000);
    }
    atomic_store(&xb->owner, xb_self());
    xb->depth = 1;
}

static bool xb_tryenter(struct xb_dom *xb)
{
    if (atomic_load(&xb->owner) == xb_self() || pthread_mutex_trylock(&xb->lock))
        return false;
    atomic_store(&xb->owner, xb_self());
    xb->depth = 1;
    return true;
}

/* Returns true when this was the outermost level. */
static bool xb_exit(struct xb_dom *xb)
{
    if (--xb->depth)
        return false;
    atomic_store(&xb->owner, NULL);
    xensim_mutex_unlock(&xb->lock);
    return true;
}

/* The ring cannot be trusted any more: fail everything in flight. */
static void xb_break(struct xb_dom *xb, const char *why)
{
    struct xb_req *r;

    if (!atomic_exchange(&xb->broken, true))
        fprintf(stderr, "xenbus: dom%u: store ring unusable: %s\n",
                xensim_guest_domid(), why);
    for (r = xb->sendq; r; r = r->next) {
        r->done = true;
        r->err = -EIO;
    }
    for (r = xb->waitq; r; r = r->next) {
        r->done = true;
        r->err = -EIO;
    }
    xb->sendq = xb->waitq = NULL;
}

static void xb_deliver(struct xb_dom *xb)
{
    struct xb_req **pp, *r;
    uint32_t len = xb->in_hdr.len;

    xb->in_body[len] = '\0';
    if (xb->in_hdr.type == XS_WATCH_EVENT) {
        xb_watch_event(xb, xb->in_body, len);
        return;
    }
    for (pp = &xb->waitq; (r = *pp); pp = &r->next) {
        if (((struct xsd_sockmsg *)r->msg)->req_id == xb->in_hdr.req_id) {
            *pp = r->next;
            r->rhdr = xb->in_hdr;
            memcpy(r->reply, xb->in_body, len + 1);
            r->done = true;
            return;
        }
    }
    /* A reply nobody waits for (its caller timed out): dropped. */
}

static bool xb_write_ring(struct xb_dom *xb)
{
    struct xenstore_domain_interface *intf = xb->intf;
    bool notify = false;

    while (xb->sendq) {
        struct xb_req *r = xb->sendq;
        XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX prod = __atomic_load_n(&intf->req_prod, __ATOMIC_RELAXED);
        uint32_t used = prod - cons, n;

        if (used > XENSTORE_RING_SIZE) {
            xb_break(xb, "request ring indices overrun");
            return false;
        }
        n = XENSTORE_RING_SIZE - used;
        if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod))
            n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
        if (n > r->total - r->sent)
            n = r->total - r->sent;
        if (!n)
            break;
        memcpy(intf->req + MASK_XENSTORE_IDX(prod), r->msg + r->sent, n);
        /* The bytes before the index that publishes them. */
        __atomic_store_n(&intf->req_prod, prod + n, __ATOMIC_RELEASE);
        notify = true;
        r->sent += n;
        if (r->sent == r->total) {
            xb->sendq = r->next;
            r->next = xb->waitq;
            xb->waitq = r;
        }
    }
    return notify;
}

static bool xb_read_ring(struct xb_dom *xb)
{
    struct xenstore_domain_interface *intf = xb->intf;
    bool notify = false;

    for (;;) {
        XENSTORE_RING_IDX prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX cons = __atomic_load_n(&intf->rsp_cons, __ATOMIC_RELAXED);
        uint32_t avail = prod - cons, n, hdr = sizeof(xb->in_hdr);
        char *dst;

        if (avail > XENSTORE_RING_SIZE) {
            xb_break(xb, "response ring indices overrun");
            return false;
        }
        if (!avail)
            break;
        if (xb->in_have < hdr) {
            n = hdr - xb->in_have;
            dst = (char *)&xb->in_hdr + xb->in_have;
        } else {
            n = hdr + xb->in_hdr.len - xb->in_have;
            dst = xb->in_body + (xb->in_have - hdr);
        }
        if (n > avail)
            n = avail;
        if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons))
            n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
        memcpy(dst, intf->rsp + MASK_XENSTORE_IDX(cons), n);
        /* Done reading the bytes before the daemon may reuse them. */
        __atomic_store_n(&intf->rsp_cons, cons + n, __ATOMIC_SEQ_CST);
        notify = true;
        xb->in_have += n;
        if (xb->in_have == hdr && xb->in_hdr.len > XENSTORE_PAYLOAD_MAX) {
            xb_break(xb, "message longer than XENSTORE_PAYLOAD_MAX");
            return false;
        }
        if (xb->in_have >= hdr && xb->in_have == hdr + xb->in_hdr.len) {
            xb->in_have = 0;
            xb_deliver(xb);
        }
    }
    return notify;
}

/* Moves bytes both ways; the caller holds the request lock. Returns true
 * when the daemon should be notified. */
static bool xb_pump(struct xb_dom *xb)
{
    bool notify;

    atomic_store(&xb->irq_seen, false);
    if (atomic_load(&xb->broken))
        return false;
    if (__atomic_load_n(&xb->intf->error, __ATOMIC_ACQUIRE) != XENSTORE_ERROR_NONE) {
        xb_break(xb, "the daemon set the error field");
        return false;
    }
    notify = xb_write_ring(xb);
    if (!atomic_load(&xb->broken))
        notify |= xb_read_ring(xb);
    /* Replies may have made room for the rest of a long request. */
    if (!atomic_load(&xb->broken) && xb->sendq)
        notify |= xb_write_ring(xb);
    return notify && !atomic_load(&xb->broken);
}

/* With the request lock just taken: pump, let go, tell the daemon. */
static void xb_pump_exit(struct xb_dom *xb)
{
    bool notify = xb_pump(xb);

    xb_exit(xb);
    if (notify)
        xensim_evtchn_send(xb->port);
}

/* What the ring brought is in: the watch callbacks it queued run, and a
 * peer may have let go of grants we ended meanwhile. */
static void xb_events_done(struct xb_dom *xb)
{
    xensim_xenbus_deferred_retry();
    xb_dispatch(xb);
}

/* Leaves the request lock; at the outermost level, also drains what an
 * irq handler left for us and runs queued watch callbacks. */
static void xb_leave(struct xb_dom *xb)
{
    if (!xb_exit(xb))
        return;
    while (atomic_load(&xb->irq_seen) && xb_tryenter(xb))
        xb_pump_exit(xb);
    xb_events_done(xb);
}

/* The store port's interrupt: watch events, or a reply for a request
 * that another vCPU (or an outer frame of this one) is waiting for. */
void xb_irq(evtchn_port_t port, void *arg)
{
    struct xb_dom *xb = arg;

    (void)port;
    atomic_store(&xb->irq_seen, true);
    if (atomic_load(&xb->owner) == xb_self())
        return;               /* our own request loop pumps when we return */
    if (!xb_tryenter(xb))
        return;               /* the holder pumps before it lets go */
    xb_pump_exit(xb);
    xb_events_done(xb);
}

static void xb_unlink(struct xb_req **list, struct xb_req *r)
{
    for (; *list; list = &(*list)->next)
        if (*list == r) {
            *list = r->next;
            return;
        }
}

int xb_errno(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (!strcmp(name, xsd_errors[i].errstring))
            return -xsd_errors[i].errnum;
    return -EINVAL;
}

int xb_request(struct xb_dom *xb, uint32_t type, xensim_xenbus_transaction_t t,
               const struct xb_part *parts, unsigned int nparts, char *reply)
{
    struct xb_req req;
    struct xsd_sockmsg *h = (struct xsd_sockmsg *)req.msg;
    size_t len = 0;
    uint64_t deadline;
    int rc;

    for (unsigned int i = 0; i < nparts; i++) {
        if (parts[i].len > XENSTORE_PAYLOAD_MAX - len)
            return -E2BIG;
        memcpy(req.msg + sizeof(*h) + len, parts[i].p, parts[i].len);
        len += parts[i].len;
    }
    req.next = NULL;
    req.total = sizeof(*h) + len;
    req.sent = 0;
    req.done = false;
    req.err = 0;
    req.reply = reply;
    h->type = type;
    h->tx_id = t;
    h->len = len;

    xb_enter(xb);
    if (atomic_load(&xb->broken)) {
        xb_leave(xb);
        return -EIO;
    }
    h->req_id = xb->next_req_id++;
    {
        struct xb_req **tail = &xb->sendq;

        while (*tail)
            tail = &(*tail)->next;
        *tail = &req;
    }
    deadline = xensim_guest_system_time() + XB_REQ_TIMEOUT_NS;
    for (;;) {
        struct sched_poll p = { .nr_ports = 1 };
        evtchn_port_t port = xb->port;
        uint64_t now;

        /* Clear first: an event after this point stops the poll below. */
        xensim_evtchn_clear_pending(xb->port);
        if (xb_pump(xb))
            xensim_evtchn_send(xb->port);
        if (req.done)
            break;
        now = xensim_guest_system_time();
        if (now >= deadline) {
            if (req.sent && req.sent < req.total)
                xb_break(xb, "request timed out half sent");
            xb_unlink(&xb->sendq, &req);
            xb_unlink(&xb->waitq, &req);
            req.done = true;
            req.err = -ETIMEDOUT;
            break;
        }
        evtchn_port_t *pp = &port;
        /* A bare pointer or a one-pointer handle, by interface version. */
        memcpy(&p.ports, &pp, sizeof(pp));
        p.timeout = now + XB_POLL_NS;
        HYPERVISOR_sched_op(SCHEDOP_poll, &p);
    }
    xb_leave(xb);
    if (req.err)
        return req.err;
    if (req.rhdr.type == XS_ERROR)
        return xb_errno(reply);
    if (req.rhdr.type != type)
        return -EIO;
    rc = (int)req.rhdr.len;
    return rc;
}
