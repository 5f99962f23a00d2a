/* XenStore reads in process, through the whole request path (dispatch,
 * path check, lock-free lookup, permission check, reply): reads/s on one
 * thread against the 1 M/s target, and on four threads at once beside
 * the one-thread figure, to show that readers do not serialise. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>

#include "bench.h"
#include "xs_daemon.h"

static struct xs_daemon *xs;
static unsigned long rounds;

static double reads_per_sec(void)
{
    struct xs_conn *c = xs_local_open(xs, 1);
    struct xsd_sockmsg h;
    char buf[64];
    uint64_t start = bench_now_ns();

    for (unsigned long i = 0; i < rounds; i++)
        BENCH_CHECK(xs_local_request(c, XS_READ, 0, "name", 5, &h, buf, sizeof(buf)) == 6);
    double r = rounds / ((bench_now_ns() - start) / 1e9);
    xs_local_close(c);
    return r;
}

static void *reader(void *arg)
{
    *(double *)arg = reads_per_sec();
    return NULL;
}

int main(void)
{
    struct xs_daemon_config cfg = { .quiet = true };
    double one[15], total = 0, each[4];
    unsigned int runs = bench_runs() < 15 ? bench_runs() : 15;
    pthread_t t[4];

    xs = xs_daemon_create(&cfg);
    rounds = bench_iters(300000, 3000000);
    BENCH_CHECK(xs_daemon_introduce(xs, 1, 1, 1) == 0);
    BENCH_CHECK(xs_daemon_domain_home(xs, 1, "guest1") == 0);
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
    xs_daemon_release(xs, 1);
    xs_daemon_destroy(xs);
    return 0;
}
