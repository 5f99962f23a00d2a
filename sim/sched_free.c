/*
 * The free-running scheduler: every vCPU is a host thread the kernel
 * schedules. A blocked vCPU sleeps on its wake_seq futex; a kick bumps the
 * sequence and makes a system call only if the vCPU is blocked.
 */
#include <errno.h>
#include <sched.h>
#include "sim.h"

static uint64_t sf_now(const struct xensim *sim)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec - sim->epoch_ns;
}

static int sf_init(struct xensim *sim, const struct xensim_config *cfg)
{
    (void)cfg;
    sim->epoch_ns = 0;
    sim->epoch_ns = sf_now(sim);
    return 0;
}

static void sf_fini(struct xensim *sim)
{
    (void)sim;
}

/* The kernel schedules threads: nothing to number or hand over. */
static void *sf_task_new(struct xensim *sim, const char *name)
{
    (void)sim;
    (void)name;
    return NULL;
}

static void sf_task_cancel(struct xensim *sim, void *task)
{
    (void)sim;
    (void)task;
}

static void sf_thread_begin(struct xensim *sim, void *task)
{
    (void)sim;
    (void)task;
}

static void sf_thread_end(struct xensim *sim)
{
    (void)sim;
}

static void sf_host_wait(struct xensim *sim, pthread_cond_t *cond, pthread_mutex_t *m,
                         bool (*done)(void *arg), void *arg, uint64_t deadline)
{
    (void)done;
    (void)arg;
    if (deadline) {
        /* Deadlines are bounded by set_timer_op; guard the sum all the same. */
        uint64_t ns = deadline > UINT64_MAX / 2 ? UINT64_MAX / 2 : deadline + sim->epoch_ns;
        struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
        pthread_cond_timedwait(cond, m, &ts);
    } else {
        pthread_cond_wait(cond, m);
    }
}

static void sf_word_wait(struct xensim *sim, uint32_t *word)
{
    (void)sim;
    while (!__atomic_load_n(word, __ATOMIC_ACQUIRE))
        sim_futex_wait(word, 0, NULL);
}

static void sf_fd_wait(struct xensim *sim, int fd, short events)
{
    (void)sim;
    (void)fd;
    (void)events;
}

static void sf_sleep(struct xensim *sim, uint64_t ns)
{
    (void)sim;
    struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
    while (nanosleep(&ts, &ts) && errno == EINTR)
        ;
}

static void sf_join(struct xensim *sim, void *task, pthread_t thread)
{
    (void)sim;
    (void)task;
    int err = pthread_join(thread, NULL);
    if (err)
        XENSIM_DIE("pthread_join", err);
}

static void sf_hypercall_enter(struct vcpu *v)
{
    (void)v;
}

static void sf_hypercall_exit(struct vcpu *v)
{
    (void)v;
}

/* Publish BLOCKED before testing the condition; kick bumps wake_seq before
 * reading the state. With both sequentially consistent, either the kicker
 * sees BLOCKED and wakes us, or we see its condition. */
static bool sf_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    bool woken = true;
    for (;;) {
        uint32_t seq = __atomic_load_n(&v->wake_seq, __ATOMIC_SEQ_CST);
        atomic_store(&v->run_state, VCPU_BLOCKED);
        if (wake(v))
            break;
        if (deadline) {
            uint64_t now = sf_now(sim);
            if (now >= deadline) {
                woken = false;
                break;
            }
            uint64_t left = deadline - now;
            struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
            sim_futex_wait(&v->wake_seq, seq, &ts);
        } else {
            sim_futex_wait(&v->wake_seq, seq, NULL);
        }
    }
    atomic_store(&v->run_state, VCPU_RUNNING);
    return woken;
}

static void sf_kick(struct vcpu *v)
{
    __atomic_fetch_add(&v->wake_seq, 1, __ATOMIC_SEQ_CST);
    if (atomic_load(&v->run_state) == VCPU_BLOCKED)
        sim_futex_wake(&v->wake_seq);
}

static void sf_yield(struct vcpu *v)
{
    (void)v;
    sched_yield();
}

const struct sched_ops sched_free_running = {
    .name = "free-running",
    .hypercall_enter = sf_hypercall_enter,
    .hypercall_exit = sf_hypercall_exit,
    .block = sf_block,
    .kick = sf_kick,
    .yield = sf_yield,
    .now = sf_now,
    .init = sf_init,
    .fini = sf_fini,
    .task_new = sf_task_new,
    .task_cancel = sf_task_cancel,
    .thread_begin = sf_thread_begin,
    .thread_end = sf_thread_end,
    .host_wait = sf_host_wait,
    .word_wait = sf_word_wait,
    .fd_wait = sf_fd_wait,
    .join = sf_join,
    .sleep = sf_sleep,
};
