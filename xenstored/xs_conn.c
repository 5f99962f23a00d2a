/*
 * A connection, whatever carries it: reassembles requests from a byte
 * stream, dispatches them (xs_proto.c), and queues replies and watch
 * events for the transport to take. Also the in-process connections.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include "xs_internal.h"

#define MAX_QUEUED_EVENTS 4096   /* a watcher that never reads loses events */

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
    XS_CHECK(pthread_mutex_init(&c->out_lock, NULL));
    CDS_INIT_LIST_HEAD(&c->out);
    CDS_INIT_LIST_HEAD(&c->watches);
    CDS_INIT_LIST_HEAD(&c->txs);
    CDS_INIT_LIST_HEAD(&c->link);
    c->next_txid = 1;
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    xs->nr_conns++;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    return c;
}

static void drop_output(struct xs_conn *c)
{
    struct xs_msg *m, *tmp;

    XS_CHECK(pthread_mutex_lock(&c->out_lock));
    cds_list_for_each_entry_safe(m, tmp, &c->out, link) {
        cds_list_del(&m->link);
        free(m);
    }
    c->out_replies = c->out_events = 0;
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
}

static void drop_state(struct xs_conn *c)
{
    struct xs_daemon *xs = c->xs;
    struct xs_tx *tx, *tmp;

    XS_CHECK(pthread_mutex_lock(&xs->lock));
    xs_watch_drop_conn(c);
    xs->nr_txs -= c->nr_txs;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
    cds_list_for_each_entry_safe(tx, tmp, &c->txs, link) {
        cds_list_del(&tx->link);
        xs_tx_free(tx);
    }
    c->nr_txs = 0;
    c->in_have = 0;
}

void xs_conn_reset(struct xs_conn *c)
{
    drop_state(c);
    drop_output(c);
}

void xs_conn_free(struct xs_conn *c)
{
    struct xs_daemon *xs = c->xs;

    drop_state(c);
    drop_output(c);
    XS_CHECK(pthread_mutex_lock(&xs->lock));
    xs->nr_conns--;
    XS_CHECK(pthread_mutex_unlock(&xs->lock));
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
    return c->kind != XS_CONN_LOCAL &&
           CMM_LOAD_SHARED(c->out_replies) >= CMM_LOAD_SHARED(c->xs->quota.outstanding);
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

static void enqueue(struct xs_conn *c, struct xs_msg *m)
{
    XS_CHECK(pthread_mutex_lock(&c->out_lock));
    if (m->event && c->out_events >= MAX_QUEUED_EVENTS) {
        XS_CHECK(pthread_mutex_unlock(&c->out_lock));
        free(m);
        return;
    }
    cds_list_add_tail(&m->link, &c->out);
    if (m->event)
        c->out_events++;
    else
        c->out_replies++;
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
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

void xs_conn_reply(struct xs_conn *c, const struct xsd_sockmsg *req, uint32_t type,
                   const void *body, size_t len)
{
    struct xs_msg *m;

    if (len > XENSTORE_PAYLOAD_MAX) {
        xs_conn_error(c, req, -E2BIG);
        return;
    }
    m = msg_new(type, req->req_id, req->tx_id, len);
    if (len)
        memcpy(m->body, body, len);
    enqueue(c, m);
}

void xs_conn_error(struct xs_conn *c, const struct xsd_sockmsg *req, int err)
{
    const char *name = xs_errname(err);

    xs_conn_reply(c, req, XS_ERROR, name, strlen(name) + 1);
}

void xs_conn_event(struct xs_conn *c, const char *path, const char *token)
{
    size_t pl = strlen(path) + 1, tl = strlen(token) + 1;
    struct xs_msg *m;

    if (pl + tl > XENSTORE_PAYLOAD_MAX)
        return;
    m = msg_new(XS_WATCH_EVENT, 0, 0, pl + tl);
    m->event = true;
    memcpy(m->body, path, pl);
    memcpy(m->body + pl, token, tl);
    enqueue(c, m);
}

size_t xs_conn_out_take(struct xs_conn *c, void *buf, size_t size)
{
    size_t done = 0;

    XS_CHECK(pthread_mutex_lock(&c->out_lock));
    while (done < size && !cds_list_empty(&c->out)) {
        struct xs_msg *m = cds_list_first_entry(&c->out, struct xs_msg, link);
        size_t n = m->len - m->off;

        if (n > size - done)
            n = size - done;
        memcpy((char *)buf + done, (char *)&m->hdr + m->off, n);
        m->off += n;
        done += n;
        if (m->off == m->len) {
            cds_list_del(&m->link);
            if (m->event)
                c->out_events--;
            else
                c->out_replies--;
            free(m);
        }
    }
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
    return done;
}

bool xs_conn_out_pending(struct xs_conn *c)
{
    bool r;

    XS_CHECK(pthread_mutex_lock(&c->out_lock));
    r = !cds_list_empty(&c->out);
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
    return r;
}

struct xs_conn *xs_local_open(struct xs_daemon *xs, domid_t domid)
{
    if (domid >= XS_NR_DOMIDS)
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

    XS_CHECK(pthread_mutex_lock(&c->out_lock));
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
        cds_list_del(&m->link);
        if (m->event)
            c->out_events--;
        else
            c->out_replies--;
        free(m);
        break;
    }
    XS_CHECK(pthread_mutex_unlock(&c->out_lock));
    return len;
}

int xs_local_request(struct xs_conn *c, uint32_t type, uint32_t tx_id,
                     const void *payload, size_t len,
                     struct xsd_sockmsg *reply, char *buf, size_t size)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = 0, .tx_id = tx_id, .len = len };

    if (len > XENSTORE_PAYLOAD_MAX)
        return -EPROTO;
    memcpy(c->in_buf, payload, len);
    c->in_buf[len] = '\0';
    xs_proto_dispatch(c, &hdr, c->in_buf);
    return pop(c, false, reply, buf, size);
}

int xs_local_event(struct xs_conn *c, char *buf, size_t size)
{
    return pop(c, true, NULL, buf, size);
}
