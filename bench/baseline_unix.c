/* Baseline for message passing through the kernel: one byte over a unix
 * stream socketpair, echoed back by a second thread. */
#include "config.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

struct echo {
	int fd;
	unsigned long rounds;
};

static void xfer(int fd, int out, unsigned char *c)
{
	ssize_t n;

	do
		n = out ? write(fd, c, 1) : read(fd, c, 1);
	while (n < 0 && errno == EINTR);
	BENCH_CHECK(n == 1);
}

static void *echoer(void *arg)
{
	struct echo *e = arg;
	unsigned char c;

	for (unsigned long i = 0; i < e->rounds; i++) {
		xfer(e->fd, 0, &c);
		xfer(e->fd, 1, &c);
	}
	return NULL;
}

static double one_run(unsigned long rounds)
{
	int sv[2];
	struct echo e;
	pthread_t t;
	unsigned char c = 0;
	uint64_t start;

	BENCH_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	e.fd = sv[1];
	e.rounds = rounds;
	BENCH_CHECK_RC(pthread_create(&t, NULL, echoer, &e));
	start = bench_now_ns();
	for (unsigned long i = 0; i < rounds; i++) {
		xfer(sv[0], 1, &c);
		xfer(sv[0], 0, &c);
	}
	double ns = (double)(bench_now_ns() - start) / (double)rounds;
	BENCH_CHECK_RC(pthread_join(t, NULL));
	BENCH_CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
	return ns;
}

double bench_baseline_unix_rtt_ns(void)
{
	unsigned long rounds = bench_iters(20000, 200000);
	unsigned runs = bench_runs();
	double v[16];

	for (unsigned r = 0; r < runs; r++)
		v[r] = one_run(rounds);
	return bench_median(v, runs);
}
