/*
 * The unix socket transport: a connection speaks for the domain its
 * listening socket was made for (dom0, privileged, as with C xenstored). Read and write handlers run on the loop thread
 * (xs_daemon.c); framing and dispatch are xs_conn.c's.
 */
#include "config.h"

#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "xs_internal.h"

#define SPIN_NS 20000

struct xs_sock {
    struct xs_daemon *xs;
    struct xs_conn *conn;
    int fd;
    bool refused;                        /* its domain was at its memory quota */
    size_t ilen, ioff, olen, ooff;
    char ibuf[16384];
    char obuf[16384];
};

static void sock_kick(struct xs_conn *c)
{
    if (!xs_on_loop_thread(c->xs))
        xs_daemon_wake(c->xs);
}

static const struct xs_conn_ops sock_ops = { .kick = sock_kick };

struct xs_sock *xs_sock_new(struct xs_daemon *xs, int fd, domid_t domid)
{
    struct xs_sock *s = xs_alloc(sizeof(*s));

    s->xs = xs;
    s->fd = fd;
    /* An unprivileged domain's sockets count toward its memory (see
     * xs_conn.c); at its quota it gets no more: closed at once. */
    s->refused = domid != 0 && xs_mem_over(xs, domid);
    s->conn = xs_conn_new(xs, XS_CONN_SOCKET, domid, &sock_ops, s);
    if (s->conn->charged)
        xs_mem_add(xs, domid, sizeof(*s));
    return s;
}

void xs_sock_free(struct xs_sock *s)
{
    if (s->conn->charged)
        xs_mem_add(s->xs, s->conn->domid, -(long)sizeof(*s));
    xs_conn_free(s->conn);
    close(s->fd);
    free(s);
}

int xs_sock_fd(const struct xs_sock *s)
{
    return s->fd;
}

static bool flush(struct xs_sock *s)
{
    for (;;) {
        ssize_t n;

        if (s->ooff == s->olen) {
            s->olen = xs_conn_out_take(s->conn, s->obuf, sizeof(s->obuf));
            s->ooff = 0;
            if (!s->olen)
                return true;
        }
        n = send(s->fd, s->obuf + s->ooff, s->olen - s->ooff, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        s->ooff += n;
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

bool xs_sock_service(struct xs_sock *s, uint32_t events)
{
    bool readable = events & (EPOLLIN | EPOLLHUP | EPOLLERR);
    uint64_t spin_until = 0;

    if (s->refused)
        return false;

    for (;;) {
        long used;

        if (xs_conn_stalled(s->conn) && s->conn->in_have == 0) {
            if (!flush(s))
                return false;
            if (xs_conn_stalled(s->conn))
                break;
        }
        if (s->ioff == s->ilen) {
            ssize_t n;

            if (!readable)
                break;
            n = recv(s->fd, s->ibuf, sizeof(s->ibuf), MSG_DONTWAIT);
            if (n == 0)
                return false;
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                    return false;
                /* libxenstore writes a header and its payload in two
                 * calls: wait briefly for the rest rather than going
                 * back to sleep in epoll between the two. */
                if (!s->conn->in_have)
                    break;
                if (!spin_until)
                    spin_until = now_ns() + SPIN_NS;
                else if (now_ns() > spin_until)
                    break;
                continue;
            }
            s->ilen = n;
            s->ioff = 0;
            if ((size_t)n < sizeof(s->ibuf))
                readable = false;
        }
        used = xs_conn_feed(s->conn, s->ibuf + s->ioff, s->ilen - s->ioff);
        if (used < 0)
            return false;
        s->ioff += used;
    }
    return flush(s);
}

uint32_t xs_sock_wanted(struct xs_sock *s)
{
    uint32_t ev = 0;

    if (!(xs_conn_stalled(s->conn) && s->conn->in_have == 0))
        ev |= EPOLLIN;
    if (s->ooff < s->olen || xs_conn_out_pending(s->conn))
        ev |= EPOLLOUT;
    return ev;
}
