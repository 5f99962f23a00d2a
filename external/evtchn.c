/*
 * /dev/xen/evtchn for a process of the domain: an EVTCHN connection is a
 * hostdev evtchn handle (<xensim/hostdev.h>) that writes the ports that
 * fire into a pipe whose read end the process polls, and the binds,
 * notifies and unmasks of Linux's driver (its errnos: ENOTCONN for a port
 * the file did not bind, EACCES once restricted). Also the references
 * unmap notifications hold on a port (ext_port_get), which keep it bound
 * after its connection ends until the notification is sent, as Linux's
 * evtchn_get/evtchn_put do.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <xensim/hostdev.h>
#include "ext.h"

struct ext_port {
    uint32_t port;
    unsigned int refs;              /* unmap notifications naming it */
    bool unbound;                   /* the process unbound it; refs hold it */
};

struct ext_evtchn {
    struct ext_dom *d;
    struct xensim_evtchn_dev *dev;
    int keep;                       /* a read end: writes never raise SIGPIPE */
    uint32_t restrict_to;           /* DOMID_INVALID: unrestricted */
    bool closed;                    /* the connection ended; refs keep it */
    struct ext_port *ports;
    unsigned int nr, cap;
    struct ext_evtchn *next;        /* d->evtchns */
};

struct ext_port_ref {
    struct ext_evtchn *e;
    uint32_t port;
};

static struct ext_port *port_find(struct ext_evtchn *e, uint32_t port)
{
    for (unsigned int i = 0; i < e->nr; i++)
        if (e->ports[i].port == port)
            return &e->ports[i];
    return NULL;
}

static long port_add(struct ext_evtchn *e, long port)
{
    if (port <= 0)
        return port;
    if (e->nr == e->cap) {
        unsigned int cap = e->cap ? e->cap * 2 : 8;
        struct ext_port *p = realloc(e->ports, cap * sizeof(*p));
        if (!p) {
            xensim_evtchn_dev_unbind(e->dev, (evtchn_port_t)port);
            return -ENOMEM;
        }
        e->ports = p;
        e->cap = cap;
    }
    e->ports[e->nr++] = (struct ext_port){ .port = (uint32_t)port };
    return port;
}

/* Closes the port for real and forgets it. */
static void port_drop(struct ext_evtchn *e, struct ext_port *p)
{
    xensim_evtchn_dev_unbind(e->dev, p->port);
    *p = e->ports[--e->nr];
}

static void evtchn_free(struct ext_evtchn *e)
{
    for (struct ext_evtchn **pp = &e->d->evtchns; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    xensim_evtchn_dev_close(e->dev);
    close(e->keep);
    free(e->ports);
    free(e);
}

static int evtchn_open(struct ext_conn *c, int *fd)
{
    struct ext_evtchn *e = calloc(1, sizeof(*e));
    int p[2];

    if (!e)
        return -ENOMEM;
    if (pipe2(p, O_CLOEXEC)) {
        free(e);
        return -errno;
    }
    /* The pipe holds 16384 ports, more than a connection may bind, and
     * each port is written at most once until unmasked: never full. */
    e->keep = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
    if (e->keep < 0 || fcntl(p[1], F_SETFL, O_NONBLOCK))
        goto fail;
    e->dev = xensim_evtchn_dev_open_fd(c->d->srv->sim, c->d->domid, p[1]);
    if (!e->dev)
        goto fail;
    e->d = c->d;
    e->restrict_to = DOMID_INVALID;
    e->next = c->d->evtchns;
    c->d->evtchns = e;
    c->priv = e;
    *fd = p[0];
    return 0;
fail: {
        int err = errno ? -errno : -ENOMEM;
        if (e->keep >= 0)
            close(e->keep);
        close(p[0]);
        close(p[1]);
        free(e);
        return err;
    }
}

static long evtchn_op(struct ext_evtchn *e, const struct xensim_hv_req *r)
{
    struct ext_port *p;

    switch (r->op) {
    case XENSIM_HV_OP_BIND_UNBOUND:
    case XENSIM_HV_OP_BIND_INTERDOMAIN:
    case XENSIM_HV_OP_BIND_VIRQ:
        if (e->nr >= XENSIM_HV_MAX_PORTS)
            return -ENOSPC;
        break;
    }
    switch (r->op) {
    case XENSIM_HV_OP_BIND_UNBOUND:
        if (e->restrict_to != DOMID_INVALID)
            return -EACCES;
        if (r->a > DOMID_SELF)
            return -EINVAL;
        return port_add(e, xensim_evtchn_dev_bind_unbound(e->dev, (domid_t)r->a));
    case XENSIM_HV_OP_BIND_INTERDOMAIN:
        if (e->restrict_to != DOMID_INVALID && r->a != e->restrict_to)
            return -EACCES;
        if (r->a > DOMID_SELF)
            return -EINVAL;
        return port_add(e, xensim_evtchn_dev_bind_interdomain(e->dev, (domid_t)r->a, r->b));
    case XENSIM_HV_OP_BIND_VIRQ:
        if (e->restrict_to != DOMID_INVALID)
            return -EACCES;
        return port_add(e, xensim_evtchn_dev_bind_virq(e->dev, r->a));
    case XENSIM_HV_OP_NOTIFY:
        p = port_find(e, r->a);
        if (!p || p->unbound)
            return -ENOTCONN;
        return xensim_evtchn_dev_notify(e->dev, p->port);
    case XENSIM_HV_OP_UNBIND:
        p = port_find(e, r->a);
        if (!p || p->unbound)
            return -ENOTCONN;
        if (p->refs)
            p->unbound = true;
        else
            port_drop(e, p);
        return 0;
    case XENSIM_HV_OP_UNMASK:
        p = port_find(e, r->a);
        if (p && !p->unbound)
            xensim_evtchn_dev_unmask(e->dev, p->port);
        return 0;
    case XENSIM_HV_OP_RESTRICT:
        if (e->restrict_to != DOMID_INVALID)
            return -EACCES;
        if (r->a == 0 || r->a >= DOMID_FIRST_RESERVED)
            return -EINVAL;
        e->restrict_to = r->a;
        return 0;
    }
    return -ENOSYS;
}

static int evtchn_request(struct ext_conn *c, const void *msg, size_t len, void *rep,
                          size_t *rep_len, int *fds, unsigned int *nfds)
{
    const struct xensim_hv_req *r = msg;
    struct xensim_hv_rep *out = rep;

    (void)fds;
    (void)nfds;
    if (len != sizeof(*r))
        return -1;
    if (r->op == (XENSIM_HV_OP_NOTIFY | XENSIM_HV_NOREPLY)) {
        struct xensim_hv_req n = *r;
        n.op = XENSIM_HV_OP_NOTIFY;
        evtchn_op(c->priv, &n);
        *rep_len = 0;
        return 0;
    }
    if (r->op < XENSIM_HV_OP_BIND_UNBOUND || r->op > XENSIM_HV_OP_RESTRICT)
        return -1;
    long rc = evtchn_op(c->priv, r);
    if (r->op == XENSIM_HV_OP_UNMASK) {
        *rep_len = 0;
        return 0;
    }
    *out = (struct xensim_hv_rep){ .rc = (int32_t)rc };
    *rep_len = sizeof(*out);
    return 0;
}

static void evtchn_close(struct ext_conn *c)
{
    struct ext_evtchn *e = c->priv;

    e->closed = true;
    for (unsigned int i = e->nr; i-- > 0;)
        if (!e->ports[i].refs)
            port_drop(e, &e->ports[i]);
    if (!e->nr)
        evtchn_free(e);
}

const struct ext_kind_ops ext_evtchn_ops = {
    .name = "evtchn",
    .open = evtchn_open,
    .request = evtchn_request,
    .close = evtchn_close,
};

struct ext_port_ref *ext_port_get(struct ext_dom *d, uint32_t port)
{
    for (struct ext_evtchn *e = d->evtchns; e; e = e->next) {
        struct ext_port *p = e->closed ? NULL : port_find(e, port);
        if (!p || p->unbound)
            continue;
        struct ext_port_ref *r = malloc(sizeof(*r));
        if (!r)
            return NULL;
        p->refs++;
        *r = (struct ext_port_ref){ .e = e, .port = port };
        return r;
    }
    return NULL;
}

void ext_port_put(struct ext_port_ref *r, bool notify)
{
    if (!r)
        return;
    struct ext_evtchn *e = r->e;
    struct ext_port *p = port_find(e, r->port);

    if (notify)
        xensim_evtchn_dev_notify(e->dev, r->port);
    if (p && !--p->refs && (p->unbound || e->closed))
        port_drop(e, p);
    if (e->closed && !e->nr)
        evtchn_free(e);
    free(r);
}

unsigned int ext_evtchn_ports(struct ext_dom *d)
{
    unsigned int n = 0;
    for (struct ext_evtchn *e = d->evtchns; e; e = e->next)
        n += e->nr;
    return n;
}
