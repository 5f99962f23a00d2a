/*
 * The store ring transport: a guest's struct xenstore_domain_interface
 * page and its event channel, reached through the ring ops. Every
 * index the guest writes is checked before use. Runs on the loop thread;
 * framing and dispatch are xs_conn.c's.
 *
 * The page is shared with a guest that may write it at any time, so every
 * word of the interface is read and written with atomics: the index the
 * guest publishes with acquire (the bytes it covers come after), ours
 * with release (the bytes we wrote or finished reading come before).
 */
#define RING_LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define RING_ACQUIRE(field) __atomic_load_n(&(field), __ATOMIC_ACQUIRE)
#define RING_STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
#define RING_RELEASE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)
#include "config.h"

#include <string.h>
#include "xs_internal.h"

struct xs_ring {
    struct xs_daemon *xs;
    domid_t domid;
    uint32_t local_port;
    bool broken;                           /* error set; no longer served */
    struct xenstore_domain_interface *intf; /* shared with the guest */
    struct xs_conn *conn;
};

static void ring_kick(struct xs_conn *c)
{
    if (!xs_on_loop_thread(c->xs))
        xs_daemon_wake(c->xs);
}

static const struct xs_conn_ops ring_conn_ops = { .kick = ring_kick };

struct xs_ring *xs_ring_new(struct xs_daemon *xs, domid_t domid, unsigned long gfn,
                            uint32_t port, int *err)
{
    const struct xensim_xenstored_ring_ops *ops = xs->ring_ops;
    struct xs_ring *r;
    void *page = ops->map(xs->ring_ctx, domid, gfn);
    long local;

    if (!page) {
        *err = -EINVAL;
        return NULL;
    }
    local = ops->bind(xs->ring_ctx, domid, port);
    if (local < 0) {
        ops->unmap(xs->ring_ctx, domid, page);
        *err = local;
        return NULL;
    }
    r = xs_alloc(sizeof(*r));
    r->xs = xs;
    r->domid = domid;
    r->local_port = local;
    r->intf = page;
    __atomic_fetch_or(&r->intf->server_features,
                      XENSTORE_SERVER_FEATURE_RECONNECTION | XENSTORE_SERVER_FEATURE_ERROR,
                      __ATOMIC_RELAXED);
    r->conn = xs_conn_new(xs, XS_CONN_RING, domid, &ring_conn_ops, r);
    return r;
}

void xs_ring_free(struct xs_ring *r)
{
    const struct xensim_xenstored_ring_ops *ops = r->xs->ring_ops;

    xs_conn_free(r->conn);
    if (r->local_port)
        ops->unbind(r->xs->ring_ctx, r->local_port);
    ops->unmap(r->xs->ring_ctx, r->domid, r->intf);
    free(r);
}

void xs_ring_stop(struct xs_ring *r)
{
    r->broken = true;
    /* Its watches must not hear of the release's own removals
     * (destroy_conn() runs before destroy_domain()). */
    xs_conn_reset(r->conn);
}

/* destroy_conn() deletes the watches before destroy_domain() removes the
 * domain's nodes, so that the removal tells the connection nothing. */
void xs_ring_drop_watches(struct xs_ring *r)
{
    xensim_mutex_lock(&r->xs->lock);
    xs_watch_drop_conn(r->conn);
    xensim_mutex_unlock(&r->xs->lock);
}

/* introduce_domain() for a domain already introduced: the old port
 * unbound and the new one bound ("domain->port = (rc == -1) ? 0 : rc",
 * so a bad one is no error), then domain_conn_reset(): watches,
 * transactions, queued output and half-read input go, and all four
 * indexes are set to 0. A ring stopped for an error stays stopped. */
int xs_ring_reintroduce(struct xs_ring *r, uint32_t port)
{
    const struct xensim_xenstored_ring_ops *ops = r->xs->ring_ops;
    struct xenstore_domain_interface *intf = r->intf;
    long local;

    if (r->local_port)
        ops->unbind(r->xs->ring_ctx, r->local_port);
    local = ops->bind(r->xs->ring_ctx, r->domid, port);
    r->local_port = local < 0 ? 0 : local;
    xs_conn_reset(r->conn);
    intf->req_cons = intf->req_prod = 0;
    intf->rsp_cons = intf->rsp_prod = 0;
    cmm_smp_wmb();
    return 0;
}

uint32_t xs_ring_local_port(const struct xs_ring *r)
{
    return r->local_port;
}

/* The guest broke the protocol: say why on the page and stop serving it. */
static void fail(struct xs_ring *r, uint32_t why)
{
    xs_log(r->xs, "dom%u: store ring error %u; connection stopped", r->domid, why);
    RING_RELEASE(r->intf->error, why);
    r->broken = true;
    xs_conn_reset(r->conn);
}

static bool flush(struct xs_ring *r, bool *notify)
{
    struct xenstore_domain_interface *intf = r->intf;

    while (xs_conn_out_pending(r->conn)) {
        /* The guest is done reading what it consumed before we reuse it. */
        XENSTORE_RING_IDX prod = RING_LOAD(intf->rsp_prod);
        XENSTORE_RING_IDX cons = RING_ACQUIRE(intf->rsp_cons);
        uint32_t used = prod - cons, n, got;

        if (used > XENSTORE_RING_SIZE) {
            fail(r, XENSTORE_ERROR_RINGIDX);
            return false;
        }
        n = XENSTORE_RING_SIZE - used;
        if (n > XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod))
            n = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod);
        if (!n)
            break;
        got = xs_conn_out_take(r->conn, intf->rsp + MASK_XENSTORE_IDX(prod), n);
        if (!got)
            break;
        RING_RELEASE(intf->rsp_prod, prod + got);
        *notify = true;
    }
    return true;
}

static void reconnect(struct xs_ring *r)
{
    struct xenstore_domain_interface *intf = r->intf;

    xs_conn_reset(r->conn);
    RING_STORE(intf->req_cons, 0);
    RING_STORE(intf->req_prod, 0);
    RING_STORE(intf->rsp_cons, 0);
    RING_STORE(intf->rsp_prod, 0);
    RING_RELEASE(intf->connection, XENSTORE_CONNECTED);
}

void xs_ring_service(struct xs_ring *r)
{
    struct xenstore_domain_interface *intf = r->intf;
    bool notify = false;
    unsigned int budget = 16;            /* then let other domains in */

    if (r->broken)
        return;
    if (RING_ACQUIRE(intf->connection) == XENSTORE_RECONNECT) {
        reconnect(r);
        notify = true;
    }
    if (!flush(r, &notify))
        goto out;
    while (!xs_conn_stalled(r->conn) || r->conn->in_have) {
        char buf[XENSTORE_RING_SIZE];
        XENSTORE_RING_IDX cons = RING_LOAD(intf->req_cons);
        XENSTORE_RING_IDX prod = RING_ACQUIRE(intf->req_prod);
        uint32_t avail = prod - cons, first;
        long used;

        if (avail > XENSTORE_RING_SIZE) {
            fail(r, XENSTORE_ERROR_RINGIDX);
            goto out;
        }
        if (!avail)
            break;
        first = XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(cons);
        if (first > avail)
            first = avail;
        memcpy(buf, intf->req + MASK_XENSTORE_IDX(cons), first);
        memcpy(buf + first, intf->req, avail - first);
        used = xs_conn_feed(r->conn, buf, avail);
        if (used < 0) {
            fail(r, XENSTORE_ERROR_PROTO);
            goto out;
        }
        RING_RELEASE(intf->req_cons, cons + used);
        notify = true;
        if (!flush(r, &notify))
            goto out;
        if ((uint32_t)used < avail)
            break;
        if (!--budget) {
            xs_daemon_wake(r->xs);
            break;
        }
    }
out:
    if (notify)
        r->xs->ring_ops->notify(r->xs->ring_ctx, r->local_port);
}
