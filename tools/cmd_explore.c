/*
 * `xensim explore [--seeds N] [--first-seed S] [--depth D] [--schedule
 * FILE] [DEMO OPTIONS]`: schedule search over the demo. The demo with
 * those options (any of `xensim demo`'s that a deterministic run takes)
 * is run as seeded runs under PCT (sim/sched_explore.c) until one fails;
 * the failure is shrunk and its schedule written where `xensim replay`
 * reruns it. Exit status 0 if every run passed, 1 if one failed, 2 for
 * bad options.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xensim/explore.h>
#include "commands.h"
#include "demo.h"

#define MAX_ARGS 32

struct explore_demo {
    int argc;
    char *argv[MAX_ARGS + 1];
};

static int run_demo(const struct xensim_config *sched, void *arg)
{
    struct explore_demo *e = arg;
    return demo_main(e->argc, e->argv, sched);
}

static bool take_number(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || !*s || s[0] == '-' || !v || v > max)
        return false;
    *out = v;
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: xensim explore [--seeds N] [--first-seed S] [--depth 1-3] "
                    "[--schedule FILE] [DEMO OPTIONS]\n");
    return 2;
}

int xensim_cmd_explore(int argc, char **argv)
{
    struct explore_demo e = { .argc = 1, .argv = { "demo" } };
    uint64_t seeds = 1000, first = 1, depth = 3;
    const char *schedule = "explore.schedule";
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        bool has = i + 1 < argc;
        if (!strcmp(opt, "--seeds") && has) {
            if (!take_number(argv[++i], 1000000, &seeds))
                return usage();
        } else if (!strcmp(opt, "--first-seed") && has) {
            if (!take_number(argv[++i], UINT64_MAX / 2, &first))
                return usage();
        } else if (!strcmp(opt, "--depth") && has) {
            if (!take_number(argv[++i], XENSIM_PCT_CHANGES_MAX + 1, &depth))
                return usage();
        } else if (!strcmp(opt, "--schedule") && has) {
            schedule = argv[++i];
        } else if (!strcmp(opt, "--seed") || !strcmp(opt, "--record")) {
            fprintf(stderr, "xensim explore: each run's seed and schedule are the search's; "
                            "drop %s\n", opt);
            return 2;
        } else if (e.argc < MAX_ARGS - 2) {
            /* Two words short of replay's limit: the note adds --seed N. */
            e.argv[e.argc++] = argv[i];
        } else {
            return usage();
        }
    }
    /* The runs' schedules begin with the demo's own note, which names
     * the seed: `xensim replay` reruns them as they are. */
    struct xensim_explore_config cfg = {
        .run = run_demo, .arg = &e, .first_seed = first, .seeds = (unsigned int)seeds,
        .depth = (unsigned int)depth, .schedule = schedule, .log = stdout,
    };
    struct xensim_explore_result r;
    printf("xensim explore: up to %" PRIu64 " runs of `xensim demo", seeds);
    for (int i = 1; i < e.argc; i++)
        printf(" %s", e.argv[i]);
    printf("`, seeds %" PRIu64 " on, PCT depth 1 to %" PRIu64 "\n", first, depth);
    int rc = xensim_explore(&cfg, &r);
    if (rc == -EINVAL) {
        fprintf(stderr, "xensim explore: the demo refused those options: %s\n", r.why);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "xensim explore: %s\n", strerror(-rc));
        return 1;
    }
    if (!r.found) {
        printf("xensim explore: all %u runs passed (%" PRIu64 " decisions in the first)\n",
               r.runs, r.steps);
        return 0;
    }
    printf("xensim explore: found by run %u, seed %" PRIu64 ", PCT depth %u (%u change "
           "point(s)); shrunk in %u runs to %u change point(s)", r.runs, r.seed, r.depth,
           r.changes_found, r.shrink_runs, r.changes);
    for (unsigned int i = 0; i < r.changes; i++)
        printf("%s%" PRIu64, i ? ", " : " at step ", r.change[i]);
    printf("\nxensim explore: smallest failing schedule: the first %" PRIu64 " of its %" PRIu64
           " decisions, then each task runs until it blocks\n", r.prefix, r.length);
    printf("xensim explore: it ends: %s\n", r.why);
    printf("xensim explore: replay it: xensim replay %s\n", schedule);
    return 1;
}
