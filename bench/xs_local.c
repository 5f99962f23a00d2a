/* XenStore reads in process, through the whole request path (dispatch,
 * path check, lock-free lookup, permission check, reply): reads/s on one
 * thread against the 1 M/s target, and on four threads at once beside
 * the one-thread figure, to show that readers do not serialise. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>

#include "bench.h"
#include <xensim/xenstored.h>

static struct xensim_xenstored *xsd;
static unsigned long rounds;

static double reads_per_sec(void)
{
    struct xensim_xenstored_conn *c = xensim_xenstored_local_open(xsd, 1);
    struct xsd_sockmsg h;
    char buf[64];
    uint64_t start = bench_now_ns();

    for (unsigned long i = 0; i < rounds; i++)
        BENCH_CHECK(xensim_xenstored_local_request(c, XS_READ, 0, "name", 5, &h, buf,
                                                   sizeof(buf)) == 6);
    double r = rounds / ((bench_now_ns() - start) / 1e9);
    xensim_xenstored_local_close(c);
    return r;
}

/* One request as dom0 that must succeed. */
static void dom0_req(struct xensim_xenstored_conn *c0, uint32_t type, const char *p, size_t len)
{
    struct xsd_sockmsg h;
    char buf[64];

    BENCH_CHECK(xensim_xenstored_local_request(c0, type, 0, p, len, &h, buf, sizeof(buf)) >= 0 &&
                h.type == type);
}

static void *reader(void *arg)
{
    *(double *)arg = reads_per_sec();
    return NULL;
}

int main(void)
{
    struct xensim_xenstored_config cfg = { .quiet = true };
    struct xensim_xenstored_conn *c0;
    double one[15], total = 0, each[4];
    unsigned int runs = bench_runs() < 15 ? bench_runs() : 15;
    pthread_t t[4];

    xsd = xensim_xenstored_create(&cfg);
    BENCH_CHECK(xsd && (c0 = xensim_xenstored_local_open(xsd, 0)));
    rounds = bench_iters(300000, 3000000);
    /* dom1 and its home, as the toolstack makes them. */
    dom0_req(c0, XS_INTRODUCE, "1\0" "1\0" "1", 6);
    dom0_req(c0, XS_WRITE, "/local/domain/1", 16);
    dom0_req(c0, XS_SET_PERMS, "/local/domain/1\0" "n0\0" "r1", 22);
    dom0_req(c0, XS_WRITE, "/local/domain/1/name\0" "guest1", 27);
    for (unsigned int i = 0; i < runs; i++)
        one[i] = reads_per_sec();
    double single = bench_median(one, runs);
    bench_report("xs_local_read_ops", single, "ops/s", 1e6);
    for (int i = 0; i < 4; i++)
        BENCH_CHECK_RC(pthread_create(&t[i], NULL, reader, &each[i]));
    for (int i = 0; i < 4; i++) {
        BENCH_CHECK_RC(pthread_join(t[i], NULL));
        total += each[i];
    }
    bench_report("xs_local_read_ops_4threads", total, "ops/s", single);
    dom0_req(c0, XS_RELEASE, "1", 2);
    xensim_xenstored_local_close(c0);
    xensim_xenstored_destroy(xsd);
    return 0;
}
