/*
 * The drop-in libraries' end of the hypervisor socket: see hv.h. Relies
 * on libc and <xensim/hvsock.h> only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "hv.h"
#include "unix_socket.h"
#include "util.h"

/* The domain the process believes it is; the socket decides. */
static uint32_t claimed_domid(void)
{
    const char *s = getenv("XENSIM_DOMID");
    char *end;
    if (!s || !*s)
        return 0x7FF0;              /* DOMID_SELF */
    unsigned long v = strtoul(s, &end, 10);
    return *end || v > 0xFFFF ? 0xFFFF : (uint32_t)v;
}

static ssize_t recv_with_fds(struct hv_conn *c, void *buf, size_t size, int *fds,
                             unsigned int maxfds, unsigned int *nfds)
{
    union {
        char buf[CMSG_SPACE(64 * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = { .iov_base = buf, .iov_len = size };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
    ssize_t n;

    do
        n = recvmsg(c->fd, &mh, c->cloexec ? MSG_CMSG_CLOEXEC : 0);
    while (n < 0 && errno == EINTR);
    if (nfds)
        *nfds = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
            continue;
        int *p = (int *)CMSG_DATA(h);
        size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            if (nfds && *nfds < maxfds)
                fds[(*nfds)++] = p[i];
            else
                close(p[i]);
        }
    }
    if (n == 0 || (n > 0 && (mh.msg_flags & MSG_TRUNC))) {
        if (nfds)
            while (*nfds)
                close(fds[--*nfds]);
        errno = n == 0 ? ESRCH : EPROTO;
        return -1;
    }
    return n;
}

int hv_open(struct hv_conn *c, uint32_t kind, bool cloexec, struct xensim_hv_hello_rep *rep,
            int *fd)
{
    const char *path = getenv(XENSIM_HV_PATH_ENV);
    struct xensim_hv_hello h = {
        .op = XENSIM_HV_OP_HELLO, .magic = XENSIM_HV_MAGIC, .version = XENSIM_HV_VERSION,
        .kind = kind, .domid = claimed_domid(),
    };
    unsigned int nfds = 0;

    if (fd)
        *fd = -1;
    if (!path || !*path) {
        errno = ENOENT;
        return -1;
    }
    c->cloexec = cloexec;
    c->fd = xensim_unix_connect_type(path, SOCK_SEQPACKET | (cloexec ? SOCK_CLOEXEC : 0));
    if (c->fd < 0) {
        errno = -c->fd;
        c->fd = -1;
        return -1;
    }
    if (send(c->fd, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
        goto fail;
    int got = -1;
    ssize_t n = recv_with_fds(c, rep, sizeof(*rep), &got, 1, &nfds);
    if (n < 0)
        goto fail;
    if (n != sizeof(*rep) || rep->rc < 0) {
        if (nfds)
            close(got);
        errno = n != sizeof(*rep) ? EPROTO : -rep->rc;
        goto fail;
    }
    if (nfds) {
        if (fd)
            *fd = got;
        else
            close(got);
    }
    XENSIM_CHECK(pthread_mutex_init(&c->lock, NULL));
    return 0;
fail: {
        int err = errno;
        close(c->fd);
        c->fd = -1;
        errno = err;
        return -1;
    }
}

void hv_close(struct hv_conn *c)
{
    if (c->fd < 0)
        return;
    close(c->fd);
    c->fd = -1;
    pthread_mutex_destroy(&c->lock);
}

ssize_t hv_call(struct hv_conn *c, const void *req, size_t len, void *rep, size_t size,
                int *fds, unsigned int maxfds, unsigned int *nfds)
{
    ssize_t n = -1;

    xensim_mutex_lock(&c->lock);
    if (send(c->fd, req, len, MSG_NOSIGNAL) == (ssize_t)len)
        n = recv_with_fds(c, rep, size, fds, maxfds, nfds);
    else if (errno == EPIPE || errno == ECONNRESET)
        errno = ESRCH;
    xensim_mutex_unlock(&c->lock);
    return n;
}

int hv_post(struct hv_conn *c, const void *req, size_t len)
{
    xensim_mutex_lock(&c->lock);
    ssize_t n = send(c->fd, req, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
        errno = ESRCH;
    xensim_mutex_unlock(&c->lock);
    return n == (ssize_t)len ? 0 : -1;
}

int hv_simple(struct hv_conn *c, uint32_t op, uint32_t a, uint32_t b)
{
    struct xensim_hv_req r = { .op = op, .a = a, .b = b };
    struct xensim_hv_rep rep;
    ssize_t n = hv_call(c, &r, sizeof(r), &rep, sizeof(rep), NULL, 0, NULL);

    if (n < 0)
        return -1;
    if (n != sizeof(rep)) {
        errno = EPROTO;
        return -1;
    }
    if (rep.rc < 0) {
        errno = -rep.rc;
        return -1;
    }
    return rep.rc;
}

void *hv_map_pages_at(void *addr, int flags, const struct xensim_hv_page *pages,
                      unsigned int count, const int *fds, unsigned int nfds, int prot)
{
    size_t len = (size_t)count * XEN_PAGE_SIZE;
    uint8_t *base = mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | (flags & MAP_FIXED),
                         -1, 0);

    if (base == MAP_FAILED)
        return NULL;
    for (unsigned int i = 0; i < count;) {
        unsigned int run = 1;
        if (pages[i].status) {
            i++;
            continue;
        }
        if (pages[i].fd >= nfds) {
            munmap(base, len);
            errno = EPROTO;
            return NULL;
        }
        while (i + run < count && !pages[i + run].status && pages[i + run].fd == pages[i].fd &&
               pages[i + run].offset == pages[i].offset + (uint64_t)run * XEN_PAGE_SIZE)
            run++;
        void *p = mmap(base + (size_t)i * XEN_PAGE_SIZE, (size_t)run * XEN_PAGE_SIZE, prot,
                       MAP_SHARED | MAP_FIXED, fds[pages[i].fd], (off_t)pages[i].offset);
        if (p == MAP_FAILED) {
            int err = errno;
            munmap(base, len);
            errno = err;
            return NULL;
        }
        i += run;
    }
    return base;
}

void *hv_map_pages(const struct xensim_hv_page *pages, unsigned int count, const int *fds,
                   unsigned int nfds, int prot)
{
    return hv_map_pages_at(NULL, 0, pages, count, fds, nfds, prot);
}

/* DOMID_INVALID */
#define HV_UNRESTRICTED 0x7FF4u

void hv_restriction_init(struct hv_restriction *r)
{
    pthread_mutex_init(&r->lock, NULL);
    r->domid = HV_UNRESTRICTED;
}

void hv_restriction_destroy(struct hv_restriction *r)
{
    pthread_mutex_destroy(&r->lock);
}

int hv_restriction_set(struct hv_restriction *r, uint32_t domid)
{
    int rc = 0;

    pthread_mutex_lock(&r->lock);
    if (r->domid == HV_UNRESTRICTED)
        r->domid = domid;
    else if (r->domid != domid)
        rc = -1;
    pthread_mutex_unlock(&r->lock);
    if (rc)
        errno = EINVAL;
    return rc;
}

bool hv_restriction_allows(struct hv_restriction *r, uint32_t domid)
{
    pthread_mutex_lock(&r->lock);
    bool ok = r->domid == HV_UNRESTRICTED || r->domid == domid;
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void *hv_privcmd_new(size_t size)
{
    struct xensim_hv_hello_rep rep;
    struct hv_privcmd *p = calloc(1, size);

    if (!p)
        return NULL;
    if (hv_open(&p->c, XENSIM_HV_PRIVCMD, true, &rep, NULL)) {
        int err = errno;
        free(p);
        errno = err;
        return NULL;
    }
    p->self = rep.domid;
    hv_restriction_init(&p->restricted);
    return p;
}

void hv_privcmd_free(struct hv_privcmd *p)
{
    if (!p)
        return;
    hv_close(&p->c);
    hv_restriction_destroy(&p->restricted);
    free(p);
}
