/*
 * The toolstack's XenStore client (xs_client.h): requests framed as
 * struct xsd_sockmsg with the transaction id the connection holds,
 * replies matched by request id, errors mapped back through the ABI's
 * xsd_errors table. Relies on common/unix_socket.h for the path.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "unix_socket.h"
#include "util.h"
#include "xs_client.h"

int ts_xs_open_path(struct ts_xs *x, const char *path)
{
    int fd = xensim_unix_connect(path);

    if (fd < 0)
        return fd;
    ts_xs_open_fd(x, fd);
    return 0;
}

void ts_xs_open_fd(struct ts_xs *x, int fd)
{
    x->fd = fd;
    x->tx = 0;
    x->req_id = 0;
}

void ts_xs_close(struct ts_xs *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
}

/* A peer that went away is an error, never a SIGPIPE. */
static int send_all(int fd, const void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = send(fd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += n;
    }
    return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        done += n;
    }
    return 0;
}

static int errno_named(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(xsd_errors); i++)
        if (!strcmp(name, xsd_errors[i].errstring))
            return -xsd_errors[i].errnum;
    return -EINVAL;
}

int ts_xs_req(struct ts_xs *x, uint32_t type, const void *a, size_t alen, const void *b,
              size_t blen)
{
    struct xsd_sockmsg req = { .type = type, .req_id = ++x->req_id, .tx_id = x->tx,
                               .len = (uint32_t)(alen + blen) };
    char msg[sizeof(req) + XENSTORE_PAYLOAD_MAX];
    struct xsd_sockmsg rep;
    int err;

    if (alen + blen > XENSTORE_PAYLOAD_MAX)
        return -E2BIG;
    /* In one piece: xenstored then has the whole message at once. */
    memcpy(msg, &req, sizeof(req));
    if (alen)
        memcpy(msg + sizeof(req), a, alen);
    if (blen)
        memcpy(msg + sizeof(req) + alen, b, blen);
    if ((err = send_all(x->fd, msg, sizeof(req) + req.len)))
        return err;
    /* We set no watches, but skip any event all the same. */
    do {
        if ((err = recv_all(x->fd, &rep, sizeof(rep))))
            return err;
        if (rep.len > XENSTORE_PAYLOAD_MAX)
            return -EIO;
        if ((err = recv_all(x->fd, x->reply, rep.len)))
            return err;
        x->reply[rep.len] = '\0';
    } while (rep.type == XS_WATCH_EVENT || rep.req_id != req.req_id);
    return rep.type == XS_ERROR ? errno_named(x->reply) : (int)rep.len;
}

static int req_path(struct ts_xs *x, uint32_t type, const char *path, const void *b,
                    size_t blen)
{
    int n = ts_xs_req(x, type, path, strlen(path) + 1, b, blen);

    return n < 0 ? n : 0;
}

int ts_xs_read(struct ts_xs *x, const char *path)
{
    return ts_xs_req(x, XS_READ, path, strlen(path) + 1, NULL, 0);
}

int ts_xs_write(struct ts_xs *x, const char *path, const char *value)
{
    return req_path(x, XS_WRITE, path, value, strlen(value));
}

int ts_xs_mkdir(struct ts_xs *x, const char *path)
{
    return req_path(x, XS_MKDIR, path, NULL, 0);
}

int ts_xs_rm(struct ts_xs *x, const char *path)
{
    return req_path(x, XS_RM, path, NULL, 0);
}

int ts_xs_set_perms(struct ts_xs *x, const char *path, const struct xs_permissions *perms,
                    unsigned int num)
{
    static const char letters[] = "nrwb";
    char p[XENSTORE_PAYLOAD_MAX];
    size_t len = 0;

    if (!num)
        return -EINVAL;
    for (unsigned int i = 0; i < num; i++) {
        int n = snprintf(p + len, sizeof(p) - len, "%c%u",
                         letters[perms[i].perms & (XS_PERM_READ | XS_PERM_WRITE)], perms[i].id);

        if (n < 0 || (size_t)n + 1 >= sizeof(p) - len)
            return -E2BIG;
        len += n + 1;
    }
    return req_path(x, XS_SET_PERMS, path, p, len);
}

int ts_xs_start(struct ts_xs *x)
{
    int n = ts_xs_req(x, XS_TRANSACTION_START, "", 1, NULL, 0);

    if (n < 0)
        return n;
    x->tx = (uint32_t)strtoul(x->reply, NULL, 10);
    return 0;
}

int ts_xs_end(struct ts_xs *x, bool abort)
{
    int n = ts_xs_req(x, XS_TRANSACTION_END, abort ? "F" : "T", 2, NULL, 0);

    x->tx = 0;
    return n < 0 ? n : 0;
}

int ts_xs_introduce(struct ts_xs *x, domid_t domid, unsigned long gfn, uint32_t port)
{
    char p[64];
    int len = snprintf(p, sizeof(p), "%u%c%lu%c%u", domid, 0, gfn, 0, port) + 1;
    int n = ts_xs_req(x, XS_INTRODUCE, p, len, NULL, 0);

    return n < 0 ? n : 0;
}

int ts_xs_is_introduced(struct ts_xs *x, domid_t domid)
{
    char p[16];
    int len = snprintf(p, sizeof(p), "%u", domid) + 1;
    int n = ts_xs_req(x, XS_IS_DOMAIN_INTRODUCED, p, len, NULL, 0);

    return n < 0 ? n : !strcmp(x->reply, "T");
}
