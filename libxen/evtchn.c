/*
 * libxenevtchn.so.1 for processes of a simulated domain: each handle is
 * an EVTCHN connection of the hypervisor socket; its fd is the pipe the
 * simulator writes fired ports into, so poll, read and blocking behave
 * as /dev/xen/evtchn's do. The whole 4.17 API at its symbol versions
 * (libxenevtchn.map). Relies on hv.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenevtchn.h>
#include "hv.h"
#include "util.h"

/* owned: a bit per port this handle bound (under c.lock's protection of
 * the calls that change it: bind and unbind), so that notifying one of
 * them needs no reply. */
struct xenevtchn_handle {
    struct hv_conn c;
    int fd;
    pthread_mutex_t lock;
    uint64_t *owned;
    unsigned int words;
};

static bool owns(xenevtchn_handle *h, evtchn_port_t port)
{
    xensim_mutex_lock(&h->lock);
    bool own = port / 64 < h->words && (h->owned[port / 64] >> (port % 64) & 1);
    xensim_mutex_unlock(&h->lock);
    return own;
}

/* Records a bind's result and passes it on. */
static int bound(xenevtchn_handle *h, int port)
{
    if (port <= 0)
        return port;
    xensim_mutex_lock(&h->lock);
    unsigned int w = (unsigned int)port / 64;
    if (w >= h->words) {
        uint64_t *p = realloc(h->owned, (w + 1) * sizeof(*p));
        if (p) {
            memset(p + h->words, 0, (w + 1 - h->words) * sizeof(*p));
            h->owned = p;
            h->words = w + 1;
        }
    }
    if (w < h->words)
        h->owned[w] |= 1ull << (port % 64);
    xensim_mutex_unlock(&h->lock);
    return port;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    struct xensim_hv_hello_rep rep;
    (void)logger;

    if (flags & ~XENEVTCHN_NO_CLOEXEC) {
        errno = EINVAL;
        return NULL;
    }
    xenevtchn_handle *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    if (hv_open(&h->c, XENSIM_HV_EVTCHN, !(flags & XENEVTCHN_NO_CLOEXEC), &rep, &h->fd)) {
        int err = errno;
        free(h);
        errno = err;
        return NULL;
    }
    if (h->fd < 0) {
        hv_close(&h->c);
        free(h);
        errno = EPROTO;
        return NULL;
    }
    XENSIM_CHECK(pthread_mutex_init(&h->lock, NULL));
    return h;
}

/* Xen's live update hands a running xenstored's /dev/xen/evtchn fd to its
 * next binary; here the handle is a socket as well as that fd, and the
 * socket does not survive in the fd alone. */
xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd,
                                   unsigned open_flags)
{
    (void)logger;
    (void)fd;
    (void)open_flags;
    errno = EOPNOTSUPP;
    return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    hv_close(&xce->c);
    int rc = close(xce->fd);
    pthread_mutex_destroy(&xce->lock);
    free(xce->owned);
    free(xce);
    return rc;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->fd;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    /* A port of ours cannot fail (a peer gone just drops the event), so
     * the event goes without waiting; others get the driver's answer. */
    if (owns(xce, port)) {
        struct xensim_hv_req r = { .op = XENSIM_HV_OP_NOTIFY | XENSIM_HV_NOREPLY, .a = port };
        return hv_post(&xce->c, &r, sizeof(r));
    }
    return hv_simple(&xce->c, XENSIM_HV_OP_NOTIFY, port, 0) < 0 ? -1 : 0;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    return bound(xce, hv_simple(&xce->c, XENSIM_HV_OP_BIND_UNBOUND, domid, 0));
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    return bound(xce, hv_simple(&xce->c, XENSIM_HV_OP_BIND_INTERDOMAIN, domid, remote_port));
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    return bound(xce, hv_simple(&xce->c, XENSIM_HV_OP_BIND_VIRQ, virq, 0));
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    xensim_mutex_lock(&xce->lock);
    if (port / 64 < xce->words)
        xce->owned[port / 64] &= ~(1ull << (port % 64));
    xensim_mutex_unlock(&xce->lock);
    return hv_simple(&xce->c, XENSIM_HV_OP_UNBIND, port, 0) < 0 ? -1 : 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    evtchn_port_t port;
    if (read(xce->fd, &port, sizeof(port)) != sizeof(port))
        return -1;
    return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct xensim_hv_req r = { .op = XENSIM_HV_OP_UNMASK, .a = port };
    return hv_post(&xce->c, &r, sizeof(r));
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    return hv_simple(&xce->c, XENSIM_HV_OP_RESTRICT, domid, 0) < 0 ? -1 : 0;
}
