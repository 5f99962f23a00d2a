/*
 * Schedule search (issue 11, <xensim/explore.h>): PCT runs are as
 * repeatable as uniform ones; xensim_explore() finds a race that only
 * some interleavings show, shrinks it and writes a schedule that fails
 * again when replayed; it passes the same scenario without the race; a
 * deadlock and a run past its step limit are findings too.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <check.h>
#include <xen/version.h>
#include <xensim/explore.h>
#include <xensim/guest.h>
#include <xensim/xensim.h>

#define ROUNDS 4

/* Two domains add ROUNDS each to one counter. The racy way loads, makes
 * a hypercall (a scheduling point), then stores: an update is lost when
 * the other domain runs in between. */
static struct {
    bool atomic;
    long counter;
    _Atomic int finished;
} race;

static void add_rounds(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (race.atomic) {
            HYPERVISOR_xen_version(XENVER_version, NULL);
            __atomic_fetch_add(&race.counter, 1, __ATOMIC_RELAXED);
        } else {
            long v = race.counter;
            HYPERVISOR_xen_version(XENVER_version, NULL);
            race.counter = v + 1;
        }
        HYPERVISOR_xen_version(XENVER_version, NULL);
    }
    race.finished++;
}

/* One run: 0 if no update was lost. */
static int race_run(const struct xensim_config *sched, void *arg)
{
    race.atomic = arg != NULL;
    race.counter = 0;
    race.finished = 0;
    struct xensim_config cfg = *sched;
    cfg.quiet = true;
    struct xensim *sim = xensim_create(&cfg);
    if (!sim)
        return 2;
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = add_rounds };
    struct xensim_domain_config g = { .name = "guest", .entry = add_rounds };
    if (xensim_domain_create(sim, &d0) != 0 || xensim_domain_create(sim, &g) != 1)
        return 2;
    xensim_domain_unpause(sim, 0);
    xensim_domain_unpause(sim, 1);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    if (race.finished != 2)
        return 3;
    return race.counter == 2 * ROUNDS ? 0 : 1;
}

static char schedule[64];

static void schedule_path(void)
{
    snprintf(schedule, sizeof(schedule), "/tmp/xensim-test-explore-%d", (int)getpid());
}

/* race_run in a child on the schedule file: its exit status. */
static int replay_status(uint64_t seed, const char *path, bool atomic)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct xensim_config s = { .seed = seed, .replay = path };
        _exit(race_run(&s, atomic ? &race : NULL));
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

START_TEST(explore_finds_the_race)
{
    schedule_path();
    struct xensim_explore_config c = { .run = race_run, .seeds = 1000, .schedule = schedule,
                                       .record_note = "test_explore race" };
    struct xensim_explore_result r;
    ck_assert_int_eq(xensim_explore(&c, &r), 0);
    ck_assert_msg(r.found, "1000 runs and the lost update never showed");
    ck_assert_uint_ge(r.runs, 1);
    ck_assert_uint_le(r.runs, 1000);
    ck_assert_uint_gt(r.steps, 0);
    ck_assert_uint_le(r.depth, 3);
    ck_assert_uint_le(r.changes, r.changes_found);
    ck_assert_uint_gt(r.length, 0);
    ck_assert_uint_le(r.prefix, r.length);
    ck_assert_uint_gt(r.shrink_runs, 0);
    ck_assert_msg(strstr(r.why, "exit status 1"), "why: %s", r.why);
    /* The kept schedule names its note and seed, and fails again. */
    FILE *f = fopen(schedule, "r");
    ck_assert_ptr_nonnull(f);
    char line[128];
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    ck_assert_str_eq(line, "# test_explore race\n");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
    char want[64];
    snprintf(want, sizeof(want), "seed %llu\n", (unsigned long long)r.seed);
    ck_assert_str_eq(line, want);
    fclose(f);
    ck_assert_int_eq(replay_status(r.seed, schedule, false), 1);
    ck_assert_int_eq(replay_status(r.seed, schedule, false), 1);
    unlink(schedule);
}
END_TEST

START_TEST(explore_passes_without_the_race)
{
    schedule_path();
    unlink(schedule);
    struct xensim_explore_config c = { .run = race_run, .arg = &race, .seeds = 40,
                                       .first_seed = 7, .schedule = schedule };
    struct xensim_explore_result r;
    ck_assert_int_eq(xensim_explore(&c, &r), 0);
    ck_assert(!r.found);
    ck_assert_uint_eq(r.runs, 40);
    ck_assert_uint_gt(r.steps, 0);
    ck_assert_int_ne(access(schedule, F_OK), 0);
}
END_TEST

/* A failure only a run that lets one domain finish before the other
 * starts shows: uniform picks almost never do (every scheduling point is
 * a coin for who goes on), PCT's priorities often do. */
#define STEPS 12
static struct { _Atomic unsigned int n; domid_t who[2 * STEPS]; } order;

static void log_steps(void *arg)
{
    (void)arg;
    for (int i = 0; i < STEPS; i++) {
        order.who[order.n++] = xensim_guest_domid();
        HYPERVISOR_xen_version(XENVER_version, NULL);
    }
}

static int order_run(const struct xensim_config *sched, void *arg)
{
    (void)arg;
    memset(&order, 0, sizeof(order));
    struct xensim_config cfg = *sched;
    cfg.quiet = true;
    struct xensim *sim = xensim_create(&cfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = log_steps };
    struct xensim_domain_config g = { .name = "guest", .entry = log_steps };
    if (!sim || xensim_domain_create(sim, &d0) != 0 || xensim_domain_create(sim, &g) != 1)
        return 2;
    xensim_domain_unpause(sim, 0);
    xensim_domain_unpause(sim, 1);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    unsigned int switches = 0;
    for (unsigned int i = 1; i < order.n; i++)
        switches += order.who[i] != order.who[i - 1];
    return order.n == 2 * STEPS && switches == 1 ? 1 : 0;
}

START_TEST(pct_finds_what_uniform_misses)
{
    struct xensim_explore_config c = { .run = order_run, .seeds = 1000 };
    struct xensim_explore_result r;
    ck_assert_int_eq(xensim_explore(&c, &r), 0);
    ck_assert(r.found);
    /* Not the first, uniform run: a PCT one, at some depth. */
    ck_assert_uint_ge(r.depth, 1);
    ck_assert_uint_gt(r.runs, 1);
    ck_assert_uint_le(r.changes, r.changes_found);
    ck_assert_uint_le(r.prefix, r.length);
}
END_TEST

static void wait_forever(void *arg)
{
    (void)arg;
    HYPERVISOR_sched_op(SCHEDOP_block, NULL);
    HYPERVISOR_sched_op(SCHEDOP_block, NULL);
}

static int stuck_run(const struct xensim_config *sched, void *arg)
{
    (void)arg;
    struct xensim_config cfg = *sched;
    cfg.quiet = true;
    struct xensim *sim = xensim_create(&cfg);
    struct xensim_domain_config d0 = { .name = "Domain-0", .privileged = true,
                                       .entry = wait_forever };
    xensim_domain_create(sim, &d0);
    xensim_domain_unpause(sim, 0);
    xensim_wait_all_shutdown(sim);
    xensim_destroy(sim);
    return 0;
}

START_TEST(explore_reports_a_deadlock)
{
    struct xensim_explore_config c = { .run = stuck_run, .seeds = 5, .first_seed = 3 };
    struct xensim_explore_result r;
    ck_assert_int_eq(xensim_explore(&c, &r), 0);
    ck_assert(r.found);
    ck_assert_uint_eq(r.runs, 1);
    ck_assert_uint_eq(r.seed, 3);
    ck_assert_uint_eq(r.depth, 0);
    ck_assert_msg(strstr(r.why, "deterministic run (seed 3) deadlocked"), "why: %s", r.why);
    ck_assert_msg(strstr(r.why, "Aborted"), "why: %s", r.why);
}
END_TEST

/* A PCT run's schedule, recorded to path. */
static void record_pct(uint64_t seed, uint64_t change, const char *path)
{
    struct xensim_config s = { .seed = seed, .record = path, .record_note = "pct",
                               .pct = { .on = true, .change = { change } } };
    ck_assert_int_le(race_run(&s, &race), 1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char bufs[2][65536];
    static int which;
    char *b = bufs[which++ & 1];
    size_t n = fread(b, 1, sizeof(bufs[0]) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* A schedule's decisions: past its note and seed lines. */
static const char *decisions(const char *s)
{
    s = strchr(s, '\n') + 1;
    return strchr(s, '\n') + 1;
}

START_TEST(pct_runs_repeat)
{
    schedule_path();
    char other[80];
    snprintf(other, sizeof(other), "%s.b", schedule);
    record_pct(11, 9, schedule);
    record_pct(11, 9, other);
    ck_assert_str_eq(slurp(schedule), slurp(other));
    /* Other seeds, other priorities: not every one orders the same. */
    unsigned int differ = 0;
    char *first = strdup(slurp(schedule));
    for (uint64_t seed = 12; seed < 20; seed++) {
        record_pct(seed, 9, other);
        differ += strcmp(decisions(first), decisions(slurp(other))) != 0;
    }
    free(first);
    ck_assert_uint_gt(differ, 0);
    unlink(schedule);
    unlink(other);
}
END_TEST

START_TEST(step_limit_is_reported)
{
    fflush(NULL);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        struct xensim_config s = { .seed = 4, .max_steps = 10 };
        _exit(race_run(&s, &race));
    }
    close(fds[1]);
    static char out[8192];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], out + len, sizeof(out) - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
    ck_assert_msg(strstr(out, "(seed 4) ran past its limit at step 11"), "report: %s", out);
    ck_assert_msg(strstr(out, "more than 10 scheduling decisions"), "report: %s", out);
}
END_TEST

START_TEST(bad_configs_refused)
{
    struct xensim_explore_result r;
    struct xensim_explore_config c = { .run = race_run, .depth = XENSIM_PCT_CHANGES_MAX + 2 };
    ck_assert_int_eq(xensim_explore(NULL, &r), -EINVAL);
    ck_assert_int_eq(xensim_explore(&c, NULL), -EINVAL);
    ck_assert_int_eq(xensim_explore(&c, &r), -EINVAL);
    c.depth = 1;
    c.run = NULL;
    ck_assert_int_eq(xensim_explore(&c, &r), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("explore");
    TCase *t = tcase_create("explore");
    tcase_set_timeout(t, 300);
    tcase_add_test(t, explore_finds_the_race);
    tcase_add_test(t, explore_passes_without_the_race);
    tcase_add_test(t, explore_reports_a_deadlock);
    tcase_add_test(t, pct_finds_what_uniform_misses);
    tcase_add_test(t, pct_runs_repeat);
    tcase_add_test(t, step_limit_is_reported);
    tcase_add_test(t, bad_configs_refused);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
