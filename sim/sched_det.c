/*
 * The deterministic scheduler: every thread of the simulation (the thread
 * that created it, each vCPU, the timer) is a task, and exactly one task
 * runs at a time, holding the baton. At each scheduling point the holder
 * picks the next task from a splitmix64 generator seeded with the run's
 * seed, so the same seed gives the same order of everything the tasks do.
 * The clock is virtual: it stands still while any task can run and jumps
 * to the nearest deadline when none can. Relies on sim_futex_* to park.
 *
 * Who runs is a policy's choice (struct det_policy): the generator's
 * uniform pick, PCT's priorities (for schedule search, sched_explore.c),
 * a recorded schedule's decision, or, after a replayed prefix, the
 * running task again until it blocks.
 *
 * Invariants: the task state below is read and written only by the baton
 * holder (or, before its thread begins, by its creator, who holds the
 * baton then). Handing over is a release store of the next task's go word
 * and its acquire load, so a task sees all its predecessor did. Kicks are
 * not scheduling points: they happen under event channel locks, and a
 * task parked there would stop every other that needs the lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <unistd.h>
#include "sim.h"

enum det_state { DT_READY, DT_BLOCKED, DT_DONE };

struct det_task {
    struct det *det;
    unsigned int id;                    /* creation order */
    char name[32];
    enum det_state state;
    uint32_t go;                        /* futex word: 1 while it holds the baton */
    /* While blocked: runnable again when one of these says so, or when
     * the clock reaches deadline (0 = none). */
    struct vcpu *v;
    bool (*vwake)(struct vcpu *v);
    bool (*hwake)(void *arg);
    void *harg;
    uint64_t deadline;
    /* Its last hypercall was SCHEDOP_yield: it busy-waits (yield_call:
     * the current one is a yield). */
    bool spinning, yield_call;
    uint64_t prio;                      /* PCT: the highest that can run runs */
};

struct det {
    struct xensim *sim;
    uint64_t seed;
    uint64_t rng;                       /* splitmix64 state */
    uint64_t now;                       /* virtual ns since creation */
    uint64_t steps;                     /* scheduling decisions made */
    struct det_task **tasks;
    unsigned int nr_tasks, cap_tasks;
    struct det_task **ready;            /* scratch for the pick, cap_tasks long */
    FILE *record;                       /* the schedule being written, or NULL */
    unsigned int *replay;               /* a schedule's task ids, in order */
    uint64_t nr_replay;
    uint64_t stop_at;
    uint64_t max_steps;
    struct xensim_pct pct;
    bool run_on;                        /* after the replay: replay_then_run_on */
    uint64_t prio_rng;                  /* PCT's priorities, a stream of their own */
    struct det_task *last;              /* the task the last step picked: the holder */
};

/* The task this thread runs, of whichever deterministic simulator. */
static __thread struct det_task *det_self;
__thread struct xensim *sched_task_sim;

/* The generator's stream, whose draws pick the tasks. */
static uint64_t det_random(struct det *det)
{
    return sim_splitmix64(&det->rng);
}

static struct det *det_of(const struct xensim *sim)
{
    return sim->sched_priv;
}

/* The rule of the mode, enforced: a host thread that is not a task would
 * run beside the baton holder. */
static struct det_task *det_current(struct det *det)
{
    struct det_task *t = det_self;
    if (!t || t->det != det) {
        fprintf(stderr, "xensim: a thread that is not a task of this deterministic simulation "
                        "(seed %" PRIu64 ") called into it; in deterministic mode only the "
                        "creating thread may call the embedding API\n", det->seed);
        abort();
    }
    return t;
}

static bool det_runnable(const struct det *det, const struct det_task *t)
{
    switch (t->state) {
    case DT_READY:
        return true;
    case DT_BLOCKED:
        if (t->deadline && t->deadline <= det->now)
            return true;
        return t->vwake ? t->vwake(t->v) : t->hwake(t->harg);
    default:
        return false;
    }
}

/* What the domains show: every vCPU's event flags, every ring their code
 * named (ring_watch.c) and every port that is pending. A port pending
 * and unmasked whose vCPU has no upcall pending is a lost wake-up:
 * nothing will ever tell that vCPU; so, when every task is stuck, is a
 * ring whose producer reached the event index its consumer set. */
static unsigned int det_report_events(struct xensim *sim, bool stuck)
{
    enum { MAX_ROWS = 4096 };
    struct xensim_port_info *rows = malloc(MAX_ROWS * sizeof(*rows));
    unsigned int lost = 0;
    if (!rows)
        return 0;
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_rcu_get(sim, NULL, (domid_t)id);
        if (!d)
            continue;
        for (unsigned int i = 0; i < d->nr_vcpus; i++) {
            struct vcpu *v = d->vcpus[i];
            fprintf(stderr, "  dom%u vcpu%u: evtchn_upcall_pending %u, mask %u%s\n", id, i,
                    *v->upcall_pending, *v->upcall_mask, v->polling ? ", in SCHEDOP_poll" : "");
        }
        lost += ring_watch_report(d, stderr, stuck);
        int n = xensim_port_list(sim, (domid_t)id, rows, MAX_ROWS);
        for (int k = 0; k < n && k < MAX_ROWS; k++) {
            const struct xensim_port_info *r = &rows[k];
            if (!r->pending)
                continue;
            bool quiet = !r->masked && !r->host_consumer && r->vcpu < d->nr_vcpus &&
                         !*d->vcpus[r->vcpu]->upcall_pending;
            fprintf(stderr, "  dom%u port %u: pending%s%s\n", id, r->port,
                    r->masked ? ", masked" : "", quiet ? ": LOST WAKE-UP, its vCPU's "
                    "evtchn_upcall_pending is clear" : "");
            lost += quiet;
        }
        rcu_read_unlock();
    }
    free(rows);
    return lost;
}

/* why: "deadlocked at step N, ...: every task is blocked ...", or that
 * it ran past its step limit. */
static void det_report_stuck(const struct det *det, const char *why)
{
    /* The schedule that led here is what a replay needs. */
    if (det->record)
        fflush(det->record);
    fprintf(stderr, "xensim: deterministic run (seed %" PRIu64 ") %s at step %" PRIu64
                    ", time %" PRIu64 " ns: %s\n", det->seed,
            why ? "ran past its limit" : "deadlocked", det->steps, det->now,
            why ? why : "every task is blocked and no deadline is set");
    for (unsigned int i = 0; i < det->nr_tasks; i++) {
        const struct det_task *t = det->tasks[i];
        if (t->state != DT_DONE)
            fprintf(stderr, "  task %u %s: %s\n", t->id, t->name,
                    t->state == DT_READY ? "runnable" : "blocked");
    }
    /* Past the step limit tasks may still run: nothing is lost yet. */
    if (det_report_events(det->sim, why == NULL))
        fprintf(stderr, "xensim: a lost wake-up is among the causes\n");
    fprintf(stderr, "xensim: rerun it with the same seed, %" PRIu64 "\n", det->seed);
}

/* How one step picks among the n tasks that can run, det->ready[0..n);
 * r is the generator's draw for the step (0 when n is 1), which every
 * policy is handed so that the generator's stream moves the same way
 * whoever picks: a replayed schedule, once ended, goes on as the run it
 * was recorded from would have. */
struct det_policy {
    struct det_task *(*pick)(struct det *det, unsigned int n, uint64_t r);
};

static struct det_task *pick_uniform(struct det *det, unsigned int n, uint64_t r)
{
    return det->ready[r % n];
}

/* Of those that can run, the best by better(); busy-waiters only when
 * nobody else can run, since they wait for the others. */
static struct det_task *pick_best(struct det *det, unsigned int n,
                                  bool (*better)(const struct det_task *a,
                                                 const struct det_task *b))
{
    struct det_task *best = NULL;
    for (int pass = 0; pass < 2 && !best; pass++)
        for (unsigned int i = 0; i < n; i++) {
            struct det_task *t = det->ready[i];
            if ((pass || !t->spinning) && (!best || better(t, best)))
                best = t;
        }
    return best;
}

static bool higher_prio(const struct det_task *a, const struct det_task *b)
{
    return a->prio > b->prio || (a->prio == b->prio && a->id < b->id);
}

/* At a change point the holder drops below every task's first priority,
 * and below the earlier change points' (PCT's d - i). */
static struct det_task *pick_pct(struct det *det, unsigned int n, uint64_t r)
{
    (void)r;
    for (unsigned int i = 0; i < XENSIM_PCT_CHANGES_MAX; i++)
        if (det->pct.change[i] == det->steps && det->last)
            det->last->prio = XENSIM_PCT_CHANGES_MAX - i;
    return pick_best(det, n, higher_prio);
}

static bool lower_id(const struct det_task *a, const struct det_task *b)
{
    return a->id < b->id;
}

static struct det_task *pick_run_on(struct det *det, unsigned int n, uint64_t r)
{
    (void)r;
    struct det_task *t = pick_best(det, n, lower_id);
    for (unsigned int i = 0; i < n; i++)
        if (det->ready[i] == det->last && (!det->last->spinning || t->spinning))
            return det->last;
    return t;
}

/* The recorded decision for this step, which must be runnable now. */
static struct det_task *pick_replayed(struct det *det, unsigned int n, uint64_t r)
{
    (void)r;
    unsigned int want = det->replay[det->steps - 1];
    for (unsigned int i = 0; i < n; i++)
        if (det->ready[i]->id == want)
            return det->ready[i];
    if (det->record)
        fflush(det->record);
    fprintf(stderr, "xensim: the replayed schedule (seed %" PRIu64 ") diverged at step %" PRIu64
                    ": it runs task %u, which cannot run now\n", det->seed, det->steps, want);
    abort();
}

/* --until: the state at this step, then the process ends. */
static void det_stop(struct det *det)
{
    if (det->record)
        fflush(det->record);
    fprintf(stderr, "xensim: stopped at step %" PRIu64 " of the run with seed %" PRIu64
                    ", time %" PRIu64 " ns\n", det->steps, det->seed, det->now);
    for (unsigned int i = 0; i < det->nr_tasks; i++) {
        const struct det_task *t = det->tasks[i];
        static const char *const names[] = { "runnable", "blocked", "done" };
        fprintf(stderr, "  task %u %s: %s%s\n", t->id, t->name, names[t->state],
                det_runnable(det, t) && t->state == DT_BLOCKED ? " (may wake)" : "");
    }
    xensim_dump_domains(det->sim, stderr);
    det_report_events(det->sim, false);
    for (unsigned int id = 0; id < DOMID_FIRST_RESERVED; id++) {
        struct xensim_domain_info info;
        if (!xensim_domain_info(det->sim, (domid_t)id, &info) && info.ports_in_use)
            xensim_dump_ports(det->sim, (domid_t)id, stderr);
    }
    fflush(stderr);
    fflush(stdout);
    _exit(0);
}

static const struct det_policy policy_uniform = { pick_uniform }, policy_pct = { pick_pct },
                               policy_run_on = { pick_run_on }, policy_replay = { pick_replayed };

/* This step's policy (det->steps counts it already). */
static const struct det_policy *det_policy(const struct det *det)
{
    if (det->steps <= det->nr_replay)
        return &policy_replay;
    if (det->run_on)
        return &policy_run_on;
    if (det->pct.on && (!det->pct.until || det->steps <= det->pct.until))
        return &policy_pct;
    return &policy_uniform;
}

/* Chooses who runs next; moves the clock if nobody can run now, or if
 * all that can only busy-wait: they wait for time to pass as surely as
 * a task that sleeps. */
static struct det_task *det_pick(struct det *det)
{
    for (;;) {
        unsigned int n = 0;
        uint64_t next = 0;
        bool all_spin = true;
        for (unsigned int i = 0; i < det->nr_tasks; i++) {
            struct det_task *t = det->tasks[i];
            if (det_runnable(det, t)) {
                det->ready[n++] = t;
                all_spin = all_spin && t->spinning;
            } else if (t->state == DT_BLOCKED && t->deadline && (!next || t->deadline < next)) {
                next = t->deadline;
            }
        }
        if (n && all_spin && next) {
            det->now = next;
            continue;
        }
        if (n) {
            det->steps++;
            if (det->max_steps && det->steps > det->max_steps) {
                char why[96];
                snprintf(why, sizeof(why), "more than %" PRIu64 " scheduling decisions",
                         det->max_steps);
                det_report_stuck(det, why);
                abort();
            }
            uint64_t r = n > 1 ? det_random(det) : 0;
            struct det_task *t = det_policy(det)->pick(det, n, r);
            det->last = t;
            if (det->record)
                fprintf(det->record, "%u\n", t->id);
            if (det->steps == det->stop_at)
                det_stop(det);
            return t;
        }
        if (!next) {
            det_report_stuck(det, NULL);
            abort();
        }
        det->now = next;
    }
}

/* The holder, whose state is already set, gives the baton to the pick
 * and parks until it comes back (never, once DONE). */
static void det_switch(struct det_task *self)
{
    struct det *det = self->det;
    struct det_task *next = det_pick(det);
    if (next == self)
        return;
    __atomic_store_n(&self->go, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&next->go, 1, __ATOMIC_RELEASE);
    sim_futex_wake(&next->go);
    if (self->state == DT_DONE)
        return;
    while (!__atomic_load_n(&self->go, __ATOMIC_ACQUIRE))
        sim_futex_wait(&self->go, 0, NULL);
}

static void det_enter(struct vcpu *v)
{
    struct det_task *t = det_current(det_of(v->d->sim));
    /* One task runs: the rings' indices hold still while they are read. */
    ring_watch_check(v->d);
    t->yield_call = false;
    det_switch(t);
}

static void det_exit(struct vcpu *v)
{
    struct det_task *t = det_current(det_of(v->d->sim));
    if (!t->yield_call)
        t->spinning = false;
    det_switch(t);
}

static void det_yield(struct vcpu *v)
{
    struct det_task *t = det_current(det_of(v->d->sim));
    t->spinning = t->yield_call = true;
    det_switch(t);
}

static bool det_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct det *det = det_of(v->d->sim);
    struct det_task *t = det_current(det);
    bool woken;
    for (;;) {
        if (wake(v)) {
            woken = true;
            break;
        }
        if (deadline && det->now >= deadline) {
            woken = false;
            break;
        }
        t->state = DT_BLOCKED;
        t->v = v;
        t->vwake = wake;
        t->deadline = deadline;
        det_switch(t);
        t->state = DT_READY;
        t->vwake = NULL;
    }
    return woken;
}

/* Nothing to wake: the holder re-tests every blocked task's condition at
 * its next scheduling point. */
static void det_kick(struct vcpu *v)
{
    (void)v;
}

static uint64_t det_now(const struct xensim *sim)
{
    return det_of(sim)->now;
}

static struct det_task *det_task_alloc(struct det *det, const char *name)
{
    if (det->nr_tasks == det->cap_tasks) {
        unsigned int cap = det->cap_tasks ? det->cap_tasks * 2 : 16;
        struct det_task **tasks = realloc(det->tasks, cap * sizeof(*tasks));
        if (!tasks)
            XENSIM_DIE("deterministic task table", ENOMEM);
        det->tasks = tasks;
        struct det_task **ready = realloc(det->ready, cap * sizeof(*ready));
        if (!ready)
            XENSIM_DIE("deterministic task table", ENOMEM);
        det->ready = ready;
        det->cap_tasks = cap;
    }
    struct det_task *t = calloc(1, sizeof(*t));
    if (!t)
        XENSIM_DIE("deterministic task", ENOMEM);
    t->det = det;
    t->id = det->nr_tasks;
    /* Above every change point's priority, in an order the seed picks. */
    t->prio = (1ull << 32) + (sim_splitmix64(&det->prio_rng) >> 32);
    snprintf(t->name, sizeof(t->name), "%s", name);
    det->tasks[det->nr_tasks++] = t;
    return t;
}

/* A schedule written by record: "# note", "seed N", then task ids. */
static int det_load(struct det *det, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[4096];
    uint64_t seed = 0;
    int rc = 0;
    uint64_t cap = 0;
    while (!rc && fgets(line, sizeof(line), f)) {
        unsigned int id;
        if (line[0] == '#')
            continue;
        if (sscanf(line, "seed %" SCNu64, &seed) == 1)
            continue;
        if (sscanf(line, "%u", &id) != 1) {
            rc = -EINVAL;
            break;
        }
        if (det->nr_replay == cap) {
            cap = cap ? cap * 2 : 1024;
            unsigned int *ids = realloc(det->replay, cap * sizeof(*ids));
            if (!ids) {
                rc = -ENOMEM;
                break;
            }
            det->replay = ids;
        }
        det->replay[det->nr_replay++] = id;
    }
    fclose(f);
    /* Another seed's schedule would part from this run's at once. */
    if (!rc && seed != det->seed)
        rc = -EINVAL;
    return rc;
}

static void det_free(struct det *det)
{
    if (det->record)
        fclose(det->record);
    for (unsigned int i = 0; i < det->nr_tasks; i++)
        free(det->tasks[i]);
    free(det->tasks);
    free(det->ready);
    free(det->replay);
    free(det);
}

static int det_init(struct xensim *sim, const struct xensim_config *cfg)
{
    uint64_t seed = cfg->seed;
    struct det *det = calloc(1, sizeof(*det));
    if (!det)
        return -ENOMEM;
    det->seed = seed;
    det->stop_at = cfg->stop_at;
    det->max_steps = cfg->max_steps;
    det->pct = cfg->pct;
    /* An empty schedule is a prefix too: no preemption from the start. */
    det->run_on = cfg->replay_then_run_on && cfg->replay;
    det->prio_rng = seed ^ 0x5043545052494full;
    int rc = 0;
    if (cfg->replay)
        rc = det_load(det, cfg->replay);
    if (!rc && cfg->record && !(det->record = fopen(cfg->record, "w")))
        rc = -errno;
    /* A line at a time: a run that dies without flushing (a sanitizer's
     * report, a crash, a timeout) still leaves the schedule up to it. */
    if (!rc && det->record)
        setvbuf(det->record, NULL, _IOLBF, 0);
    if (rc) {
        det_free(det);
        return rc;
    }
    if (det->record)
        fprintf(det->record, "# %s\nseed %" PRIu64 "\n",
                cfg->record_note ? cfg->record_note : "xensim", seed);
    det->sim = sim;
    det->seed = seed;
    det->rng = seed;
    sim->sched_priv = det;
    sim->epoch_ns = 0;
    /* The creator holds the baton from the start. */
    struct det_task *t = det_task_alloc(det, "toolstack");
    t->go = 1;
    det->last = t;
    det_self = t;
    sched_task_sim = sim;
    return 0;
}

static void det_fini(struct xensim *sim)
{
    struct det *det = det_of(sim);
    if (!det)
        return;
    if (det_self && det_self->det == det) {
        det_self = NULL;
        sched_task_sim = NULL;
    }
    det_free(det);
    sim->sched_priv = NULL;
}

static void *det_task_new(struct xensim *sim, const char *name)
{
    struct det *det = det_of(sim);
    det_current(det);
    return det_task_alloc(det, name);
}

/* Its creator holds the baton; nobody else can have picked it yet. */
static void det_task_cancel(struct xensim *sim, void *task)
{
    det_current(det_of(sim));
    ((struct det_task *)task)->state = DT_DONE;
}

static void det_thread_begin(struct xensim *sim, void *task)
{
    struct det_task *t = task;
    det_self = t;
    sched_task_sim = sim;
    while (!__atomic_load_n(&t->go, __ATOMIC_ACQUIRE))
        sim_futex_wait(&t->go, 0, NULL);
}

static void det_thread_end(struct xensim *sim)
{
    struct det_task *t = det_current(det_of(sim));
    t->state = DT_DONE;
    det_self = NULL;
    sched_task_sim = NULL;
    det_switch(t);
}

/* Parks t until hwake(harg) holds or the virtual clock reaches deadline
 * (0: no deadline), as the holder re-tests at each scheduling point; one
 * switch. */
static void det_park(struct det_task *t, bool (*hwake)(void *arg), void *harg,
                     uint64_t deadline)
{
    t->state = DT_BLOCKED;
    t->hwake = hwake;
    t->harg = harg;
    t->deadline = deadline;
    det_switch(t);
    t->state = DT_READY;
    t->hwake = NULL;
}

static void det_host_wait(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                          bool (*done)(void *arg), void *arg, uint64_t deadline)
{
    (void)cond;
    struct det *det = det_of(sim);
    struct det_task *t = det_current(det);
    if (done(arg) || (deadline && det->now >= deadline))
        return;
    /* Parked without the lock: the task that makes done() true takes it.
     * The caller's lock, held as the caller took it (counted in
     * sim_hv_depth or not): dropped and taken back raw, as a condition
     * wait would, so the depth stays the caller's. */
    xensim_mutex_unlock(m);
    det_park(t, done, arg, deadline);
    xensim_mutex_lock(m);
}

static bool word_set(void *p)
{
    return __atomic_load_n((uint32_t *)p, __ATOMIC_ACQUIRE) != 0;
}

static void det_word_wait(struct xensim *sim, uint32_t *word)
{
    struct det *det = det_of(sim);
    struct det_task *t = det_current(det);
    while (!word_set(word))
        det_park(t, word_set, word, 0);
}

struct fd_ready {
    int fd;
    short events;
};

/* A descriptor's readiness is as repeatable as the rest: its writers are
 * tasks, and the kernel has made a unix socket's or an eventfd's data
 * readable by the time their write returns. */
static bool fd_ready(void *p)
{
    struct fd_ready *f = p;
    struct pollfd pfd = { .fd = f->fd, .events = f->events };
    return poll(&pfd, 1, 0) != 0;
}

static void det_fd_wait(struct xensim *sim, int fd, short events)
{
    struct det *det = det_of(sim);
    struct det_task *t = det_current(det);
    struct fd_ready f = { fd, events };
    while (!fd_ready(&f))
        det_park(t, fd_ready, &f, 0);
}

static bool task_done(void *p)
{
    return ((struct det_task *)p)->state == DT_DONE;
}

static void det_join(struct xensim *sim, void *task, pthread_t thread)
{
    struct det *det = det_of(sim);
    struct det_task *t = det_current(det);
    while (!task_done(task))
        det_park(t, task_done, task, 0);
    /* It has given the baton away and touches nothing of ours again. */
    int err = pthread_join(thread, NULL);
    if (err)
        XENSIM_DIE("pthread_join", err);
}

/* Only one task runs at a time, so a vCPU that loops in guest code never
 * lets the joiner run again to give up: a deterministic run waits. */
static bool det_join_by(struct xensim *sim, void *task, pthread_t thread,
                        const struct timespec *deadline)
{
    (void)deadline;
    det_join(sim, task, thread);
    return true;
}

static bool never(void *arg)
{
    (void)arg;
    return false;
}

/* Virtual sleep: the clock gets there once every other task waits. */
static void det_sleep(struct xensim *sim, uint64_t ns)
{
    struct det *det = det_of(sim);
    struct det_task *t = det_current(det);
    det_park(t, never, NULL, det->now + (ns ? ns : 1));
}

const struct sched_ops sched_deterministic = {
    .name = "deterministic",
    .hypercall_enter = det_enter,
    .hypercall_exit = det_exit,
    .block = det_block,
    .kick = det_kick,
    .yield = det_yield,
    .now = det_now,
    .init = det_init,
    .fini = det_fini,
    .task_new = det_task_new,
    .task_cancel = det_task_cancel,
    .thread_begin = det_thread_begin,
    .thread_end = det_thread_end,
    .host_wait = det_host_wait,
    .word_wait = det_word_wait,
    .fd_wait = det_fd_wait,
    .join = det_join,
    .join_by = det_join_by,
    .sleep = det_sleep,
};
