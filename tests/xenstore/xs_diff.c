/*
 * The differential: the same XenStore sessions sent to two `xensim serve`
 * directories, A (the built-in daemon) and B (Xen's C xenstored under
 * --xenstored), over the same connections (two of dom0 on DIR/socket, two
 * of dom1 and one of dom2 through their store rings, DIR/dom/N/xenstore),
 * and every message each connection gets, replies and watch events in
 * their order, compared byte for byte. Scripted sessions first, then
 * seeded random ones; the run stops at the first difference. Owns nothing but its sockets; speaks the wire
 * protocol of <xen/io/xs_wire.h> itself, so both daemons see exactly the
 * same bytes.
 *
 * After each request, every connection makes one more request that
 * changes nothing (GET_DOMAIN_PATH): both daemons queue a connection's
 * events before a later reply to it, so once that reply is in, every
 * event the request caused is too, without waiting on a clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>
#include "unix_socket.h"

#define NCONN 5
#define SIDES 2
#define MSG_MAX (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX)
/* Only against a hung daemon: a reply that does not come is a failure. */
#define HANG_MS 20000
#define TX_NONE (-1)
#define TX_OWN (-2)         /* the connection's open transaction */
#define TX_BOGUS (-3)       /* an id no transaction has */

/* Which daemon socket each connection uses: dom0's, or a guest's ring. */
static const int conn_dom[NCONN] = { 0, 0, 1, 1, 2 };

struct side {
    const char *dir;
    int fd[NCONN];
    uint32_t tx[NCONN];     /* the connection's open transaction, or 0 */
    /* Its domain is released: nothing serves its ring, so a request on
     * it would never be answered; set by a RELEASE after which the
     * domain is no longer introduced, cleared by INTRODUCE. */
    bool parked[NCONN];
    const char *released;   /* the domid a RELEASE of this op took */
    unsigned long long gen_base;    /* see log_part() */
    /* What each connection received for the current request. */
    uint8_t *log[NCONN];
    size_t log_len[NCONN], log_cap[NCONN];
};

static struct side sides[SIDES];
static unsigned long n_ops, n_diffs, n_sessions, n_events;
static const char *session_name;
static bool verbose, probe_gen;

static void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "xs_diff: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void log_add(struct side *s, int c, const void *p, size_t n)
{
    if (s->log_len[c] + n > s->log_cap[c]) {
        s->log_cap[c] = (s->log_len[c] + n) * 2;
        if (!(s->log[c] = realloc(s->log[c], s->log_cap[c])))
            die("out of memory");
    }
    memcpy(s->log[c] + s->log_len[c], p, n);
    s->log_len[c] += n;
}

static void conn_open(struct side *s, int c)
{
    char path[4096];

    if (conn_dom[c] == 0)
        snprintf(path, sizeof(path), "%s/socket", s->dir);
    else
        snprintf(path, sizeof(path), "%s/dom/%d/xenstore", s->dir, conn_dom[c]);
    if ((s->fd[c] = xensim_unix_connect(path)) < 0)
        die("cannot connect to %s: %s", path, strerror(-s->fd[c]));
    s->tx[c] = 0;
}

static void conn_close(struct side *s, int c)
{
    if (s->fd[c] >= 0)
        close(s->fd[c]);
    s->fd[c] = -1;
    s->tx[c] = 0;
}

static bool read_full(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, HANG_MS);

        if (r == 0)
            die("%s: no answer in %d ms: a daemon hangs", session_name, HANG_MS);
        if (r < 0 && errno == EINTR)
            continue;
        ssize_t k = read(fd, (uint8_t *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        got += (size_t)k;
    }
    return true;
}

/*
 * DIRECTORY_PART's reply starts with the node's generation, a count of
 * every write since the daemon started. How many writes the toolstack
 * made before the sessions began depends on how its transactions
 * raced, so generations are logged as counted from the first session's
 * start (gen_base), and older ones as "old".
 */
static void log_part(struct side *s, int c, const struct xsd_sockmsg *h, const char *body)
{
    char gen[32];
    struct xsd_sockmsg n = *h;
    size_t glen = strnlen(body, h->len);
    unsigned long long g = strtoull(body, NULL, 10);
    int k;

    if (glen == h->len) {
        log_add(s, c, h, sizeof(*h));
        log_add(s, c, body, h->len);
        return;
    }
    if (g >= s->gen_base)
        k = snprintf(gen, sizeof(gen), "+%llu", g - s->gen_base);
    else
        k = snprintf(gen, sizeof(gen), "old");
    n.len = (uint32_t)(h->len - glen + (size_t)k);
    log_add(s, c, &n, sizeof(n));
    log_add(s, c, gen, (size_t)k);
    log_add(s, c, body + glen, h->len - glen);
}

/* Reads messages into the log until one that is not a watch event, which
 * it returns (its body NUL-terminated in body). false at EOF, logged as
 * such: the connection is then reopened. */
static bool read_reply(struct side *s, int c, struct xsd_sockmsg *h, char *body)
{
    for (;;) {
        if (s->fd[c] < 0 || !read_full(s->fd[c], h, sizeof(*h)) || h->len > XENSTORE_PAYLOAD_MAX ||
            !read_full(s->fd[c], body, h->len)) {
            log_add(s, c, "<EOF>", 5);
            conn_close(s, c);
            conn_open(s, c);
            return false;
        }
        body[h->len] = 0;
        if (h->type == XS_DIRECTORY_PART)
            log_part(s, c, h, body);
        else {
            log_add(s, c, h, sizeof(*h));
            log_add(s, c, body, h->len);
        }
        if (h->type != XS_WATCH_EVENT)
            return true;
        n_events++;
    }
}

/* Appends one message to buf: its header says claim bytes follow when
 * claim is nonzero (a lie, for the malformed-length sessions), else n. */
static size_t put_msg(uint8_t *buf, uint32_t type, uint32_t tx, const void *p, size_t n,
                      uint32_t claim)
{
    struct xsd_sockmsg h = { .type = type, .req_id = (uint32_t)n_ops, .tx_id = tx,
                             .len = claim ? claim : (uint32_t)n };

    memcpy(buf, &h, sizeof(h));
    memcpy(buf + sizeof(h), p, n);
    return sizeof(h) + n;
}

/* All of buf in writes the daemon may split as it likes. */
static void send_bytes(struct side *s, int c, const uint8_t *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t k = write(s->fd[c], buf + off, len - off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;          /* the daemon went: read_reply() sees EOF */
        off += (size_t)k;
    }
}

static void send_msg(struct side *s, int c, uint32_t type, uint32_t tx, const void *p, size_t n)
{
    static uint8_t buf[MSG_MAX + 64];

    if (n > sizeof(buf) - sizeof(struct xsd_sockmsg))
        die("payload too long");
    send_bytes(s, c, buf, put_msg(buf, type, tx, p, n, 0));
}

/* Prints bytes as a C string would show them. */
static void put_bytes(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            fputc(p[i], f);
        else
            fprintf(f, "\\x%02x", p[i]);
    }
}

/* The messages of one log, one per line. */
static void put_log(FILE *f, const uint8_t *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        struct xsd_sockmsg h;

        if (n - off >= 5 && !memcmp(p + off, "<EOF>", 5)) {
            fprintf(f, "      <EOF>\n");
            off += 5;
            continue;
        }
        memcpy(&h, p + off, sizeof(h));
        off += sizeof(h);
        fprintf(f, "      type %u req %u tx %u len %u: ", h.type, h.req_id, h.tx_id, h.len);
        put_bytes(f, p + off, h.len);
        fputc('\n', f);
        off += h.len;
    }
}

struct op {
    int conn;
    uint32_t type;
    int tx;                 /* TX_NONE, TX_OWN, TX_BOGUS, or an id */
    const char *p;
    size_t len;
    uint32_t claim;         /* nonzero: the length its header says */
    const struct op *then;  /* sent in the same write, right after it */
};

/* Scripted sessions: each class of difference issue 9 names, then the
 * corners of each message type. Payloads are C strings with their NULs
 * spelled out; P() counts the whole literal but its final NUL. */
#define P(s) s, sizeof(s) - 1
#define Q(conn, type, s) { conn, XS_##type, TX_NONE, P(s), 0, NULL }
#define QN(conn, type, s) { conn, type, TX_NONE, P(s), 0, NULL }
#define QT(conn, type, s) { conn, XS_##type, TX_OWN, P(s), 0, NULL }

static uint32_t op_tx(const struct side *s, const struct op *o)
{
    switch (o->tx) {
    case TX_NONE:
        return 0;
    case TX_OWN:
        return s->tx[o->conn];
    case TX_BOGUS:
        return 0x7fff0000u;
    default:
        return (uint32_t)o->tx;
    }
}

static void park(struct side *s, int dom, bool parked)
{
    for (int c = 0; c < NCONN; c++)
        if (conn_dom[c] && conn_dom[c] == dom)
            s->parked[c] = parked;
}

/* What the reply tells us of the connection's transaction. */
static void track_tx(struct side *s, const struct op *o, const struct xsd_sockmsg *h,
                     const char *body)
{
    if (h->type == XS_TRANSACTION_START && o->type == XS_TRANSACTION_START)
        s->tx[o->conn] = (uint32_t)strtoul(body, NULL, 10);
    else if (o->type == XS_TRANSACTION_END && h->type == XS_TRANSACTION_END)
        s->tx[o->conn] = 0;
    else if (o->type == XS_TRANSACTION_END && h->type == XS_ERROR && strcmp(body, "EINVAL") &&
             op_tx(s, o) == s->tx[o->conn])
        s->tx[o->conn] = 0;     /* EAGAIN, ENOMEM...: it is gone */
    else if (o->type == XS_RESET_WATCHES && h->type == XS_RESET_WATCHES)
        s->tx[o->conn] = 0;
    if (o->type == XS_RELEASE && h->type == XS_RELEASE)
        s->released = o->p;
    if (o->type == XS_INTRODUCE && h->type == XS_INTRODUCE)
        park(s, atoi(o->p), false);
}

/*
 * C xenstored 4.17 answers two kinds of refusal with whatever errno its
 * last failing call left (issue9-facts.md D5): a one-argument request
 * whose payload is not exactly one string (core.c: onearg() gives NULL,
 * which canonicalize() passes back without setting errno), and a refused
 * SET_PERMS of a special node (do_set_perms(): "if (set_perms_special(
 * ...)) return errno"). The built-in daemon answers the error meant:
 * EINVAL, and EACCES for a refusal. So just before such a request, with
 * nothing in between, a request that fails with that error on C's side
 * leaves errno so: a READ of an invalid path (EINVAL), or a guest's READ
 * of a node only dom0 may read (EACCES).
 */
static const struct op prime_einval = { 0, XS_READ, TX_NONE, P("bad path\0"), 0, NULL };
static const struct op prime_eacces = { 2, XS_READ, TX_NONE, P("/xs-diff-dom0\0"), 0, NULL };

static const struct op *errno_primer(const struct op *o)
{
    static const char *const specials[] = { "@introduceDomain", "@releaseDomain" };

    switch (o->type) {
    case XS_READ:
    case XS_DIRECTORY:
    case XS_GET_PERMS:
    case XS_MKDIR:
    case XS_RM:
        if (!o->len || memchr(o->p, 0, o->len) != o->p + o->len - 1)
            return &prime_einval;
        return NULL;
    case XS_SET_PERMS:
        if (!o->len || o->p[0] != '@' || !memchr(o->p, 0, o->len))
            return NULL;
        for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
            if (!strcmp(o->p, specials[i]))
                return &prime_eacces;
        return &prime_einval;
    default:
        return NULL;
    }
}

/* The op, and any sent with it, in one write. */
static void send_op(struct side *s, const struct op *o)
{
    static uint8_t buf[4 * MSG_MAX];
    size_t n = 0;

    for (const struct op *q = o; q; q = q->then) {
        if (n + sizeof(struct xsd_sockmsg) + q->len > sizeof(buf))
            die("payload too long");
        n += put_msg(buf + n, q->type, op_tx(s, q), q->p, q->len, q->claim);
    }
    send_bytes(s, o->conn, buf, n);
}

/* One request on both sides, then the quiet request on every
 * connection; false at a difference. */
static bool run_op(const struct op *o)
{
    static char body[XENSTORE_PAYLOAD_MAX + 1];
    /* A lying header is refused before its type is looked at. */
    const struct op *primer = o->claim ? NULL : errno_primer(o);
    struct xsd_sockmsg h;
    bool same = true;

    n_ops++;
    if (sides[0].parked[o->conn] || sides[1].parked[o->conn])
        die("%s op %lu: conn %d's domain is released", session_name, n_ops, o->conn);
    for (int i = 0; i < SIDES; i++) {
        struct side *s = &sides[i];

        for (int c = 0; c < NCONN; c++)
            s->log_len[c] = 0;
        if (primer) {
            /* A guest's refusal is primed on its own connection. */
            int pc = primer == &prime_eacces && conn_dom[o->conn] ? o->conn : primer->conn;

            send_msg(s, pc, primer->type, 0, primer->p, primer->len);
            read_reply(s, pc, &h, body);
        }
        send_op(s, o);
        /* A request sent with this one is answered after it, unless
         * the daemon closed the connection first. */
        s->released = NULL;
        for (const struct op *q = o; q && read_reply(s, o->conn, &h, body); q = q->then)
            track_tx(s, q, &h, body);
        /* A RELEASE of a domain whose connection another's SET_TARGET
         * references only drops that reference: the domain stays
         * introduced and its ring served. Ask, on conn 0, which it was. */
        if (s->released) {
            send_msg(s, 0, XS_IS_DOMAIN_INTRODUCED, 0, s->released, strlen(s->released) + 1);
            if (read_reply(s, 0, &h, body) && h.type == XS_IS_DOMAIN_INTRODUCED)
                park(s, atoi(s->released), !strcmp(body, "F"));
        }
        for (int c = 0; c < NCONN; c++) {
            if (s->parked[c])
                continue;
            send_msg(s, c, XS_GET_DOMAIN_PATH, 0, "0", 2);
            read_reply(s, c, &h, body);
        }
        /* -g: the global generation after each request, for finding
         * where two daemons began to count differently. */
        if (probe_gen) {
            send_msg(s, 0, XS_WRITE, 0, "/xs-diff-gen", 13);
            read_reply(s, 0, &h, body);
            send_msg(s, 0, XS_DIRECTORY_PART, 0, "/xs-diff-gen\0" "0", 15);
            read_reply(s, 0, &h, body);
        }
    }
    for (int c = 0; c < NCONN; c++)
        same = same && sides[0].log_len[c] == sides[1].log_len[c] &&
               !memcmp(sides[0].log[c], sides[1].log[c], sides[0].log_len[c]);
    if (same && !verbose)
        return true;
    if (!same)
        n_diffs++;
    FILE *f = same ? stdout : stderr;
    fprintf(f, "%s op %lu: conn %d (dom%d) type %u tx %d: ", session_name, n_ops, o->conn,
            conn_dom[o->conn], o->type, o->tx);
    put_bytes(f, (const uint8_t *)o->p, o->len > 200 ? 200 : o->len);
    if (o->len > 200)
        fprintf(f, "... (%zu bytes)", o->len);
    if (o->claim)
        fprintf(f, " (header says %" PRIu32 ")", o->claim);
    for (const struct op *q = o->then; q; q = q->then) {
        fprintf(f, " then type %u: ", q->type);
        put_bytes(f, (const uint8_t *)q->p, q->len > 200 ? 200 : q->len);
    }
    fprintf(f, "%s\n", same ? "" : "  DIFFERS");
    for (int c = 0; c < NCONN; c++) {
        if (same && !sides[0].log_len[c])
            continue;
        if (!same && sides[0].log_len[c] == sides[1].log_len[c] &&
            !memcmp(sides[0].log[c], sides[1].log[c], sides[0].log_len[c]))
            continue;
        for (int i = 0; i < SIDES; i++) {
            fprintf(f, "  conn %d, %s (%s):\n", c, i ? "B" : "A", sides[i].dir);
            put_log(f, sides[i].log[c], sides[i].log_len[c]);
            if (same)
                break;
        }
    }
    return same;
}

/* serve says "ready" before the console back end has written each
 * guest's console/tty: wait for those writes, the last of its start,
 * so that both stores start the sessions alike. */
static void wait_settled(struct side *s)
{
    static char body[XENSTORE_PAYLOAD_MAX + 1];
    struct timespec tick = { 0, 10 * 1000 * 1000 };
    struct xsd_sockmsg h;

    for (int dom = 1; dom <= 2; dom++) {
        char path[64];
        int tries = 0;

        snprintf(path, sizeof(path), "/local/domain/%d/console/tty", dom);
        for (;;) {
            send_msg(s, 0, XS_READ, 0, path, strlen(path) + 1);
            if (read_reply(s, 0, &h, body) && h.type == XS_READ)
                break;
            if (++tries > HANG_MS / 10)
                die("%s: %s never written", s->dir, path);
            nanosleep(&tick, NULL);
        }
    }
    s->log_len[0] = 0;
}

static void session_begin(const char *name)
{
    static char body[XENSTORE_PAYLOAD_MAX + 1];
    struct xsd_sockmsg h;

    session_name = name;
    for (int i = 0; i < SIDES; i++) {
        struct side *s = &sides[i];

        for (int c = 0; c < NCONN; c++)
            conn_open(s, c);
        if (n_sessions)
            continue;
        wait_settled(s);
        /* The generation a write takes now (see log_part()). */
        send_msg(s, 0, XS_WRITE, 0, "/xs-diff-gen", 13);
        read_reply(s, 0, &h, body);
        send_msg(s, 0, XS_DIRECTORY_PART, 0, "/xs-diff-gen\0" "0", 15);
        if (read_reply(s, 0, &h, body) && h.type == XS_DIRECTORY_PART)
            s->gen_base = strtoull(body, NULL, 10);
        s->log_len[0] = 0;
    }
    n_sessions++;
}

static void session_end(void)
{
    for (int i = 0; i < SIDES; i++)
        for (int c = 0; c < NCONN; c++)
            conn_close(&sides[i], c);
}


/* Every session starts from this: /t for everyone to write in, and each
 * guest's data directory its own, as libxl makes it. */
static const struct op setup_ops[] = {
    Q(0, RM, "/t\0"),
    Q(0, MKDIR, "/t\0"),
    Q(0, SET_PERMS, "/t\0n0\0b1\0b2\0"),
    Q(0, RM, "/local/domain/1/data\0"),
    Q(0, MKDIR, "/local/domain/1/data\0"),
    Q(0, SET_PERMS, "/local/domain/1/data\0n1\0"),
    Q(0, RM, "/local/domain/2/data\0"),
    Q(0, MKDIR, "/local/domain/2/data\0"),
    Q(0, SET_PERMS, "/local/domain/2/data\0n2\0"),
    Q(0, WRITE, "/xs-diff-dom0\0"),
};

static const struct op script_basic[] = {
    /* Values are byte strings. */
    Q(0, WRITE, "/t/bin\0\0bin\xff"),
    Q(2, READ, "/t/bin\0"),
    Q(0, WRITE, "/t/empty\0"),
    Q(0, READ, "/t/empty\0"),
    /* One event per change per watch; none for a MKDIR of what exists. */
    Q(1, WATCH, "/t\0w1\0"),
    Q(2, WATCH, "/t\0w2\0"),
    Q(0, WRITE, "/t/a\0x"),
    Q(0, MKDIR, "/t/a\0"),
    Q(0, MKDIR, "/t/m\0"),
    Q(0, SET_PERMS, "/t/a\0n0\0r1\0"),
    Q(0, RM, "/t/a\0"),
    Q(0, RM, "/t/a\0"),
    Q(0, RM, "/t/nope/deeper\0"),
    /* UNWATCH of what is not watched, valid path or not. */
    Q(1, UNWATCH, "/t\0nope\0"),
    Q(1, UNWATCH, "a/\0w1\0"),
    Q(1, UNWATCH, "x y\0w1\0"),
    Q(1, UNWATCH, "/t\0w1\0"),
    /* Directory order is insertion order, a re-made child last. */
    Q(0, WRITE, "/t/d/z\0"),
    Q(0, WRITE, "/t/d/a\0"),
    Q(0, WRITE, "/t/d/m\0"),
    Q(0, DIRECTORY, "/t/d\0"),
    Q(0, RM, "/t/d/z\0"),
    Q(0, WRITE, "/t/d/z\0"),
    Q(0, DIRECTORY, "/t/d\0"),
    Q(0, DIRECTORY_PART, "/t/d\0" "0\0"),
    Q(0, DIRECTORY_PART, "/t/d\0" "2\0"),
    /* Domain ops. */
    Q(0, RELEASE, "0\0"),
    Q(0, RELEASE, "77\0"),
    Q(0, RESUME, "77\0"),
    Q(0, RESUME, "0\0"),
    Q(0, SET_TARGET, "77\0" "0\0"),
    Q(0, SET_TARGET, "1\0"),
    Q(2, RELEASE, "1\0"),
    Q(2, INTRODUCE, "1\0" "1\0" "1\0"),
    Q(0, GET_DOMAIN_PATH, "7\0"),
    Q(0, GET_DOMAIN_PATH, "-1\0"),
    Q(0, GET_DOMAIN_PATH, "abc\0"),
    Q(2, GET_DOMAIN_PATH, "2\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "77\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "32752\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "abc\0"),
    Q(3, IS_DOMAIN_INTRODUCED, "1\0"),
    /* Special watches. */
    Q(1, WATCH, "@releaseDomain\0r\0"),
    Q(1, WATCH, "@introduceDomain\0i\0"),
    Q(1, WATCH, "@other\0o\0"),
    Q(3, WATCH, "@releaseDomain\0r\0"),
    Q(0, GET_PERMS, "@releaseDomain\0"),
    Q(0, SET_PERMS, "@releaseDomain\0n0\0r1\0"),
    Q(0, SET_PERMS, "@foo\0n0\0"),
    Q(3, SET_PERMS, "@releaseDomain\0n1\0"),
    Q(4, SET_PERMS, "@introduceDomain\0n1\0b2\0"),
    Q(4, TRANSACTION_START, "\0"),
    QT(4, SET_PERMS, "@introduceDomain\0n1\0b2\0"),
    QT(4, SET_PERMS, "@introduceDomain\0n0\0"),
    QT(4, TRANSACTION_END, "F\0"),
    /* Relative paths, from dom0 and from a guest. */
    Q(0, WRITE, "rel\0v"),
    Q(0, READ, "/local/domain/0/rel\0"),
    Q(0, RM, "rel\0"),
    Q(2, WRITE, "data/rel\0g"),
    Q(2, WATCH, "data\0rw\0"),
    Q(3, WRITE, "data/rel\0h"),
    Q(2, READ, "data/rel\0"),
    Q(4, READ, "/local/domain/1/data/rel\0"),
    Q(4, WRITE, "/local/domain/1/data/x\0"),
    Q(2, WRITE, "/local/domain/0/x\0"),
    Q(2, RM, "/local/domain/1\0"),
    /* Permissions. */
    Q(2, SET_PERMS, "data/rel\0n2\0"),
    Q(2, SET_PERMS, "data/rel\0n1\0r2\0r3\0r4\0r5\0r6\0"),
    Q(2, SET_PERMS, "data/rel\0n1\0r0x2\0"),
    Q(0, SET_PERMS, "/t/bin\0n77\0"),
    Q(0, SET_PERMS, "/t/bin\0n1\0r77\0"),
    Q(0, GET_PERMS, "/t/bin\0"),
    Q(0, SET_PERMS, "/t/bin\0q1\0"),
    Q(0, SET_PERMS, "/t/bin\0"),
    Q(0, SET_PERMS, "/t/bin\0n1x\0"),
    /* Malformed requests: no NUL, wrong counts, unknown types. */
    Q(0, READ, "/t/bin"),
    Q(0, WRITE, "/t/nonul"),
    Q(0, MKDIR, "/t/nonul"),
    Q(0, RM, "/t/nonul"),
    Q(0, WATCH, "/t\0"),
    Q(0, UNWATCH, "/t\0"),
    Q(0, DIRECTORY_PART, "/t\0"),
    QN(0, 20, "/t\0"),
    QN(0, 23, "/t\0"),
    QN(0, 99, ""),
    Q(0, WATCH_EVENT, "/t\0x\0"),
    Q(0, ERROR, "EINVAL\0"),
    QN(2, 20, "/t\0"),
    Q(2, READ, "/t/bin"),
    Q(0, READ, "\0"),
    Q(0, READ, "/t/\0"),
    Q(0, READ, "/t//bin\0"),
    Q(0, READ, "/t/b in\0"),
    { 0, XS_READ, TX_BOGUS, P("/t/bin\0"), 0, NULL },
    { 0, XS_GET_DOMAIN_PATH, TX_BOGUS, P("0\0"), 0, NULL },
    { 0, XS_WATCH, TX_BOGUS, P("/t\0bt\0"), 0, NULL },
    Q(0, RESET_WATCHES, ""),
    Q(1, RESET_WATCHES, "junk"),
    Q(0, WRITE, "/t/after\0reset"),
};

static const struct op script_tx[] = {
    /* A transaction that read what another then wrote conflicts. */
    Q(1, WATCH, "/t\0w\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, READ, "/t/c\0"),
    QT(0, WRITE, "/t/c\0in tx"),
    QT(0, WRITE, "/t/c2\0also"),
    Q(1, WRITE, "/t/c\0outside"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, READ, "/t/c\0"),
    /* One that read nothing another wrote commits, events in order. */
    Q(0, TRANSACTION_START, "\0"),
    QT(0, WRITE, "/t/e/2\0b"),
    QT(0, WRITE, "/t/e/1\0a"),
    QT(0, DIRECTORY, "/t/e\0"),
    Q(1, WRITE, "/t/other\0o"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, DIRECTORY, "/t/e\0"),
    /* Absent nodes count as read: creating one conflicts. */
    Q(0, TRANSACTION_START, "\0"),
    QT(0, READ, "/t/absent\0"),
    QT(0, WRITE, "/t/x\0"),
    Q(1, WRITE, "/t/absent\0now"),
    QT(0, TRANSACTION_END, "T\0"),
    /* An abort fires nothing; a bad END argument keeps it. */
    Q(0, TRANSACTION_START, "\0"),
    QT(0, WRITE, "/t/ab\0"),
    QT(0, TRANSACTION_END, "X\0"),
    QT(0, TRANSACTION_END, "F\0"),
    QT(0, TRANSACTION_END, "F\0"),
    /* A transaction's view mixes its copies with the store (read_node()
     * through transaction_prepend()), and RM walks that view: a copied
     * child list naming a node since gone stops the walk, EIO, what was
     * removed staying removed; so does a parent whose list lacks the
     * node (delete_child()); a parent seen as gone is EINVAL
     * (rm_node()); a node below a removed subtree that the walk never
     * saw is read from the store; a child made again in a copied list
     * that still names it is listed twice (add_child()). */
    Q(0, WRITE, "/t/x/y\0"),
    Q(0, WRITE, "/t/x/z\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, WRITE, "/t/x/w\0"),
    Q(1, RM, "/t/x/y\0"),
    QT(0, RM, "/t/x\0"),
    QT(0, DIRECTORY, "/t/x\0"),
    QT(0, DIRECTORY_PART, "/t/x\0" "0\0"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, WRITE, "/t/q/c\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, WRITE, "/t/q/c\0x"),
    QT(0, READ, "/t/q\0"),
    Q(1, RM, "/t/q\0"),
    QT(0, READ, "/t\0"),
    QT(0, RM, "/t/q\0"),
    QT(0, READ, "/t/q/c\0"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, WRITE, "/t/r/s\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, READ, "/t/r/s\0"),
    Q(1, RM, "/t/r\0"),
    QT(0, READ, "/t/r\0"),
    QT(0, RM, "/t/r/s\0"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, WRITE, "/t/k/l\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, DIRECTORY, "/t/k\0"),
    Q(1, RM, "/t/k/l\0"),
    QT(0, WRITE, "/t/k/l\0again"),
    QT(0, DIRECTORY, "/t/k\0"),
    QT(0, RM, "/t/k\0"),
    QT(0, DIRECTORY, "/t/k\0"),
    QT(0, TRANSACTION_END, "T\0"),
    Q(0, TRANSACTION_START, "\0"),
    QT(0, DIRECTORY, "/t/u\0"),
    QT(0, MKDIR, "/t/u\0"),
    QT(0, RM, "/t/u\0"),
    Q(1, WRITE, "/t/u/v\0store"),
    QT(0, READ, "/t/u/v\0"),
    QT(0, WRITE, "/t/u/v/w\0"),
    QT(0, DIRECTORY_PART, "/t/u/v\0" "0\0"),
    QT(0, TRANSACTION_END, "T\0"),
    /* Nested, and many at once. */
    Q(2, TRANSACTION_START, "\0"),
    QT(2, TRANSACTION_START, "\0"),
    QT(2, RM, "data/none\0"),
    QT(2, WRITE, "/local/domain/0/no\0"),
    QT(2, TRANSACTION_END, "T\0"),
    Q(2, TRANSACTION_START, "\0"),
    Q(2, TRANSACTION_START, "\0"),
    Q(2, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(4, TRANSACTION_START, "\0"),
    Q(0, TRANSACTION_END, "T\0"),
    Q(0, RESET_WATCHES, ""),
};

/* CONTROL (privileged), and the quotas a guest reaches. */
static const struct op script_control[] = {
    Q(0, CONTROL, ""),
    Q(0, CONTROL, "\0"),
    Q(0, CONTROL, "nope\0"),
    Q(0, CONTROL, "help\0"),
    Q(0, CONTROL, "quota\0"),
    Q(0, CONTROL, "quota\0" "1\0"),
    Q(0, CONTROL, "quota\0" "77\0"),
    Q(0, CONTROL, "quota\0" "2\0"),
    /* Not "quota 0" (nor "abc", atoi()'s 0): dom0's memory counts the
     * tty paths the console back end wrote, whose pty numbers differ
     * from run to run. */
    Q(0, CONTROL, "quota\0" "set\0"),
    Q(0, CONTROL, "quota\0" "set\0" "bogus\0" "1\0"),
    Q(0, CONTROL, "quota\0" "nodes\0" "1000\0"),
    Q(0, CONTROL, "quota\0" "set\0" "nodes\0" "1000\0"),
    Q(0, CONTROL, "quota-soft\0"),
    Q(0, CONTROL, "check\0"),
    Q(0, CONTROL, "log\0"),
    Q(0, CONTROL, "log\0" "off\0"),
    Q(0, CONTROL, "print\0"),
    Q(0, CONTROL, "print\0" "hello\0"),
    Q(2, CONTROL, "help\0"),
    /* A guest's watches and transactions count for its domain, over
     * all its connections. */
    Q(2, WATCH, "data\0q0\0"),
    Q(3, WATCH, "data\0q1\0"),
    Q(2, TRANSACTION_START, "\0"),
    Q(0, CONTROL, "quota\0" "1\0"),
};

/* Payloads past what a literal can say: a path, its NUL, then value
 * bytes, XENSTORE_PAYLOAD_MAX and more of them (filled by main()). */
static char big_t[MSG_MAX], big_g[MSG_MAX];
static const char big_t_path[] = "/t/big", big_g_path[] = "data/big";

#define BIG(conn, type, buf, n) { conn, XS_##type, TX_NONE, buf, n, 0, NULL }
#define CLAIM(conn, type, s, n) { conn, XS_##type, TX_NONE, P(s), n, NULL }
#define PIPE(conn, type, s, next) { conn, XS_##type, TX_NONE, P(s), 0, next }

static const struct op too_long = { 0, XS_READ, TX_NONE, P("/t/bin\0"), XENSTORE_PAYLOAD_MAX + 1,
                                    NULL };
static const struct op write_p2 = { 0, XS_WRITE, TX_NONE, P("/t/p2\0b"), 0, NULL };
static const struct op read_p1 = { 0, XS_READ, TX_NONE, P("/t/p1\0"), 0, &write_p2 };
static const struct op guest_read = { 2, XS_READ, TX_NONE, P("data/rel\0"), 0, NULL };

/*
 * Lengths and framing (core.c: handle_input()). A header that says more
 * than XENSTORE_PAYLOAD_MAX is "Client tried to feed us": the
 * connection is ignored (domain.c: ignore_connection()), which for a
 * socket means closed, its watches and transactions gone. What it had
 * queued goes first (conn_free_buffered_data()), so a request sent in
 * the same write, answered but not yet sent, gets no reply. A guest's
 * bridge refuses such a header itself, as Linux's xenbus_dev does, and
 * forgets a transaction whatever its END's answer (xenbus_dev_queue_
 * reply()), EINVAL too.
 */
static const struct op script_wire[] = {
    BIG(0, WRITE, big_t, XENSTORE_PAYLOAD_MAX),
    Q(0, READ, "/t/big\0"),
    Q(1, WATCH, "/t\0wire\0"),
    Q(1, TRANSACTION_START, "\0"),
    BIG(1, WRITE, big_t, XENSTORE_PAYLOAD_MAX + 1),
    Q(0, WRITE, "/t/after\0x"),
    Q(1, UNWATCH, "/t\0wire\0"),
    CLAIM(0, READ, "", XENSTORE_PAYLOAD_MAX + 1),
    CLAIM(0, READ, "/t/bin\0", 0xffffffffu),
    PIPE(0, READ, "/t/bin\0", &too_long),
    PIPE(0, WRITE, "/t/p1\0a", &read_p1),
    Q(0, DIRECTORY, "/t\0"),
    BIG(2, WRITE, big_g, XENSTORE_PAYLOAD_MAX + 1),
    CLAIM(3, READ, "", XENSTORE_PAYLOAD_MAX + 1),
    PIPE(2, WRITE, "data/rel\0p", &guest_read),
    /* Types past the last: ENOSYS, whatever the payload. */
    QN(0, XS_TYPE_COUNT, ""),
    QN(0, 0xffff, "/t\0"),
    QN(0, 0xffffffffu, "/t\0"),
    QN(3, 0x8000, ""),
    /* Bytes after the last NUL, an argument without one, a missing or
     * extra argument, for each kind of request. */
    Q(0, WRITE, "/t/bin\0x"),
    Q(0, SET_PERMS, "/t/bin\0n0\0r1"),
    Q(0, GET_PERMS, "/t/bin\0"),
    Q(0, WATCH, "/t\0tok\0extra"),
    Q(0, WATCH, "/t\0tok2\0extra\0"),
    Q(0, WATCH, "/t\0"),
    Q(0, WATCH, "/t"),
    Q(0, WRITE, "/t/bin2\0"),
    Q(0, UNWATCH, "/t\0tok\0extra\0"),
    Q(0, UNWATCH, "/t\0tok2\0"),
    Q(0, UNWATCH, "/t\0tok"),
    Q(0, TRANSACTION_END, "T"),
    Q(0, TRANSACTION_END, ""),
    Q(0, TRANSACTION_END, "T\0"),
    Q(0, GET_DOMAIN_PATH, "1"),
    Q(0, GET_DOMAIN_PATH, ""),
    Q(0, GET_DOMAIN_PATH, "1\0extra\0"),
    Q(0, GET_DOMAIN_PATH, "1x\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1"),
    Q(0, IS_DOMAIN_INTRODUCED, ""),
    Q(0, IS_DOMAIN_INTRODUCED, "2\0junk"),
    Q(0, DIRECTORY_PART, "/t\0" "0"),
    Q(0, DIRECTORY_PART, "/t\0" "abc\0"),
    Q(0, DIRECTORY_PART, "/t\0" "-1\0"),
    Q(0, DIRECTORY_PART, "/t\0" "99999\0"),
    Q(0, DIRECTORY_PART, "/t"),
    Q(0, INTRODUCE, "77\0" "1\0"),
    Q(0, INTRODUCE, "77\0" "1\0" "0\0"),
    Q(0, INTRODUCE, "77\0" "1\0" "abc\0"),
    Q(0, INTRODUCE, "77\0" "1\0" "5\0"),
    Q(0, INTRODUCE, "77\0" "1\0" "5"),
    Q(0, RELEASE, "77"),
    Q(0, RELEASE, ""),
    Q(0, RESUME, "77"),
    Q(0, RESUME, ""),
    Q(0, SET_TARGET, "77\0" "1"),
    Q(0, SET_TARGET, "77"),
    Q(0, SET_TARGET, ""),
    Q(0, RESET_WATCHES, "\0"),
    Q(0, CONTROL, "quota"),
    Q(0, CONTROL, "quota\0" "1"),
    Q(2, WRITE, "data/x"),
    Q(2, SET_PERMS, "data/rel\0n1\0r2"),
    Q(2, SET_PERMS, "data/rel"),
    Q(2, TRANSACTION_START, "x"),
    Q(2, TRANSACTION_START, ""),
    QT(2, TRANSACTION_END, "F"),
    QT(2, TRANSACTION_END, "F\0"),
};

/* Sessions built at run time, of many like requests or of payloads no
 * literal spells. Payloads are given as formats, '|' standing for NUL
 * (no path or value here has one). */
static struct op *dyn;
static size_t dyn_n, dyn_cap;

static void dyn_add(int conn, uint32_t type, int tx, const char *fmt, ...)
{
    va_list ap;
    char tmp[MSG_MAX];
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        die("dyn_add: payload too long");
    for (int i = 0; i < n; i++)
        if (tmp[i] == '|')
            tmp[i] = '\0';
    if (dyn_n == dyn_cap) {
        dyn_cap = dyn_cap ? dyn_cap * 2 : 256;
        if (!(dyn = realloc(dyn, dyn_cap * sizeof(*dyn))))
            die("out of memory");
    }
    char *p = malloc((size_t)n + 1);
    if (!p)
        die("out of memory");
    memcpy(p, tmp, (size_t)n + 1);
    dyn[dyn_n++] = (struct op){ conn, type, tx, p, (size_t)n, 0, NULL };
}

/* The built session's payloads (dyn_add() copies each), before the
 * next is built and at the end. */
static void dyn_clear(void)
{
    for (size_t i = 0; i < dyn_n; i++)
        free((char *)dyn[i].p);
    dyn_n = 0;
}

/* n bytes of ch, as a string for dyn_add()'s %s. */
static const char *run_of(char ch, size_t n)
{
    static char buf[4][MSG_MAX];
    static int k;
    char *b = buf[k++ % 4];

    memset(b, ch, n);
    b[n] = '\0';
    return b;
}

/* A relative path of about len characters below dir, in components of
 * 100 so that no parent's child list nears the node-size quota. */
static const char *deep_path(const char *dir, size_t len)
{
    static char buf[MSG_MAX];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "%s", dir);

    while (n < len) {
        size_t k = len - n - 1 < 99 ? len - n - 1 : 99;

        buf[n++] = '/';
        memset(buf + n, 'c', k);
        n += k;
        if (k == 0)
            buf[n++] = 'c';
    }
    buf[n] = '\0';
    return buf;
}

/*
 * Path lengths (core.c: is_valid_nodename()): beyond the domain's prefix
 * that "sscanf(node, "/local/domain/%5u/%n", ...)" takes, a path may
 * have XENSTORE_REL_PATH_MAX characters; a write's payload bounds it too.
 */
static void build_paths(void)
{
    static const char *const prefixes[] = {
        "/t/", "/local/domain/12345/", "/local/domain/123456/", "/local/domain/-1/",
        "/local/domain/+1/", "/local/domain/01/", "/local/domain/1x/",
    };

    /* Each prefix with 2048 and 2049 characters in all, then with as
     * many after it. */
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        for (size_t k = 0; k < 4; k++) {
            size_t pl = strlen(prefixes[i]);
            const char *name = run_of('p', 2048 + k % 2 - (k < 2 ? pl : 0));

            dyn_add(0, XS_WRITE, TX_NONE, "%s%s|v", prefixes[i], name);
            dyn_add(0, XS_READ, TX_NONE, "%s%s|", prefixes[i], name);
            dyn_add(0, XS_RM, TX_NONE, "%s%s|", prefixes[i], name);
        }
    dyn_add(0, XS_WRITE, TX_NONE, "/t/%s|v", run_of('q', 3069));
    dyn_add(0, XS_WRITE, TX_NONE, "/t/%s|v", run_of('q', 3070));
    dyn_add(0, XS_WRITE, TX_NONE, "/t/%s|%s", run_of('q', 3000), run_of('v', 1090));
    dyn_add(0, XS_DIRECTORY, TX_NONE, "/t|");
    dyn_add(0, XS_RM, TX_NONE, "/t/%s|", run_of('q', 3069));
    /* A guest's, relative and absolute: /local/domain/1/ is free. */
    for (size_t len = 2046; len <= 2049; len++) {
        dyn_add(2, XS_WRITE, TX_NONE, "%s|v", deep_path("data", len));
        dyn_add(3, XS_READ, TX_NONE, "/local/domain/1/%s|", deep_path("data", len));
        dyn_add(3, XS_WRITE, TX_NONE, "/local/domain/1/%s|w", deep_path("data", len));
        dyn_add(2, XS_READ, TX_NONE, "%s|", deep_path("data", len));
        dyn_add(4, XS_WATCH, TX_NONE, "/local/domain/1/%s|k|", deep_path("data", len));
        dyn_add(4, XS_WATCH, TX_NONE, "%s|k|", deep_path("data", len));
    }
    dyn_add(2, XS_RM, TX_NONE, "data/c%s|", run_of('c', 98));
    dyn_add(4, XS_RESET_WATCHES, TX_NONE, "");
}

/*
 * The quotas an unprivileged guest reaches, from its two connections
 * (both on its one ring, as a guest's are: C xenstored gives a domain
 * one connection), with the errno C gives each: E2BIG past the watches
 * (do_watch()), ENOSPC past transactions (do_transaction_start()),
 * nodes (domain_nbentry_inc()) and node size (write_node_raw()). dom2
 * and dom0 are not held by dom1's counts.
 */
static void build_quota(void)
{
    for (int i = 0; i < 132; i++)
        dyn_add(2 + i % 2, XS_WATCH, TX_NONE, "data|q%d|", i);
    dyn_add(4, XS_WATCH, TX_NONE, "data|q|");
    dyn_add(0, XS_WATCH, TX_NONE, "/local/domain/1/data|q|");
    dyn_add(2, XS_UNWATCH, TX_NONE, "data|q0|");
    dyn_add(3, XS_WATCH, TX_NONE, "data|again|");
    dyn_add(2, XS_WATCH, TX_NONE, "data|again2|");
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/w|x");
    dyn_add(2, XS_RESET_WATCHES, TX_NONE, "");
    dyn_add(3, XS_WATCH, TX_NONE, "data|after-reset|");
    dyn_add(3, XS_RESET_WATCHES, TX_NONE, "");


    /* Node size: the record (header, permissions, data, child names). */
    for (int len = 2000; len <= 2040; len++)
        dyn_add(2, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', (size_t)len));
    dyn_add(2, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', 2016));
    dyn_add(2, XS_SET_PERMS, TX_NONE, "data/sz|n1|r2|");
    dyn_add(2, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', 2010));
    dyn_add(2, XS_SET_PERMS, TX_NONE, "data/sz|n1|r2|");
    dyn_add(2, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', 2010));
    dyn_add(2, XS_GET_PERMS, TX_NONE, "data/sz|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/sz/child|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/sz/ch|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/sz/c|");
    dyn_add(3, XS_MKDIR, TX_NONE, "data/sz/d|");
    dyn_add(2, XS_DIRECTORY, TX_NONE, "data/sz|");
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/sz|%s", run_of('z', 3000));
    dyn_add(2, XS_READ, TX_NONE, "data/sz|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/sz/e|");
    dyn_add(2, XS_SET_PERMS, TX_NONE, "data/sz|n1|");
    dyn_add(2, XS_WRITE, TX_NONE, "data/sz|small");
    dyn_add(4, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', 2030));
    dyn_add(4, XS_WRITE, TX_NONE, "data/sz|%s", run_of('s', 2000));

    /* Nodes: the quota lowered for the test, and put back. */
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|set|nodes|60|");
    for (int i = 0; i < 70; i++)
        dyn_add(2 + i % 2, XS_WRITE, TX_NONE, "data/n%d|", i);
    dyn_add(2, XS_WRITE, TX_NONE, "data/n0|rewritten");
    dyn_add(2, XS_MKDIR, TX_NONE, "data/n1|");
    dyn_add(4, XS_WRITE, TX_NONE, "data/other|");
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/by-dom0|");
    dyn_add(0, XS_WRITE, TX_NONE, "/t/own|");
    dyn_add(0, XS_SET_PERMS, TX_NONE, "/t/own|n1|");
    dyn_add(0, XS_SET_PERMS, TX_NONE, "/t/own|n2|");
    dyn_add(2, XS_RM, TX_NONE, "data/n0|");
    dyn_add(2, XS_RM, TX_NONE, "data/n1|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/back|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/back2|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/back3|");
    dyn_add(2, XS_RM, TX_NONE, "data/n2|");
    dyn_add(2, XS_RM, TX_NONE, "data/n3|");
    dyn_add(2, XS_RM, TX_NONE, "data/n4|");
    dyn_add(2, XS_TRANSACTION_END, TX_OWN, "F|");
    dyn_add(2, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(2, XS_WRITE, TX_OWN, "data/t1|");
    dyn_add(2, XS_WRITE, TX_OWN, "data/t2|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/outside|");
    dyn_add(2, XS_WRITE, TX_OWN, "data/t3|");
    dyn_add(2, XS_WRITE, TX_OWN, "data/t4|");
    dyn_add(2, XS_TRANSACTION_END, TX_OWN, "T|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/after|");
    dyn_add(2, XS_DIRECTORY, TX_NONE, "data|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|set|nodes|1000|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/after2|");
    dyn_add(0, XS_RM, TX_NONE, "/local/domain/1/data|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");

    /* Transactions, last: the bridge aborts them when the session's
     * connections close. */
    for (int i = 0; i < 13; i++)
        dyn_add(2 + i % 2, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(4, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(0, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(2, XS_TRANSACTION_END, TX_OWN, "F|");
    dyn_add(3, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(2, XS_TRANSACTION_START, TX_NONE, "|");
}

/*
 * The memory quota (quota-memory-per-domain, 4.17's hard level 2.5 MB,
 * settable as "memory"): domain_memory_add_chk() refuses with ENOMEM
 * any change that would take an unprivileged domain's count to the
 * level or past it, so the domain never reaches it this way, and the
 * count shows in "quota 1". Lowered here so that node records reach it
 * (their size counts for the node's owner, whoever writes), then the
 * watches (path and token) and a transaction's commit. A domain over the
 * level is not read at all (domain_can_read()), which a request through
 * the bridge would wait on forever: test_xs_ring's memory_stall covers
 * that.
 */
static void build_memory(void)
{
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|set|memory|60000|");
    for (int i = 0; i < 40; i++)
        dyn_add(2 + i % 2, XS_WRITE, TX_NONE, "data/m%d|%s", i, run_of('m', 1500));
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
    /* An existing node's update over the level answers the errno the
     * last failing call left (do_write(): "if (write_node(...)) return
     * errno;", and write_node_raw() returns EIO without setting it);
     * the built-in daemon answers EIO, what a new node's creation over
     * the level answers (create_node(): "errno = ret"). So each such
     * update here is primed by a creation that fails so. */
    for (int len = 16; len <= 1024; len *= 2) {
        dyn_add(2, XS_WRITE, TX_NONE, "data/eio|%s", run_of('e', 1900));
        dyn_add(2, XS_WRITE, TX_NONE, "data/small|%s", run_of('s', (size_t)len));
    }
    /* dom0 writing a node dom1 owns is charged to dom1, and so is a node
     * dom0 makes below one (it inherits the owner). */
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/eio|%s", run_of('e', 1900));
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/m0|%s", run_of('z', 1900));
    dyn_add(0, XS_WRITE, TX_NONE, "/local/domain/1/data/by0|%s", run_of('z', 1900));
    dyn_add(0, XS_SET_PERMS, TX_NONE, "/local/domain/1/data/by0|n1|");
    dyn_add(2, XS_WATCH, TX_NONE, "data|%s|", run_of('w', 1500));
    dyn_add(2, XS_WATCH, TX_NONE, "data|short|");
    dyn_add(2, XS_RM, TX_NONE, "data/m1|");
    dyn_add(2, XS_RM, TX_NONE, "data/m2|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
    dyn_add(3, XS_WRITE, TX_NONE, "data/m1|%s", run_of('b', 1500));
    dyn_add(3, XS_WRITE, TX_NONE, "data/m2|%s", run_of('b', 1500));
    dyn_add(2, XS_WATCH, TX_NONE, "data|%s|", run_of('w', 1500));
    dyn_add(2, XS_SET_PERMS, TX_NONE, "data/m3|n1|r2|b0|");
    dyn_add(2, XS_RM, TX_NONE, "data/m4|");
    dyn_add(2, XS_TRANSACTION_START, TX_NONE, "|");
    dyn_add(2, XS_WRITE, TX_OWN, "data/m4|%s", run_of('t', 1500));
    dyn_add(2, XS_WRITE, TX_OWN, "data/tx|%s", run_of('t', 1500));
    dyn_add(3, XS_WRITE, TX_NONE, "data/m5|%s", run_of('c', 1500));
    dyn_add(2, XS_TRANSACTION_END, TX_OWN, "T|");
    dyn_add(2, XS_DIRECTORY, TX_NONE, "data|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
    /* dom2 is counted on its own, and dom0 not at all. */
    dyn_add(4, XS_WRITE, TX_NONE, "data/m|%s", run_of('d', 1500));
    dyn_add(0, XS_WRITE, TX_NONE, "/t/m|%s", run_of('0', 1900));
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|set|memory|2621440|");
    dyn_add(2, XS_WRITE, TX_NONE, "data/m1|after");
    dyn_add(0, XS_RM, TX_NONE, "/local/domain/1/data|");
    dyn_add(0, XS_RM, TX_NONE, "/t/m|");
    dyn_add(0, XS_CONTROL, TX_NONE, "quota|1|");
}

/*
 * Live domain operations from dom0 (domain.c). RELEASE frees the
 * domain's connection, its watches first so that the removal of the
 * nodes it owns (domain_tree_remove()) tells it nothing, and fires
 * @releaseDomain; until INTRODUCE makes it anew (ring page by grant,
 * the gfn ignored; the port is the guest's first, which the simulator
 * allocates for its store) nothing serves its ring, so its connections
 * are left alone meanwhile. INTRODUCE of an introduced domain binds it
 * again and resets its connection (do_introduce(): domain_conn_reset()):
 * watches and transactions go, @introduceDomain does not fire.
 */
static const struct op script_domains[] = {
    Q(0, WATCH, "@releaseDomain\0r0\0"),
    Q(1, WATCH, "@introduceDomain\0i1\0"),
    Q(1, WATCH, "/local/domain/1\0home1\0"),
    Q(4, WATCH, "@releaseDomain\0r4\0"),
    Q(4, WATCH, "@introduceDomain\0i4\0"),
    Q(3, WATCH, "@releaseDomain\0r3\0"),
    Q(2, WATCH, "data\0d2\0"),
    Q(2, WRITE, "data/x\0mine"),
    Q(0, WRITE, "/local/domain/1/data/by0\0dom0's"),
    Q(2, TRANSACTION_START, "\0"),
    QT(2, WRITE, "data/in-tx\0"),
    Q(0, RESUME, "1\0"),
    Q(0, RELEASE, "1\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1\0"),
    Q(0, RELEASE, "1\0"),
    Q(0, RESUME, "1\0"),
    Q(0, SET_TARGET, "1\0" "2\0"),
    Q(0, GET_DOMAIN_PATH, "1\0"),
    Q(0, DIRECTORY, "/local/domain/1\0"),
    Q(0, READ, "/local/domain/1/data/by0\0"),
    Q(0, GET_PERMS, "/local/domain/1/data\0"),
    Q(0, WRITE, "/t/for1\0"),
    Q(0, SET_PERMS, "/t/for1\0n1\0"),
    Q(0, GET_PERMS, "/t/for1\0"),
    Q(4, READ, "/local/domain/1/data/by0\0"),
    Q(0, INTRODUCE, "1\0" "0\0" "0\0"),
    Q(0, INTRODUCE, "1\0" "0\0" "2\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1\0"),
    Q(0, INTRODUCE, "1\0" "0\0" "1\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1\0"),
    Q(2, GET_DOMAIN_PATH, "1\0"),
    Q(3, READ, "domid\0"),
    Q(2, READ, "data/x\0"),
    QT(2, WRITE, "data/in-tx\0"),
    QT(2, TRANSACTION_END, "T\0"),
    Q(2, UNWATCH, "data\0d2\0"),
    Q(3, WATCH, "domid\0again\0"),
    Q(3, TRANSACTION_START, "\0"),
    Q(0, WRITE, "/local/domain/1/domid\0" "1"),
    /* Again, of a domain introduced: no event, its connection reset. */
    Q(0, INTRODUCE, "1\0" "0\0" "1\0"),
    QT(3, READ, "domid\0"),
    Q(3, UNWATCH, "domid\0again\0"),
    Q(0, WRITE, "/local/domain/1/domid\0" "1"),
    Q(0, RESUME, "1\0"),
    /* dom2 the same way, watched by dom1 once @releaseDomain lets it. */
    Q(2, WATCH, "@releaseDomain\0r2\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    Q(0, SET_PERMS, "@releaseDomain\0n0\0r1\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    Q(4, GET_DOMAIN_PATH, "2\0"),
    Q(0, SET_PERMS, "@releaseDomain\0n0\0"),
    /*
     * SET_TARGET takes a reference on the target's connection
     * (do_set_target(): talloc_reference()) that no later SET_TARGET
     * gives back, and a RELEASE of a referenced domain (talloc_free())
     * drops the newest reference only: its watches and transactions
     * stay (4.17.0 has no conn_delete_all_watches() in do_release()),
     * no @releaseDomain, still introduced, its ring served.
     * Each RELEASE here is followed by IS_DOMAIN_INTRODUCED (run_op()).
     * A holder must have another target before the last reference on
     * its old one goes: C would keep a pointer to the freed connection.
     */
    Q(0, SET_TARGET, "1\0" "2\0"),
    Q(3, READ, "/local/domain/2/name\0"),
    Q(4, WATCH, "data\0d4\0"),
    Q(4, WATCH, "/t\0t4\0"),
    Q(4, TRANSACTION_START, "\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, WRITE, "/local/domain/2/data/x\0" "by0"),
    Q(0, WRITE, "/t/x4\0" "by0"),
    Q(4, READ, "data/x\0"),
    QT(4, WRITE, "data/in-tx\0" "kept"),
    QT(4, TRANSACTION_END, "T\0"),
    Q(4, GET_DOMAIN_PATH, "2\0"),
    Q(0, SET_TARGET, "1\0" "2\0"),
    Q(0, SET_TARGET, "1\0" "2\0"),
    Q(0, RELEASE, "2\0"),
    Q(3, READ, "/local/domain/2/name\0"),
    Q(0, SET_TARGET, "1\0" "0\0"),
    Q(3, READ, "/xs-diff-dom0\0"),
    Q(0, RELEASE, "2\0"),
    /* No reference left: the release is real. */
    Q(0, RELEASE, "2\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    /* A domain that references itself. */
    Q(0, SET_TARGET, "2\0" "2\0"),
    Q(0, SET_TARGET, "2\0" "2\0"),
    Q(0, RELEASE, "2\0"),
    Q(4, WATCH, "data\0d4b\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, WRITE, "/local/domain/2/data/x\0" "again"),
    Q(0, RELEASE, "2\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    /* A holder released gives its references back (destroy_conn()
     * unlinks its target, its other references go with it): dom2
     * holding dom1 twice, then dom1 released once is released. */
    Q(0, SET_TARGET, "2\0" "1\0"),
    Q(0, SET_TARGET, "2\0" "1\0"),
    Q(0, RELEASE, "1\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, IS_DOMAIN_INTRODUCED, "1\0"),
    Q(0, RELEASE, "1\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    Q(0, INTRODUCE, "1\0" "0\0" "1\0"),
    /* Two domains referencing each other, each released once: both
     * stay. dom1's target, dom0, then holds; it goes with dom1 below. */
    Q(0, SET_TARGET, "1\0" "2\0"),
    Q(0, SET_TARGET, "2\0" "1\0"),
    Q(0, RELEASE, "1\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, SET_TARGET, "1\0" "0\0"),
    Q(0, SET_TARGET, "2\0" "0\0"),
    Q(4, READ, "/xs-diff-dom0\0"),
    /* dom1 made anew has no target, as later sessions' EACCES primer
     * needs, and dom2 too. */
    Q(0, RELEASE, "1\0"),
    Q(0, RELEASE, "2\0"),
    Q(0, INTRODUCE, "1\0" "0\0" "1\0"),
    Q(0, INTRODUCE, "2\0" "0\0" "1\0"),
    Q(3, READ, "/xs-diff-dom0\0"),
    Q(4, READ, "/xs-diff-dom0\0"),
};

struct script {
    const char *name;
    const struct op *ops;
    size_t n;
    void (*build)(void);        /* or this makes them, in dyn */
};

#define SCRIPT(s) { #s, s, sizeof(s) / sizeof(s[0]), NULL }
#define BUILT(f) { #f, NULL, 0, f }
static const struct script scripts[] = {
    SCRIPT(script_basic), SCRIPT(script_tx), SCRIPT(script_control), SCRIPT(script_wire),
    BUILT(build_paths), BUILT(build_quota), BUILT(build_memory), SCRIPT(script_domains),
};

static bool run_ops(const struct op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!run_op(&ops[i]))
            return false;
    return true;
}

/* xorshift64*: the same seed makes the same session everywhere. */
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

struct buf {
    char p[XENSTORE_PAYLOAD_MAX + 64];
    size_t len;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n > sizeof(b->p))
        n = sizeof(b->p) - b->len;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void puts0(struct buf *b, const char *s)
{
    put(b, s, strlen(s) + 1);
}

/* A path: mostly valid ones under the few places sessions write, some
 * relative, special, invalid, or outside. */
static void rand_path(struct buf *b)
{
    static const char *const bases[] = {
        "/t", "/t", "/t", "/local/domain/1/data", "/local/domain/2/data", "", "data",
    };
    static const char *const names[] = { "a", "b", "c", "d" };
    /* Not the domains' homes nor /local/domain: the order of their
     * children is the order in which the toolstack and the guests' own
     * start raced to write them. */
    static const char *const odd[] = {
        "@introduceDomain", "@releaseDomain", "@x", "/", "a/", "x y", "/t//a", "", "/t/a/",
        "/t/\xc3\xa4", "/tool", "/local/domain/1/domid", "/local/domain/2/name",
    };
    char path[256];
    size_t n;

    if (rnd(10) == 0) {
        puts0(b, odd[rnd(sizeof(odd) / sizeof(odd[0]))]);
        return;
    }
    n = (size_t)snprintf(path, sizeof(path), "%s", bases[rnd(sizeof(bases) / sizeof(bases[0]))]);
    for (uint32_t d = rnd(3) + (n == 0); d > 0; d--)
        n += (size_t)snprintf(path + n, sizeof(path) - n, "%s%s", n ? "/" : "", names[rnd(4)]);
    puts0(b, path);
}

static void rand_value(struct buf *b)
{
    char v[2100];
    size_t n = rnd(20) == 0 ? 1000 + rnd(1100) : rnd(12);

    for (size_t i = 0; i < n; i++)
        v[i] = rnd(8) == 0 ? (char)rnd(256) : (char)('a' + rnd(26));
    put(b, v, n);
}

static void rand_perms(struct buf *b)
{
    static const char letters[] = "nrwbnrwbq";
    static const char *const ids[] = { "0", "1", "2", "1", "2", "77", "0x1", "-1", "" };
    char e[16];

    for (uint32_t k = rnd(4) + (rnd(8) != 0); k > 0; k--) {
        snprintf(e, sizeof(e), "%c%s", letters[rnd(rnd(10) ? 8 : 9)],
                 ids[rnd(rnd(10) ? 5 : 9)]);
        puts0(b, e);
    }
}

static void rand_token(struct buf *b)
{
    static const char *const tokens[] = { "k0", "k1", "k2", "" };

    puts0(b, tokens[rnd(4)]);
}

static void rand_domid(struct buf *b)
{
    static const char *const ids[] = { "0", "1", "2", "77", "abc", "-1", "32752", "" };

    puts0(b, ids[rnd(8)]);
}

/* One random request on a random connection. */
static void rand_op(struct op *o, struct buf *b)
{
    static const uint32_t weights[][2] = {
        { XS_READ, 12 }, { XS_WRITE, 16 }, { XS_MKDIR, 6 }, { XS_RM, 8 }, { XS_DIRECTORY, 8 },
        { XS_DIRECTORY_PART, 2 }, { XS_GET_PERMS, 5 }, { XS_SET_PERMS, 7 }, { XS_WATCH, 7 },
        { XS_UNWATCH, 4 }, { XS_TRANSACTION_START, 5 }, { XS_TRANSACTION_END, 6 },
        { XS_GET_DOMAIN_PATH, 1 }, { XS_IS_DOMAIN_INTRODUCED, 1 }, { XS_RESET_WATCHES, 1 },
        { XS_RELEASE, 1 }, { XS_RESUME, 1 }, { XS_SET_TARGET, 1 }, { 99, 1 },
    };
    uint32_t total = 0, pick;
    size_t i;

    for (i = 0; i < sizeof(weights) / sizeof(weights[0]); i++)
        total += weights[i][1];
    pick = rnd(total);
    for (i = 0; pick >= weights[i][1]; i++)
        pick -= weights[i][1];
    b->len = 0;
    o->conn = (int)rnd(NCONN);
    o->type = weights[i][0];
    o->tx = sides[0].tx[o->conn] && rnd(3) ? TX_OWN : TX_NONE;
    if (rnd(100) == 0)
        o->tx = TX_BOGUS;
    switch (o->type) {
    case XS_WRITE:
        rand_path(b);
        rand_value(b);
        break;
    case XS_DIRECTORY_PART: {
        char off[16];

        rand_path(b);
        snprintf(off, sizeof(off), "%u", rnd(3) ? 0 : rnd(12));
        puts0(b, off);
        break;
    }
    case XS_SET_PERMS:
        rand_path(b);
        rand_perms(b);
        break;
    case XS_WATCH:
    case XS_UNWATCH:
        o->tx = rnd(20) ? TX_NONE : TX_BOGUS;
        rand_path(b);
        rand_token(b);
        break;
    case XS_TRANSACTION_START:
        puts0(b, "");
        break;
    case XS_TRANSACTION_END:
        o->tx = rnd(10) ? TX_OWN : TX_NONE;
        puts0(b, rnd(20) == 0 ? "X" : rnd(3) ? "T" : "F");
        break;
    case XS_GET_DOMAIN_PATH:
    case XS_IS_DOMAIN_INTRODUCED:
    case XS_RESUME:
        rand_domid(b);
        break;
    case XS_RELEASE:
        puts0(b, rnd(2) ? "0" : "77");  /* never a live domain's */
        break;
    case XS_SET_TARGET: {
        /* Never a target that exists: a guest with dom0 or another
         * guest as its target has their rights, and the EACCES primer
         * (errno_primer()) would read. */
        static const char *const none[] = { "77", "32752", "-1" };

        puts0(b, rnd(2) ? "77" : "1");
        puts0(b, none[rnd(3)]);
        break;
    }
    case XS_RESET_WATCHES:
    case 99:
        break;
    default:
        rand_path(b);
        break;
    }
    /* Now and then a payload cut short: a missing NUL or argument. */
    if (b->len && rnd(60) == 0)
        b->len -= 1 + rnd((uint32_t)b->len);
    if (o->tx == TX_OWN && !sides[0].tx[o->conn])
        o->tx = TX_NONE;
    o->p = b->p;
    o->len = b->len;
    /* Its length as it is, alone in its write. */
    o->claim = 0;
    o->then = NULL;
}

static void run_random(uint64_t seed, unsigned long ops)
{
    static char name[64];
    struct buf b;
    struct op o = { 0 };

    snprintf(name, sizeof(name), "seed %" PRIu64, seed);
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    session_begin(name);
    if (run_ops(setup_ops, sizeof(setup_ops) / sizeof(setup_ops[0])))
        for (unsigned long i = 0; i < ops; i++) {
            rand_op(&o, &b);
            if (!run_op(&o))
                break;
        }
    session_end();
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    unsigned long seeds = 3, ops = 2000;
    int opt;

    while ((opt = getopt(argc, argv, "s:n:o:vg")) != -1) {
        switch (opt) {
        case 's':
            seed = strtoull(optarg, NULL, 0);
            break;
        case 'n':
            seeds = strtoul(optarg, NULL, 0);
            break;
        case 'o':
            ops = strtoul(optarg, NULL, 0);
            break;
        case 'v':
            verbose = true;
            break;
        case 'g':
            probe_gen = true;
            break;
        default:
            goto usage;
        }
    }
    if (argc - optind != 2) {
usage:
        fprintf(stderr, "usage: xs_diff [-s SEED] [-n SEEDS] [-o OPS] [-v] [-g] DIR_A DIR_B\n");
        return 2;
    }
    /* A daemon that closes a connection makes our next write to it fail,
     * not kill us. */
    signal(SIGPIPE, SIG_IGN);
    memset(big_t, 'v', sizeof(big_t));
    memcpy(big_t, big_t_path, sizeof(big_t_path));
    memset(big_g, 'g', sizeof(big_g));
    memcpy(big_g, big_g_path, sizeof(big_g_path));
    for (int i = 0; i < SIDES; i++) {
        sides[i].dir = argv[optind + i];
        for (int c = 0; c < NCONN; c++)
            sides[i].fd[c] = -1;
    }
    for (size_t k = 0; k < sizeof(scripts) / sizeof(scripts[0]) && !n_diffs; k++) {
        const struct op *ops = scripts[k].ops;
        size_t n = scripts[k].n;

        if (scripts[k].build) {
            dyn_clear();
            scripts[k].build();
            ops = dyn;
            n = dyn_n;
        }
        session_begin(scripts[k].name);
        if (run_ops(setup_ops, sizeof(setup_ops) / sizeof(setup_ops[0])))
            run_ops(ops, n);
        session_end();
    }
    /* Sessions share the stores (and C's generation count): after a
     * difference the rest would compare different stores. */
    for (unsigned long k = 0; k < seeds && !n_diffs; k++)
        run_random(seed + k, ops);
    printf("xs_diff: %lu sessions, %lu operations, %lu watch events, %lu differences\n",
           n_sessions, n_ops, n_events, n_diffs);
    dyn_clear();
    free(dyn);
    return n_diffs ? 1 : 0;
}
