/* XenStore over its unix socket, from a host client: READ and WRITE round
 * trips beside a raw unix-socket echo round trip of the same run (the
 * target is a ratio of at most 1.3), and the same as operations/s. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"
#include "unix_socket.h"
#include <xensim/xenstored.h>

static int dial(const char *path)
{
    int fd = xensim_unix_connect(path);

    BENCH_CHECK(fd >= 0);
    return fd;
}

static void xfer(int fd, void *buf, size_t len, int out)
{
    while (len) {
        ssize_t n = out ? write(fd, buf, len) : read(fd, buf, len);

        BENCH_CHECK(n > 0 || (n < 0 && errno == EINTR));
        if (n > 0) {
            buf = (char *)buf + n;
            len -= n;
        }
    }
}

/* ns per request/reply: the request in one write (as a kernel xenbus
 * client sends it) or, split, in two (as libxenstore does: header, then
 * payload); the reply's header and body in two reads. */
static bool split;

static double one_run(int fd, uint32_t type, const char *p, size_t len, unsigned long rounds)
{
    struct xsd_sockmsg h = { .type = type, .len = len };
    char body[XENSTORE_PAYLOAD_MAX], req[sizeof(h) + XENSTORE_PAYLOAD_MAX];
    uint64_t start = bench_now_ns();

    memcpy(req, &h, sizeof(h));
    memcpy(req + sizeof(h), p, len);
    for (unsigned long i = 0; i < rounds; i++) {
        struct xsd_sockmsg r;

        if (split) {
            xfer(fd, req, sizeof(h), 1);
            xfer(fd, req + sizeof(h), len, 1);
        } else {
            xfer(fd, req, sizeof(h) + len, 1);
        }
        xfer(fd, &r, sizeof(r), 0);
        BENCH_CHECK(r.type == type && r.len <= sizeof(body));
        xfer(fd, body, r.len, 0);
    }
    return (double)(bench_now_ns() - start) / rounds;
}

static double median_run(int fd, uint32_t type, const char *p, size_t len, unsigned long rounds)
{
    double v[15];
    unsigned int runs = bench_runs() < 15 ? bench_runs() : 15;

    for (unsigned int i = 0; i < runs; i++)
        v[i] = one_run(fd, type, p, len, rounds);
    return bench_median(v, runs);
}

int main(void)
{
    struct xensim_xenstored_config cfg = { .quiet = true };
    struct xensim_xenstored *xsd = xensim_xenstored_create(&cfg);
    unsigned long rounds = bench_iters(20000, 200000);
    char path[64];
    static const char wr[] = "/bench/key\0sixteen-byte-val";
    double echo, rd, wrt;
    int fd;

    snprintf(path, sizeof(path), "/tmp/xs-bench-%d.sock", getpid());
    BENCH_CHECK(xsd && xensim_xenstored_listen(xsd, path) == 0 &&
                xensim_xenstored_start(xsd) == 0);
    fd = dial(path);
    one_run(fd, XS_WRITE, wr, sizeof(wr) - 1, 1000);
    echo = bench_baseline_unix_rtt_ns();
    rd = median_run(fd, XS_READ, "/bench/key", 11, rounds);
    wrt = median_run(fd, XS_WRITE, wr, sizeof(wr) - 1, rounds);
    bench_report("xs_socket_read_rtt", rd, "ns", echo);
    bench_report("xs_socket_write_rtt", wrt, "ns", echo);
    split = true;
    bench_report("xs_socket_read_rtt_libxenstore", median_run(fd, XS_READ, "/bench/key", 11, rounds),
                 "ns", echo);
    bench_report("xs_socket_read_ops", 1e9 / rd, "ops/s", 1e9 / echo);
    bench_report("xs_socket_write_ops", 1e9 / wrt, "ops/s", 1e9 / echo);
    close(fd);
    xensim_xenstored_destroy(xsd);
    return 0;
}
