/*
 * det_schedules_per_s: how many schedules of a small scenario (two
 * domains, eight hypercalls each around a shared counter) xensim_explore()
 * tries a second, each a deterministic run under PCT in a child process,
 * beside the same runs free-running, each in a child process too: the
 * price of one task at a time, the policy's picks and the schedule file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/version.h>
#include <xensim/explore.h>
#include <xensim/guest.h>
#include "bench.h"

static _Atomic long counter;

static void add_rounds(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++) {
        HYPERVISOR_xen_version(XENVER_version, NULL);
        counter++;
    }
}

static int scenario(const struct xensim_config *sched, void *arg)
{
    (void)arg;
    struct xensim_config cfg = *sched;
    cfg.quiet = true;
    struct xensim *sim = xensim_create(&cfg);
    if (!sim)
        return 1;
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = add_rounds };
    struct xensim_domain_config g = { .name = "guest", .entry = add_rounds };
    counter = 0;
    if (xensim_domain_create(sim, &d0) != 0 || xensim_domain_create(sim, &g) != 1)
        return 1;
    xensim_domain_unpause(sim, 0);
    xensim_domain_unpause(sim, 1);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    return counter == 16 ? 0 : 1;
}

/* The same runs free-running, each in a child as explore makes them. */
static double free_runs_per_s(unsigned int n)
{
    struct xensim_config none = { 0 };
    uint64_t t0 = bench_now_ns();
    for (unsigned int i = 0; i < n; i++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return 0;
        if (pid == 0)
            exit(scenario(&none, NULL));
        int status;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            return 0;
    }
    return n / ((bench_now_ns() - t0) / 1e9);
}

static double det_runs_per_s(unsigned int n)
{
    struct xensim_explore_config c = { .run = scenario, .seeds = n };
    struct xensim_explore_result r;
    uint64_t t0 = bench_now_ns();
    if (xensim_explore(&c, &r) || r.found || r.runs != n)
        return 0;
    return n / ((bench_now_ns() - t0) / 1e9);
}

int main(void)
{
    unsigned int n = (unsigned int)bench_iters(200, 5000);
    double base = free_runs_per_s(n);
    bench_report("det_schedules_per_s", det_runs_per_s(n), "schedules/s", base);
    return 0;
}
