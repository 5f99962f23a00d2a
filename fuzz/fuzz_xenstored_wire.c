/*
 * fuzz_xenstored_wire: streams of xs_wire messages into the real daemon
 * over its unix sockets, framing and all, on up to four connections at
 * once: two guests (one of them twice, so two connections share its
 * quotas) and, when the input asks, dom0. Any type, length, ids and
 * bytes, transactions and watches included; a request may be split
 * anywhere and interleaved with the other connections'. Findings: a
 * crash or hang of the daemon; a reply that is not the reply of the
 * oldest request waiting (req_id, its type or XS_ERROR with an error
 * name), a malformed event, a reply too long; a connection dropped
 * without an oversized header; and, once every connection is closed and
 * the guests are released and introduced again, any node, watch,
 * transaction, connection or quota count that did not come back to what
 * a new daemon has. After an input that spoke as dom0 (which may change
 * anything) the rest of the daemon's state is put back too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "fz.h"
#include "fz_xs_daemon.h"
#include "xs_msgs.h"

#define NGUESTS 2
#define MAX_CONNS 4
#define MAX_OPS 128

struct conn {
    int fd;                          /* -1: not opened yet (opened at first use) */
    unsigned int which;              /* whose socket */
    domid_t dom;
    struct xsm_stream s;
    bool closed;                     /* the daemon dropped it */
};

static struct {
    struct fzxs *x;
    char dir[64];
    struct conn c[MAX_CONNS];
    unsigned int n;
    uint8_t buf[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX + 64];
} h;

static const domid_t guests[NGUESTS] = { 1, 2 };

static void harness_fini(void)
{
    fzxs_free(h.x);
    char path[128];
    snprintf(path, sizeof(path), "%s/dom0", h.dir);
    unlink(path);
    for (unsigned int i = 0; i < NGUESTS; i++) {
        snprintf(path, sizeof(path), "%s/dom%u", h.dir, guests[i]);
        unlink(path);
    }
    rmdir(h.dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_no_per_input_leak_scan(argc, argv);
    fz_tracing = getenv("FZ_TRACE") != NULL;
    snprintf(h.dir, sizeof(h.dir), "/tmp/fuzz-xs-XXXXXX");
    FZ_CHECK(mkdtemp(h.dir), "mkdtemp");
    h.x = fzxs_new(h.dir, guests, NGUESTS);
    atexit(harness_fini);
    return 0;
}

static void conn_plan(struct conn *c, unsigned int which, domid_t dom, const char *name)
{
    c->fd = -1;
    c->which = which;
    c->dom = dom;
    c->closed = false;
    xsm_init(&c->s, name);
}

/* Connects at first use: most inputs use fewer connections than they
 * may, and a socket costs the daemon an accept and a close. */
static void conn_open(struct conn *c)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (c->fd >= 0)
        return;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fzxs_socket(h.x, c->which));
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    FZ_CHECK(c->fd >= 0, "socket");
    FZ_CHECK(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
             sa.sun_path, strerror(errno));
}

/* Takes what the daemon sent; false once it closed the connection. */
static bool conn_take(struct conn *c)
{
    uint8_t in[8192];
    for (;;) {
        ssize_t n = recv(c->fd, in, sizeof(in), MSG_DONTWAIT);
        if (n > 0) {
            xsm_read(&c->s, in, (size_t)n);
            continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
            FZ_CHECK(c->s.doomed, "%s: the daemon closed a connection that broke no rule",
                     c->s.name);
            c->closed = true;
            return false;
        }
        return true;
    }
}

/* Writes len bytes (reading what comes back meanwhile, so that neither
 * side's buffer fills for good); then, with until_sentinel, reads until
 * the sentinel's reply. */
static void conn_io(struct conn *c, const uint8_t *buf, size_t len, bool until_sentinel)
{
    conn_open(c);
    xsm_wrote(&c->s, buf, len);
    size_t off = 0;
    while (!c->closed && (off < len || (until_sentinel && !c->s.sentinel_seen))) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN | (off < len ? POLLOUT : 0) };
        if (poll(&p, 1, -1) < 0)
            continue;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (!conn_take(c))
                break;
        }
        if (off < len && (p.revents & POLLOUT)) {
            ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0)
                off += (size_t)n;
            else if (n < 0 && errno != EAGAIN && errno != EINTR)
                FZ_CHECK(c->s.doomed, "%s: send: %s", c->s.name, strerror(errno));
        }
    }
}

/* Finishes whatever message is half written, then waits for the
 * sentinel: every request before it has been answered. */
static void conn_sync(struct conn *c)
{
    static uint8_t zero[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
    size_t n;
    if (c->fd < 0 || c->closed || c->s.doomed)
        return;
    while ((n = xsm_pad(&c->s, zero, sizeof(zero))) > 0 && !c->s.doomed)
        conn_io(c, zero, n, false);
    if (c->s.doomed || c->closed)
        return;
    c->s.sentinel_seen = false;
    n = xsm_sentinel(h.buf, sizeof(h.buf));
    conn_io(c, h.buf, n, true);
    FZ_TRACE("%s: %lu replies, %lu events", c->s.name, c->s.replies, c->s.events);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_in in = { data, size };
    uint8_t flags = fz_u8(&in);
    static const char *const names[MAX_CONNS] = { "dom1", "dom2", "dom1 (second)", "dom0" };
    bool dom0 = (flags & 0xc0) == 0xc0;

    h.n = 0;
    for (unsigned int i = 0; i < 1 + flags % 3u; i++)
        conn_plan(&h.c[h.n++], i == 1 ? 2 : 1, guests[i == 1], names[i]);
    if (dom0)
        conn_plan(&h.c[h.n++], 0, 0, names[3]);
    for (unsigned int op = 0; op < MAX_OPS && !fz_empty(&in); op++) {
        uint8_t c = fz_u8(&in);
        struct conn *k = &h.c[c % h.n];
        if (k->closed)
            continue;
        if (c & 0x80) {
            conn_open(k);
            conn_sync(k);
            continue;
        }
        size_t n = xsm_build(&in, k->dom, h.buf, sizeof(h.buf));
        FZ_TRACE("%s: %zu bytes, type %u", k->s.name, n,
                 n >= sizeof(struct xsd_sockmsg) ? ((struct xsd_sockmsg *)h.buf)->type : 0);
        conn_io(k, h.buf, n, false);
    }
    for (unsigned int i = 0; i < h.n; i++)
        conn_sync(&h.c[i]);
    bool opened = false;
    for (unsigned int i = 0; i < h.n; i++)
        if (h.c[i].fd >= 0) {
            close(h.c[i].fd);
            opened = true;
        }
    if (opened)
        fzxs_sync(h.x);
    if (dom0)
        fzxs_reset_all(h.x);
    else if (fzxs_changed(h.x))
        fzxs_reset_guests(h.x);
    fzxs_expect_clean(h.x, "after the input");
    return 0;
}
