/*
 * The store ring transport against a fake hypervisor binding in plain
 * memory: framing over the 1 KiB rings (split, wrapped, odd start
 * indices), watch events on the ring, garbage indices, oversized
 * messages, reconnection, a flooding domain beside a served one,
 * release, and domains shutting down and dying as VIRQ_DOM_EXC reports
 * them. The daemon's loop thread serves the rings as it would in the
 * simulator.
 */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "xs_test.h"

#define NDOM 8

/* The fake binding: one page per domain; a port fired by the guest is
 * written to a pipe the daemon polls. Local port = 100 + domid; the
 * VIRQ_DOM_EXC port is VIRQ_PORT. The test sets what the "hypervisor"
 * says of each domain. */
#define VIRQ_PORT 99

struct fake {
    struct xenstore_domain_interface *page[NDOM];
    int pipe[2];
    atomic_int mapped, bound, notified[NDOM];
    atomic_bool virq_bound;
    bool fail_map;
    _Atomic enum xensim_domain_state state[NDOM];
    atomic_bool gone[NDOM];
};

static void *f_map(void *ctx, domid_t d, unsigned long gfn)
{
    struct fake *f = ctx;

    (void)gfn;
    if (f->fail_map || d >= NDOM || !f->page[d])
        return NULL;
    f->mapped++;
    return f->page[d];
}

static void f_unmap(void *ctx, domid_t d, void *p)
{
    struct fake *f = ctx;

    ck_assert_ptr_eq(p, f->page[d]);
    f->mapped--;
}

static long f_bind(void *ctx, domid_t d, uint32_t port)
{
    struct fake *f = ctx;

    if (port != 7)
        return -EINVAL;
    f->bound++;
    return 100 + d;
}

static void f_unbind(void *ctx, uint32_t port)
{
    struct fake *f = ctx;

    if (port == VIRQ_PORT)
        f->virq_bound = false;
    else
        f->bound--;
}

static void f_notify(void *ctx, uint32_t port)
{
    struct fake *f = ctx;

    f->notified[port - 100]++;
}

static int f_fd(void *ctx)
{
    return ((struct fake *)ctx)->pipe[0];
}

static long f_pending(void *ctx)
{
    struct fake *f = ctx;
    uint32_t port;

    if (read(f->pipe[0], &port, sizeof(port)) != sizeof(port))
        return -EAGAIN;
    return port;
}

static void f_unmask(void *ctx, uint32_t port)
{
    (void)ctx;
    (void)port;
}

static long f_bind_virq(void *ctx, uint32_t virq)
{
    struct fake *f = ctx;

    ck_assert_uint_eq(virq, VIRQ_DOM_EXC);
    f->virq_bound = true;
    return VIRQ_PORT;
}

static int f_domain_state(void *ctx, domid_t d, enum xensim_domain_state *state)
{
    struct fake *f = ctx;

    if (d >= NDOM || f->gone[d])
        return -ESRCH;
    *state = f->state[d];
    return 0;
}

static const struct xensim_xenstored_ring_ops fake_ops = {
    f_map, f_unmap, f_bind, f_unbind, f_notify, f_fd, f_pending, f_unmask,
    f_bind_virq, f_domain_state,
};

static struct fake F;
static struct xs_daemon *XS;

static void guest_kick(domid_t d)
{
    uint32_t port = 100 + d;

    ck_assert_int_eq(write(F.pipe[1], &port, sizeof(port)), sizeof(port));
}

static void setup(void)
{
    struct xs_daemon_config cfg = { .ring_ops = &fake_ops, .ring_ctx = &F, .quiet = true };

    memset(&F, 0, sizeof(F));
    ck_assert_int_eq(pipe2(F.pipe, O_NONBLOCK), 0);
    for (int i = 0; i < NDOM; i++)
        F.page[i] = aligned_alloc(4096, 4096), memset(F.page[i], 0, 4096);
    XS = xs_daemon_create(&cfg);
    ck_assert_int_eq(xs_daemon_start(XS), 0);
    ck_assert(F.virq_bound);
}

static void teardown(void)
{
    struct xensim_xenstored_stats st;

    for (int i = 0; i < NDOM; i++)
        xs_daemon_release(XS, i);
    xs_daemon_stats(XS, &st);
    ck_assert_uint_eq(st.conns, 0);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.transactions, 0);
    ck_assert_int_eq(F.mapped, 0);
    ck_assert_int_eq(F.bound, 0);
    xs_daemon_destroy(XS);
    ck_assert(!F.virq_bound);
    for (int i = 0; i < NDOM; i++)
        free(F.page[i]);
    close(F.pipe[0]);
    close(F.pipe[1]);
}

/* Guest side: put bytes on the request ring, a piece at a time. */
static void g_send(domid_t d, const void *data, size_t len)
{
    struct xenstore_domain_interface *in = F.page[d];
    const char *p = data;

    while (len) {
        uint32_t prod = in->req_prod, cons = __atomic_load_n(&in->req_cons, __ATOMIC_ACQUIRE);
        uint32_t space = XENSTORE_RING_SIZE - (prod - cons);

        if (!space) {
            usleep(100);
            continue;
        }
        if (space > len)
            space = len;
        for (uint32_t i = 0; i < space; i++)
            in->req[MASK_XENSTORE_IDX(prod + i)] = p[i];
        __atomic_store_n(&in->req_prod, prod + space, __ATOMIC_RELEASE);
        guest_kick(d);
        p += space;
        len -= space;
    }
}

static void g_recv(domid_t d, void *data, size_t len)
{
    struct xenstore_domain_interface *in = F.page[d];
    char *p = data;

    for (int spins = 0; len; spins++) {
        uint32_t cons = in->rsp_cons, prod = __atomic_load_n(&in->rsp_prod, __ATOMIC_ACQUIRE);
        uint32_t n = prod - cons;

        ck_assert_msg(spins < 200000, "dom%u: no reply", d);
        if (!n) {
            usleep(50);
            continue;
        }
        if (n > len)
            n = len;
        for (uint32_t i = 0; i < n; i++)
            p[i] = in->rsp[MASK_XENSTORE_IDX(cons + i)];
        __atomic_store_n(&in->rsp_cons, cons + n, __ATOMIC_RELEASE);
        guest_kick(d);
        p += n;
        len -= n;
    }
}

/* One message from the guest's rsp ring (reply or event). */
static uint32_t g_msg(domid_t d, char *body, size_t size, uint32_t *len)
{
    struct xsd_sockmsg h;

    g_recv(d, &h, sizeof(h));
    ck_assert_uint_le(h.len, XENSTORE_PAYLOAD_MAX);
    ck_assert_uint_lt(h.len, size);
    g_recv(d, body, h.len);
    body[h.len] = '\0';
    *len = h.len;
    return h.type;
}

/* One request and its reply. The daemon answers in order, so anything
 * before the reply is a watch event the test did not expect: fail, so a
 * test never passes by skipping an event it claims is not sent. */
static uint32_t g_req(domid_t d, uint32_t type, uint32_t tx, const void *p, size_t len,
                      char *body, size_t size, uint32_t *rlen)
{
    struct xsd_sockmsg h = { .type = type, .req_id = 42, .tx_id = tx, .len = len };
    uint32_t t;

    g_send(d, &h, sizeof(h));
    g_send(d, p, len);
    t = g_msg(d, body, size, rlen);
    ck_assert_msg(t != XS_WATCH_EVENT, "dom%u: event \"%s\" \"%s\" before the reply", d, body,
                  body + strlen(body) + 1);
    return t;
}

/* The next message is the watch event with exactly this body. */
static void g_event(domid_t d, const char *want, size_t len)
{
    char body[XENSTORE_PAYLOAD_MAX + 1];
    uint32_t n;

    ck_assert_uint_eq(g_msg(d, body, sizeof(body), &n), XS_WATCH_EVENT);
    ck_assert_msg(n == len && !memcmp(body, want, len),
                  "dom%u: event \"%s\" \"%s\", wanted \"%s\" \"%s\"", d, body,
                  body + strlen(body) + 1, want, want + strlen(want) + 1);
}

/* Until the daemon has taken every byte on the request ring. */
static void g_wait_taken(domid_t d)
{
    struct xenstore_domain_interface *in = F.page[d];

    for (int spins = 0; __atomic_load_n(&in->req_cons, __ATOMIC_ACQUIRE) != in->req_prod;
         spins++) {
        ck_assert_msg(spins < 200000, "dom%u: request bytes never taken", d);
        usleep(50);
    }
}

static void introduce(domid_t d)
{
    ck_assert_int_eq(xs_daemon_introduce(XS, d, 1000 + d, 7), 0);
    ck_assert_uint_eq(F.page[d]->server_features & 3, 3);
}

START_TEST(test_ring_basic)
{
    char buf[5000];
    uint32_t n;

    introduce(1);
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("domid\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EACCES");
    ck_assert_int_eq(xt_home(XS, 1, "one"), 0);
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("domid\0"), buf, sizeof(buf), &n), XS_READ);
    ck_assert_str_eq(buf, "1");
    ck_assert_uint_eq(g_req(1, XS_GET_DOMAIN_PATH, 0, XT_P("1\0"), buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    ck_assert_str_eq(buf, "/local/domain/1");
    /* Values are bytes, NULs and all, on the ring too. */
    struct xs_conn *c0 = xs_local_open(XS, 0);
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/local/domain/1\0n1\0"), XS_SET_PERMS, "OK", 3, "p");
    xs_local_close(c0);
    ck_assert_uint_eq(g_req(1, XS_WRITE, 0, XT_P("bin\0\0bin\xff"), buf, sizeof(buf), &n), XS_WRITE);
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("bin\0"), buf, sizeof(buf), &n), XS_READ);
    ck_assert_uint_eq(n, 5);
    ck_assert(!memcmp(buf, "\0bin\xff", 5));
    /* The largest payload is a request like any other (too big a node
     * for a guest, which is another matter). */
    static char big[XENSTORE_PAYLOAD_MAX];
    memcpy(big, "/local/domain/1/big\0", 20);
    ck_assert_uint_eq(g_req(1, XS_WRITE, 0, big, sizeof(big), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "ENOSPC");
    /* Introduction errors. */
    ck_assert_int_eq(xs_daemon_introduce(XS, 2, 5, 8), -EINVAL);
    F.fail_map = true;
    ck_assert_int_eq(xs_daemon_introduce(XS, 2, 5, 7), -EINVAL);
    F.fail_map = false;
    ck_assert_int_eq(xs_daemon_introduce(XS, 1, 5, 7), 0);
}
END_TEST

/* Big values across many ring fills, with indices that wrap. */
START_TEST(test_ring_wrap)
{
    char val[3000], req[3100], buf[5000];
    uint32_t n;
    struct xenstore_domain_interface *in = F.page[2];

    in->req_cons = in->req_prod = 0xfffffe00u;
    in->rsp_cons = in->rsp_prod = 0xffffff00u;
    struct xs_conn *c0 = xs_local_open(XS, 0);

    introduce(2);
    xt_home(XS, 2, "two");
    xt_write(c0, "/local/domain/2/v", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/local/domain/2/v\0n2\0"), XS_SET_PERMS, "OK", 3, "p");
    xs_local_close(c0);
    for (int round = 0; round < 20; round++) {
        memset(val, 'a' + round, sizeof(val));
        memcpy(req, "v\0", 2);
        memcpy(req + 2, val, 1500 + round);
        ck_assert_uint_eq(g_req(2, XS_WRITE, 0, req, 2 + 1500 + round, buf, sizeof(buf), &n), XS_WRITE);
        ck_assert_uint_eq(g_req(2, XS_READ, 0, "v", 2, buf, sizeof(buf), &n), XS_READ);
        ck_assert_uint_eq(n, 1500 + round);
        ck_assert(!memcmp(buf, val, n));
    }
}
END_TEST

START_TEST(test_ring_split_and_events)
{
    struct xsd_sockmsg h = { .type = XS_WATCH, .req_id = 1, .len = 9 };
    char buf[256];
    uint32_t n;
    struct xs_conn *c0;

    introduce(3);
    /* A header and payload dribbled a byte at a time, each byte taken
     * by the daemon before the next is sent. */
    for (size_t i = 0; i < sizeof(h); i++) {
        g_send(3, (char *)&h + i, 1);
        g_wait_taken(3);
    }
    for (size_t i = 0; i < 9; i++) {
        g_send(3, "/x/y\0tok\0" + i, 1);
        g_wait_taken(3);
    }
    ck_assert_uint_eq(g_msg(3, buf, sizeof(buf), &n), XS_WATCH);
    ck_assert_str_eq(buf, "OK");
    g_event(3, XT_P("/x/y\0tok\0"));
    /* Another connection's change reaches the guest on its ring... */
    c0 = xs_local_open(XS, 0);
    xt_write(c0, "/x", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/x\0n0\0r3\0"), XS_SET_PERMS, "OK", 3, "perms");
    xt_write(c0, "/x/y/z", "1");
    g_event(3, XT_P("/x/y/z\0tok\0"));
    /* ...but not when the guest may read neither the node nor its parent
     * (taking its read away is still reported: C xenstored also checks
     * the old permissions): the next message on the ring is the reply to
     * a later request. */
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/x/y\0n0\0"), XS_SET_PERMS, "OK", 3, "perms");
    g_event(3, XT_P("/x/y\0tok\0"));
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/x/y/z\0n0\0"), XS_SET_PERMS, "OK", 3, "perms");
    g_event(3, XT_P("/x/y/z\0tok\0"));
    xt_write(c0, "/x/y/z", "2");
    ck_assert_uint_eq(g_req(3, XS_GET_DOMAIN_PATH, 0, XT_P("3\0"), buf, sizeof(buf), &n),
                      XS_GET_DOMAIN_PATH);
    ck_assert_str_eq(buf, "/local/domain/3");
    xs_local_close(c0);
}
END_TEST

/* Guest-written garbage stops that guest only. */
START_TEST(test_ring_garbage)
{
    char buf[256];
    uint32_t n;
    struct xsd_sockmsg big = { .type = XS_READ, .len = XENSTORE_PAYLOAD_MAX + 1 };

    introduce(4);
    introduce(5);
    introduce(6);
    F.page[4]->req_prod = F.page[4]->req_cons + 5000;
    guest_kick(4);
    g_send(5, &big, sizeof(big));
    F.page[6]->rsp_prod = F.page[6]->rsp_cons + 4000;
    g_send(6, "\2\0\0\0\0\0\0\0\0\0\0\0\2\0\0\0/\0", 18);
    for (int i = 0; i < 2000 && !(F.page[4]->error && F.page[5]->error && F.page[6]->error); i++)
        usleep(1000);
    ck_assert_uint_eq(F.page[4]->error, XENSTORE_ERROR_RINGIDX);
    ck_assert_uint_eq(F.page[5]->error, XENSTORE_ERROR_PROTO);
    ck_assert_uint_eq(F.page[6]->error, XENSTORE_ERROR_RINGIDX);
    introduce(1);
    ck_assert_uint_eq(g_req(1, XS_GET_DOMAIN_PATH, 0, XT_P("1\0"), buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    /* Unknown types and missing NULs are answered, not fatal. */
    ck_assert_uint_eq(g_req(1, 77, 0, XT_P("x"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "ENOSYS");
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("/x"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EINVAL");
    ck_assert_uint_eq(g_req(1, XS_READ, 55, XT_P("/x\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "ENOENT");
}
END_TEST

START_TEST(test_ring_reconnect)
{
    char buf[256];
    uint32_t n;
    struct xsd_sockmsg h = { .type = XS_READ, .len = 100 };

    introduce(1);
    ck_assert_uint_eq(g_req(1, XS_WATCH, 0, XT_P("/r\0t\0"), buf, sizeof(buf), &n), XS_WATCH);
    g_send(1, &h, sizeof(h));                      /* half a message */
    F.page[1]->connection = XENSTORE_RECONNECT;
    guest_kick(1);
    for (int i = 0; i < 2000 && F.page[1]->connection != XENSTORE_CONNECTED; i++)
        usleep(1000);
    ck_assert_uint_eq(F.page[1]->connection, XENSTORE_CONNECTED);
    ck_assert_uint_eq(F.page[1]->req_prod, 0);
    ck_assert_uint_eq(F.page[1]->rsp_prod, 0);
    ck_assert_uint_eq(g_req(1, XS_GET_DOMAIN_PATH, 0, XT_P("1\0"), buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    struct xensim_xenstored_stats st;
    xs_daemon_stats(XS, &st);
    ck_assert_uint_eq(st.watches, 0);
}
END_TEST

static atomic_bool stop_flood;

static void *flood(void *arg)
{
    struct xsd_sockmsg h = { .type = XS_WRITE, .len = 8 };

    (void)arg;
    /* Requests only; never reads a reply, so the daemon stalls its input. */
    while (!stop_flood) {
        struct xenstore_domain_interface *in = F.page[2];
        uint32_t prod = in->req_prod, cons = __atomic_load_n(&in->req_cons, __ATOMIC_ACQUIRE);

        if (XENSTORE_RING_SIZE - (prod - cons) < sizeof(h) + 8) {
            usleep(100);
            continue;
        }
        g_send(2, &h, sizeof(h));
        g_send(2, "/f\0abcde", 8);
    }
    return NULL;
}

START_TEST(test_ring_flood)
{
    struct xenstore_domain_interface *fl = F.page[2];
    pthread_t t;
    char buf[256];
    uint32_t n;
    /* A flooder's requests that can be taken: replies filling its 1 KiB
     * response ring ("OK" replies of 19 bytes, the last maybe partly
     * written), the outstanding quota queued behind them, and one being
     * read. Each request is 24 bytes. */
    const uint32_t most = (XENSTORE_RING_SIZE / 19 + 1 + 20 + 1) * 24;

    introduce(1);
    introduce(2);
    xt_home(XS, 1, "one");
    pthread_create(&t, NULL, flood, NULL);
    /* Until the flooder's response ring is full: it is being served. */
    for (int spins = 0; __atomic_load_n(&fl->rsp_prod, __ATOMIC_ACQUIRE) - fl->rsp_cons <
                        XENSTORE_RING_SIZE - 18; spins++) {
        ck_assert_msg(spins < 200000, "the flooder's replies never filled its ring");
        usleep(50);
    }
    for (int i = 0; i < 500; i++) {
        ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("name\0"), buf, sizeof(buf), &n), XS_READ);
        ck_assert_str_eq(buf, "one");
    }
    stop_flood = true;
    pthread_join(t, NULL);
    /* Its input stalled: while dom1 was served, it kept writing, but the
     * daemon took no more than what fits in its replies and the quota. */
    ck_assert_uint_le(__atomic_load_n(&fl->req_cons, __ATOMIC_ACQUIRE), most);
    ck_assert_uint_eq(fl->error, 0);
}
END_TEST

START_TEST(test_ring_release)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);
    char buf[256];
    uint32_t n;

    xt_expect(c0, XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    introduce(1);
    xt_home(XS, 1, "one");
    xt_write(c0, "/local/domain/1/data", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/local/domain/1/data\0n1\0"), XS_SET_PERMS, "OK", 3, "p");
    xt_write(c0, "/shared", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/shared\0n0\0r1\0r2\0"), XS_SET_PERMS, "OK", 3, "p");
    ck_assert_uint_eq(g_req(1, XS_WRITE, 0, XT_P("data/mine\0" "1"), buf, sizeof(buf), &n), XS_WRITE);
    ck_assert_uint_eq(g_req(1, XS_WATCH, 0, XT_P("data\0w\0"), buf, sizeof(buf), &n), XS_WATCH);
    g_event(1, XT_P("data\0w\0"));
    ck_assert_uint_eq(g_req(1, XS_TRANSACTION_START, 0, XT_P("\0"), buf, sizeof(buf), &n), XS_TRANSACTION_START);
    xt_expect(c0, XS_WATCH, 0, XT_P("/local/domain\0l\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    /* Over the wire, RELEASE is C xenstored's destroy_domain(): the
     * nodes the domain owns go with their events (the home is dom0's),
     * then @releaseDomain. Its watches hear nothing. */
    xt_expect(c0, XS_RELEASE, 0, XT_P("1\0"), XS_RELEASE, "OK", 3, "release");
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), 23);
    ck_assert_str_eq(buf, "/local/domain/1/data");
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), 17);
    ck_assert_str_eq(buf, "@releaseDomain");
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), -EAGAIN);
    ck_assert_int_eq(xt_read(c0, 0, "/local/domain/1/data", buf, sizeof(buf)), -1);
    ck_assert_int_eq(xt_read(c0, 0, "/local/domain/1/name", buf, sizeof(buf)), 3);
    /* ACL entries naming it stay as they were, but grant nothing, not
     * even to a new domain with its number (domain_adjust_node_perms()). */
    xt_expect(c0, XS_GET_PERMS, 0, XT_P("/shared\0"), XS_GET_PERMS, "n0\0r1\0r2\0", 9, "perms");
    xt_expect(c0, XS_RELEASE, 0, XT_P("1\0"), XS_ERROR, "ENOENT", 7, "again");
    introduce(1);
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("/shared\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EACCES");
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("name\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EACCES");
    /* Written again (SET_PERMS names it anew), it counts. */
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/shared\0n0\0r1\0r2\0"), XS_SET_PERMS, "OK", 3, "p");
    ck_assert_uint_eq(g_req(1, XS_READ, 0, XT_P("/shared\0"), buf, sizeof(buf), &n), XS_READ);
    xt_drain_events(c0);
    /* The simulator's death of a domain also does the toolstack's part:
     * the home goes first. */
    ck_assert_int_eq(xs_daemon_release(XS, 1), 0);
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), 18);
    ck_assert_str_eq(buf, "/local/domain/1");
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), 17);
    ck_assert_str_eq(buf, "@releaseDomain");
    ck_assert_int_eq(xt_read(c0, 0, "/local/domain/1", buf, sizeof(buf)), -1);
    ck_assert_int_eq(xs_daemon_release(XS, 1), -ENOENT);
    xs_local_close(c0);
}
END_TEST

/* INTRODUCE of a domain already introduced: its port bound again, and
 * domain_conn_reset(): watches, transactions, queued output and half a
 * request gone, the four ring indexes 0. No @introduceDomain. */
START_TEST(test_ring_reintroduce)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);
    struct xsd_sockmsg h = { .type = XS_READ, .len = 100 };
    struct xensim_xenstored_stats st;
    char buf[256], tx[16];
    uint32_t n;

    xt_expect(c0, XS_WATCH, 0, XT_P("@introduceDomain\0i\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    introduce(1);
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), 19);
    xt_write(c0, "/ri", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/ri\0n0\0r1\0"), XS_SET_PERMS, "OK", 3, "p");
    ck_assert_uint_eq(g_req(1, XS_WATCH, 0, XT_P("/ri\0t\0"), buf, sizeof(buf), &n), XS_WATCH);
    g_event(1, XT_P("/ri\0t\0"));
    ck_assert_uint_eq(g_req(1, XS_TRANSACTION_START, 0, XT_P("\0"), tx, sizeof(tx), &n),
                      XS_TRANSACTION_START);
    g_send(1, &h, sizeof(h));
    g_wait_taken(1);
    xt_expect(c0, XS_INTRODUCE, 0, XT_P("1\0" "1001\0" "7\0"), XS_INTRODUCE, "OK", 3, "again");
    ck_assert_int_eq(xs_local_event(c0, buf, sizeof(buf)), -EAGAIN);
    ck_assert_uint_eq(F.page[1]->req_cons, 0);
    ck_assert_uint_eq(F.page[1]->req_prod, 0);
    ck_assert_uint_eq(F.page[1]->rsp_cons, 0);
    ck_assert_uint_eq(F.page[1]->rsp_prod, 0);
    xs_daemon_stats(XS, &st);
    ck_assert_uint_eq(st.watches, 1);
    ck_assert_uint_eq(st.transactions, 0);
    /* The next message on the ring is this reply: no event for /ri. */
    xt_write(c0, "/ri", "1");
    ck_assert_uint_eq(g_req(1, XS_TRANSACTION_END, strtoul(tx, NULL, 10), XT_P("T\0"), buf,
                            sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "ENOENT");
    xs_local_close(c0);
}
END_TEST

static void dom_exc(void)
{
    uint32_t port = VIRQ_PORT;

    ck_assert_int_eq(write(F.pipe[1], &port, sizeof(port)), sizeof(port));
}

/* A request from d on its ring, answered after the daemon has looked at
 * everything fired before it. */
static void barrier(domid_t d)
{
    char buf[64];
    uint32_t n;

    ck_assert_uint_eq(g_req(d, XS_GET_DOMAIN_PATH, 0, XT_P("0\0"), buf, sizeof(buf), &n),
                      XS_GET_DOMAIN_PATH);
}

/* How many @releaseDomain events c0 has queued (nothing else may be). */
static int releases(struct xs_conn *c0)
{
    char buf[64];
    int n = 0;

    while (xs_local_event(c0, buf, sizeof(buf)) >= 0) {
        ck_assert_str_eq(buf, "@releaseDomain");
        n++;
    }
    return n;
}

static bool is_introduced(struct xs_conn *c0, domid_t d)
{
    char p[8], buf[8];

    snprintf(p, sizeof(p), "%u", d);
    ck_assert_uint_eq(xt_req(c0, XS_IS_DOMAIN_INTRODUCED, 0, p, strlen(p) + 1, buf, sizeof(buf),
                             NULL), XS_IS_DOMAIN_INTRODUCED);
    return !strcmp(buf, "T");
}

/*
 * VIRQ_DOM_EXC as C xenstored's domain_cleanup answers it: a shutdown
 * fires @releaseDomain once however often the VIRQ comes, and shutdowns
 * seen in one scan fire it once; a dying or vanished domain is released
 * (ring unmapped, @releaseDomain), and a release later in the scan stands
 * for the shutdowns before it.
 */
START_TEST(test_ring_dom_exc)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);

    xt_expect(c0, XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    for (domid_t d = 1; d <= 6; d++)
        introduce(d);
    dom_exc();
    barrier(1);
    ck_assert_int_eq(releases(c0), 0);
    F.state[1] = F.state[2] = XENSIM_DOMAIN_SHUTDOWN;
    dom_exc();
    barrier(3);
    ck_assert_int_eq(releases(c0), 1);
    dom_exc();
    barrier(3);
    ck_assert_int_eq(releases(c0), 0);
    ck_assert(is_introduced(c0, 1));
    /* Each release fires its own. */
    F.state[2] = XENSIM_DOMAIN_DYING;
    F.gone[3] = true;
    dom_exc();
    barrier(1);
    ck_assert_int_eq(releases(c0), 2);
    ck_assert(!is_introduced(c0, 2));
    ck_assert(!is_introduced(c0, 3));
    /* Their rings go at the end of the daemon's round. */
    for (int i = 0; i < 5000 && (F.mapped != 4 || F.bound != 4); i++)
        usleep(1000);
    ck_assert_int_eq(F.mapped, 4);
    ck_assert_int_eq(F.bound, 4);
    /* 4 shuts down and 5, after it in the table, dies: one event. */
    F.state[4] = XENSIM_DOMAIN_SHUTDOWN;
    F.gone[5] = true;
    dom_exc();
    barrier(6);
    ck_assert_int_eq(releases(c0), 1);
    ck_assert(is_introduced(c0, 4));
    ck_assert(!is_introduced(c0, 5));
    xs_local_close(c0);
}
END_TEST

/*
 * SET_TARGET as C xenstored 4.17 keeps it: a talloc_reference() on the
 * target's connection, given back only when the holder's connection
 * goes. A RELEASE of the referenced domain drops one reference; its
 * death (check_domain()'s talloc_unlink()) drops one more and hands its
 * connection to the holder: still introduced but unconnected (EINVAL),
 * its ring kept, until the holder goes and takes it along.
 */
START_TEST(test_ring_target_refs)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);

    xt_expect(c0, XS_WATCH, 0, XT_P("@releaseDomain\0r\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    for (domid_t d = 1; d <= 3; d++)
        introduce(d);
    xt_expect(c0, XS_SET_TARGET, 0, XT_P("1\0" "2\0"), XS_SET_TARGET, "OK", 3, "target");
    xt_expect(c0, XS_SET_TARGET, 0, XT_P("1\0" "2\0"), XS_SET_TARGET, "OK", 3, "again");
    xt_expect(c0, XS_RELEASE, 0, XT_P("2\0"), XS_RELEASE, "OK", 3, "drops one");
    barrier(2);
    ck_assert_int_eq(releases(c0), 0);
    ck_assert(is_introduced(c0, 2));
    F.state[2] = XENSIM_DOMAIN_DYING;
    dom_exc();
    barrier(2);
    ck_assert_int_eq(releases(c0), 0);
    ck_assert(is_introduced(c0, 2));
    xt_expect(c0, XS_RELEASE, 0, XT_P("2\0"), XS_ERROR, "EINVAL", 7, "unconnected");
    xt_expect(c0, XS_RESUME, 0, XT_P("2\0"), XS_ERROR, "EINVAL", 7, "resume");
    xt_expect(c0, XS_SET_TARGET, 0, XT_P("3\0" "2\0"), XS_ERROR, "EINVAL", 7, "as target");
    xt_expect(c0, XS_SET_TARGET, 0, XT_P("2\0" "3\0"), XS_ERROR, "EINVAL", 7, "as holder");
    /* Another scan passes it over. */
    dom_exc();
    barrier(1);
    ck_assert_int_eq(releases(c0), 0);
    ck_assert_int_eq(F.mapped, 3);
    /* The holder's end frees it, before the holder itself. */
    xt_expect(c0, XS_RELEASE, 0, XT_P("1\0"), XS_RELEASE, "OK", 3, "holder");
    ck_assert_int_eq(releases(c0), 2);
    ck_assert(!is_introduced(c0, 1));
    ck_assert(!is_introduced(c0, 2));
    for (int i = 0; i < 5000 && F.mapped != 1; i++)
        usleep(1000);
    ck_assert_int_eq(F.mapped, 1);
    /* Held, then the holder released first: the reference goes with it
     * and the target's next release is real. */
    introduce(1);
    xt_expect(c0, XS_SET_TARGET, 0, XT_P("1\0" "3\0"), XS_SET_TARGET, "OK", 3, "target 3");
    xt_expect(c0, XS_RELEASE, 0, XT_P("1\0"), XS_RELEASE, "OK", 3, "holder first");
    ck_assert_int_eq(releases(c0), 1);
    xt_expect(c0, XS_RELEASE, 0, XT_P("3\0"), XS_RELEASE, "OK", 3, "then 3");
    ck_assert_int_eq(releases(c0), 1);
    ck_assert(!is_introduced(c0, 3));
    xs_local_close(c0);
}
END_TEST

/*
 * A guest's consumer indices moved past its producers: C xenstored
 * checks a ring's indices only as it uses that ring (readchn() and
 * writechn(): "(prod - cons) <= XENSTORE_RING_SIZE", else EIO), and a
 * failure ignores the connection (ignore_connection(): the error on the
 * page, watches and transactions gone, never read or written again; the
 * domain stays introduced). So a bad rsp_cons is harmless until there
 * is a reply to write, and that reply is never written.
 */
START_TEST(test_ring_indices_past)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);
    char buf[64];
    uint32_t n, prod;

    introduce(2);
    introduce(3);
    introduce(7);
    ck_assert_uint_eq(g_req(7, XS_WATCH, 0, XT_P("/w\0t\0"), buf, sizeof(buf), &n), XS_WATCH);
    g_event(7, "/w\0t\0", 5);
    /* req_cons one past req_prod: read at once. */
    F.page[3]->req_cons = F.page[3]->req_prod + 1;
    guest_kick(3);
    /* rsp_cons one past rsp_prod: nothing to write yet, so not seen. */
    F.page[7]->rsp_cons = F.page[7]->rsp_prod + 1;
    guest_kick(7);
    barrier(2);
    for (int i = 0; i < 2000 && !F.page[3]->error; i++)
        usleep(1000);
    ck_assert_uint_eq(F.page[3]->error, XENSTORE_ERROR_RINGIDX);
    ck_assert_uint_eq(F.page[7]->error, 0);
    /* A request is read, and its reply is what trips it. */
    prod = F.page[7]->rsp_prod;
    g_send(7, &(struct xsd_sockmsg){ .type = XS_GET_DOMAIN_PATH, .len = 2 }, 16);
    g_send(7, "7\0", 2);
    for (int i = 0; i < 2000 && !F.page[7]->error; i++)
        usleep(1000);
    ck_assert_uint_eq(F.page[7]->error, XENSTORE_ERROR_RINGIDX);
    ck_assert_uint_eq(F.page[7]->rsp_prod, prod);
    ck_assert(is_introduced(c0, 7));
    ck_assert(is_introduced(c0, 3));
    /* Its watch went with it: a change there reaches no one, and the
     * ring is not touched again. */
    xt_write(c0, "/w", "x");
    barrier(2);
    ck_assert_uint_eq(F.page[7]->rsp_prod, prod);
    xs_local_close(c0);
}
END_TEST

/* A privileged domain on a ring releases others, then itself. */
START_TEST(test_ring_release_from_ring)
{
    char buf[256];
    uint32_t n;

    introduce(0);
    introduce(2);
    introduce(3);
    ck_assert_uint_eq(g_req(0, XS_RELEASE, 0, XT_P("2\0"), buf, sizeof(buf), &n), XS_RELEASE);
    ck_assert_uint_eq(g_req(0, XS_IS_DOMAIN_INTRODUCED, 0, XT_P("2\0"), buf, sizeof(buf), &n),
                      XS_IS_DOMAIN_INTRODUCED);
    ck_assert_str_eq(buf, "F");
    /* dom0 is never released over the wire (onearg_domain()). */
    ck_assert_uint_eq(g_req(0, XS_RELEASE, 0, XT_P("0\0"), buf, sizeof(buf), &n), XS_ERROR);
    ck_assert_str_eq(buf, "EINVAL");
    introduce(1);
    ck_assert_uint_eq(g_req(1, XS_GET_DOMAIN_PATH, 0, XT_P("1\0"), buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    ck_assert_uint_eq(g_req(0, XS_RELEASE, 0, XT_P("1\0"), buf, sizeof(buf), &n), XS_RELEASE);
    ck_assert_int_eq(xs_daemon_release(XS, 0), 0);
    ck_assert_int_eq(xs_daemon_release(XS, 0), -ENOENT);
}
END_TEST

/* A domain at its memory quota is not read (domain_can_read(): "memory
 * >= quota_memory_per_domain_hard"): its ring waits while others are
 * served, and is read again once the domain is under. Its in-process
 * connections are what take it there. */
START_TEST(test_ring_memory_stall)
{
    static struct xs_conn *extra[1024];
    struct xsd_sockmsg h = { .type = XS_GET_DOMAIN_PATH, .req_id = 9, .len = 2 };
    char buf[256];
    uint32_t n, cons;
    int nx = 0;

    introduce(1);
    introduce(2);
    while ((extra[nx] = xs_local_open(XS, 1)))
        ck_assert_int_lt(++nx, 1024);
    cons = F.page[1]->req_cons;
    g_send(1, &h, sizeof(h));
    g_send(1, "1\0", 2);
    /* dom2 was kicked after dom1: by its reply, dom1's ring was looked at. */
    ck_assert_uint_eq(g_req(2, XS_GET_DOMAIN_PATH, 0, XT_P("2\0"), buf, sizeof(buf), &n),
                      XS_GET_DOMAIN_PATH);
    ck_assert_uint_eq(F.page[1]->req_cons, cons);
    xs_local_close(extra[--nx]);
    guest_kick(1);
    ck_assert_uint_eq(g_msg(1, buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    ck_assert_str_eq(buf, "/local/domain/1");
    while (nx)
        xs_local_close(extra[--nx]);
}
END_TEST

/* A guest's request stays outstanding while an event it caused is
 * queued for a watcher (free_buffered_data(): "pend.ref.event_cnt"), so
 * a guest writing faster than a watcher reads is held back after the
 * outstanding quota (20), until the watcher reads. */
START_TEST(test_ring_outstanding_events)
{
    struct xs_conn *c0 = xs_local_open(XS, 0);
    char req[64], buf[256];
    uint32_t n, cons;

    introduce(1);
    introduce(2);
    xt_write(c0, "/local/domain/1", "");
    xt_expect(c0, XS_SET_PERMS, 0, XT_P("/local/domain/1\0n1\0"), XS_SET_PERMS, "OK", 3, "p");
    xt_expect(c0, XS_WATCH, 0, XT_P("/local/domain/1\0w\0"), XS_WATCH, "OK", 3, "watch");
    xt_drain_events(c0);
    for (int i = 0; i < 20; i++) {
        int len = snprintf(req, sizeof(req), "k%d%c", i, 0) + 1;

        ck_assert_uint_eq(g_req(1, XS_WRITE, 0, req, len, buf, sizeof(buf), &n), XS_WRITE);
    }
    cons = F.page[1]->req_cons;
    g_send(1, &(struct xsd_sockmsg){ .type = XS_GET_DOMAIN_PATH, .len = 2 }, 16);
    g_send(1, "1\0", 2);
    ck_assert_uint_eq(g_req(2, XS_GET_DOMAIN_PATH, 0, XT_P("2\0"), buf, sizeof(buf), &n),
                      XS_GET_DOMAIN_PATH);
    ck_assert_uint_eq(F.page[1]->req_cons, cons);
    /* One event read: one request less outstanding. */
    ck_assert_int_ge(xs_local_event(c0, buf, sizeof(buf)), 0);
    guest_kick(1);
    ck_assert_uint_eq(g_msg(1, buf, sizeof(buf), &n), XS_GET_DOMAIN_PATH);
    xt_drain_events(c0);
    xs_local_close(c0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xenstore ring");
    TCase *tc = tcase_create("ring");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ring_basic);
    tcase_add_test(tc, test_ring_wrap);
    tcase_add_test(tc, test_ring_split_and_events);
    tcase_add_test(tc, test_ring_garbage);
    tcase_add_test(tc, test_ring_indices_past);
    tcase_add_test(tc, test_ring_reconnect);
    tcase_add_test(tc, test_ring_flood);
    tcase_add_test(tc, test_ring_release);
    tcase_add_test(tc, test_ring_release_from_ring);
    tcase_add_test(tc, test_ring_reintroduce);
    tcase_add_test(tc, test_ring_memory_stall);
    tcase_add_test(tc, test_ring_outstanding_events);
    tcase_add_test(tc, test_ring_dom_exc);
    tcase_add_test(tc, test_ring_target_refs);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
