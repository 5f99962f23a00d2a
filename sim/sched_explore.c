/*
 * Schedule search (<xensim/explore.h>): runs a scenario as deterministic
 * runs, each in a child process, first with the generator's uniform
 * picks, then under PCT with seed after seed and depth 1 to d, until one
 * fails (exits non-zero, or aborts: a deadlock or a crash); then shrinks
 * the failure, first dropping change points one at a time, then halving
 * the prefix of its schedule that must be followed before the tasks are
 * left to run on without preemption (sched_det.c's replay_then_run_on),
 * and keeps the smallest failing schedule. Owns a scratch directory of
 * schedules and logs; calls only the scheduler's config and fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xensim/explore.h>
#include "sim.h"

#define TAIL_LINES 16
#define XP_DIVERGED 2

struct xp {
    const struct xensim_explore_config *cfg;
    char dir[64];
    char run[96], log[96], prefix[96], best[96];
    struct xensim_explore_result *r;
};

static void xp_log(const struct xp *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void xp_log(const struct xp *x, const char *fmt, ...)
{
    if (!x->cfg->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(x->cfg->log, fmt, ap);
    va_end(ap);
    fflush(x->cfg->log);
}

/* src, cut to fit. */
static void xp_set(char *buf, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        n = size - 1;
    memcpy(buf, src, n);
    buf[n] = '\0';
}

/* The line of the run's output that says how a deterministic run ended
 * ("xensim: deterministic run (seed N) deadlocked at ..."), or its last. */
static void xp_last_words(const char *log, char *buf, size_t size)
{
    FILE *f = fopen(log, "r");
    char line[512];
    buf[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "xensim: deterministic run", 25) ||
            !strncmp(line, "xensim: the replayed schedule", 29)) {
            xp_set(buf, size, line + 8);
            break;
        }
        if (line[0])
            xp_set(buf, size, line);
    }
    fclose(f);
}

/* One run in a child, its output in x->log. 0: it passed; 1: it failed,
 * why says how; XP_DIVERGED: a replayed schedule could not be followed
 * (the run is not repeatable: no finding); -EINVAL: the scenario refused
 * its options (exit status 2); another negative errno: it could not run. */
static int xp_run(struct xp *x, const struct xensim_config *sched, char *why, size_t size)
{
    int fd = open(x->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        alarm(x->cfg->timeout_s ? x->cfg->timeout_s : 120);
        int rc = x->cfg->run(sched, x->cfg->arg);
        fflush(NULL);
        /* exit, not _exit: a coverage build writes its counts at exit.
         * 2 is the scenario refusing its options, any other failure 1. */
        exit(rc == 2 ? 2 : rc ? 1 : 0);
    }
    close(fd);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -errno;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char words[160];
    xp_last_words(x->log, words, sizeof(words));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        xp_set(why, size, words);
        return -EINVAL;
    }
    if (strstr(words, "the replayed schedule") && strstr(words, "diverged at step")) {
        xp_set(why, size, words);
        return XP_DIVERGED;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        snprintf(why, size, "ran past its %u s of host time",
                 x->cfg->timeout_s ? x->cfg->timeout_s : 120);
    else if (WIFSIGNALED(status))
        snprintf(why, size, "%s (%s)", words[0] ? words : "killed",
                 strsignal(WTERMSIG(status)));
    else
        snprintf(why, size, "exit status %d: %s", WEXITSTATUS(status), words);
    return 1;
}

/* Decisions in a schedule file: its lines that are task ids. */
static uint64_t xp_count(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    uint64_t n = 0;
    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0)
        n += line[0] >= '0' && line[0] <= '9';
    free(line);
    fclose(f);
    return n;
}

/* from's header and its first k decisions, to to. */
static int xp_copy(const char *from, const char *to, uint64_t k)
{
    FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    if (!out) {
        rc = -errno;
        if (in)
            fclose(in);
        return rc;
    }
    while (getline(&line, &cap, in) > 0) {
        bool decision = line[0] >= '0' && line[0] <= '9';
        if (decision && !k)
            break;
        k -= decision;
        fputs(line, out);
    }
    free(line);
    fclose(in);
    if (fclose(out))
        rc = -EIO;
    return rc;
}

static struct xensim_config xp_sched(const struct xp *x, uint64_t seed)
{
    uint64_t k = x->r->steps;
    return (struct xensim_config){
        .seed = seed, .record = x->run, .record_note = x->cfg->record_note,
        /* A run far longer than the first is spinning on the virtual
         * clock: a finding too. */
        .max_steps = k ? 50 * k + 100000 : 50u * 1000 * 1000,
    };
}

/* The PCT run of seed with the change points in r (nr of them). */
static int xp_pct(struct xp *x, uint64_t seed, const uint64_t *change, unsigned int nr,
                  char *why, size_t size)
{
    struct xensim_config s = xp_sched(x, seed);
    s.pct.on = true;
    /* Past twice the first run's length the generator picks again. */
    s.pct.until = 2 * x->r->steps;
    for (unsigned int i = 0; i < nr; i++)
        s.pct.change[i] = change[i];
    return xp_run(x, &s, why, size);
}

static int xp_keep(struct xp *x)
{
    return xp_copy(x->run, x->best, UINT64_MAX);
}

/* The search: the first seed uniformly (which also measures the run, k
 * decisions), then PCT. 1 when a run failed, 0 when none did. */
static int xp_search(struct xp *x)
{
    const struct xensim_explore_config *c = x->cfg;
    struct xensim_explore_result *r = x->r;
    uint64_t first = c->first_seed ? c->first_seed : 1;
    unsigned int seeds = c->seeds ? c->seeds : 1000, depth = c->depth ? c->depth : 3;
    for (unsigned int i = 0; i < seeds; i++) {
        uint64_t seed = first + i;
        int rc;
        r->runs++;
        if (i == 0) {
            struct xensim_config s = xp_sched(x, seed);
            rc = xp_run(x, &s, r->why, sizeof(r->why));
            r->steps = xp_count(x->run);
            r->depth = 0;
            r->changes = 0;
        } else {
            /* d cycles 1..depth: d - 1 change points, uniform over the
             * first run's length, as PCT draws them. */
            uint64_t mix = seed ^ 0x43484e47ull, k = r->steps ? r->steps : 1;
            r->depth = 1 + (i - 1) % depth;
            r->changes = r->depth - 1;
            for (unsigned int j = 0; j < XENSIM_PCT_CHANGES_MAX; j++)
                r->change[j] = j < r->changes ? 1 + sim_splitmix64(&mix) % k : 0;
            rc = xp_pct(x, seed, r->change, r->changes, r->why, sizeof(r->why));
        }
        if (rc < 0)
            return rc;
        if (rc == 1) {
            r->found = true;
            r->seed = seed;
            r->changes_found = r->changes;
            xp_log(x, "xensim explore: run %u (seed %" PRIu64 ", PCT depth %u) failed: %s\n",
                   r->runs, seed, r->depth, r->why);
            return xp_keep(x) ? -EIO : 1;
        }
        if (r->runs % 100 == 0)
            xp_log(x, "xensim explore: %u runs passed\n", r->runs);
    }
    return 0;
}

/* Fewer change points: each dropped if the run still fails without it. */
static int xp_shrink_changes(struct xp *x)
{
    struct xensim_explore_result *r = x->r;
    for (unsigned int j = r->changes; j-- > 0;) {
        uint64_t fewer[XENSIM_PCT_CHANGES_MAX] = { 0 };
        unsigned int n = 0;
        char why[sizeof(r->why)];
        for (unsigned int i = 0; i < r->changes; i++)
            if (i != j)
                fewer[n++] = r->change[i];
        r->shrink_runs++;
        int rc = xp_pct(x, r->seed, fewer, n, why, sizeof(why));
        if (rc < 0)
            return rc;
        if (rc == 1) {
            memcpy(r->change, fewer, sizeof(fewer));
            r->changes = n;
            snprintf(r->why, sizeof(r->why), "%s", why);
            if (xp_keep(x))
                return -EIO;
        }
    }
    return 0;
}

/* The first k decisions of the failing schedule, then no preemption. */
static int xp_prefix_run(struct xp *x, uint64_t k, char *why, size_t size)
{
    int rc = xp_copy(x->best, x->prefix, k);
    if (rc)
        return rc;
    struct xensim_config s = xp_sched(x, x->r->seed);
    s.replay = x->prefix;
    s.replay_then_run_on = true;
    x->r->shrink_runs++;
    return xp_run(x, &s, why, size);
}

/* A short prefix that still fails, by halving, lo passing and hi failing
 * throughout. Failing need not be monotonic in the prefix's length, so
 * this is a boundary the halving reaches, not always the shortest; a run
 * that cannot follow its prefix (not repeatable) counts as passing. */
static int xp_shrink_prefix(struct xp *x)
{
    struct xensim_explore_result *r = x->r;
    char why[sizeof(r->why)];
    uint64_t lo = 0, hi = r->length = xp_count(x->best);
    r->prefix = hi;
    int rc = xp_prefix_run(x, 0, why, sizeof(why));
    if (rc < 0)
        return rc;
    if (rc == 1) {
        hi = 0;
    } else {
        /* The whole schedule must fail again, or the run is not
         * repeatable and there is nothing to halve. */
        rc = xp_prefix_run(x, hi, why, sizeof(why));
        if (rc != 1) {
            xp_log(x, "xensim explore: the failing schedule did not fail again when "
                      "replayed; it is kept unshrunk\n");
            return rc < 0 && rc != -EINVAL ? rc : 0;
        }
        if (xp_keep(x))
            return -EIO;
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            rc = xp_prefix_run(x, mid, why, sizeof(why));
            if (rc < 0)
                return rc;
            if (rc != 1) {
                lo = mid;
                continue;
            }
            hi = mid;
            if (xp_keep(x))
                return -EIO;
        }
        /* best holds the run of prefix hi. */
        r->prefix = hi;
        snprintf(r->why, sizeof(r->why), "%s", why);
        return 0;
    }
    r->prefix = 0;
    snprintf(r->why, sizeof(r->why), "%s", why);
    return xp_keep(x) ? -EIO : 0;
}

/* The last lines of the run's output, to the log. */
static void xp_tail(const struct xp *x, unsigned int lines)
{
    FILE *f = x->cfg->log ? fopen(x->log, "r") : NULL;
    char (*ring)[256] = f ? calloc(lines, sizeof(*ring)) : NULL;
    unsigned long n = 0;
    if (ring) {
        while (fgets(ring[n % lines], sizeof(ring[0]), f))
            n += strchr(ring[n % lines], '\n') != NULL;
        xp_log(x, "xensim explore: the failing run's output ends:\n");
        for (unsigned long i = n > lines ? n - lines : 0; i < n; i++)
            xp_log(x, "  %s", ring[i % lines]);
    }
    free(ring);
    if (f)
        fclose(f);
}

static void xp_cleanup(struct xp *x)
{
    unlink(x->run);
    unlink(x->log);
    unlink(x->prefix);
    unlink(x->best);
    rmdir(x->dir);
}

int xensim_explore(const struct xensim_explore_config *cfg, struct xensim_explore_result *r)
{
    if (!cfg || !r || !cfg->run || cfg->depth > XENSIM_PCT_CHANGES_MAX + 1)
        return -EINVAL;
    memset(r, 0, sizeof(*r));
    struct xp x = { .cfg = cfg, .r = r };
    const char *tmp = getenv("TMPDIR");
    snprintf(x.dir, sizeof(x.dir), "%s/xensim-explore-XXXXXX",
             tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
    if (!mkdtemp(x.dir))
        return -errno;
    snprintf(x.run, sizeof(x.run), "%s/run.schedule", x.dir);
    snprintf(x.log, sizeof(x.log), "%s/run.log", x.dir);
    snprintf(x.prefix, sizeof(x.prefix), "%s/prefix.schedule", x.dir);
    snprintf(x.best, sizeof(x.best), "%s/best.schedule", x.dir);
    int rc = xp_search(&x);
    if (rc == 1) {
        /* The failing run's output, before the shrinking runs overwrite it. */
        xp_tail(&x, TAIL_LINES);
        rc = xp_shrink_changes(&x);
        if (!rc)
            rc = xp_shrink_prefix(&x);
        if (!rc && cfg->schedule && xp_copy(x.best, cfg->schedule, UINT64_MAX))
            rc = -EIO;
    }
    xp_cleanup(&x);
    return rc < 0 ? rc : 0;
}
