/*
 * /dev/xen/xenbus for the processes of a domU: dir/dom/N/xenstore takes
 * libxenstore's connections and carries their requests on the domain's
 * own store ring, as a domU kernel's xenbus driver does, so the daemon
 * sees domain N and its permissions apply. Like Linux's
 * xenbus_dev_frontend, the bridge gives each watch a token of its own
 * (so clients cannot collide) and hands events back with the client's
 * token; it checks that a transaction id is the client's (ENOENT if
 * not); and when a client goes it removes its watches and aborts its
 * transactions. Requests go on the ring one after another and their
 * replies come back in order, matched by req_id.
 *
 * The ring is reached as the domain's kernel would: its page and port
 * from start_info, an irq handler bound on vCPU 0 (guest code run with
 * xensim_domain_call) that only kicks an eventfd, and notifications sent
 * the same way. Owns struct ext_xenbus; relies on guest.h and dom.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>
#include <xensim/guest.h>
#include "ext.h"

#define XB_MSG_MAX (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)
/* Clients per domain, and what one may have waiting to be read (replies
 * and events) before it is dropped for not reading. */
#define XB_MAX_CLIENTS 128u
#define XB_MAX_QUEUED (1u << 20)
#define XB_TOKEN_MAX 16

struct xb_client {
    struct ext_ep ep;
    struct ext_xenbus *xb;
    int fd;
    uint8_t in[XB_MSG_MAX];         /* the request being read */
    size_t in_len;
    bool busy;                      /* its request awaits its reply */
    uint8_t *out;                   /* replies and events not yet written */
    size_t out_len, out_cap;
    uint32_t *txs;                  /* transactions it started */
    unsigned int nr_txs, cap_txs;
    struct xb_client *next;
};

/* A watch a client set: our token on the ring, the client's to it. */
struct xb_watch {
    uint32_t id;
    struct xb_client *c;            /* NULL once its client went */
    bool live;                      /* set on the ring, not being unwatched */
    bool dead;                      /* the daemon has it no more */
    unsigned int refs;              /* pending requests naming it */
    char *path, *token;
    struct xb_watch *next;
};

/* A request on the ring awaiting its reply, oldest first. */
struct xb_pending {
    uint32_t req_id;                /* ours on the ring */
    uint32_t client_req_id;
    uint32_t type;
    struct xb_client *c;            /* NULL: ours, or its client went */
    struct xb_watch *w;             /* WATCH, UNWATCH */
    struct xb_pending *next;
};

struct ext_xenbus {
    struct ext_dom *d;
    struct ext_ep ring_ep;
    int evfd;                       /* the irq handler kicks it */
    struct xenstore_domain_interface *intf;
    evtchn_port_t port;
    bool bound, broken;
    uint8_t *tx;                    /* bytes for the request ring */
    size_t tx_len, tx_off, tx_cap;
    uint8_t rx[XB_MSG_MAX];         /* the reply or event being read */
    size_t rx_len;
    struct xb_pending *pend, **pend_tail;
    uint32_t next_req_id, next_watch_id;
    struct xb_watch *watches;
    struct xb_client *clients;
    unsigned int nr_clients;
};

/* Guest code on vCPU 0: what the kernel's driver would set up. */
struct xb_bind {
    struct ext_xenbus *xb;
    int rc;
};

static void xb_irq(evtchn_port_t port, void *arg)
{
    struct ext_xenbus *xb = arg;
    uint64_t one = 1;
    (void)port;
    if (write(xb->evfd, &one, sizeof(one)) != sizeof(one) && errno != EAGAIN)
        XENSIM_DIE("eventfd write", errno);
}

static void xb_bind_fn(void *arg)
{
    struct xb_bind *b = arg;
    const start_info_t *si = xensim_guest_start_info();

    b->rc = -ENODEV;
    if (!si || !si->store_evtchn)
        return;
    b->xb->intf = xensim_guest_pfn_to_virt(si->store_mfn);
    b->xb->port = si->store_evtchn;
    if (b->xb->intf)
        b->rc = xensim_irq_bind(b->xb->port, xb_irq, b->xb);
}

static void xb_unbind_fn(void *arg)
{
    struct ext_xenbus *xb = arg;
    xensim_irq_unbind(xb->port);
}

static void xb_notify_fn(void *arg)
{
    struct ext_xenbus *xb = arg;
    xensim_evtchn_send(xb->port);
}

static void xb_notify(struct ext_xenbus *xb)
{
    xensim_domain_call(xb->d->srv->sim, xb->d->domid, 0, xb_notify_fn, xb);
}

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (!p)
        return false;
    *buf = p;
    *cap = n;
    return true;
}

static void client_free(struct xb_client *c);

/* Queues a message for the client; a client that lets too much pile up
 * is not waited for. */
static void client_send(struct xb_client *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
                        const void *body, size_t len)
{
    struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id,
                             .len = (uint32_t)len };
    if (c->out_len + sizeof(h) + len > XB_MAX_QUEUED ||
        !grow(&c->out, &c->out_cap, c->out_len + sizeof(h) + len)) {
        shutdown(c->fd, SHUT_RDWR);
        return;
    }
    memcpy(c->out + c->out_len, &h, sizeof(h));
    memcpy(c->out + c->out_len + sizeof(h), body, len);
    c->out_len += sizeof(h) + len;
    ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
        memmove(c->out, c->out + n, c->out_len - (size_t)n);
        c->out_len -= (size_t)n;
    }
    ext_ep_mod(c->xb->d, c->fd, (c->busy ? 0 : EPOLLIN) | (c->out_len ? EPOLLOUT : 0),
               &c->ep);
}

static void client_error(struct xb_client *c, const struct xsd_sockmsg *h, const char *err)
{
    client_send(c, XS_ERROR, h->req_id, h->tx_id, err, strlen(err) + 1);
}

/* Puts a message on the request ring's queue. */
static bool ring_queue(struct ext_xenbus *xb, struct xb_client *c, const struct xsd_sockmsg *h,
                       const void *body, struct xb_watch *w)
{
    struct xb_pending *p = calloc(1, sizeof(*p));
    if (!p || !grow(&xb->tx, &xb->tx_cap, xb->tx_len + sizeof(*h) + h->len)) {
        free(p);
        return false;
    }
    *p = (struct xb_pending){
        .req_id = xb->next_req_id++, .client_req_id = h->req_id, .type = h->type,
        .c = c, .w = w,
    };
    struct xsd_sockmsg out = *h;
    out.req_id = p->req_id;
    memcpy(xb->tx + xb->tx_len, &out, sizeof(out));
    memcpy(xb->tx + xb->tx_len + sizeof(out), body, h->len);
    xb->tx_len += sizeof(out) + h->len;
    if (w)
        w->refs++;
    *xb->pend_tail = p;
    xb->pend_tail = &p->next;
    return true;
}

/* Our own request (a client's leftovers): its reply is dropped. */
static void ring_internal(struct ext_xenbus *xb, uint32_t type, uint32_t tx_id,
                          const void *body, size_t len, struct xb_watch *w)
{
    struct xsd_sockmsg h = { .type = type, .tx_id = tx_id, .len = (uint32_t)len };
    ring_queue(xb, NULL, &h, body, w);
}

/* The watch's ring message: its path and our token for it. */
static int watch_body(const struct xb_watch *w, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s%cxb%u", w->path, 0, w->id);
    return n < 0 || (size_t)n + 1 > XENSTORE_PAYLOAD_MAX ? -1 : n + 1;
}

static void watch_unwatch(struct ext_xenbus *xb, struct xb_watch *w)
{
    char body[XENSTORE_PAYLOAD_MAX + 32];
    int n = watch_body(w, body, sizeof(body));
    w->live = false;
    if (n > 0)
        ring_internal(xb, XS_UNWATCH, 0, body, (size_t)n, w);
}

static void watch_free(struct ext_xenbus *xb, struct xb_watch *w)
{
    for (struct xb_watch **pp = &xb->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    free(w->path);
    free(w->token);
    free(w);
}

/* Frees a watch nobody can use any more and no request names. */
static void watch_settle(struct ext_xenbus *xb, struct xb_watch *w)
{
    if (!w->refs && (w->dead || (!w->c && !w->live)))
        watch_free(xb, w);
}

static struct xb_watch *watch_by_token(struct ext_xenbus *xb, const char *token)
{
    unsigned int id;
    char extra;
    if (sscanf(token, "xb%u%c", &id, &extra) != 1)
        return NULL;
    for (struct xb_watch *w = xb->watches; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

/* Splits a body into its NUL-terminated strings; how many, or -1 if the
 * last is not terminated. */
static int strings(const char *body, size_t len, const char **v, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        const char *end = memchr(body + i, '\0', len - i);
        if (!end)
            return -1;
        if (n < max)
            v[n] = body + i;
        n++;
        i = (size_t)(end - body) + 1;
    }
    return n;
}

static bool client_has_tx(const struct xb_client *c, uint32_t tx)
{
    for (unsigned int i = 0; i < c->nr_txs; i++)
        if (c->txs[i] == tx)
            return true;
    return false;
}

static bool client_add_tx(struct xb_client *c, uint32_t tx)
{
    if (c->nr_txs == c->cap_txs) {
        unsigned int cap = c->cap_txs ? c->cap_txs * 2 : 4;
        uint32_t *p = realloc(c->txs, cap * sizeof(*p));
        if (!p)
            return false;
        c->txs = p;
        c->cap_txs = cap;
    }
    c->txs[c->nr_txs++] = tx;
    return true;
}

static void client_drop_tx(struct xb_client *c, uint32_t tx)
{
    for (unsigned int i = 0; i < c->nr_txs; i++)
        if (c->txs[i] == tx) {
            c->txs[i] = c->txs[--c->nr_txs];
            return;
        }
}

/* What a client leaves behind goes: watches unwatched, transactions
 * aborted, as the release of Linux's xenbus file does. */
static void client_cleanup(struct ext_xenbus *xb, struct xb_client *c)
{
    for (struct xb_watch *w = xb->watches, *next; w; w = next) {
        next = w->next;
        if (w->c != c)
            continue;
        w->c = NULL;
        if (w->live)
            watch_unwatch(xb, w);
        watch_settle(xb, w);
    }
    for (unsigned int i = 0; i < c->nr_txs; i++)
        ring_internal(xb, XS_TRANSACTION_END, c->txs[i], "F", 2, NULL);
    c->nr_txs = 0;
    for (struct xb_pending *p = xb->pend; p; p = p->next)
        if (p->c == c)
            p->c = NULL;
}

static void ring_pump(struct ext_xenbus *xb);

/* A whole request from the client. */
static void client_request(struct xb_client *c)
{
    struct ext_xenbus *xb = c->xb;
    struct xsd_sockmsg h;
    memcpy(&h, c->in, sizeof(h));
    const char *body = (const char *)c->in + sizeof(h);
    const char *v[2];
    struct xb_watch *w = NULL;
    char buf[XENSTORE_PAYLOAD_MAX + 32];

    if (xb->broken) {
        client_error(c, &h, "EIO");
        return;
    }
    if (h.type == XS_WATCH || h.type == XS_UNWATCH) {
        if (strings(body, h.len, v, 2) != 2) {
            client_error(c, &h, "EINVAL");
            return;
        }
        if (h.type == XS_UNWATCH) {
            for (w = xb->watches; w; w = w->next)
                if (w->c == c && w->live && !strcmp(w->path, v[0]) && !strcmp(w->token, v[1]))
                    break;
            if (!w) {
                client_error(c, &h, "ENOENT");
                return;
            }
            /* No more events for it; back on if the daemon says no. */
            w->live = false;
        } else {
            w = calloc(1, sizeof(*w));
            if (w && (!(w->path = strdup(v[0])) || !(w->token = strdup(v[1])))) {
                free(w->path);
                free(w);
                w = NULL;
            }
            if (!w) {
                client_error(c, &h, "ENOMEM");
                return;
            }
            w->id = xb->next_watch_id++;
            w->c = c;
            w->next = xb->watches;
            xb->watches = w;
        }
        int n = watch_body(w, buf, sizeof(buf));
        if (n < 0) {
            if (h.type == XS_WATCH)
                watch_free(xb, w);
            else
                w->live = true;
            client_error(c, &h, "E2BIG");
            return;
        }
        h.len = (uint32_t)n;
        body = buf;
        h.tx_id = 0;
    } else if (h.type == XS_RESET_WATCHES) {
        /* Only this client's, as if it had its own connection. */
        client_cleanup(xb, c);
        client_send(c, XS_RESET_WATCHES, h.req_id, h.tx_id, "OK", 3);
        return;
    } else if (h.tx_id && !client_has_tx(c, h.tx_id)) {
        client_error(c, &h, "ENOENT");
        return;
    }
    if (!ring_queue(xb, c, &h, body, w)) {
        if (h.type == XS_WATCH)
            watch_free(xb, w);
        else if (w)
            w->live = true;
        client_error(c, &h, "ENOMEM");
        return;
    }
    c->busy = true;
    ext_ep_mod(xb->d, c->fd, c->out_len ? EPOLLOUT : 0, &c->ep);
    ring_pump(xb);
}

static void client_event(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    struct xb_client *c = container_of(ep, struct xb_client, ep);
    (void)d;

    if ((events & EPOLLOUT) && c->out_len) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) {
            client_free(c);
            return;
        }
        if (n > 0) {
            memmove(c->out, c->out + n, c->out_len - (size_t)n);
            c->out_len -= (size_t)n;
        }
    }
    if (!c->busy && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        size_t want = c->in_len < sizeof(struct xsd_sockmsg)
                          ? sizeof(struct xsd_sockmsg)
                          : sizeof(struct xsd_sockmsg) +
                                ((struct xsd_sockmsg *)c->in)->len;
        ssize_t n = read(c->fd, c->in + c->in_len, want - c->in_len);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            client_free(c);
            return;
        }
        if (n > 0)
            c->in_len += (size_t)n;
        if (c->in_len == sizeof(struct xsd_sockmsg) &&
            ((struct xsd_sockmsg *)c->in)->len > XENSTORE_PAYLOAD_MAX) {
            /* As the daemon treats a socket that claims more. */
            client_free(c);
            return;
        }
        if (c->in_len >= sizeof(struct xsd_sockmsg) &&
            c->in_len == sizeof(struct xsd_sockmsg) + ((struct xsd_sockmsg *)c->in)->len) {
            client_request(c);
            c->in_len = 0;
        }
    }
    if ((events & (EPOLLHUP | EPOLLERR)) && c->busy) {
        /* Gone while its request is out: the reply has nobody to go to. */
        client_free(c);
        return;
    }
    ext_ep_mod(d, c->fd, (c->busy ? 0 : EPOLLIN) | (c->out_len ? EPOLLOUT : 0), &c->ep);
}

static void client_free(struct xb_client *c)
{
    struct ext_xenbus *xb = c->xb;
    client_cleanup(xb, c);
    for (struct xb_client **pp = &xb->clients; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    xb->nr_clients--;
    ext_ep_del(xb->d, c->fd);
    close(c->fd);
    free(c->out);
    free(c->txs);
    free(c);
    ring_pump(xb);
}

/* A reply from the ring for the oldest request. */
static void ring_reply(struct ext_xenbus *xb, const struct xsd_sockmsg *h, const char *body)
{
    struct xb_pending *p = xb->pend;
    if (!p || p->req_id != h->req_id) {
        /* Replies come in order; anything else is a broken daemon. */
        xb->broken = true;
        return;
    }
    xb->pend = p->next;
    if (!xb->pend)
        xb->pend_tail = &xb->pend;
    struct xb_client *c = p->c;
    bool ok = h->type != XS_ERROR;

    struct xb_watch *w = p->w;
    if (w)
        w->refs--;
    if (p->type == XS_WATCH && w) {
        if (!ok)
            w->dead = true;
        else if (!w->c)
            watch_unwatch(xb, w);   /* set after its client went: undo it */
        else
            w->live = true;
    } else if (p->type == XS_UNWATCH && w) {
        if (ok)
            w->dead = true;
        else if (w->c)
            w->live = true;
    } else if (p->type == XS_TRANSACTION_START && ok) {
        uint32_t id = (uint32_t)strtoul(body, NULL, 10);
        /* A transaction nobody will end is aborted at once. */
        if (id && (!c || !client_add_tx(c, id)))
            ring_internal(xb, XS_TRANSACTION_END, id, "F", 2, NULL);
    } else if (p->type == XS_TRANSACTION_END && c) {
        client_drop_tx(c, h->tx_id);
    }
    if (w)
        watch_settle(xb, w);
    if (c) {
        c->busy = false;
        client_send(c, h->type, p->client_req_id, h->tx_id, body, h->len);
    }
    free(p);
}

static void ring_event(struct ext_xenbus *xb, const struct xsd_sockmsg *h, const char *body)
{
    const char *v[2];
    char buf[XENSTORE_PAYLOAD_MAX];
    if (strings(body, h->len, v, 2) != 2)
        return;
    struct xb_watch *w = watch_by_token(xb, v[1]);
    if (!w || !w->c || !w->live)
        return;
    size_t pl = strlen(v[0]) + 1, tl = strlen(w->token) + 1;
    if (pl + tl > sizeof(buf))
        return;
    memcpy(buf, v[0], pl);
    memcpy(buf + pl, w->token, tl);
    client_send(w->c, XS_WATCH_EVENT, 0, 0, buf, pl + tl);
}

/* Copies what waits to be sent into the request ring, as far as it has
 * room; true if anything moved. A bad index breaks the ring. */
static bool ring_push(struct ext_xenbus *xb)
{
    struct xenstore_domain_interface *intf = xb->intf;
    bool moved = false;
    /* Acquire and release on the indices, not only fences: they are the
     * order ThreadSanitizer can see. */
    XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_ACQUIRE),
                      prod = READ_ONCE(intf->req_prod);

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if ((XENSTORE_RING_IDX)(prod - cons) > XENSTORE_RING_SIZE) {
        xb->broken = true;
        return false;
    }
    while (xb->tx_off < xb->tx_len && (XENSTORE_RING_IDX)(prod - cons) < XENSTORE_RING_SIZE) {
        intf->req[MASK_XENSTORE_IDX(prod++)] = (char)xb->tx[xb->tx_off++];
        moved = true;
    }
    if (moved)
        __atomic_store_n(&intf->req_prod, prod, __ATOMIC_RELEASE);
    if (xb->tx_off == xb->tx_len)
        xb->tx_off = xb->tx_len = 0;
    return moved;
}

/* The bytes a whole message in rx still needs: its header, then its body. */
static size_t rx_want(const struct ext_xenbus *xb)
{
    if (xb->rx_len < sizeof(struct xsd_sockmsg))
        return sizeof(struct xsd_sockmsg);
    return sizeof(struct xsd_sockmsg) + ((const struct xsd_sockmsg *)xb->rx)->len;
}

/* Takes what the daemon answered, a whole message at a time, each to its
 * client; true if anything was consumed. A bad index or a header longer
 * than Xen allows breaks the ring. */
static bool ring_pull(struct ext_xenbus *xb)
{
    struct xenstore_domain_interface *intf = xb->intf;
    XENSTORE_RING_IDX cons = READ_ONCE(intf->rsp_cons),
                      prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_ACQUIRE);
    bool got = false;

    if ((XENSTORE_RING_IDX)(prod - cons) > XENSTORE_RING_SIZE) {
        xb->broken = true;
        return false;
    }
    while (cons != prod && !xb->broken) {
        size_t want = rx_want(xb);
        while (cons != prod && xb->rx_len < want)
            xb->rx[xb->rx_len++] = (uint8_t)intf->rsp[MASK_XENSTORE_IDX(cons++)];
        got = true;
        if (xb->rx_len == sizeof(struct xsd_sockmsg) &&
            ((struct xsd_sockmsg *)xb->rx)->len > XENSTORE_PAYLOAD_MAX) {
            xb->broken = true;
            break;
        }
        if (xb->rx_len < sizeof(struct xsd_sockmsg) || xb->rx_len < rx_want(xb))
            continue;
        struct xsd_sockmsg h;
        char body[XENSTORE_PAYLOAD_MAX + 1];
        memcpy(&h, xb->rx, sizeof(h));
        memcpy(body, xb->rx + sizeof(h), h.len);
        body[h.len] = '\0';
        xb->rx_len = 0;
        if (h.type == XS_WATCH_EVENT)
            ring_event(xb, &h, body);
        else
            ring_reply(xb, &h, body);
    }
    if (got) {
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&intf->rsp_cons, cons, __ATOMIC_RELEASE);
    }
    return got;
}

/* Moves bytes both ways as far as the rings allow; checks the daemon's
 * indices before trusting them, as a kernel must. */
static void ring_pump(struct ext_xenbus *xb)
{
    bool notify = false;

    if (!xb->bound || xb->broken)
        return;
    for (;;) {
        bool moved = ring_push(xb);
        bool got = !xb->broken && ring_pull(xb);

        notify |= moved || got;
        if (xb->broken || (!moved && !got))
            break;
    }
    if (notify)
        xb_notify(xb);
    if (xb->broken) {
        /* The ring is unusable for good, as for the kernel's driver: its
         * clients are sent away (each goes at its next event). */
        for (struct xb_client *c = xb->clients; c; c = c->next)
            shutdown(c->fd, SHUT_RDWR);
    }
}

static void ring_kick(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    struct ext_xenbus *xb = container_of(ep, struct ext_xenbus, ring_ep);
    uint64_t v;
    (void)d;
    (void)events;
    if (read(xb->evfd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        XENSIM_DIE("eventfd read", errno);
    ring_pump(xb);
}

static struct ext_xenbus *xb_get(struct ext_dom *d)
{
    if (d->xb)
        return d->xb->broken ? NULL : d->xb;
    struct ext_xenbus *xb = calloc(1, sizeof(*xb));
    if (!xb)
        return NULL;
    xb->d = d;
    xb->pend_tail = &xb->pend;
    xb->next_req_id = 1;
    xb->ring_ep.fn = ring_kick;
    xb->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct xb_bind b = { .xb = xb, .rc = -ESHUTDOWN };
    if (xb->evfd < 0 || ext_ep_add(d, xb->evfd, EPOLLIN, &xb->ring_ep) ||
        xensim_domain_call(d->srv->sim, d->domid, 0, xb_bind_fn, &b) || b.rc) {
        if (xb->evfd >= 0) {
            ext_ep_del(d, xb->evfd);
            close(xb->evfd);
        }
        free(xb);
        return NULL;
    }
    xb->bound = true;
    d->xb = xb;
    /* Whatever the daemon left in the ring before us is not ours. */
    WRITE_ONCE(xb->intf->rsp_cons, __atomic_load_n(&xb->intf->rsp_prod, __ATOMIC_ACQUIRE));
    return xb;
}

void ext_xenbus_accept(struct ext_dom *d, int fd)
{
    struct ext_xenbus *xb = xb_get(d);
    struct xb_client *c = xb && xb->nr_clients < XB_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        close(fd);
        return;
    }
    c->ep.fn = client_event;
    c->xb = xb;
    c->fd = fd;
    if (ext_ep_add(d, fd, EPOLLIN, &c->ep)) {
        close(fd);
        free(c);
        return;
    }
    c->next = xb->clients;
    xb->clients = c;
    xb->nr_clients++;
}

void ext_xenbus_stop(struct ext_dom *d)
{
    struct ext_xenbus *xb = d->xb;
    if (!xb)
        return;
    while (xb->clients)
        client_free(xb->clients);
    /* What the clients left (unwatches, aborts) goes out before the
     * handler does, as far as the daemon takes it now. */
    ring_pump(xb);
    xensim_domain_call(d->srv->sim, d->domid, 0, xb_unbind_fn, xb);
    ext_ep_del(d, xb->evfd);
    close(xb->evfd);
    while (xb->watches)
        watch_free(xb, xb->watches);
    while (xb->pend) {
        struct xb_pending *p = xb->pend;
        xb->pend = p->next;
        free(p);
    }
    free(xb->tx);
    free(xb);
    d->xb = NULL;
}

bool ext_xenbus_busy(struct ext_dom *d)
{
    return d->xb && !d->xb->broken && d->xb->pend;
}

unsigned int ext_xenbus_clients(struct ext_dom *d)
{
    return d->xb ? d->xb->nr_clients : 0;
}
