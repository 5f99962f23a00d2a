/*
 * One domain's server: its directory dir/dom/N with the hypervisor socket
 * (and, for a domU, the xenstore socket), a thread with one epoll loop,
 * and each hypervisor connection from HELLO to its end. Owns struct
 * ext_dom and struct ext_conn; hands requests to the kind's ops
 * (evtchn.c, gntdev.c, gntalloc.c, privcmd.c) and xenstore connections
 * to xenbus.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "ext.h"

static const struct ext_kind_ops *const kinds[] = {
    [XENSIM_HV_EVTCHN] = &ext_evtchn_ops,
    [XENSIM_HV_GNTDEV] = &ext_gntdev_ops,
    [XENSIM_HV_GNTALLOC] = &ext_gntalloc_ops,
    [XENSIM_HV_PRIVCMD] = &ext_privcmd_ops,
};

int ext_ep_add(struct ext_dom *d, int fd, uint32_t events, struct ext_ep *ep)
{
    struct epoll_event ev = { .events = events, .data.ptr = ep };
    return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

void ext_ep_mod(struct ext_dom *d, int fd, uint32_t events, struct ext_ep *ep)
{
    struct epoll_event ev = { .events = events, .data.ptr = ep };
    if (epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev))
        XENSIM_DIE("epoll_ctl", errno);
}

void ext_ep_del(struct ext_dom *d, int fd)
{
    epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* The hypervisor socket is SOCK_SEQPACKET (hvsock.h); the xenstore one
 * SOCK_STREAM, as libxenstore connects. */
static int listen_at(const char *path, int type)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 64)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

static void conn_free(struct ext_dom *d, struct ext_conn *c)
{
    if (c->ops)
        c->ops->close(c);
    ext_ep_del(d, c->fd);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        d->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    d->nr_conns--;
    free(c);
}

/* Sends one reply with its descriptors, which are closed afterwards. A
 * process that does not read its replies is not waited for: its
 * connection ends. Returns false when it did. */
static bool conn_send(struct ext_conn *c, const void *buf, size_t len, int *fds,
                      unsigned int nfds)
{
    union {
        char buf[CMSG_SPACE(EXT_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (nfds) {
        mh.msg_control = cm.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        struct cmsghdr *h = CMSG_FIRSTHDR(&mh);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(h), fds, nfds * sizeof(int));
    }
    ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    for (unsigned int i = 0; i < nfds; i++)
        close(fds[i]);
    return n == (ssize_t)len;
}

static bool conn_hello(struct ext_conn *c, const void *msg, size_t len)
{
    const struct xensim_hv_hello *h = msg;
    struct xensim_hv_hello_rep rep = {
        .domid = c->d->domid, .max_ports = XENSIM_HV_MAX_PORTS, .version = XENSIM_HV_VERSION,
    };
    int fd = -1;

    if (len != sizeof(*h) || h->op != XENSIM_HV_OP_HELLO || h->magic != XENSIM_HV_MAGIC)
        return false;
    if (h->version != XENSIM_HV_VERSION || h->flags)
        rep.rc = -EINVAL;
    else if (h->kind >= ARRAY_SIZE(kinds) || !kinds[h->kind])
        rep.rc = -EINVAL;
    else if (h->domid != DOMID_SELF && h->domid != c->d->domid)
        rep.rc = -EPERM;            /* the socket says who the process is */
    else
        rep.rc = kinds[h->kind]->open(c, &fd);
    if (!rep.rc)
        c->ops = kinds[h->kind];
    return conn_send(c, &rep, sizeof(rep), &fd, fd >= 0) && !rep.rc;
}

/* One packet; false when the connection must end. */
static bool conn_packet(struct ext_dom *d, struct ext_conn *c)
{
    union {
        char buf[CMSG_SPACE(EXT_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = { .iov_base = d->rbuf, .iov_len = EXT_REQUEST_MAX };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
    ssize_t n = recvmsg(c->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    /* Descriptors sent to the simulator are never asked for. */
    bool fds = false;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        int *p = (int *)CMSG_DATA(h);
        for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
            close(p[i]);
        fds = true;
    }
    if (n == 0 || fds || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < 4)
        return false;
    if (!c->ops)
        return conn_hello(c, d->rbuf, (size_t)n);

    int out[EXT_MAX_FDS];
    unsigned int nfds = 0;
    size_t rep_len = 0;
    if (c->ops->request(c, d->rbuf, (size_t)n, d->wbuf, &rep_len, out, &nfds))
        return false;
    return !rep_len || conn_send(c, d->wbuf, rep_len, out, nfds);
}

static void conn_event(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    struct ext_conn *c = container_of(ep, struct ext_conn, ep);
    /* Requests before a hang-up are still answered (a process may send
     * and close); the end comes when recv finds nothing more. */
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn_packet(d, c))
        conn_free(d, c);
}

static void hv_accept(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    (void)ep;
    (void)events;
    int fd = accept4(d->hv_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    struct ext_conn *c = d->nr_conns < EXT_MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
    if (!c) {
        close(fd);
        return;
    }
    c->ep.fn = conn_event;
    c->d = d;
    c->fd = fd;
    if (ext_ep_add(d, fd, EPOLLIN, &c->ep)) {
        close(fd);
        free(c);
        return;
    }
    c->next = d->conns;
    if (d->conns)
        d->conns->prev = c;
    d->conns = c;
    d->nr_conns++;
}

static void xs_accept(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    (void)ep;
    (void)events;
    int fd = accept4(d->xs_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0)
        ext_xenbus_accept(d, fd);
}

static void wake_event(struct ext_dom *d, struct ext_ep *ep, uint32_t events)
{
    (void)ep;
    (void)events;
    uint64_t v;
    if (read(d->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        XENSIM_DIE("eventfd read", errno);
}

/* What sync reports, taken on the domain's thread. */
static void dom_snapshot(struct ext_dom *d)
{
    struct xensim_external_stats *st = &d->stats;
    memset(st, 0, sizeof(*st));
    st->connections = d->nr_conns;
    st->ports = ext_evtchn_ports(d);
    st->maps = d->nr_maps;
    st->shares = d->nr_shares;
    st->deferred = ext_gntalloc_deferred(d);
    st->xenstore_clients = ext_xenbus_clients(d);
}

static void *dom_main(void *arg)
{
    struct ext_dom *d = arg;
    struct ext_server *srv = d->srv;
    struct epoll_event evs[32];

    for (;;) {
        xensim_mutex_lock(&srv->lock);
        bool stop = d->stop, want_sync = d->sync_req != d->sync_done;
        unsigned long sync = d->sync_req;
        xensim_mutex_unlock(&srv->lock);
        if (stop)
            break;
        int timeout = -1;
        if (want_sync && !ext_xenbus_busy(d))
            timeout = 0;
        else if (d->deferred)
            timeout = (int)srv->retry_ms;
        int n = epoll_wait(d->epfd, evs, ARRAY_SIZE(evs), timeout);
        if (n < 0 && errno != EINTR)
            XENSIM_DIE("epoll_wait", errno);
        for (int i = 0; i < n; i++) {
            struct ext_ep *ep = evs[i].data.ptr;
            ep->fn(d, ep, evs[i].events);
        }
        if (n <= 0 && d->deferred)
            ext_gntalloc_retry(d);
        /* Nothing left to read and no ring reply awaited: what the
         * sockets held when sync was asked is done. */
        if (n == 0 && want_sync && !ext_xenbus_busy(d)) {
            ext_gntalloc_retry(d);
            xensim_mutex_lock(&srv->lock);
            dom_snapshot(d);
            d->sync_done = sync;
            pthread_cond_broadcast(&srv->cond);
            xensim_mutex_unlock(&srv->lock);
        }
    }
    while (d->conns)
        conn_free(d, d->conns);
    ext_xenbus_stop(d);
    ext_gntalloc_drop_deferred(d);
    return NULL;
}

/* The sockets go with the domain: nothing may connect to a domain that
 * is gone, nor to the next one given its id. */
void ext_dom_free(struct ext_dom *d)
{
    char path[sizeof(d->path) + 16];

    if (d->hv_listen >= 0) {
        snprintf(path, sizeof(path), "%s/hypervisor", d->path);
        unlink(path);
        close(d->hv_listen);
    }
    if (d->xs_listen >= 0) {
        snprintf(path, sizeof(path), "%s/xenstore", d->path);
        unlink(path);
        close(d->xs_listen);
    }
    if (d->path[0])
        rmdir(d->path);
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    if (d->epfd >= 0)
        close(d->epfd);
    free(d->rbuf);
    free(d->wbuf);
    free(d);
}

struct ext_dom *ext_dom_start(struct ext_server *srv, domid_t domid)
{
    struct xensim_domain_info info;
    char path[sizeof(((struct ext_dom *)0)->path) + 16];
    struct ext_dom *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->wake_fd = d->hv_listen = d->xs_listen = d->epfd = -1;
    if (xensim_domain_info(srv->sim, domid, &info))
        goto fail;
    d->srv = srv;
    d->domid = domid;
    d->privileged = info.privileged;
    d->rbuf = malloc(EXT_REQUEST_MAX);
    d->wbuf = malloc(EXT_REPLY_MAX);
    if (!d->rbuf || !d->wbuf)
        goto fail;
    snprintf(d->path, sizeof(d->path), "%s/dom/%u", srv->dir, domid);
    if (mkdir(d->path, 0755) && errno != EEXIST)
        goto fail;
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    snprintf(path, sizeof(path), "%s/hypervisor", d->path);
    d->hv_listen = listen_at(path, SOCK_SEQPACKET);
    if (d->epfd < 0 || d->wake_fd < 0 || d->hv_listen < 0)
        goto fail;
    if (domid && info.store_port) {
        snprintf(path, sizeof(path), "%s/xenstore", d->path);
        d->xs_listen = listen_at(path, SOCK_STREAM);
        if (d->xs_listen < 0)
            goto fail;
    }
    d->wake_ep.fn = wake_event;
    d->hv_ep.fn = hv_accept;
    d->xs_ep.fn = xs_accept;
    if (ext_ep_add(d, d->wake_fd, EPOLLIN, &d->wake_ep) ||
        ext_ep_add(d, d->hv_listen, EPOLLIN, &d->hv_ep) ||
        (d->xs_listen >= 0 && ext_ep_add(d, d->xs_listen, EPOLLIN, &d->xs_ep)))
        goto fail;
    int err = pthread_create(&d->thread, NULL, dom_main, d);
    if (err) {
        errno = err;
        goto fail;
    }
    return d;
fail:
    if (d)
        ext_dom_free(d);
    return NULL;
}

void ext_dom_stop(struct ext_dom *d)
{
    uint64_t one = 1;

    xensim_mutex_lock(&d->srv->lock);
    d->stop = true;
    /* Its thread may wait for the toolstack thread (ext_domain_new). */
    pthread_cond_broadcast(&d->srv->cond);
    xensim_mutex_unlock(&d->srv->lock);
    if (write(d->wake_fd, &one, sizeof(one)) != sizeof(one))
        XENSIM_DIE("eventfd write", errno);
    XENSIM_CHECK(pthread_join(d->thread, NULL));
}
