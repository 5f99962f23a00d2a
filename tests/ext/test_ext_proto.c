/*
 * The hypervisor socket (<xensim/hvsock.h>) spoken by hand, as a
 * hostile or broken process would: garbage, a claim to be another
 * domain, refs never granted, more maps than the maptrack allows, a death
 * in the middle of a call. Each gets Xen's (or Linux's) error or the
 * connection's end, and the server goes on. Also what each kind does
 * when a process ends: ports closed, pins dropped, grants ended (or
 * deferred while a peer maps them), unmap notifications sent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xensim/hvsock.h>
#include "ext_fixture.h"
#include "util.h"

static int hv_connect(struct ext_fix *f, domid_t dom)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dom/%u/hypervisor", f->dir, dom);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* A reply with up to 8 descriptors; its length. */
static ssize_t hv_recv(int fd, void *buf, size_t size, int *fds, unsigned int *nfds)
{
    union {
        char b[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr a;
    } cm;
    struct iovec iov = { .iov_base = buf, .iov_len = size };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                         .msg_controllen = sizeof(cm.b) };
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ck_assert_int_eq(poll(&p, 1, 60000), 1);
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    unsigned int k = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&mh); h; h = CMSG_NXTHDR(&mh, h))
        for (size_t i = 0; i < (h->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
            int d = ((int *)CMSG_DATA(h))[i];
            if (fds && k < 8)
                fds[k++] = d;
            else
                close(d);
        }
    if (nfds)
        *nfds = k;
    return n;
}

static int32_t hv_hello(int fd, uint32_t kind, uint32_t domid, int *evfd)
{
    struct xensim_hv_hello h = { .op = XENSIM_HV_OP_HELLO, .magic = XENSIM_HV_MAGIC,
                                 .version = XENSIM_HV_VERSION, .kind = kind, .domid = domid };
    struct xensim_hv_hello_rep rep;
    int fds[8];
    unsigned int n = 0;
    ck_assert_int_eq(send(fd, &h, sizeof(h), 0), sizeof(h));
    ck_assert_int_eq(hv_recv(fd, &rep, sizeof(rep), fds, &n), sizeof(rep));
    if (evfd)
        *evfd = n ? fds[0] : -1;
    else
        while (n)
            close(fds[--n]);
    return rep.rc;
}

static int hv_open(struct ext_fix *f, domid_t dom, uint32_t kind, int *evfd)
{
    int fd = hv_connect(f, dom);
    ck_assert_int_eq(hv_hello(fd, kind, DOMID_SELF, evfd), 0);
    return fd;
}

static int32_t hv_req(int fd, uint32_t op, uint32_t a, uint32_t b)
{
    struct xensim_hv_req r = { .op = op, .a = a, .b = b };
    struct xensim_hv_rep rep;
    ck_assert_int_eq(send(fd, &r, sizeof(r), 0), sizeof(r));
    ck_assert_int_eq(hv_recv(fd, &rep, sizeof(rep), NULL, NULL), sizeof(rep));
    return rep.rc;
}

/* The server ended the connection. */
static bool hv_closed(int fd)
{
    char b[64];
    struct pollfd p = { .fd = fd, .events = POLLIN };
    ck_assert_int_eq(poll(&p, 1, 60000), 1);
    return recv(fd, b, sizeof(b), 0) == 0;
}

/* After each bad input the server still answers. */
static void still_serves(struct ext_fix *f, domid_t dom)
{
    int fd = hv_open(f, dom, XENSIM_HV_PRIVCMD, NULL);
    close(fd);
}

START_TEST(test_garbage)
{
    struct ext_fix f;
    ext_fix_start(&f);
    static const uint8_t junk[][8] = { { 1, 2, 3 }, { 0xff, 0xff, 0xff, 0xff, 9, 9, 9, 9 } };
    for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
        int fd = hv_connect(&f, 0);
        ck_assert_int_eq(send(fd, junk[i], i ? 8 : 3, 0), i ? 8 : 3);
        ck_assert(hv_closed(fd));
        close(fd);
    }
    /* A big packet of noise. */
    uint8_t big[65536];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 131 + 7);
    int fd = hv_connect(&f, 0);
    ck_assert_int_eq(send(fd, big, sizeof(big), 0), sizeof(big));
    ck_assert(hv_closed(fd));
    close(fd);
    /* A request before HELLO; a HELLO with the wrong magic or version. */
    fd = hv_connect(&f, 0);
    struct xensim_hv_req r = { .op = XENSIM_HV_OP_NOTIFY, .a = 1 };
    ck_assert_int_eq(send(fd, &r, sizeof(r), 0), sizeof(r));
    ck_assert(hv_closed(fd));
    close(fd);
    fd = hv_connect(&f, 0);
    struct xensim_hv_hello h = { .op = XENSIM_HV_OP_HELLO, .magic = 0x12345678,
                                 .version = XENSIM_HV_VERSION, .kind = XENSIM_HV_EVTCHN,
                                 .domid = DOMID_SELF };
    ck_assert_int_eq(send(fd, &h, sizeof(h), 0), sizeof(h));
    ck_assert(hv_closed(fd));
    close(fd);
    fd = hv_connect(&f, 0);
    h.magic = XENSIM_HV_MAGIC;
    h.version = 99;
    struct xensim_hv_hello_rep hr;
    ck_assert_int_eq(send(fd, &h, sizeof(h), 0), sizeof(h));
    ck_assert_int_eq(hv_recv(fd, &hr, sizeof(hr), NULL, NULL), sizeof(hr));
    ck_assert_int_eq(hr.rc, -EINVAL);
    ck_assert(hv_closed(fd));
    close(fd);
    /* An unknown kind; then, after a good HELLO, a short request, an op
     * of another kind, an unknown op, descriptors sent along. */
    fd = hv_connect(&f, 0);
    ck_assert_int_eq(hv_hello(fd, 77, DOMID_SELF, NULL), -EINVAL);
    ck_assert(hv_closed(fd));
    close(fd);
    uint32_t ops[] = { XENSIM_HV_OP_MAP, 0x99, XENSIM_HV_OP_DOMAIN_NEW };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        int evfd;
        fd = hv_open(&f, 0, XENSIM_HV_EVTCHN, &evfd);
        r = (struct xensim_hv_req){ .op = ops[i] };
        ck_assert_int_eq(send(fd, &r, sizeof(r), 0), sizeof(r));
        ck_assert(hv_closed(fd));
        close(fd);
        close(evfd);
    }
    fd = hv_open(&f, 0, XENSIM_HV_PRIVCMD, NULL);
    ck_assert_int_eq(send(fd, &r, 6, 0), 6);
    ck_assert(hv_closed(fd));
    close(fd);
    fd = hv_open(&f, 0, XENSIM_HV_PRIVCMD, NULL);
    {
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr a;
        } cm;
        r = (struct xensim_hv_req){ .op = XENSIM_HV_OP_DOMAIN_INFO, .b = 1 };
        struct iovec iov = { .iov_base = &r, .iov_len = sizeof(r) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                             .msg_controllen = sizeof(cm.b) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int zero = 0;
        memcpy(CMSG_DATA(c), &zero, sizeof(int));
        ck_assert_int_eq(sendmsg(fd, &mh, 0), sizeof(r));
    }
    ck_assert(hv_closed(fd));
    close(fd);
    still_serves(&f, 0);
    ext_fix_stop(&f);
}
END_TEST

/* The socket says who the process is: a HELLO claiming another domain
 * is refused and the connection ends. */
START_TEST(test_claims_other_domain)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int fd = hv_connect(&f, 0);
    ck_assert_int_eq(hv_hello(fd, XENSIM_HV_EVTCHN, g, NULL), -EPERM);
    ck_assert(hv_closed(fd));
    close(fd);
    fd = hv_connect(&f, g);
    ck_assert_int_eq(hv_hello(fd, XENSIM_HV_GNTDEV, 0, NULL), -EPERM);
    ck_assert(hv_closed(fd));
    close(fd);
    /* Its own id, or DOMID_SELF, is fine. */
    fd = hv_connect(&f, g);
    ck_assert_int_eq(hv_hello(fd, XENSIM_HV_GNTDEV, g, NULL), 0);
    close(fd);
    still_serves(&f, g);
    ext_fix_stop(&f);
}
END_TEST

static long g_alloc_unbound(void *arg)
{
    return xensim_evtchn_alloc_unbound(*(domid_t *)arg);
}

struct bind_args {
    domid_t dom;
    evtchn_port_t port;
};

static long g_bind(void *arg)
{
    struct bind_args *b = arg;
    return xensim_evtchn_bind_interdomain(b->dom, b->port);
}

static long g_send(void *arg)
{
    return xensim_evtchn_send(*(evtchn_port_t *)arg);
}

static long g_clear(void *arg)
{
    xensim_evtchn_clear_pending(*(evtchn_port_t *)arg);
    return 0;
}

static long g_close(void *arg)
{
    return xensim_evtchn_close(*(evtchn_port_t *)arg);
}

static struct xensim_port_info port_info(struct xensim *sim, domid_t dom, evtchn_port_t port)
{
    struct xensim_port_info rows[64];
    int n = xensim_port_list(sim, dom, rows, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (rows[i].port == port)
            return rows[i];
    return (struct xensim_port_info){ .status = EVTCHNSTAT_closed };
}

static uint32_t read_port(int evfd)
{
    uint32_t p = 0;
    struct pollfd pf = { .fd = evfd, .events = POLLIN };
    ck_assert_int_eq(poll(&pf, 1, 60000), 1);
    ck_assert_int_eq(read(evfd, &p, sizeof(p)), sizeof(p));
    return p;
}

static bool pipe_empty(int evfd)
{
    struct pollfd pf = { .fd = evfd, .events = POLLIN };
    return poll(&pf, 1, 0) == 0;
}

/* /dev/xen/evtchn's answers, and the close of a handle. */
START_TEST(test_evtchn)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int evfd, fd = hv_open(&f, 0, XENSIM_HV_EVTCHN, &evfd);

    int32_t lp = hv_req(fd, XENSIM_HV_OP_BIND_UNBOUND, g, 0);
    ck_assert_int_gt(lp, 0);
    struct bind_args b = { .dom = 0, .port = (evtchn_port_t)lp };
    long gp = th_call_long(f.sim, g, 0, g_bind, &b);
    ck_assert_int_gt(gp, 0);
    ck_assert(pipe_empty(evfd));
    evtchn_port_t gport = (evtchn_port_t)gp;
    ck_assert_int_eq(th_call_long(f.sim, g, 0, g_send, &gport), 0);
    ck_assert_uint_eq(read_port(evfd), (uint32_t)lp);
    /* Masked until unmasked; a send meanwhile comes once, after. */
    ck_assert_int_eq(th_call_long(f.sim, g, 0, g_send, &gport), 0);
    ck_assert(pipe_empty(evfd));
    struct xensim_hv_req um = { .op = XENSIM_HV_OP_UNMASK, .a = (uint32_t)lp };
    ck_assert_int_eq(send(fd, &um, sizeof(um), 0), sizeof(um));
    ck_assert_uint_eq(read_port(evfd), (uint32_t)lp);
    ck_assert_int_eq(send(fd, &um, sizeof(um), 0), sizeof(um));
    /* notify reaches the guest's port. */
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_NOTIFY, (uint32_t)lp, 0), 0);
    ck_assert(port_info(f.sim, g, gport).pending);

    /* Ports the handle did not bind: Linux's ENOTCONN. */
    domid_t zero = 0;
    long other = th_call_long(f.sim, g, 0, g_alloc_unbound, &zero);
    ck_assert_int_gt(other, 0);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_NOTIFY, 999, 0), -ENOTCONN);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_UNBIND, 999, 0), -ENOTCONN);
    /* Xen's own checks pass through: bind to a port not unbound for us. */
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_BIND_INTERDOMAIN, g, gport), -EINVAL);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_BIND_INTERDOMAIN, 0x7FEF, 1), -ESRCH);

    /* Restricted to the guest: no more unbound ports or VIRQs, nor
     * binds to anyone else, and no second restriction. */
    int evfd2, fd2 = hv_open(&f, 0, XENSIM_HV_EVTCHN, &evfd2);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_RESTRICT, 0, 0), -EINVAL);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_RESTRICT, g, 0), 0);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_RESTRICT, g, 0), -EACCES);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_BIND_UNBOUND, g, 0), -EACCES);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_BIND_VIRQ, VIRQ_DOM_EXC, 0), -EACCES);
    ck_assert_int_eq(hv_req(fd2, XENSIM_HV_OP_BIND_INTERDOMAIN, 0, 1), -EACCES);
    int32_t rp = hv_req(fd2, XENSIM_HV_OP_BIND_INTERDOMAIN, g, (uint32_t)other);
    ck_assert_int_gt(rp, 0);
    close(fd2);
    close(evfd2);

    /* The handle's end closes its port; the guest's goes back to unbound. */
    close(fd);
    close(evfd);
    ext_fix_assert_idle(&f);
    struct xensim_port_info pi = port_info(f.sim, g, gport);
    ck_assert_uint_eq(pi.status, EVTCHNSTAT_unbound);
    ck_assert_uint_eq(pi.remote_dom, 0);
    pi = port_info(f.sim, g, (evtchn_port_t)other);
    ck_assert_uint_eq(pi.status, EVTCHNSTAT_unbound);
    ck_assert_int_eq(th_call_long(f.sim, g, 0, g_close, &gport), 0);
    evtchn_port_t op = (evtchn_port_t)other;
    ck_assert_int_eq(th_call_long(f.sim, g, 0, g_close, &op), 0);
    ext_fix_stop(&f);
}
END_TEST

/* Grants made by guest code, with the granter's view of each page. */
#define GMAX 300
struct grants {
    domid_t to;
    bool readonly;
    unsigned int n;
    xen_pfn_t pfn;
    uint8_t *page;
    long refs[GMAX];
    int busy;
};

static void g_grant(void *arg)
{
    struct grants *g = arg;
    ck_assert_int_eq(xensim_guest_page_alloc(&g->pfn), 0);
    g->page = xensim_guest_pfn_to_virt(g->pfn);
    memset(g->page, 0x5a, XEN_PAGE_SIZE);
    for (unsigned int i = 0; i < g->n; i++)
        g->refs[i] = xensim_gnttab_grant_access(g->to, g->pfn, g->readonly);
}

static void g_ungrant(void *arg)
{
    struct grants *g = arg;
    g->busy = 0;
    for (unsigned int i = 0; i < g->n; i++) {
        if (xensim_gnttab_end_access((grant_ref_t)g->refs[i])) {
            g->busy++;
            continue;
        }
        xensim_gnttab_free_ref((grant_ref_t)g->refs[i]);
    }
    if (!g->busy)
        xensim_guest_page_free(g->pfn);
}

/* MAP of n grants from one granter; the reply (static: one at a time). */
static struct xensim_hv_map_rep *hv_map(int fd, domid_t granter, const long *refs, unsigned int n,
                                        uint32_t flags, uint32_t notify_off, uint32_t notify_port,
                                        int *fds, unsigned int *nfds)
{
    static uint8_t req[sizeof(struct xensim_hv_map) + 2048 * sizeof(struct xensim_hv_gref)];
    static uint8_t rep[sizeof(struct xensim_hv_map_rep) + 2048 * sizeof(struct xensim_hv_page)];
    struct xensim_hv_map *m = (void *)req;
    *m = (struct xensim_hv_map){ .op = XENSIM_HV_OP_MAP, .count = n, .flags = flags,
                                 .notify_offset = notify_off, .notify_port = notify_port };
    for (unsigned int i = 0; i < n; i++)
        m->refs[i] = (struct xensim_hv_gref){ .domid = granter, .ref = (uint32_t)refs[i] };
    size_t len = sizeof(*m) + n * sizeof(m->refs[0]);
    ck_assert_int_eq(send(fd, m, len, 0), (ssize_t)len);
    ck_assert_int_ge(hv_recv(fd, rep, sizeof(rep), fds, nfds),
                     (ssize_t)sizeof(struct xensim_hv_map_rep));
    return (void *)rep;
}

START_TEST(test_gntdev)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    static struct grants ro, rw;
    ro = (struct grants){ .to = 0, .readonly = true, .n = 1 };
    rw = (struct grants){ .to = 0, .readonly = false, .n = 1 };
    th_call(f.sim, g, 0, g_grant, &ro);
    th_call(f.sim, g, 0, g_grant, &rw);
    int fd = hv_open(&f, 0, XENSIM_HV_GNTDEV, NULL), fds[8];
    unsigned int nfds;

    /* A ref never granted; a ref granted to someone else's id. */
    long bad[] = { 4000 };
    struct xensim_hv_map_rep *r = hv_map(fd, g, bad, 1, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds,
                                         &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    ck_assert_int_eq(r->pages[0].status, GNTST_bad_gntref);
    ck_assert_uint_eq(nfds, 0);
    /* A writable map of a read-only grant (Xen: general_error). */
    r = hv_map(fd, g, ro.refs, 1, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    ck_assert_int_eq(r->pages[0].status, GNTST_general_error);
    /* All or nothing: a good ref beside a bad one maps neither. */
    long mixed[] = { rw.refs[0], 4000 };
    r = hv_map(fd, g, mixed, 2, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    ck_assert_int_eq(r->pages[0].status, GNTST_okay);
    ck_assert_int_eq(r->pages[1].status, GNTST_bad_gntref);
    /* Counts: none, too many. */
    r = hv_map(fd, g, mixed, 0, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -E2BIG);
    /* A notify byte in a read-only map, or past its end; a port nobody bound. */
    r = hv_map(fd, g, ro.refs, 1, XENSIM_HV_MAP_READONLY, 10, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    r = hv_map(fd, g, rw.refs, 1, 0, XEN_PAGE_SIZE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    r = hv_map(fd, g, rw.refs, 1, 0, XENSIM_HV_NONE, 5, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);

    /* A read-only map gives a read-only descriptor. */
    r = hv_map(fd, g, ro.refs, 1, XENSIM_HV_MAP_READONLY, XENSIM_HV_NONE, XENSIM_HV_NONE, fds,
               &nfds);
    ck_assert_int_gt(r->rc, 0);
    int32_t ro_id = r->rc;
    ck_assert_uint_eq(nfds, 1);
    ck_assert_uint_eq(r->nr_fds, 1);
    void *w = mmap(NULL, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
                   (off_t)r->pages[0].offset);
    ck_assert(w == MAP_FAILED && errno == EACCES);
    uint8_t *p = mmap(NULL, XEN_PAGE_SIZE, PROT_READ, MAP_SHARED, fds[0], (off_t)r->pages[0].offset);
    ck_assert(p != MAP_FAILED);
    ck_assert_uint_eq(p[17], 0x5a);
    ro.page[17] = 0x33;             /* the granter writes, the process sees */
    ck_assert_uint_eq(p[17], 0x33);
    munmap(p, XEN_PAGE_SIZE);
    close(fds[0]);

    /* While mapped the granter cannot end the grant. */
    th_call(f.sim, g, 0, g_ungrant, &ro);
    ck_assert_int_eq(ro.busy, 1);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_UNMAP, 12345, 0), -EINVAL);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_UNMAP, (uint32_t)ro_id, 0), 0);
    ck_assert_int_eq(hv_req(fd, XENSIM_HV_OP_SET_MAX_GRANTS, 8, 0), 0);

    /* The end of the connection drops what it still maps. */
    r = hv_map(fd, g, rw.refs, 1, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_gt(r->rc, 0);
    close(fds[0]);
    close(fd);
    ext_fix_assert_idle(&f);
    th_call(f.sim, g, 0, g_ungrant, &ro);
    th_call(f.sim, g, 0, g_ungrant, &rw);
    ck_assert_int_eq(ro.busy + rw.busy, 0);
    ext_fix_stop(&f);
}
END_TEST

/* More pins than the mapping domain's maptrack holds: Xen's no_space,
 * and nothing of the failed MAP is left. */
START_TEST(test_maptrack_exceeded)
{
    struct ext_fix f;
    ext_fix_start(&f);
    struct xensim_domain_config cfg = { .name = "small", .max_maptrack_frames = 1 };
    domid_t m = th_domain_cfg(f.sim, &cfg);
    domid_t g = th_domain(f.sim, "granter", false, XENSIM_GNTTAB_FAST);
    static struct grants gr;
    gr = (struct grants){ .to = m, .n = 257 };
    th_call(f.sim, g, 0, g_grant, &gr);
    int fd = hv_open(&f, m, XENSIM_HV_GNTDEV, NULL), fds[8];
    unsigned int nfds;

    struct xensim_hv_map_rep *r = hv_map(fd, g, gr.refs, 257, 0, XENSIM_HV_NONE, XENSIM_HV_NONE,
                                         fds, &nfds);
    /* 255 fit in one maptrack frame: Xen keeps one entry free. */
    ck_assert_int_eq(r->rc, -EINVAL);
    ck_assert_int_eq(r->pages[254].status, GNTST_okay);
    ck_assert_int_eq(r->pages[255].status, GNTST_no_space);
    r = hv_map(fd, g, gr.refs, 255, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_gt(r->rc, 0);
    ck_assert_uint_eq(nfds, 1);
    close(fds[0]);
    r = hv_map(fd, g, gr.refs + 255, 1, 0, XENSIM_HV_NONE, XENSIM_HV_NONE, fds, &nfds);
    ck_assert_int_eq(r->rc, -EINVAL);
    ck_assert_int_eq(r->pages[0].status, GNTST_no_space);
    close(fd);
    ext_fix_assert_idle(&f);
    th_call(f.sim, g, 0, g_ungrant, &gr);
    ck_assert_int_eq(gr.busy, 0);
    ext_fix_stop(&f);
}
END_TEST

/* A process that dies in the middle of a call: its request is done, the
 * reply finds nobody, and everything the request made goes with it. */
START_TEST(test_dies_mid_call)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    static struct grants gr;
    gr = (struct grants){ .to = 0, .n = 4 };
    th_call(f.sim, g, 0, g_grant, &gr);
    for (int round = 0; round < 3; round++) {
        int fd = hv_open(&f, 0, round == 2 ? XENSIM_HV_GNTALLOC : XENSIM_HV_GNTDEV, NULL);
        if (round == 2) {
            struct xensim_hv_share s = { .op = XENSIM_HV_OP_SHARE, .domid = g, .count = 3,
                                         .notify_offset = XENSIM_HV_NONE,
                                         .notify_port = XENSIM_HV_NONE };
            ck_assert_int_eq(send(fd, &s, sizeof(s), 0), sizeof(s));
        } else {
            uint8_t req[sizeof(struct xensim_hv_map) + 4 * sizeof(struct xensim_hv_gref)];
            struct xensim_hv_map *m = (void *)req;
            *m = (struct xensim_hv_map){ .op = XENSIM_HV_OP_MAP, .count = 4,
                                         .notify_offset = XENSIM_HV_NONE,
                                         .notify_port = XENSIM_HV_NONE };
            for (int i = 0; i < 4; i++)
                m->refs[i] = (struct xensim_hv_gref){ .domid = g, .ref = (uint32_t)gr.refs[i] };
            ck_assert_int_eq(send(fd, req, sizeof(req), 0), sizeof(req));
        }
        /* Round 1 also leaves a second request behind. */
        if (round == 1) {
            struct xensim_hv_req u = { .op = XENSIM_HV_OP_SET_MAX_GRANTS, .a = 1 };
            ck_assert_int_eq(send(fd, &u, sizeof(u), 0), sizeof(u));
        }
        close(fd);
        ext_fix_assert_idle(&f);
        still_serves(&f, 0);
    }
    th_call(f.sim, g, 0, g_ungrant, &gr);
    ck_assert_int_eq(gr.busy, 0);
    ext_fix_stop(&f);
}
END_TEST

struct gmap {
    domid_t granter;
    grant_ref_t ref;
    gnttab_map_grant_ref_t op;
    int16_t unmap_status;
};

static void g_map(void *arg)
{
    struct gmap *m = arg;
    m->op = (gnttab_map_grant_ref_t){ .flags = GNTMAP_host_map, .ref = m->ref, .dom = m->granter };
    HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m->op, 1);
}

static void g_unmap(void *arg)
{
    struct gmap *m = arg;
    gnttab_unmap_grant_ref_t u = { .host_addr = m->op.host_addr, .handle = m->op.handle };
    HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    m->unmap_status = u.status;
}

/* gntalloc: pages of the process's domain, granted for real; its end
 * sends the unmap notification, and a grant the peer still maps waits
 * for the peer. The notify port outlives its own connection's end. */
START_TEST(test_gntalloc_and_notify)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int evfd, ev = hv_open(&f, 0, XENSIM_HV_EVTCHN, &evfd);
    int32_t lp = hv_req(ev, XENSIM_HV_OP_BIND_UNBOUND, g, 0);
    ck_assert_int_gt(lp, 0);
    struct bind_args b = { .dom = 0, .port = (evtchn_port_t)lp };
    long gp = th_call_long(f.sim, g, 0, g_bind, &b);
    ck_assert_int_gt(gp, 0);
    evtchn_port_t gport = (evtchn_port_t)gp;
    /* The bind left the binder's own port pending (Xen does). */
    th_call_long(f.sim, g, 0, g_clear, &gport);

    int fd = hv_open(&f, 0, XENSIM_HV_GNTALLOC, NULL);
    struct xensim_hv_share s = { .op = XENSIM_HV_OP_SHARE, .domid = g, .count = 2,
                                 .flags = XENSIM_HV_SHARE_WRITABLE, .notify_offset = 4096 + 21,
                                 .notify_port = (uint32_t)lp };
    uint8_t rbuf[sizeof(struct xensim_hv_share_rep) + 2 * sizeof(struct xensim_hv_spage)];
    struct xensim_hv_share_rep *r = (void *)rbuf;
    int fds[8];
    unsigned int nfds;
    ck_assert_int_eq(send(fd, &s, sizeof(s), 0), sizeof(s));
    ck_assert_int_eq(hv_recv(fd, rbuf, sizeof(rbuf), fds, &nfds), sizeof(rbuf));
    ck_assert_int_gt(r->rc, 0);
    ck_assert_uint_eq(nfds, 1);
    uint8_t *pg[2];
    for (int i = 0; i < 2; i++) {
        pg[i] = mmap(NULL, XEN_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0],
                     (off_t)r->pages[i].offset);
        ck_assert(pg[i] != MAP_FAILED);
        ck_assert_uint_eq(pg[i][0], 0);     /* fresh pages are zeroed */
    }
    close(fds[0]);
    pg[0][5] = 'A';
    pg[1][21] = 1;
    /* The guest maps the first page through its grant and sees it. */
    struct gmap gm = { .granter = 0, .ref = r->pages[0].ref };
    th_call(f.sim, g, 0, g_map, &gm);
    ck_assert_int_eq(gm.op.status, GNTST_okay);
    ck_assert_uint_eq(((uint8_t *)(uintptr_t)gm.op.host_addr)[5], 'A');

    /* The evtchn handle goes first; its port stays for the notification. */
    close(ev);
    close(evfd);
    struct xensim_external_stats st;
    xensim_external_sync(f.ext, &st);
    ck_assert_uint_eq(st.ports, 1);
    ck_assert(!port_info(f.sim, g, (evtchn_port_t)gp).pending);
    close(fd);
    xensim_external_sync(f.ext, &st);
    /* Byte cleared, event sent, the port gone; page 0 waits for the guest. */
    ck_assert_uint_eq(pg[1][21], 0);
    ck_assert(port_info(f.sim, g, (evtchn_port_t)gp).pending);
    ck_assert_uint_eq(st.ports, 0);
    ck_assert_uint_eq(st.shares, 0);
    ck_assert_uint_eq(st.deferred, 1);
    th_call(f.sim, g, 0, g_unmap, &gm);
    ck_assert_int_eq(gm.unmap_status, GNTST_okay);
    munmap(pg[0], XEN_PAGE_SIZE);
    munmap(pg[1], XEN_PAGE_SIZE);
    /* The next retry ends it (sync retries). */
    ext_fix_assert_idle(&f);
    ck_assert_int_eq(th_call_long(f.sim, g, 0, g_close, &gport), 0);
    ext_fix_stop(&f);
}
END_TEST

/* Domain control: the domain list for dom0 only; a new domain that lives
 * as long as the connection that asked for it. */
START_TEST(test_privcmd)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int fd = hv_open(&f, 0, XENSIM_HV_PRIVCMD, NULL);
    struct xensim_hv_req q = { .op = XENSIM_HV_OP_DOMAIN_INFO, .a = 0, .b = 16 };
    uint8_t buf[sizeof(struct xensim_hv_info_rep) + 64 * sizeof(struct xensim_hv_dominfo)];
    struct xensim_hv_info_rep *r = (void *)buf;
    ck_assert_int_eq(send(fd, &q, sizeof(q), 0), sizeof(q));
    ck_assert_int_gt(hv_recv(fd, buf, sizeof(buf), NULL, NULL), 0);
    ck_assert_int_eq(r->rc, 2);
    ck_assert_uint_eq(r->doms[0].domid, 0);
    ck_assert(r->doms[0].flags & XENSIM_HV_DOM_PRIVILEGED);
    ck_assert_uint_eq(r->doms[1].domid, g);
    ck_assert(r->doms[1].flags & XENSIM_HV_DOM_RUNNING);
    /* From above the last domain: ESRCH, as getdomaininfo. */
    q.a = g + 1;
    ck_assert_int_eq(send(fd, &q, sizeof(q), 0), sizeof(q));
    ck_assert_int_gt(hv_recv(fd, buf, sizeof(buf), NULL, NULL), 0);
    ck_assert_int_eq(r->rc, -ESRCH);
    int gfd = hv_open(&f, g, XENSIM_HV_PRIVCMD, NULL);
    ck_assert_int_eq(send(gfd, &q, sizeof(q), 0), sizeof(q));
    ck_assert_int_gt(hv_recv(gfd, buf, sizeof(buf), NULL, NULL), 0);
    ck_assert_int_eq(r->rc, -EPERM);

    struct xensim_hv_domain_new nd = { .op = XENSIM_HV_OP_DOMAIN_NEW, .name = "asked" };
    struct xensim_hv_rep rep;
    ck_assert_int_eq(send(gfd, &nd, sizeof(nd), 0), sizeof(nd));
    ck_assert_int_eq(hv_recv(gfd, &rep, sizeof(rep), NULL, NULL), sizeof(rep));
    ck_assert_int_eq(rep.rc, -EPERM);
    close(gfd);
    ck_assert_int_eq(send(fd, &nd, sizeof(nd), 0), sizeof(nd));
    ck_assert_int_eq(hv_recv(fd, &rep, sizeof(rep), NULL, NULL), sizeof(rep));
    ck_assert_int_gt(rep.rc, (int)g);
    domid_t n = (domid_t)rep.rc;
    struct xensim_domain_info info;
    ck_assert_int_eq(xensim_domain_info(f.sim, n, &info), 0);
    ck_assert_str_eq(info.name, "asked");
    ck_assert_int_eq(info.state, XENSIM_DOMAIN_RUNNING);
    char path[128];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/dom/%u/hypervisor", f.dir, n);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(send(fd, &nd, sizeof(nd), 0), sizeof(nd));
    ck_assert_int_eq(hv_recv(fd, &rep, sizeof(rep), NULL, NULL), sizeof(rep));
    ck_assert_int_eq(rep.rc, -EEXIST);
    /* The new domain is a domain like any: its process can use it. */
    int nfd = hv_open(&f, n, XENSIM_HV_EVTCHN, NULL);
    close(nfd);
    close(fd);
    ext_fix_assert_idle(&f);
    th_wait_gone(f.sim, n);
    ck_assert_int_ne(stat(path, &sb), 0);
    ext_fix_stop(&f);
}
END_TEST

/* One FOREIGN_MAP of n frames of dom (flags as given); its rc, the
 * reply in rep. */
static int32_t fmap(int fd, uint32_t dom, uint32_t flags, const uint64_t *frames, uint32_t n,
                    uint32_t count, struct xensim_hv_map_rep *rep, size_t rep_size)
{
    uint8_t buf[sizeof(struct xensim_hv_fmap) + 4 * sizeof(uint64_t)];
    struct xensim_hv_fmap *m = (void *)buf;
    int fds[8];
    unsigned int nfds = 0;
    *m = (struct xensim_hv_fmap){ .op = XENSIM_HV_OP_FOREIGN_MAP, .domid = dom, .count = count,
                                  .flags = flags };
    memcpy(m->frames, frames, n * sizeof(uint64_t));
    size_t len = sizeof(*m) + n * sizeof(uint64_t);
    ck_assert_int_eq(send(fd, buf, len, 0), (ssize_t)len);
    ck_assert_int_ge(hv_recv(fd, rep, rep_size, fds, &nfds), (ssize_t)sizeof(*rep));
    for (unsigned int i = 0; i < nfds; i++)
        close(fds[i]);
    return rep->rc;
}

/* FOREIGN_MAP's answers, each bad input fed to it. */
START_TEST(test_foreign_map)
{
    struct ext_fix f;
    ext_fix_start(&f);
    domid_t g = th_domain(f.sim, "guest", false, XENSIM_GNTTAB_STRICT);
    int fd = hv_open(&f, 0, XENSIM_HV_PRIVCMD, NULL);
    uint8_t buf[sizeof(struct xensim_hv_map_rep) + 4 * sizeof(struct xensim_hv_page)];
    struct xensim_hv_map_rep *rep = (void *)buf;
    const uint64_t frames[2] = { 0, 1u << 30 };
    /* One good frame, one past the RAM: rc counts the failed one. */
    ck_assert_int_eq(fmap(fd, g, 0, frames, 2, 2, rep, sizeof(buf)), 1);
    ck_assert_int_eq(rep->pages[0].status, 0);
    ck_assert_int_eq(rep->pages[1].status, -EINVAL);
    ck_assert_int_eq(fmap(fd, g, 0, frames, 0, 0, rep, sizeof(buf)), -E2BIG);
    ck_assert_int_eq(fmap(fd, g, 4, frames, 1, 1, rep, sizeof(buf)), -EINVAL);
    ck_assert_int_eq(fmap(fd, 999, 0, frames, 1, 1, rep, sizeof(buf)), -ESRCH);
    ck_assert_int_eq(fmap(fd, 0x10000, 0, frames, 1, 1, rep, sizeof(buf)), -ESRCH);
    /* A guest: its own frames only. */
    int gfd = hv_open(&f, g, XENSIM_HV_PRIVCMD, NULL);
    ck_assert_int_eq(fmap(gfd, 0, 0, frames, 1, 1, rep, sizeof(buf)), -EPERM);
    ck_assert_int_eq(fmap(gfd, g, XENSIM_HV_MAP_READONLY, frames, 1, 1, rep, sizeof(buf)), 0);
    close(gfd);
    /* A count that is not the packet's: the connection ends. */
    uint8_t bad[sizeof(struct xensim_hv_fmap) + sizeof(uint64_t)];
    struct xensim_hv_fmap *m = (void *)bad;
    *m = (struct xensim_hv_fmap){ .op = XENSIM_HV_OP_FOREIGN_MAP, .domid = g, .count = 3 };
    ck_assert_int_eq(send(fd, bad, sizeof(bad), 0), (ssize_t)sizeof(bad));
    ck_assert(hv_closed(fd));
    close(fd);
    still_serves(&f, 0);
    ext_fix_stop(&f);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("ext_proto");
    TCase *t = tcase_create("bad input");
    tcase_add_test(t, test_garbage);
    tcase_add_test(t, test_claims_other_domain);
    tcase_add_test(t, test_maptrack_exceeded);
    tcase_add_test(t, test_dies_mid_call);
    tcase_add_test(t, test_foreign_map);
    suite_add_tcase(s, t);
    t = tcase_create("kinds");
    tcase_add_test(t, test_evtchn);
    tcase_add_test(t, test_gntdev);
    tcase_add_test(t, test_gntalloc_and_notify);
    tcase_add_test(t, test_privcmd);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proto_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
