/*
 * The free-running scheduler: every vCPU is a host thread the kernel
 * schedules. A blocked vCPU first polls its wake condition for a short,
 * adaptive window (KVM's halt polling), then sleeps on its wake_seq futex;
 * a kick bumps the sequence and makes a system call only if the vCPU is
 * asleep.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include "sim.h"

/*
 * Halt polling. Waking a sleeping thread costs 20-25 us here when its core
 * has gone idle (host-costs.md), while a peer on the other core usually
 * answers within a few: so a vCPU that blocks spins on its condition
 * first, for a window that adapts as KVM's halt_poll_ns does. A block that
 * ended within the window keeps it; one that slept but ended before
 * POLL_MAX_NS says a longer window would have caught it, and doubles it;
 * one that outlasted POLL_MAX_NS halves it, so a vCPU that idles stops
 * polling after a few blocks and an idle simulation burns no CPU.
 *
 * Spinning only pays while the waker has a core of its own: on a shared
 * core the spin holds off the very thread it waits for. So a vCPU polls
 * only while the simulation's awake vCPUs (running or polling, this one
 * too) fit the host's CPUs, and a kick records the CPU it ran on: a sleep
 * ended by a kick from the CPU this vCPU had blocked on means the waker
 * had to wait for this core, and the window drops to zero; it grows again
 * only after wakes from another CPU. Yielding in the spin instead would
 * hand the core to any other process on a busy host, for a whole slice.
 * On this 2-CPU host under other engineers' load the two ends of a ring
 * mostly share a core, so the window mostly stays shut; pinned to two
 * CPUs, 99.7% of polls catch their wake.
 */
#define POLL_START_NS 4000u
#define POLL_MAX_NS 64000u

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

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

static void sf_sleep_ns(struct xensim *sim, uint64_t ns)
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

static bool sf_join_by(struct xensim *sim, void *task, pthread_t thread,
                       const struct timespec *deadline)
{
    (void)sim;
    (void)task;
    int err = pthread_timedjoin_np(thread, NULL, deadline);
    if (err && err != ETIMEDOUT)
        XENSIM_DIE("pthread_timedjoin_np", err);
    return !err;
}

static void sf_hypercall_enter(struct vcpu *v)
{
    (void)v;
}

static void sf_hypercall_exit(struct vcpu *v)
{
    (void)v;
}

/* Spins on wake(v) for up to window ns (and not past deadline); true if
 * the condition came true. The vCPU is VCPU_POLLING meanwhile, so a kick
 * makes no system call. */
static bool sf_poll(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline,
                    uint64_t start, uint32_t window)
{
    struct xensim *sim = v->d->sim;
    uint64_t end = start + window;
    if (deadline && deadline < end)
        end = deadline;
    atomic_store(&v->run_state, VCPU_POLLING);
    for (unsigned int i = 1;; i++) {
        if (wake(v))
            return true;
        cpu_relax();
        if (i % 16)
            continue;
        if (sf_now(sim) >= end)
            return false;
    }
}

static void sf_adapt(struct vcpu *v, bool polled, uint64_t block_ns, int cpu)
{
    uint32_t w = v->poll_ns;
    if (polled)
        return;
    if (cpu >= 0 && __atomic_load_n(&v->kick_cpu, __ATOMIC_RELAXED) == cpu)
        w = 0;
    else if (block_ns > POLL_MAX_NS)
        w /= 2;
    else if (w < POLL_MAX_NS)
        w = w ? 2 * w : POLL_START_NS;
    v->poll_ns = w < POLL_START_NS / 2 ? 0 : w > POLL_MAX_NS ? POLL_MAX_NS : w;
}

/* Publish BLOCKED before testing the condition; kick bumps wake_seq before
 * reading the state. With both sequentially consistent, either the kicker
 * sees BLOCKED and wakes us, or we see its condition. */
static bool sf_futex_sleep(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    for (;;) {
        uint32_t seq = __atomic_load_n(&v->wake_seq, __ATOMIC_SEQ_CST);
        atomic_store(&v->run_state, VCPU_BLOCKED);
        if (wake(v))
            return true;
        if (deadline) {
            uint64_t now = sf_now(sim);
            if (now >= deadline)
                return false;
            uint64_t left = deadline - now;
            struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
            atomic_fetch_sub(&sim->vcpus_awake, 1);
            sim_futex_wait(&v->wake_seq, seq, &ts);
        } else {
            atomic_fetch_sub(&sim->vcpus_awake, 1);
            sim_futex_wait(&v->wake_seq, seq, NULL);
        }
        atomic_fetch_add(&sim->vcpus_awake, 1);
    }
}

static bool sf_block(struct vcpu *v, bool (*wake)(struct vcpu *v), uint64_t deadline)
{
    struct xensim *sim = v->d->sim;
    if (wake(v))
        return true;
    uint64_t start = sf_now(sim);
    int cpu = sched_getcpu();
    bool polled = false, woken;
    if (v->poll_ns && !sim->no_halt_polling && atomic_load(&sim->vcpus_awake) <= sim->host_cpus)
        polled = sf_poll(v, wake, deadline, start, v->poll_ns);
    woken = polled || sf_futex_sleep(v, wake, deadline);
    atomic_store(&v->run_state, VCPU_RUNNING);
    if (woken)
        sf_adapt(v, polled, sf_now(sim) - start, cpu);
    return woken;
}

static void sf_kick(struct vcpu *v)
{
    /* For the poller's adaptation: where the waker ran. */
    __atomic_store_n(&v->kick_cpu, sched_getcpu(), __ATOMIC_RELAXED);
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
    .join_by = sf_join_by,
    .sleep = sf_sleep_ns,
};
