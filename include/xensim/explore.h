/*
 * Schedule search: a scenario, run again and again as deterministic runs
 * under PCT (probabilistic concurrency testing) with seed after seed,
 * until a run fails; the failure then shrunk to the fewest priority
 * change points and the shortest schedule prefix that still fail, and
 * kept as a schedule that `xensim replay` (or .replay) reruns.
 *
 * Each run is a child process, so a run that deadlocks or crashes (a
 * deterministic run aborts when every task waits with nothing due) is a
 * finding, not the end of the search.
 */
#ifndef XENSIM_EXPLORE_H
#define XENSIM_EXPLORE_H

#include <stdint.h>
#include <stdio.h>
#include <xensim/xensim.h>

#ifdef __cplusplus
extern "C" {
#endif

struct xensim_explore_config {
    /* One run of the scenario, in a child process: it makes its
     * simulators with sched's scheduler fields (seed, record,
     * record_note, replay, pct, replay_then_run_on, max_steps) and
     * returns 0 if the run passed. */
    int (*run)(const struct xensim_config *sched, void *arg);    /* 2: options refused */
    void *arg;
    uint64_t first_seed;        /* 0: 1 */
    unsigned int seeds;         /* runs to try; 0: 1000 */
    unsigned int depth;         /* PCT's d, 1 to 3, cycled from 1; 0: 3 */
    /* What the schedule files' first line says ("xensim demo ..."). */
    const char *record_note;
    /* Where the smallest failing schedule is written; NULL: nowhere. */
    const char *schedule;
    unsigned int timeout_s;     /* host time a run may take; 0: 120 */
    FILE *log;                  /* progress and the failing run's output; NULL: none */
};

struct xensim_explore_result {
    bool found;
    unsigned int runs;          /* runs made in the search, the failing one too */
    uint64_t steps;             /* decisions of the first run, PCT's horizon */
    /* The failing run: its seed, PCT depth (0: the first, uniform run)
     * and change points before and after shrinking. */
    uint64_t seed;
    unsigned int depth;
    unsigned int changes_found, changes;
    uint64_t change[XENSIM_PCT_CHANGES_MAX];
    /* The smallest failing schedule: its first prefix decisions taken
     * from the failing run, the rest with no further preemption; length
     * is the failing run's decisions. */
    uint64_t prefix, length;
    unsigned int shrink_runs;
    char why[160];              /* how the failing run ended (or what a
                                   scenario refusing its options said) */
};

/* 0, with *r filled (r->found false if every run passed); -EINVAL for a
 * bad config, or a scenario that refused its options (a run that exits
 * with status 2); a negative errno if the search itself could not run.
 * A run that cannot follow a replayed schedule is not repeatable and is
 * no finding. */
int xensim_explore(const struct xensim_explore_config *cfg, struct xensim_explore_result *r);

#ifdef __cplusplus
}
#endif

#endif
