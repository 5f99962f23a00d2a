/*
 * The unix socket transport: framing across partial writes, answers to
 * bad input, disconnects mid-message, per-domain sockets, connections
 * with no path, and a client flooding requests without reading while
 * another is still served.
 */
#include "config.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include "unix_socket.h"
#include "xs_test.h"
#include "xs_internal.h"

static struct xensim_xenstored *XS;
static char path[108], path1[108];

static void setup(void)
{
    struct xensim_xenstored_config cfg = { .quiet = true };

    snprintf(path, sizeof(path), "/tmp/xs-test-%d.sock", getpid());
    snprintf(path1, sizeof(path1), "/tmp/xs-test-%d.sock.1", getpid());
    XS = xensim_xenstored_create(&cfg);
    ck_assert_int_eq(xensim_xenstored_listen(XS, path), 0);
    ck_assert_int_eq(xensim_xenstored_listen_as(XS, path1, 1), 0);
    ck_assert_int_eq(xensim_xenstored_start(XS), 0);
    ck_assert_int_eq(xensim_xenstored_listen(XS, "/tmp/too-late"), -EINVAL);
}

static void wait_conns(unsigned long n)
{
    struct xensim_xenstored_stats st;

    for (int i = 0; i < 5000; i++) {
        xensim_xenstored_stats(XS, &st);
        if (st.conns == n)
            return;
        usleep(1000);
    }
    ck_abort_msg("connections: %lu, wanted %lu", st.conns, n);
}

static void teardown(void)
{
    struct xensim_xenstored_stats st;

    wait_conns(0);
    xensim_xenstored_stats(XS, &st);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.transactions, 0);
    xensim_xenstored_destroy(XS);
    ck_assert_int_eq(access(path, F_OK), -1);
}

static int dial(const char *p)
{
    int fd = xensim_unix_connect(p);

    ck_assert_int_ge(fd, 0);
    return fd;
}

static void full_write(int fd, const void *p, size_t n)
{
    ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
}

/* Reads exactly n bytes; false on EOF. */
static bool full_read(int fd, void *p, size_t n)
{
    while (n) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t k;

        ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
        k = read(fd, p, n);
        if (k <= 0)
            return false;
        p = (char *)p + k;
        n -= k;
    }
    return true;
}

/* One request and its reply. Replies come in order, so a watch event
 * before the reply is one the test did not expect: fail. */
static uint32_t req(int fd, uint32_t type, uint32_t tx, const void *p, size_t len, char *out)
{
    struct xsd_sockmsg h = { .type = type, .req_id = 7, .tx_id = tx, .len = len };

    full_write(fd, &h, sizeof(h));
    full_write(fd, p, len);
    ck_assert(full_read(fd, &h, sizeof(h)));
    ck_assert_uint_le(h.len, XENSTORE_PAYLOAD_MAX);
    ck_assert(full_read(fd, out, h.len));
    out[h.len] = '\0';
    ck_assert_msg(h.type != XS_WATCH_EVENT, "event \"%s\" before the reply", out);
    ck_assert_uint_eq(h.req_id, 7);
    ck_assert_uint_eq(h.tx_id, tx);
    return h.type;
}

/* The next message is the watch event with exactly this body. */
static void event(int fd, const char *want, size_t len)
{
    struct xsd_sockmsg h;
    char body[XENSTORE_PAYLOAD_MAX + 1];

    ck_assert(full_read(fd, &h, sizeof(h)));
    ck_assert_uint_eq(h.type, XS_WATCH_EVENT);
    ck_assert_uint_le(h.len, XENSTORE_PAYLOAD_MAX);
    ck_assert(full_read(fd, body, h.len));
    body[h.len] = '\0';
    ck_assert_msg(h.len == len && !memcmp(body, want, len), "event \"%s\", wanted \"%s\"", body,
                  want);
}

START_TEST(test_socket_basic)
{
    int fd = dial(path), fd1 = dial(path1);
    char buf[5000];
    struct xsd_sockmsg h = { .type = XS_WRITE, .len = 7 };

    /* A request trickled a byte at a time. */
    for (size_t i = 0; i < sizeof(h); i++)
        full_write(fd, (char *)&h + i, 1), usleep(100);
    for (size_t i = 0; i < 7; i++)
        full_write(fd, "/s\0abcd" + i, 1), usleep(100);
    ck_assert(full_read(fd, &h, sizeof(h)));
    ck_assert(full_read(fd, buf, h.len));
    ck_assert_uint_eq(h.type, XS_WRITE);
    ck_assert_uint_eq(req(fd, XS_READ, 0, XT_P("/s\0"), buf), XS_READ);
    ck_assert_str_eq(buf, "abcd");
    ck_assert_uint_eq(req(fd, 200, 0, XT_P("x"), buf), XS_ERROR);
    ck_assert_str_eq(buf, "ENOSYS");
    /* Values are bytes, NULs and all. */
    ck_assert_uint_eq(req(fd, XS_WRITE, 0, XT_P("/bin\0\0bin\xff"), buf), XS_WRITE);
    struct xsd_sockmsg rh = { .type = XS_READ, .req_id = 3, .len = 5 };
    full_write(fd, &rh, sizeof(rh));
    full_write(fd, "/bin\0", 5);
    ck_assert(full_read(fd, &rh, sizeof(rh)) && full_read(fd, buf, rh.len));
    ck_assert_uint_eq(rh.type, XS_READ);
    ck_assert_uint_eq(rh.len, 5);
    ck_assert(!memcmp(buf, "\0bin\xff", 5));
    /* The second socket speaks for dom1, unprivileged. */
    ck_assert_uint_eq(req(fd1, XS_READ, 0, XT_P("/s\0"), buf), XS_ERROR);
    ck_assert_str_eq(buf, "EACCES");
    ck_assert_uint_eq(req(fd1, XS_INTRODUCE, 0, XT_P("5\0" "1\0" "1\0"), buf), XS_ERROR);
    ck_assert_str_eq(buf, "EACCES");
    /* Two requests in one write are answered in order. */
    char two[64];
    struct xsd_sockmsg a = { .type = XS_READ, .req_id = 1, .len = 3 };
    struct xsd_sockmsg b = { .type = XS_GET_DOMAIN_PATH, .req_id = 2, .len = 2 };
    memcpy(two, &a, 16), memcpy(two + 16, "/s\0", 3);
    memcpy(two + 19, &b, 16), memcpy(two + 35, "4\0", 2);
    full_write(fd, two, 37);
    ck_assert(full_read(fd, &h, sizeof(h)) && full_read(fd, buf, h.len));
    ck_assert_uint_eq(h.req_id, 1);
    ck_assert(full_read(fd, &h, sizeof(h)) && full_read(fd, buf, h.len));
    ck_assert_uint_eq(h.req_id, 2);
    close(fd);
    close(fd1);
}
END_TEST

START_TEST(test_socket_bad_input)
{
    int good = dial(path), bad = dial(path), half = dial(path);
    struct xsd_sockmsg h = { .type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1 };
    char buf[5000];

    ck_assert_uint_eq(req(good, XS_WATCH, 0, XT_P("/w\0t\0"), buf), XS_WATCH);
    event(good, XT_P("/w\0t\0"));
    /* Oversized: that connection is dropped, nobody else notices. */
    full_write(bad, &h, sizeof(h));
    ck_assert(!full_read(bad, buf, 1));
    /* Disconnect half way through a message, inside a transaction. */
    ck_assert_uint_eq(req(half, XS_TRANSACTION_START, 0, XT_P("\0"), buf), XS_TRANSACTION_START);
    h.len = 100;
    full_write(half, &h, sizeof(h));
    full_write(half, "/w/x\0", 5);
    close(half);
    close(bad);
    wait_conns(1);
    ck_assert_uint_eq(req(good, XS_READ, 0, XT_P("/w/x\0"), buf), XS_ERROR);
    ck_assert_str_eq(buf, "ENOENT");
    /* The largest payload is fine. */
    static char big[XENSTORE_PAYLOAD_MAX];
    memcpy(big, "/big\0", 5);
    memset(big + 5, 'b', sizeof(big) - 5);
    ck_assert_uint_eq(req(good, XS_WRITE, 0, big, sizeof(big), buf), XS_WRITE);
    ck_assert_uint_eq(req(good, XS_READ, 0, XT_P("/big\0"), buf), XS_READ);
    ck_assert_uint_eq(strlen(buf), sizeof(big) - 5);
    close(good);
}
END_TEST

/* A domain's sockets count toward its memory quota: at the quota, the
 * next one is closed at once; once under, they are served again. */
START_TEST(test_socket_domain_quota)
{
    static struct xensim_xenstored_conn *extra[1024];
    char buf[64];
    int nx = 0, fd;

    while ((extra[nx] = xensim_xenstored_local_open(XS, 1)))
        ck_assert_int_lt(++nx, 1024);
    fd = dial(path1);
    ck_assert(!full_read(fd, buf, 1));
    close(fd);
    while (nx)
        xensim_xenstored_local_close(extra[--nx]);
    fd = dial(path1);
    ck_assert_uint_eq(req(fd, XS_GET_DOMAIN_PATH, 0, XT_P("1\0"), buf), XS_GET_DOMAIN_PATH);
    close(fd);
}
END_TEST

static atomic_bool stop;
static atomic_long written;

/* Sends requests whose replies are 4 KB as fast as the socket takes
 * them, and never reads a reply. */
static void *flood(void *arg)
{
    int fd = *(int *)arg;
    char msg[16 + 5];
    struct xsd_sockmsg h = { .type = XS_READ, .len = 5 };

    memcpy(msg, &h, 16);
    memcpy(msg + 16, "/big\0", 5);
    while (!stop) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };

        if (poll(&pfd, 1, 10) != 1)
            continue;
        if (write(fd, msg, sizeof(msg)) < 0)
            break;
        written++;
    }
    return NULL;
}

/*
 * A client that sends requests and reads no reply is read no more once
 * its replies back up (here for dom0 too, which C xenstored would read
 * without bound), while another client is served. Its replies are 4 KB:
 * what the kernel and the daemon's buffers hold of them is a few hundred
 * at most, and the requests the flooder's socket holds a few hundred
 * more; a daemon that kept reading would take thousands while the other
 * client is served 2000 times.
 */
START_TEST(test_socket_flood)
{
    static char big[5 + 4000];
    int fl = dial(path), fd = dial(path);
    pthread_t t;
    char buf[5000];

    memcpy(big, "/big\0", 5);
    memset(big + 5, 'b', 4000);
    ck_assert_uint_eq(req(fd, XS_WRITE, 0, big, sizeof(big), buf), XS_WRITE);
    pthread_create(&t, NULL, flood, &fl);
    for (int spins = 0; written < 50; spins++) {
        ck_assert_msg(spins < 300000, "the flooder could not write");
        usleep(100);
    }
    for (int i = 0; i < 2000; i++)
        ck_assert_uint_eq(req(fd, XS_GET_DOMAIN_PATH, 0, XT_P("3\0"), buf), XS_GET_DOMAIN_PATH);
    stop = true;
    pthread_join(t, NULL);
    ck_assert_msg(written < 5000, "the daemon kept reading a client that reads no replies: %ld",
                  (long)written);
    close(fl);
    close(fd);
}
END_TEST

/* xensim_xenstored_connect(): a socket pair's end, as dom0, made before
 * the daemon starts or after; the daemon drops it when it is closed. */
START_TEST(test_socket_pair)
{
    struct xensim_xenstored_config cfg = { .quiet = true };
    struct xensim_xenstored *d = xensim_xenstored_create(&cfg);
    struct xensim_xenstored_stats st;
    char buf[64];
    int early, late;

    ck_assert_ptr_nonnull(d);
    early = xensim_xenstored_connect(d);
    ck_assert_int_ge(early, 0);
    ck_assert_int_eq(xensim_xenstored_start(d), 0);
    late = xensim_xenstored_connect(d);
    ck_assert_int_ge(late, 0);
    ck_assert_uint_eq(req(early, XS_WRITE, 0, XT_P("/p\0" "v"), buf), XS_WRITE);
    ck_assert_uint_eq(req(late, XS_READ, 0, XT_P("/p\0"), buf), XS_READ);
    ck_assert_str_eq(buf, "v");
    /* Privileged, as dom0's are. */
    ck_assert_uint_eq(req(late, XS_INTRODUCE, 0, XT_P("5\0" "1\0" "1\0"), buf), XS_INTRODUCE);
    ck_assert_uint_eq(req(early, XS_RELEASE, 0, XT_P("5\0"), buf), XS_RELEASE);
    xensim_xenstored_stats(d, &st);
    ck_assert_uint_eq(st.conns, 2);
    close(early);
    close(late);
    for (int i = 0; i < 5000 && st.conns; i++) {
        usleep(1000);
        xensim_xenstored_stats(d, &st);
    }
    ck_assert_uint_eq(st.conns, 0);
    xensim_xenstored_destroy(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("xenstore socket");
    TCase *tc = tcase_create("socket");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_socket_basic);
    tcase_add_test(tc, test_socket_bad_input);
    tcase_add_test(tc, test_socket_flood);
    tcase_add_test(tc, test_socket_domain_quota);
    tcase_add_test(tc, test_socket_pair);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
