/*
 * A connection, whatever carries it: reassembles requests from a byte
 * stream, dispatches them (xs_proto.c), and queues replies and watch
 * events for the transport to take, counting them against the domain's
 * limits as C xenstored does. Also the in-process connections.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <urcu/uatomic.h>
#include "xs_internal.h"

/* A privileged watcher that never reads has no bound in C xenstored;
 * here it loses events past this many. Unprivileged ones are bounded by
 * their domain's memory quota, as in C. */
#define MAX_QUEUED_EVENTS 4096

/* What a connection costs an unprivileged domain beyond its first (its
 * ring, if it has one): C xenstored gives a guest only its ring, so the
 * others are charged to the domain's memory, which bounds how many it
 * can hold. */
#define XS_CONN_COST ((long)sizeof(struct xs_conn) + XENSTORE_PAYLOAD_MAX + 1)

struct xs_conn *xs_conn_new(struct xs_daemon *xs, enum xs_conn_kind kind, domid_t domid,
                            const struct xs_conn_ops *ops, void *priv)
{
    struct xs_conn *c = xs_alloc(sizeof(*c));

    c->xs = xs;
    c->kind = kind;
    c->ops = ops;
    c->priv = priv;
    c->domid = domid;
    c->privileged = domid == 0;
    snprintf(c->home, sizeof(c->home), "/local/domain/%u", domid);
    c->in_buf = xs_alloc(XENSTORE_PAYLOAD_MAX + 1);
    XENSIM_CHECK(pthread_mutex_init(&c->out_lock, NULL));
    CDS_INIT_LIST_HEAD(&c->out);
    CDS_INIT_LIST_HEAD(&c->watches);
    CDS_INIT_LIST_HEAD(&c->txs);
    CDS_INIT_LIST_HEAD(&c->link);
    c->next_txid = 1;
    xensim_mutex_lock(&xs->lock);
    xs->nr_conns++;
    if (!c->privileged) {
        c->charged = kind != XS_CONN_RING && xs->acct[domid].conns > 0;
        xs->acct[domid].conns++;
    }
    xensim_mutex_unlock(&xs->lock);
    if (c->charged)
        xs_mem_add(xs, domid, XS_CONN_COST);
    return c;
}

/* The request being dispatched on this thread, when its connection is
 * unprivileged (fire_watches(): "req = domain_is_unprivileged(conn) ?
 * conn->in : NULL"). */
static __thread struct xs_req_ref *cur_ref;

static void ref_put(struct xs_req_ref *ref)
{
    if (uatomic_sub_return(&ref->refs, 1))
        return;
    if (ref->counted)
        uatomic_dec(&xs_acct(ref->xs, ref->domid)->outstanding);
    free(ref);
}

void xs_conn_req_begin(struct xs_conn *c)
{
    cur_ref = xs_alloc(sizeof(*cur_ref));
    cur_ref->xs = c->xs;
    cur_ref->domid = c->domid;
    cur_ref->refs = 1;
}

void xs_conn_req_end(void)
{
    if (cur_ref)
        ref_put(cur_ref);
    cur_ref = NULL;
}

/* A message leaves the queue: free_buffered_data() gives back "-out->
 * hdr.msg.len - sizeof(out->hdr)" and a reply is no longer outstanding,
 * or its request, once none of its events are queued either. Under
 * out_lock. */
static void unqueue(struct xs_conn *c, struct xs_msg *m)
{
    cds_list_del(&m->link);
    xs_mem_add(c->xs, c->domid, -(long)(m->hdr.len + sizeof(m->hdr)));
    if (m->event)
        c->out_events--;
    else
        c->out_replies--;
    if (m->ref)
        ref_put(m->ref);
    else if (!m->event)
        uatomic_dec(&xs_acct(c->xs, c->domid)->outstanding);
    free(m);
}

static void drop_output(struct xs_conn *c)
{
    struct xs_msg *m, *tmp;

    xensim_mutex_lock(&c->out_lock);
    cds_list_for_each_entry_safe(m, tmp, &c->out, link)
        unqueue(c, m);
    xensim_mutex_unlock(&c->out_lock);
}

void xs_conn_drop_state(struct xs_conn *c)
{
    struct xs_daemon *xs = c->xs;
    struct xs_tx *tx, *tmp;

    xensim_mutex_lock(&xs->lock);
    xs_watch_drop_conn(c);
    xs->nr_txs -= c->nr_txs;
    xs_acct(xs, c->domid)->txs -= c->nr_txs;
    xensim_mutex_unlock(&xs->lock);
    cds_list_for_each_entry_safe(tx, tmp, &c->txs, link) {
        cds_list_del(&tx->link);
        xs_tx_free(tx);
    }
    c->nr_txs = 0;
}

void xs_conn_reset(struct xs_conn *c)
{
    xs_conn_drop_state(c);
    c->in_have = 0;
    drop_output(c);
}

void xs_conn_free(struct xs_conn *c)
{
    struct xs_daemon *xs = c->xs;

    xs_conn_drop_state(c);
    drop_output(c);
    if (c->charged)
        xs_mem_add(xs, c->domid, -XS_CONN_COST);
    xensim_mutex_lock(&xs->lock);
    xs->nr_conns--;
    if (!c->privileged)
        xs->acct[c->domid].conns--;
    xensim_mutex_unlock(&xs->lock);
    pthread_mutex_destroy(&c->out_lock);
    free(c->in_buf);
    free(c);
}

struct xs_tx *xs_conn_tx(struct xs_conn *c, uint32_t id)
{
    struct xs_tx *tx;

    cds_list_for_each_entry(tx, &c->txs, link)
        if (tx->id == id)
            return tx;
    return NULL;
}

bool xs_conn_stalled(struct xs_conn *c)
{
    struct xs_daemon *xs = c->xs;
    unsigned int quota = CMM_LOAD_SHARED(xs->quota.outstanding);

    /* C xenstored reads a privileged client whatever it left unread;
     * here its queued replies hold its input back. */
    if (c->privileged)
        return c->kind != XS_CONN_LOCAL && CMM_LOAD_SHARED(c->out_replies) >= quota;
    /* domain_can_read(): "nboutstanding >= quota_req_outstanding", or
     * "memory >= quota_memory_per_domain_hard", for the whole domain. An
     * in-process request is answered at once, so only memory holds it. */
    if (c->kind != XS_CONN_LOCAL &&
        uatomic_read(&xs_acct(xs, c->domid)->outstanding) >= (int)quota)
        return true;
    return xs_mem_over(xs, c->domid);
}

long xs_conn_feed(struct xs_conn *c, const void *data, size_t len)
{
    const char *p = data;
    size_t used = 0;

    while (used < len) {
        size_t want, n;

        if (c->in_have == 0 && xs_conn_stalled(c))
            break;
        if (c->in_have < sizeof(c->in_hdr)) {
            want = sizeof(c->in_hdr) - c->in_have;
            n = len - used < want ? len - used : want;
            memcpy((char *)&c->in_hdr + c->in_have, p + used, n);
            c->in_have += n;
            used += n;
            if (c->in_have < sizeof(c->in_hdr))
                break;
            if (c->in_hdr.len > XENSTORE_PAYLOAD_MAX)
                return -EPROTO;
        } else {
            want = sizeof(c->in_hdr) + c->in_hdr.len - c->in_have;
            n = len - used < want ? len - used : want;
            memcpy(c->in_buf + c->in_have - sizeof(c->in_hdr), p + used, n);
            c->in_have += n;
            used += n;
        }
        if (c->in_have == sizeof(c->in_hdr) + c->in_hdr.len) {
            struct xsd_sockmsg hdr = c->in_hdr;

            c->in_buf[hdr.len] = '\0';
            c->in_have = 0;
            xs_proto_dispatch(c, &hdr, c->in_buf);
        }
    }
    return used;
}

/* send_event(): "Check whether an identical event is pending already.
 * Special events are excluded from that check." Pending means not yet
 * wholly taken by the transport. Under out_lock. */
static bool pending_twin(struct xs_conn *c, const struct xs_msg *ev)
{
    struct xs_msg *m;

    if (ev->body[0] == '@')
        return false;
    cds_list_for_each_entry(m, &c->out, link)
        if (m->event && m->hdr.len == ev->hdr.len && !memcmp(m->body, ev->body, ev->hdr.len))
            return true;
    return false;
}

static void enqueue(struct xs_conn *c, struct xs_msg *m, bool linked)
{
    long bytes = m->hdr.len + sizeof(m->hdr);

    xensim_mutex_lock(&c->out_lock);
    if (m->event) {
        /* A duplicate, one past a privileged watcher's bound, or one its
         * domain has no memory for (domain_memory_add_chk()): dropped. */
        if (pending_twin(c, m) || (c->privileged && c->out_events >= MAX_QUEUED_EVENTS) ||
            !xs_mem_add_chk(c->xs, c->domid, bytes)) {
            xensim_mutex_unlock(&c->out_lock);
            free(m);
            return;
        }
        c->out_events++;
    } else {
        xs_mem_add(c->xs, c->domid, bytes);
        c->out_replies++;
        uatomic_inc(&xs_acct(c->xs, c->domid)->outstanding);
        if (cur_ref && cur_ref->domid == c->domid && !cur_ref->counted)
            cur_ref->counted = true;
        else
            linked = false;
    }
    if (linked && cur_ref) {
        uatomic_inc(&cur_ref->refs);
        m->ref = cur_ref;
    }
    /* The daemon's side of the trace: what it queues, as queued. */
    c->xs->task_ops->trace_msg(c->xs->sim, c->domid, &m->hdr, m->body, true);
    cds_list_add_tail(&m->link, &c->out);
    xensim_mutex_unlock(&c->out_lock);
    if (c->ops && c->ops->kick)
        c->ops->kick(c);
}

static struct xs_msg *msg_new(uint32_t type, uint32_t req_id, uint32_t tx_id, size_t len)
{
    struct xs_msg *m = xs_alloc(sizeof(*m) + len);

    m->hdr.type = type;
    m->hdr.req_id = req_id;
    m->hdr.tx_id = tx_id;
    m->hdr.len = len;
    m->len = sizeof(m->hdr) + len;
    return m;
}

/* The header send_reply() counts beyond the payload; replies this short
 * are queued whatever the quota ("path might be used for returning
 * error"). */
#define DEFAULT_BUFFER_SIZE 16

void xs_conn_reply(struct xs_conn *c, const struct xsd_sockmsg *req, uint32_t type,
                   const void *body, size_t len)
{
    struct xs_msg *m;

    if (len > XENSTORE_PAYLOAD_MAX) {
        xs_conn_error(c, req, -E2BIG);
        return;
    }
    /* send_reply(): a longer one the domain has no memory for is ENOMEM.
     * This only asks; enqueue() counts it. */
    if (len > DEFAULT_BUFFER_SIZE && !xs_mem_fits(c->xs, c->domid, len + sizeof(*req))) {
        xs_conn_error(c, req, -ENOMEM);
        return;
    }
    m = msg_new(type, req->req_id, req->tx_id, len);
    if (len)
        memcpy(m->body, body, len);
    enqueue(c, m, true);
}

void xs_conn_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err)
{
    const char *name = xs_errname(err);

    xs_conn_reply(c, req, XS_ERROR, name, strlen(name) + 1);
}

void xs_conn_event(struct xs_conn *c, const char *path, const char *token, bool linked)
{
    size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
    struct xs_msg *m;

    if (pl + tl > XENSTORE_PAYLOAD_MAX)
        return;
    m = msg_new(XS_WATCH_EVENT, 0, 0, pl + tl);
    m->event = true;
    memcpy(m->body, path, pl);
    memcpy(m->body + pl, token, tl);
    enqueue(c, m, linked);
}

size_t xs_conn_out_take(struct xs_conn *c, void *buf, size_t size)
{
    size_t done = 0;

    xensim_mutex_lock(&c->out_lock);
    while (done < size && !cds_list_empty(&c->out)) {
        struct xs_msg *m = cds_list_first_entry(&c->out, struct xs_msg, link);
        size_t n = m->len - m->off;

        if (n > size - done)
            n = size - done;
        memcpy((char *)buf + done, (char *)&m->hdr + m->off, n);
        m->off += n;
        done += n;
        if (m->off == m->len)
            unqueue(c, m);
    }
    xensim_mutex_unlock(&c->out_lock);
    return done;
}

bool xs_conn_out_pending(struct xs_conn *c)
{
    bool r;

    xensim_mutex_lock(&c->out_lock);
    r = !cds_list_empty(&c->out);
    xensim_mutex_unlock(&c->out_lock);
    return r;
}

struct xs_conn *xs_local_open(struct xs_daemon *xs, domid_t domid)
{
    /* A domain at its memory quota gets no more connections. */
    if (domid >= XS_NR_DOMIDS || xs_mem_over(xs, domid))
        return NULL;
    return xs_conn_new(xs, XS_CONN_LOCAL, domid, NULL, NULL);
}

void xs_local_close(struct xs_conn *c)
{
    xs_conn_free(c);
}

/* Pops the first queued message that is (or is not) an event. */
static int pop(struct xs_conn *c, bool event, struct xsd_sockmsg *hdr, char *buf, size_t size)
{
    struct xs_msg *m;
    int len = -EAGAIN;

    xensim_mutex_lock(&c->out_lock);
    cds_list_for_each_entry(m, &c->out, link) {
        if (m->event != event)
            continue;
        if (m->hdr.len + 1 > size) {
            len = -E2BIG;
            break;
        }
        if (hdr)
            *hdr = m->hdr;
        memcpy(buf, m->body, m->hdr.len);
        buf[m->hdr.len] = '\0';
        len = m->hdr.len;
        unqueue(c, m);
        break;
    }
    xensim_mutex_unlock(&c->out_lock);
    return len;
}

int xs_local_request(struct xs_conn *c, uint32_t type, uint32_t tx_id,
                     const void *payload, size_t len,
                     struct xsd_sockmsg *reply, char *buf, size_t size)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = 0, .tx_id = tx_id, .len = len };

    if (len > XENSTORE_PAYLOAD_MAX)
        return -EPROTO;
    /* C xenstored would not read this request now (domain_can_read()). */
    if (xs_conn_stalled(c))
        return -EAGAIN;
    memcpy(c->in_buf, payload, len);
    c->in_buf[len] = '\0';
    xs_proto_dispatch(c, &hdr, c->in_buf);
    return pop(c, false, reply, buf, size);
}

int xs_local_event(struct xs_conn *c, char *buf, size_t size)
{
    return pop(c, true, NULL, buf, size);
}
